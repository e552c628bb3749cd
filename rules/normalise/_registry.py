"""The normaliser registry: a kind name maps to a function ``(pl.Series, **params) -> pl.DataFrame``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl

Normaliser = Callable[..., pl.DataFrame]

#: Every registered normaliser by kind (``CANONICAL_FIELDS`` in ``crm_store.schema`` names the kinds).
NORMALISERS: dict[str, Normaliser] = {}


class UnknownNormaliserError(LookupError):
    """Raised by :func:`get_normaliser` for a kind nobody registered; the message lists the known kinds."""


def register_normaliser(kind: str) -> Callable[[Normaliser], Normaliser]:
    """Decorator registering a normaliser under ``kind``; registering a kind twice raises ``ValueError``."""

    def decorate(fn: Normaliser) -> Normaliser:
        if kind in NORMALISERS:
            raise ValueError(f"normaliser kind {kind!r} is already registered by {NORMALISERS[kind].__qualname__}")
        NORMALISERS[kind] = fn
        return fn

    return decorate


def get_normaliser(kind: str) -> Normaliser:
    """The normaliser registered for ``kind``.

    Raises:
        UnknownNormaliserError: no such kind; the message lists every known kind.
    """
    try:
        return NORMALISERS[kind]
    except KeyError:
        known = ", ".join(sorted(NORMALISERS))
        raise UnknownNormaliserError(f"unknown normaliser kind {kind!r}; known kinds: {known}") from None


def check_params(model: type[Any], params: dict[str, Any]) -> Any:
    """Validate keyword parameters with a pydantic model (``extra="forbid"``): a definition error."""
    return model.model_validate(params)

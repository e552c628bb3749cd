"""The normaliser registry: a kind name maps to a function ``(pl.Series, **params) -> pl.DataFrame``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl

from rules.errors import RuleError

Normaliser = Callable[..., pl.DataFrame]

#: Every registered normaliser by kind (``CANONICAL_FIELDS`` in ``crm_store.schema`` names the kinds).
NORMALISERS: dict[str, Normaliser] = {}
#: The pydantic model of each kind's keyword parameters (kinds without parameters have none).
NORMALISER_PARAMS: dict[str, type[Any]] = {}


class UnknownNormaliserError(RuleError, LookupError):
    """Raised by :func:`get_normaliser` for a kind nobody registered; the message lists the known kinds."""


def register_normaliser(kind: str, params: type[Any] | None = None) -> Callable[[Normaliser], Normaliser]:
    """Decorator registering a normaliser under ``kind``, with the pydantic model of its keyword parameters
    (``extra="forbid"``) if it takes any; registering a kind twice raises ``ValueError``."""

    def decorate(fn: Normaliser) -> Normaliser:
        if kind in NORMALISERS:
            raise ValueError(f"normaliser kind {kind!r} is already registered by {NORMALISERS[kind].__qualname__}")
        NORMALISERS[kind] = fn
        if params is not None:
            NORMALISER_PARAMS[kind] = params
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


def params_model(kind: str) -> type[Any] | None:
    """The pydantic model of ``kind``'s keyword parameters, ``None`` when it takes none.

    Raises:
        UnknownNormaliserError: no such kind.
    """
    get_normaliser(kind)
    return NORMALISER_PARAMS.get(kind)


def check_params(model: type[Any], params: dict[str, Any]) -> Any:
    """Validate keyword parameters with a pydantic model (``extra="forbid"``): a definition error."""
    return model.model_validate(params)

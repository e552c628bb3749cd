"""The normaliser registry: a kind name maps to a function ``(pl.Series, **params) -> pl.DataFrame``, the pydantic
model of its parameters, and a :class:`FrameSpec`: how its output joins a frame in :func:`normalise_frame`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from rules.errors import RuleError

Normaliser = Callable[..., pl.DataFrame]


@dataclass(frozen=True)
class FrameSpec:
    """How :func:`rules.normalise.normalise_frame` uses a kind's normaliser beyond replacing the field's value.

    Attributes:
        parts: part columns of the normaliser's output added to the frame. A re-run sees the cleaned value, which
            no longer carries what only the raw text did (a title, an extension): a null part keeps the previous
            run's part of the same dtype.
        reads: keyword parameter → the frame column(s) passed to it, already normalised: a column name passes that
            column as it is (when present); a tuple of names passes the present ones joined into one text (when
            any is present).
        fills: frame column → the parts that fill its nulls, in order; the frame's own value wins.
        overrides: frame column → the parts that set it where they hold a value, in order; the frame's own value
            fills the gaps.
        value_lists: list parts holding every value of the cell (a phone cell's numbers). A re-run sees only the
            chosen value: the previous run's list is kept while it still holds that value.
        after: kinds whose fields are normalised before this kind's (those it reads or fills, and any whose
            issues come first in a row's ``_issues``).
        without_field: the normaliser also runs on a frame without the field's column when a column it reads
            is there (as on an empty cell: address resolves a city column alone); its parts, fills and
            overrides are set, the field's column is not added.
    """

    parts: tuple[str, ...] = ()
    reads: Mapping[str, str | tuple[str, ...]] = field(default_factory=dict)
    fills: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    overrides: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    value_lists: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    without_field: bool = False

    def __post_init__(self) -> None:
        if not set(self.value_lists) <= set(self.parts):
            raise ValueError(f"value_lists {self.value_lists} are not all parts {self.parts}")


#: Every registered normaliser by kind (``CANONICAL_FIELDS`` in ``crm_store.schema`` names the kinds).
NORMALISERS: dict[str, Normaliser] = {}
#: The pydantic model of each kind's keyword parameters (kinds without parameters have none).
NORMALISER_PARAMS: dict[str, type[Any]] = {}
#: The :class:`FrameSpec` of every registered kind.
FRAME_SPECS: dict[str, FrameSpec] = {}
#: Part columns each kind adds to a frame (:attr:`FrameSpec.parts`; kinds without parts are absent).
PART_COLUMNS: dict[str, tuple[str, ...]] = {}


class UnknownNormaliserError(RuleError, LookupError):
    """Raised by :func:`get_normaliser` for a kind nobody registered; the message lists the known kinds."""


def register_normaliser(
    kind: str, params: type[Any] | None = None, *, frame: FrameSpec | None = None
) -> Callable[[Normaliser], Normaliser]:
    """Decorator registering a normaliser under ``kind``, with the pydantic model of its keyword parameters
    (``extra="forbid"``) if it takes any and its :class:`FrameSpec` if its output does more in a frame than replace
    the field's value; registering a kind twice raises ``ValueError``."""

    def decorate(fn: Normaliser) -> Normaliser:
        if kind in NORMALISERS:
            raise ValueError(f"normaliser kind {kind!r} is already registered by {NORMALISERS[kind].__qualname__}")
        NORMALISERS[kind] = fn
        if params is not None:
            NORMALISER_PARAMS[kind] = params
        FRAME_SPECS[kind] = frame or FrameSpec()
        if frame is not None and frame.parts:
            PART_COLUMNS[kind] = frame.parts
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


def frame_spec(kind: str) -> FrameSpec:
    """The :class:`FrameSpec` of ``kind``.

    Raises:
        UnknownNormaliserError: no such kind.
    """
    get_normaliser(kind)
    return FRAME_SPECS[kind]


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

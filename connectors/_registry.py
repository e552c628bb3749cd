"""The connector registry: a kind name maps to a connector function and its params model."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import wraps
from types import MappingProxyType
from typing import Any, Literal, Protocol, TypeVar, cast

import polars as pl
from pydantic import BaseModel

from connectors._errors import UnknownConnectorError
from connectors._keys import KeyedParams, checked_keys


class Connector(Protocol):
    """Reads one source into raw text batches with lineage columns; ``options`` go to the connector function as
    keywords (the http connector's ``client``)."""

    def __call__(
        self, params: BaseModel, /, *, source: str, cursor: object | None = None, **options: Any
    ) -> Iterator[pl.DataFrame]: ...


_P = TypeVar("_P", bound=BaseModel)
_P_contra = TypeVar("_P_contra", bound=BaseModel, contravariant=True)


class _ConnectorOf(Protocol[_P_contra]):
    """A connector as written: it takes its own params model."""

    def __call__(
        self, params: _P_contra, /, *, source: str, cursor: object | None = None
    ) -> Iterator[pl.DataFrame]: ...


@dataclass(frozen=True)
class Capabilities:
    """What a connector declares at registration about reading only what is new (``incremental: true``).

    Attributes:
        incremental: ``"fingerprint"``: a file, re-read whole only when its bytes changed (the cursor is its
            fingerprint); ``"cursor"``: the connector reads the rows after a saved cursor, and ``next_cursor``
            gives the cursor to save after each batch; None: it cannot read incrementally.
        next_cursor: ``(batch, params, previous) -> cursor`` (``"cursor"`` connectors only).
        cursor_param: the params field an incremental source must set (``"cursor"`` connectors), or None.
    """

    incremental: Literal["fingerprint", "cursor"] | None = "fingerprint"
    next_cursor: Callable[[pl.DataFrame, Any, str | None], str | None] | None = None
    cursor_param: str | None = None

    def __post_init__(self) -> None:
        if (self.incremental == "cursor") != (self.next_cursor is not None):
            raise ValueError("a cursor connector declares next_cursor, and only a cursor connector does")


_CONNECTORS: dict[str, Connector] = {}
_PARAMS: dict[str, type[BaseModel]] = {}
_CAPABILITIES: dict[str, Capabilities] = {}

#: Read-only view of the registry: kind name -> connector (keys applied and checked, see `with_checked_keys`).
CONNECTORS: Mapping[str, Connector] = MappingProxyType(_CONNECTORS)


def register_connector(
    kind: str, params: type[_P], capabilities: Capabilities | None = None
) -> Callable[[_ConnectorOf[_P]], _ConnectorOf[_P]]:
    """Decorator registering a connector under ``kind`` with its params model and its capabilities (default: a
    file, incremental by fingerprint).

    Raises:
        ValueError: ``kind`` is already registered.
    """

    def decorate(connector: _ConnectorOf[_P]) -> _ConnectorOf[_P]:
        if kind in _CONNECTORS:
            raise ValueError(f"a connector named {kind!r} is already registered")
        # a kind's connector is handed only params of its own model (`params_model(kind)`): a pairing kept by the
        # registry's keys, which its value type cannot state
        _CONNECTORS[kind] = with_checked_keys(cast(Connector, connector))
        _PARAMS[kind] = params
        _CAPABILITIES[kind] = capabilities or Capabilities()
        return connector

    return decorate


def with_checked_keys(connector: Connector) -> Connector:
    """The connector with its params' ``key`` columns applied (`KeyedParams`) and every yielded
    ``_source_key`` checked (`connectors._keys.checked_keys`): what the registry hands out."""

    @wraps(connector)
    def read(
        params: BaseModel, /, *, source: str, cursor: object | None = None, **options: Any
    ) -> Iterator[pl.DataFrame]:
        key = params.key if isinstance(params, KeyedParams) and params.keys_from_columns else None
        where = getattr(params, "path", None) or source
        batches = connector(params, source=source, cursor=cursor, **options)
        yield from checked_keys(batches, key=key, source=source, where=where)

    return read


def _unknown(kind: str) -> UnknownConnectorError:
    known = ", ".join(sorted(_CONNECTORS)) or "none"
    return UnknownConnectorError(f"unknown connector kind {kind!r}; known kinds: {known}")


def get_connector(kind: str) -> Connector:
    """The connector registered as ``kind``.

    Raises:
        UnknownConnectorError: No such kind (a ``KeyError``); the message lists the known kinds.
    """
    try:
        return _CONNECTORS[kind]
    except KeyError:
        raise _unknown(kind) from None


def params_model(kind: str) -> type[BaseModel]:
    """The pydantic params model of the connector registered as ``kind``.

    Raises:
        UnknownConnectorError: No such kind (a ``KeyError``); the message lists the known kinds.
    """
    try:
        return _PARAMS[kind]
    except KeyError:
        raise _unknown(kind) from None


def capabilities(kind: str) -> Capabilities:
    """What the connector registered as ``kind`` declared it can do.

    Raises:
        UnknownConnectorError: No such kind (a ``KeyError``); the message lists the known kinds.
    """
    try:
        return _CAPABILITIES[kind]
    except KeyError:
        raise _unknown(kind) from None

"""The connector registry: a kind name maps to a connector function and its params model."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from functools import wraps
from types import MappingProxyType
from typing import Protocol, TypeVar, cast

import polars as pl
from pydantic import BaseModel

from connectors._errors import UnknownConnectorError
from connectors._keys import KeyedParams, checked_keys


class Connector(Protocol):
    """Reads one source into raw text batches with lineage columns."""

    def __call__(
        self, params: BaseModel, /, *, source: str, cursor: object | None = None
    ) -> Iterator[pl.DataFrame]: ...


_P = TypeVar("_P", bound=BaseModel)
_P_contra = TypeVar("_P_contra", bound=BaseModel, contravariant=True)


class _ConnectorOf(Protocol[_P_contra]):
    """A connector as written: it takes its own params model."""

    def __call__(
        self, params: _P_contra, /, *, source: str, cursor: object | None = None
    ) -> Iterator[pl.DataFrame]: ...


_CONNECTORS: dict[str, Connector] = {}
_PARAMS: dict[str, type[BaseModel]] = {}

#: Read-only view of the registry: kind name -> connector (keys applied and checked, see `with_checked_keys`).
CONNECTORS: Mapping[str, Connector] = MappingProxyType(_CONNECTORS)


def register_connector(kind: str, params: type[_P]) -> Callable[[_ConnectorOf[_P]], _ConnectorOf[_P]]:
    """Decorator registering a connector under ``kind`` with its params model.

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
        return connector

    return decorate


def with_checked_keys(connector: Connector) -> Connector:
    """The connector with its params' ``key`` columns applied (`KeyedParams`) and every yielded
    ``_source_key`` checked (`connectors._keys.checked_keys`): what the registry hands out."""

    @wraps(connector)
    def read(params: BaseModel, /, *, source: str, cursor: object | None = None) -> Iterator[pl.DataFrame]:
        key = params.key if isinstance(params, KeyedParams) and params.keys_from_columns else None
        where = getattr(params, "path", None) or source
        yield from checked_keys(connector(params, source=source, cursor=cursor), key=key, source=source, where=where)

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

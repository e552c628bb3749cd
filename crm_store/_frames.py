"""Rows between polars and SQL: what the store's writers and readers share.

JSON documents are compared and returned as canonical JSON text (sorted keys, no spaces, non-ASCII kept);
timestamps come back as ``Datetime("us", "UTC")``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TypeVar, cast

import polars as pl
import sqlalchemy as sa
from sqlalchemy.orm import Session

from crm_store.models import Base

#: Columns that hold JSON documents (in any table of the store).
JSON_COLS = frozenset({"attributes", "evidence", "reasons", "details", "members", "ledger", "versions"})
#: How stored timestamps are returned.
UTC = pl.Datetime("us", "UTC")
#: Keys per ``IN (...)`` lookup: far below every backend's bind-parameter limit.
IN_CHUNK = 500
#: Rows per fetch of a long read.
READ_CHUNK = 50_000

K = TypeVar("K")


def table_of(model: type[Base]) -> sa.Table:
    """The ``Table`` of a mapped class."""
    return cast(sa.Table, model.__table__)


def chunks(values: Sequence[K], size: int) -> Iterator[Sequence[K]]:
    """``values`` in slices of ``size``."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


#: What ``json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)`` uses, made once:
#: ``json.dumps`` with arguments makes a new encoder per call, which cost more than the encoding of small documents.
_CANONICAL = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def canonical_json(value: Any) -> str:
    """``value`` as canonical JSON text: sorted keys, no spaces, non-ASCII kept, unknown types as ``str``."""
    return _CANONICAL.encode(value)


def json_text(value: Any) -> str | None:
    """Canonical JSON text of ``value`` (``None`` stays ``None``)."""
    return None if value is None else canonical_json(value)


def json_values(series: pl.Series) -> list[Any]:
    """A column of JSON documents as Python values: JSON text is parsed, structs/lists are taken as is."""
    if series.dtype == pl.String:
        return [None if v is None else json.loads(v) for v in series.to_list()]
    return series.to_list()


def utcnow() -> dt.datetime:
    """The current time, in UTC."""
    return dt.datetime.now(dt.UTC)


def read_frame(session: Session, stmt: sa.Select[Any], schema: Mapping[str, pl.DataType]) -> pl.DataFrame:
    """The rows of ``stmt`` as a frame of ``schema`` (its columns in the statement's order), JSON as text."""
    json_at = [i for i, name in enumerate(schema) if name in JSON_COLS]
    frames = []
    for part in session.execute(stmt).partitions(READ_CHUNK):
        rows = [list(row) for row in part]
        for row in rows if json_at else ():
            for i in json_at:
                row[i] = json_text(row[i])
        frames.append(pl.DataFrame(rows, schema=dict(schema), orient="row"))
    return pl.concat(frames) if frames else pl.DataFrame(schema=dict(schema))

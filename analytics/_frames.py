"""What the analytics functions accept as a table: a polars DataFrame or LazyFrame, or a DuckDB relation."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Sequence
from typing import Any

import polars as pl

__all__ = ["Frame", "months_before", "require", "to_polars", "today"]

#: A polars DataFrame or LazyFrame, or anything with ``.pl()`` that returns one (a DuckDB relation).
Frame = Any


def to_polars(frame: Frame, what: str) -> pl.DataFrame:
    """``frame`` as a polars DataFrame (a LazyFrame is collected, a DuckDB relation converted)."""
    if isinstance(frame, pl.DataFrame):
        return frame
    if isinstance(frame, pl.LazyFrame):
        return frame.collect()
    to_pl = getattr(frame, "pl", None)
    if callable(to_pl):
        out = to_pl()
        if isinstance(out, pl.DataFrame):
            return out
    raise TypeError(f"{what}: expected a polars DataFrame/LazyFrame or a DuckDB relation, not {type(frame).__name__}")


def require(df: pl.DataFrame, columns: Sequence[str], what: str) -> None:
    """Raise a ``ValueError`` naming every column of ``columns`` that ``df`` lacks."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{what}: missing columns {missing}; it has {df.columns}")


def today(timezone: str) -> dt.date:
    """Today's date in ``timezone``."""
    return dt.datetime.now(zoneinfo.ZoneInfo(timezone)).date()


def months_before(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` calendar months earlier (the month's last day when it is shorter)."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    next_first = dt.date(year + (month == 12), month % 12 + 1, 1)
    last = (next_first - dt.timedelta(days=1)).day
    return dt.date(year, month, min(day.day, last))

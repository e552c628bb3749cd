"""The one failure table every rule family writes: fixed columns, one row per (row, rule) that fired."""

from __future__ import annotations

from typing import Final

import polars as pl

__all__ = ["FAILURE_COLUMNS", "FAILURE_SCHEMA", "empty_failures"]

#: Columns of a failure table (all pl.String): pandera's idea of one lazy-validation table with stable codes.
FAILURE_COLUMNS: Final = (
    "rule",
    "code",
    "severity",
    "column",
    "source",
    "source_key",
    "value_masked",
    "message",
)
FAILURE_SCHEMA: Final = pl.Schema(dict.fromkeys(FAILURE_COLUMNS, pl.String))


def empty_failures() -> pl.DataFrame:
    """An empty failure table with the fixed columns."""
    return pl.DataFrame(schema=FAILURE_SCHEMA)

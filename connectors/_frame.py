"""Shared pieces of the raw frame: column naming, the row hash, and assembling a batch with lineage."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from pathlib import Path

import polars as pl

from connectors._errors import SourceError
from connectors.lineage import (
    ERROR_CODE_COL,
    ERROR_DETAIL_COL,
    RAW_LINE_COL,
    RESERVED_COLS,
    ROW_HASH_COL,
    SKIP_REASON_COL,
    SOURCE_COL,
    SOURCE_KEY_COL,
)

#: Rows per yielded batch.
BATCH_ROWS = 50_000

#: Separator between values when hashing a row (ASCII unit separator).
HASH_SEPARATOR = "\x1f"
#: Matches a `joined_values` string whose cells are all blank.
BLANK_PATTERN = r"^[\s\x1f]*$"


class HeaderNamer:
    """Turns raw header cells into unique column names, one at a time, in column order.

    A name is the stripped cell text; an empty cell becomes ``column_<n>`` (1-based position); a name seen
    before (or a reserved lineage name) gets ``_2``, ``_3``, ... Names handed out never change, so a namer
    can keep growing (JSONL keys discovered line by line).
    """

    def __init__(self) -> None:
        self._taken: set[str] = set(RESERVED_COLS)
        self.names: list[str] = []

    def add(self, raw: str | None) -> str:
        base = (raw or "").strip() or f"column_{len(self.names) + 1}"
        name, k = base, 2
        while name in self._taken:
            name, k = f"{base}_{k}", k + 1
        self._taken.add(name)
        self.names.append(name)
        return name


def column_names(raw: Iterable[str | None]) -> list[str]:
    """Unique column names for a header row (see `HeaderNamer`)."""
    namer = HeaderNamer()
    for cell in raw:
        namer.add(cell)
    return namer.names


def joined_values(values: pl.DataFrame) -> pl.Series:
    """Each row's values in column order, null as ``""``, joined with ``\\x1f``: the input of `row_hash`."""
    if not values.width:
        return pl.Series([""] * values.height, dtype=pl.String)
    return values.select(
        pl.concat_str([pl.col(c).fill_null("") for c in values.columns], separator=HASH_SEPARATOR)
    ).to_series()


def row_hash(joined: pl.Series, raw: pl.Series | None = None) -> pl.Series:
    """Hex SHA-256 of each row's `joined_values`: the one row hash of every connector.

    Stable across runs and library versions (no polars hash). Where ``raw`` is not null (the raw text of a
    malformed record) the hash is of that text instead, since the columns then hold only part of the record.
    """
    if raw is not None:
        joined = pl.select(pl.coalesce(raw, joined)).to_series()
    sha256 = hashlib.sha256
    return pl.Series(ROW_HASH_COL, [sha256(s).hexdigest() for s in joined.cast(pl.Binary).to_list()], dtype=pl.String)


def finish_batch(
    values: pl.DataFrame,
    *,
    source: str,
    keys: Sequence[str] | pl.Series,
    skip_reason: pl.Series | Sequence[str | None],
    error_code: pl.Series | Sequence[str | None],
    error_detail: pl.Series | Sequence[str | None],
    raw_line: Sequence[str | None] | None = None,
    joined: pl.Series | None = None,
) -> pl.DataFrame:
    """Append the lineage columns (and ``_raw_line`` when given) to a frame of source values.

    Every sequence has one item per row of ``values``; ``joined`` is `joined_values` when already computed.
    """
    n = values.height if values.width else len(keys)  # a batch of blank lines has no columns, only rows

    def as_series(name: str, v: pl.Series | Sequence[str | None]) -> pl.Series:
        return pl.Series(name, v, dtype=pl.String)

    raw = pl.Series(RAW_LINE_COL, raw_line, dtype=pl.String) if raw_line is not None else None
    lineage = [
        pl.Series(SOURCE_COL, [source] * n, dtype=pl.String),
        as_series(SOURCE_KEY_COL, keys),
        row_hash(joined_values(values) if joined is None else joined, raw),
        as_series(SKIP_REASON_COL, skip_reason),
        as_series(ERROR_CODE_COL, error_code),
        as_series(ERROR_DETAIL_COL, error_detail),
    ]
    if raw is not None:
        lineage.append(raw)
    return values.with_columns(lineage) if values.width else pl.DataFrame(lineage)


def read_bytes(path: Path, source: str) -> bytes:
    """The file's bytes, or a `SourceError` saying why they cannot be read."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise SourceError(source, path, None, "file not found") from None
    except IsADirectoryError:
        raise SourceError(source, path, None, "is a directory, not a file") from None
    except OSError as exc:
        raise SourceError(source, path, None, f"cannot read the file: {exc.strerror or exc}") from None

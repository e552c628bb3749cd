"""Shared pieces of the raw frame: column naming, the row hash, and assembling a batch with lineage."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from pathlib import Path

import polars as pl

from connectors._errors import SourceError
from connectors.lineage import (
    EMPTY_ROW,
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
#: What a NUL character in a value becomes: no database text column keeps one (PostgreSQL refuses it), and a
#: store must hold the same text whatever its backend.
NUL_STANDIN = "\ufffd"
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
        base = (raw or "").replace("\x00", NUL_STANDIN).strip() or f"column_{len(self.names) + 1}"
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


def _without_nul(values: pl.Series) -> pl.Series:
    return values.str.replace_all("\x00", NUL_STANDIN, literal=True)


def finish_batch(
    values: pl.DataFrame,
    *,
    source: str,
    keys: Sequence[str] | pl.Series,
    skip_reason: pl.Series | Sequence[str | None],
    error_code: pl.Series | Sequence[str | None],
    error_detail: pl.Series | Sequence[str | None],
    raw_line: pl.Series | Sequence[str | None] | None = None,
    joined: pl.Series | None = None,
) -> pl.DataFrame:
    """Append the lineage columns (and ``_raw_line`` when given) to a frame of source values.

    Every sequence has one item per row of ``values``; ``joined`` is `joined_values` when already computed. NUL
    characters in values, keys and raw lines become ``NUL_STANDIN``.
    """
    strings = [c for c, dtype in values.schema.items() if dtype == pl.String]
    if strings and values.select(pl.any_horizontal(pl.col(strings).str.contains("\x00", literal=True).any())).item():
        values = values.with_columns(pl.col(strings).str.replace_all("\x00", NUL_STANDIN, literal=True))
        joined = None
    keys = _without_nul(pl.Series(SOURCE_KEY_COL, keys, dtype=pl.String))
    if raw_line is not None:
        raw_line = _without_nul(pl.Series(RAW_LINE_COL, raw_line, dtype=pl.String))
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


class EmptyRuns:
    """Collapses each run of consecutive ``empty_row`` rows into one skipped row, across batches.

    A file of a million blank lines is one skipped row, not a million: the run's first row stays, keyed
    ``<prefix><first>-<last>`` (physical lines or sheet rows, both ends included), with ``_error_detail``
    saying how many rows it stands for. A lone empty row keeps its own key. The ledger counts such a row
    once: it is read once and skipped once, and its key names every line it covers.

    Args:
        key_prefix: Written before the range in the key (``"Sheet1!"`` for a sheet, nothing for a CSV file).
    """

    _COLS = ("__first", "__last", "__n")

    def __init__(self, key_prefix: str = "") -> None:
        self._prefix = key_prefix
        self._held: pl.DataFrame | None = None

    def collapse(self, batch: pl.DataFrame, first: pl.Series, last: pl.Series) -> pl.DataFrame:
        """The batch with its empty runs collapsed; a run reaching the batch's end is held for the next one.

        Args:
            batch: A finished batch (`finish_batch`).
            first: Where each row starts (line or row number), one per row.
            last: Where each row ends (a CSV record may span lines), one per row.
        """
        if self._held is None and not (batch[SKIP_REASON_COL] == EMPTY_ROW).any():
            return batch  # the common case: nothing to collapse
        frame = batch.with_columns(
            first.cast(pl.Int64).alias("__first"), last.cast(pl.Int64).alias("__last"), pl.lit(1, pl.Int64).alias("__n")
        )
        if self._held is not None:
            frame = pl.concat([self._held, frame], how="diagonal_relaxed")
            self._held = None
        empty = (pl.col(SKIP_REASON_COL) == EMPTY_ROW).fill_null(False) & pl.col(ERROR_CODE_COL).is_null()
        # a new run starts at every row that is not empty and at the first empty row after one that is not
        run = (~empty | ~empty.shift(1, fill_value=False)).cum_sum()
        frame = (
            frame.with_columns(empty.alias("__empty"), run.alias("__run"))
            .with_columns(pl.col("__last").last().over("__run"), pl.col("__n").sum().over("__run"))
            .filter(pl.col("__run").is_first_distinct())
        )
        many = pl.col("__empty") & (pl.col("__n") > 1)
        span = pl.concat_str(pl.lit(self._prefix), pl.col("__first"), pl.lit("-"), pl.col("__last"))
        frame = frame.with_columns(
            pl.when(many).then(span).otherwise(pl.col(SOURCE_KEY_COL)).alias(SOURCE_KEY_COL),
            pl.when(many)
            .then(pl.format("{} consecutive empty rows: {}", pl.col("__n"), span))
            .otherwise(pl.col(ERROR_DETAIL_COL))
            .alias(ERROR_DETAIL_COL),
        )
        if frame.height and frame["__empty"][-1]:  # the run may go on in the next batch
            self._held = frame.tail(1).drop("__empty", "__run")
            frame = frame.head(-1)
        return frame.drop("__empty", "__run", *self._COLS)

    def flush(self) -> pl.DataFrame | None:
        """The run held back at the end of the last batch, if any."""
        held, self._held = self._held, None
        return None if held is None else held.drop(self._COLS)


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

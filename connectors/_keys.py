"""Row keys: a source's ``key:`` columns become ``_source_key``, and every key a connector yields is checked.

A row's key is what ties it to the store across runs: the crosswalk, the golden id and a re-run's upsert all
follow ``(source, source_key)``. Position-based keys (a CSV line, ``Sheet!row``) move when an exported file
gains a row at the top, so every file connector takes ``key:`` naming the column(s) that identify a row
(客户编号, KHBH, an e-mail). `checked_keys` then makes every yielded key usable by the store, whatever the
connector: a key that is empty, repeats an earlier row of the same read, or is longer than the store keeps
turns its row into a quarantined row with a reason, keyed by its position instead; it never aborts the load.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar, Final

import polars as pl
from pydantic import BaseModel, ConfigDict, field_validator

from connectors._errors import SourceError
from connectors.lineage import (
    DUPLICATE_KEY,
    ERROR_CODE_COL,
    ERROR_DETAIL_COL,
    MALFORMED_ROW,
    MAX_KEY_CHARS,
    SKIP_REASON_COL,
    SOURCE_KEY_COL,
)

#: Joins the parts of a composite key; a part's own ``|`` and ``\\`` are escaped with ``\\``.
KEY_SEPARATOR: Final = "|"
#: Prefix of the positional key given to a row whose own key cannot be used.
POSITION_PREFIX: Final = "row:"


class KeyedParams(BaseModel):
    """Params of a file connector: ``key`` names the column(s) whose values identify a row.

    Attributes:
        key: Source column(s) (headers as read) forming ``_source_key``; composite keys are joined with ``|``.
            ``None``: the row's position (line, ``Sheet!row``, index), which moves when rows are inserted.
    """

    model_config = ConfigDict(extra="forbid")

    #: Whether `checked_keys` builds ``_source_key`` from ``key`` (file connectors); a connector that builds its
    #: keys itself (SQL: its default is the table's primary key) sets it to ``False``.
    keys_from_columns: ClassVar[bool] = True

    key: list[str] | None = None

    @field_validator("key", mode="before")
    @classmethod
    def _one_key(cls, v: object) -> object:
        return [v] if isinstance(v, str) else v

    @field_validator("key")
    @classmethod
    def _not_empty(cls, v: list[str] | None) -> list[str] | None:
        if v is not None and (not v or any(not c.strip() for c in v)):
            raise ValueError("key needs at least one column name")
        if v is not None and len(set(v)) != len(v):
            raise ValueError("key names a column twice")
        return v


def _escaped(part: pl.Expr) -> pl.Expr:
    return part.str.replace_all("\\", "\\\\", literal=True).str.replace_all(KEY_SEPARATOR, "\\|", literal=True)


def key_expr(columns: list[str]) -> pl.Expr:
    """``_source_key`` from the key columns: one column as its trimmed text; several joined with ``|``, each
    part escaped, so ``('x|y', 'z')`` and ``('x', 'y|z')`` stay two keys. Null when any part is empty."""
    parts = [pl.col(c).str.strip_chars() for c in columns]
    parts = [pl.when(p != "").then(p) for p in parts]
    if len(parts) == 1:
        return parts[0]
    return pl.concat_str([_escaped(p) for p in parts], separator=KEY_SEPARATOR)


def compose_key(parts: list[str]) -> str:
    """The `key_expr` of one row's key values, for connectors that build keys outside polars (SQL)."""
    if len(parts) == 1:
        return parts[0]
    return KEY_SEPARATOR.join(p.replace("\\", "\\\\").replace(KEY_SEPARATOR, "\\|") for p in parts)


#: Column holding, while keys are checked, the key a row gets when its own cannot be used.
_FALLBACK: Final = "_fallback_key"


def _with_key_columns(batch: pl.DataFrame, key: list[str], source: str, where: str | Path) -> pl.DataFrame:
    """``_source_key`` from ``key`` where the row is a record; the connector's positional key, prefixed
    ``row:``, is the key of skipped and broken rows (a broken row's key cells may be shifted) and the
    fallback of the others."""
    missing = [c for c in key if c not in batch.columns]
    if missing:
        present = ", ".join(c for c in batch.columns if not c.startswith("_")) or "none"
        raise SourceError(
            source, where, None, f"key column {', '.join(map(repr, missing))} not in the header; columns: {present}"
        )
    fallback = POSITION_PREFIX + pl.col(SOURCE_KEY_COL)
    record = pl.col(SKIP_REASON_COL).is_null() & pl.col(ERROR_CODE_COL).is_null()
    return batch.with_columns(
        pl.when(record).then(key_expr(key)).otherwise(fallback).alias(SOURCE_KEY_COL),
        fallback.alias(_FALLBACK),
    )


class _KeyCheck:
    """Keys seen so far in one read, as 64-bit hashes with the position of their first row (16 bytes per key:
    a 10M-row read holds 160 MB), so every row's key is checked against the whole read and its own batch."""

    def __init__(self, what: str) -> None:
        self._seen = pl.DataFrame(schema={"_hash": pl.UInt64, "_first": pl.Int64})
        self._read = 0
        self._what = what

    def _first_at(self, framed: pl.DataFrame) -> pl.Series:
        """Where each row's key was first seen in this read (its own place when it is new)."""
        first_here = pl.col("_at").min().over(SOURCE_KEY_COL)
        hashed = framed.select(pl.col(SOURCE_KEY_COL).hash().alias("_hash"), "_at", SOURCE_KEY_COL)
        earlier = hashed.filter(pl.col(SOURCE_KEY_COL).is_not_null()).join(self._seen, on="_hash", how="semi")
        if not earlier.height:  # the common case: no key of this batch was seen before
            return framed.select(first_here.alias("_first")).to_series()
        return (
            hashed.join(self._seen, on="_hash", how="left", maintain_order="left")
            .select(pl.coalesce(pl.when(pl.col(SOURCE_KEY_COL).is_not_null()).then("_first"), first_here))
            .to_series()
            .alias("_first")
        )

    def __call__(self, batch: pl.DataFrame) -> pl.DataFrame:
        n = batch.height
        framed = batch.with_columns(pl.int_range(self._read + 1, self._read + n + 1, dtype=pl.Int64).alias("_at"))
        self._read += n
        if _FALLBACK not in framed.columns:
            framed = framed.with_columns((POSITION_PREFIX + pl.col("_at").cast(pl.String)).alias(_FALLBACK))
        framed = framed.with_columns(self._first_at(framed))
        key = pl.col(SOURCE_KEY_COL)
        duplicate = key.is_not_null() & (pl.col("_first") != pl.col("_at"))
        too_long = key.str.len_chars() > MAX_KEY_CHARS
        missing = key.is_null()
        problem = (
            pl.when(duplicate)
            .then(pl.format("the same key as row {} of this read", pl.col("_first")))
            .when(too_long)
            .then(pl.format("the key is {} characters long; the store keeps {}", key.str.len_chars(), MAX_KEY_CHARS))
            .when(missing)
            .then(pl.lit(self._what))
        )
        checked = framed.with_columns(
            pl.when(duplicate | too_long | missing).then(pl.col(_FALLBACK)).otherwise(key).alias(SOURCE_KEY_COL),
            pl.when(duplicate)
            .then(pl.lit(DUPLICATE_KEY))
            .when(too_long | missing)
            .then(pl.coalesce(ERROR_CODE_COL, pl.lit(MALFORMED_ROW)))
            .otherwise(pl.col(ERROR_CODE_COL))
            .alias(ERROR_CODE_COL),
            pl.when(problem.is_not_null())
            .then(pl.concat_str([pl.col(ERROR_DETAIL_COL), problem], separator="; ", ignore_nulls=True))
            .otherwise(pl.col(ERROR_DETAIL_COL))
            .alias(ERROR_DETAIL_COL),
        )
        new = framed.filter(key.is_not_null() & (pl.col("_first") == pl.col("_at")))
        seen = new.select(pl.col(SOURCE_KEY_COL).hash().alias("_hash"), pl.col("_at").alias("_first"))
        self._seen = pl.concat([self._seen, seen], rechunk=False)
        return checked.drop("_at", "_first", _FALLBACK)


def checked_keys(
    batches: Iterator[pl.DataFrame], *, key: list[str] | None, source: str, where: str | Path
) -> Iterator[pl.DataFrame]:
    """The batches with ``key`` applied (file connectors) and every ``_source_key`` checked.

    A row whose key is empty, already used by an earlier row of this read (``duplicate_key``) or longer than
    `MAX_KEY_CHARS` is quarantined with a detail and keyed ``row:`` + its position (the connector's line or
    ``Sheet!row`` when ``key`` is set, else its 1-based place in the read), so the store receives unique,
    storable keys and the ledger still finds every row.

    Raises:
        SourceError: A ``key`` column is not in the header.
    """
    what = f"key column {', '.join(key)} is empty" if key else "the row has no key"
    check = _KeyCheck(what)
    for batch in batches:
        if not batch.height:
            yield batch
            continue
        if key is not None:
            batch = _with_key_columns(batch, key, source, where)
        yield check(batch)

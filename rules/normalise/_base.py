"""Shared machinery of the normalisers: text clean-up helpers and the distinct-value mapper.

Every normaliser works the same way: cast the input to text, compute a result once per *distinct* value in
Python, and join the results back onto the rows. Real customer data repeats a lot (the same company, the
same city, the same placeholder phone), so the Python work is proportional to the number of distinct values.
Cells that hold no value (null, blank, a null marker such as ``N/A`` or 无) are answered here, once for every
normaliser (:func:`map_distinct` with ``placeholder``, :func:`blank_row`).
"""

from __future__ import annotations

import functools
import gc
import itertools
import logging
import os
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast, overload

import polars as pl

logger = logging.getLogger(__name__)

#: dtype of every ``issues`` column.
ISSUES_DTYPE = pl.List(pl.String)

#: A normaliser's output columns and their dtypes (``pl.String`` or an instance such as ``ISSUES_DTYPE``).
Schema = dict[str, pl.DataType | type[pl.DataType]]

# U+FF01..U+FF5E are the full-width forms of U+0021..U+007E; U+3000 is the ideographic space.
_FULLWIDTH_TABLE: dict[int, str] = {code: chr(code - 0xFEE0) for code in range(0xFF01, 0xFF5F)}
_FULLWIDTH_TABLE[0x3000] = " "
# Invisible characters that sneak in through copy and paste: zero-width space/joiners, BOM, soft hyphen; and the
# bidirectional marks, embeddings, overrides and isolates that can make a value display as something else.
_BIDI = "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad" + _BIDI), None)
_CLEAN_TABLE = {**_FULLWIDTH_TABLE, **_INVISIBLE}
_HAS_FULLWIDTH = re.compile("[\uff01-\uff5e\u3000]")
_NEEDS_TRANSLATION = re.compile("[\uff01-\uff5e\u3000\u200b\u200c\u200d\u2060\ufeff\u00ad" + _BIDI + "]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

#: Cell contents that mean "no value" in exported spreadsheets and legacy databases (compared case-folded).
NULL_MARKERS: frozenset[str] = frozenset(
    {
        "n/a",
        "#n/a",
        "na",
        "n.a.",
        "null",
        "<null>",
        "(null)",
        "none",
        "nil",
        "nan",
        "#value!",
        "#ref!",
        "-",
        "--",
        "---",
        "—",
        "/",
        "\\",
        "?",
        "??",
        "???",
        ".",
        "..",
        "...",
        "无",
        "空",
        "暂无",
        "没有",
        "不详",
        "未知",
        "未填",
        "未填写",
    }
)


def to_halfwidth(text: str) -> str:
    """Map full-width ASCII forms (``０-９``, ``Ａ-ｚ``, ``＠``, ``（）``…) and U+3000 to ASCII.

    Chinese input methods produce full-width characters in phone numbers, e-mail addresses and codes; they
    look right on screen but break every parser. Zero-width characters and the BOM are dropped as well.
    """
    return text.translate(_CLEAN_TABLE)


def has_fullwidth(text: str) -> bool:
    """Whether ``text`` contains a full-width ASCII form or the ideographic space."""
    return _HAS_FULLWIDTH.search(text) is not None


def collapse_whitespace(text: str) -> str:
    """Collapse every run of whitespace (tabs, newlines, NBSP, ideographic space) to one space and strip."""
    return " ".join(text.split())


def clean_text(text: str) -> str:
    """Half-width, NFC, no control characters, whitespace collapsed: the first step of each normaliser."""
    if not text.isascii():
        if _NEEDS_TRANSLATION.search(text):
            text = text.translate(_CLEAN_TABLE)
        if not unicodedata.is_normalized("NFC", text):
            text = unicodedata.normalize("NFC", text)
    if _CONTROL.search(text):
        text = _CONTROL.sub("", text)
    return " ".join(text.split())


def is_null_marker(text: str) -> bool:
    """Whether an already cleaned cell is one of :data:`NULL_MARKERS`."""
    return text.casefold() in NULL_MARKERS


def as_text(values: pl.Series) -> pl.Series:
    """The series as ``pl.String`` whatever its dtype (connectors deliver text; tests and callers may not)."""
    if values.dtype == pl.String:
        return values
    try:
        return values.cast(pl.String)
    except Exception:  # nested or object dtypes: fall back to Python's str()
        return pl.Series(values.name, [None if v is None else str(v) for v in values.to_list()], dtype=pl.String)


class Memo:
    """A bounded least-recently-used memo of per-value results, shared by the calls of one normaliser.

    Pipelines normalise source after source and chunk after chunk: the same phone numbers, companies and
    names come back, and their results are reused instead of recomputed. At most ``capacity`` values are
    kept; the least recently used is dropped first.
    """

    __slots__ = ("_data", "capacity")

    def __init__(self, capacity: int = 200_000) -> None:
        self.capacity = capacity
        self._data: dict[str | None, Sequence[Any]] = {}

    def __len__(self) -> int:
        return len(self._data)

    def clear(self) -> None:
        """Forget every result."""
        self._data.clear()

    def compute_all(
        self, distinct: list[str | None], compute: Callable[[str | None], Sequence[Any]], schema: dict[str, Any]
    ) -> list[Sequence[Any]]:
        """Results of ``distinct`` values, computing (with :func:`_safe`) only those not remembered."""
        data = self._data
        rows: list[Sequence[Any]] = []
        append = rows.append
        missing = object()
        for value in distinct:
            row = data.pop(value, missing)  # pop and re-insert: the entry becomes the most recent
            if row is missing:
                row = _safe(compute, value, schema)
            data[value] = row  # type: ignore[assignment]
            append(row)  # type: ignore[arg-type]
        overflow = len(data) - self.capacity
        if overflow > 0:
            for stale in list(itertools.islice(data, overflow)):
                del data[stale]
        return rows


_MEMOS: dict[tuple[Any, ...], Memo] = {}


def memo_for(*namespace: Any, capacity: int = 200_000) -> Memo:
    """The process-wide :class:`Memo` of a normaliser and its parameters (``memo_for("phone", "CN")``)."""
    memo = _MEMOS.get(namespace)
    if memo is None:
        memo = _MEMOS[namespace] = Memo(capacity)
    return memo


#: Computes one distinct value's result row, ordered like the schema (``None`` for a null cell).
Compute = Callable[[str | None], Sequence[Any]]
#: A vectorised path over the distinct keys (see :func:`map_distinct`).
Fast = Callable[[pl.Series], pl.DataFrame]


@overload
def map_distinct(
    values: pl.Series,
    compute: Callable[[str], Sequence[Any]],
    schema: Schema,
    *,
    placeholder: str,
    fast: Fast | None = None,
    memo: Memo | None = None,
) -> pl.DataFrame: ...
@overload
def map_distinct(
    values: pl.Series,
    compute: Compute,
    schema: Schema,
    *,
    batch: Callable[[list[str | None]], list[Sequence[Any]]] | None = None,
    fast: Fast | None = None,
    memo: Memo | None = None,
    placeholder: None = None,
) -> pl.DataFrame: ...
def map_distinct(
    values: pl.Series,
    compute: Callable[[str], Sequence[Any]] | Compute,
    schema: Schema,
    *,
    batch: Callable[[list[str | None]], list[Sequence[Any]]] | None = None,
    fast: Fast | None = None,
    memo: Memo | None = None,
    placeholder: str | None = None,
) -> pl.DataFrame:
    """Apply ``compute`` once per distinct value and return one result row per input row.

    Args:
        values: the input column (any dtype; cast to text).
        compute: maps one value (``None`` for null) to a tuple ordered like ``schema``. It must not raise;
            if it does, the value is reported as ``invalid`` rather than crashing the run.
        schema: output column names and dtypes; must contain ``value`` and ``issues``.
        batch: optional replacement for ``compute`` that maps the whole list of distinct values at once.
        fast: optional vectorised path: given the distinct keys, returns a frame with ``__key`` and the
            ``schema`` columns for the keys it can answer; ``compute`` runs only for the others.
        memo: optional :class:`Memo` reused across calls (ignored when ``batch`` is given).
        placeholder: the issue code of a null marker (``"placeholder"``; the name normaliser's is
            ``"not_a_name"``). Given, cells that hold no value are answered here (:func:`blank_row`: null and
            blank cells ``empty``, null markers this code) and ``compute`` sees only the others, as text. Without
            it ``compute`` sees every cell: a normaliser that reads some null markers as answers (gender: 未知 is
            ``not_stated``) or whose keys carry more than the cell (address: its context) screens them itself.
    """
    if placeholder is None:
        one = cast(Compute, compute)
    else:
        one = _screened(compute, schema, placeholder)
    text = as_text(values)
    list_cols = {name for name, dtype in schema.items() if isinstance(dtype, pl.List)}
    uniques = text.unique(maintain_order=True)
    answered: pl.DataFrame | None = None
    if fast is not None and uniques.len():
        answered = fast(uniques)
        if answered.height:
            answered = answered.select(pl.col("__key").cast(pl.String), *(pl.col(n).cast(d) for n, d in schema.items()))
            uniques = uniques.filter(~uniques.is_in(answered.get_column("__key").implode()).fill_null(False))
        else:
            answered = None
    distinct = uniques.to_list()
    # The results are hundreds of thousands of small containers: the cyclic GC would re-scan them over and
    # over (half the run time); none of them form cycles, so it is paused while they are built.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        if batch is not None:
            rows = batch(distinct)
        elif memo is not None:
            rows = memo.compute_all(distinct, one, schema)
        else:
            rows = [_safe(one, v, schema) for v in distinct]
        columns: dict[str, list[Any]] = {name: [] for name in schema}
        if rows:
            for name, col in zip(schema, zip(*rows, strict=True), strict=True):
                columns[name] = [_join(v) for v in col] if name in list_cols else list(col)
    finally:
        if gc_was_enabled:
            gc.enable()
    # Building list columns from Python lists costs ~15 µs per row in polars; list cells travel as one
    # unit-separator-joined string instead and are split by polars.
    lookup = pl.DataFrame(
        {"__key": uniques, **columns},
        schema={"__key": pl.String, **{n: pl.String if n in list_cols else d for n, d in schema.items()}},
    ).with_columns(
        pl.when(pl.col(name).is_null())
        .then(pl.lit(None, dtype=schema[name]))
        .when(pl.col(name) == "")
        .then(pl.lit([], dtype=schema[name]))
        .otherwise(pl.col(name).str.split(_SEP))
        .alias(name)
        for name in list_cols
    )
    if answered is not None:
        lookup = pl.concat([answered, lookup], how="vertical")
    return (
        pl.DataFrame({"__key": text})
        .join(lookup, on="__key", how="left", nulls_equal=True, maintain_order="left")
        .drop("__key")
    )


_SEP = "\x1f"


def _join(items: Sequence[str] | None) -> str | None:
    return None if items is None else _SEP.join(items)


#: Environment variable: set (not empty, not ``0``), a normaliser's exception is raised instead of the value being
#: reported as ``invalid``. The tests of the normalisers set it, so that their "never raises" properties can fail.
STRICT_ENV = "CRMKIT_STRICT_NORMALISERS"


def _safe(compute: Compute, value: str | None, schema: Mapping[str, Any]) -> Sequence[Any]:
    try:
        return compute(value)
    except Exception:  # a bug must not stop a migration: report the value as invalid and log it
        if os.environ.get(STRICT_ENV, "") not in ("", "0"):
            raise
        logger.exception("normaliser failed on a value; reported as invalid")
        return _coded_row(schema, "invalid")


def blank_row(raw: str, schema: Mapping[str, Any], placeholder: str = "placeholder") -> tuple[Any, ...] | None:
    """The result row of a cell that holds no value, ``None`` for one that does.

    A cell blank after :func:`clean_text` gets the issue ``empty``, a null marker (:data:`NULL_MARKERS`) the issue
    ``placeholder``; every other column is null.
    """
    text = clean_text(raw)
    if not text:
        return _coded_row(schema, "empty")
    if is_null_marker(text):
        return _coded_row(schema, placeholder)
    return None


def _screened(compute: Callable[[str], Sequence[Any]], schema: Mapping[str, Any], placeholder: str) -> Compute:
    """``compute`` behind :func:`blank_row`: it sees only cells that hold a value."""
    empty = _coded_row(schema, "empty")

    def screened(raw: str | None) -> Sequence[Any]:
        if raw is None:
            return empty
        return blank_row(raw, schema, placeholder) or compute(raw)

    return screened


def _coded_row(schema: Mapping[str, Any], code: str) -> tuple[Any, ...]:
    """A result row with no value: ``[code]`` as its issues, every other column null."""
    return tuple([code] if name == "issues" else None for name in schema)


@functools.cache
def _t2s() -> Any:
    import opencc

    return opencc.OpenCC("t2s")


@functools.cache
def _traditional_chars() -> frozenset[str]:
    """Characters that OpenCC ``t2s`` changes on their own (to skip conversion of text that has none)."""
    chars = [chr(code) for code in range(0x3400, 0xA000)] + [chr(code) for code in range(0xF900, 0xFB00)]
    converted = _t2s().convert(" ".join(chars)).split(" ")  # spaces stop phrase matching; fast
    if len(converted) != len(chars):  # pragma: no cover - defensive: fall back to converting everything
        return frozenset(chars)
    return frozenset(c for c, s in zip(chars, converted, strict=True) if c != s)


def to_simplified(text: str) -> str:
    """Traditional → simplified Chinese with OpenCC ``t2s``; text without traditional characters is kept."""
    if _traditional_chars().isdisjoint(text):
        return text
    return str(_t2s().convert(text))

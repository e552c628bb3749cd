"""Column mapping: a raw connector batch (all text + lineage) -> the MAPPED frame of canonical fields.

The MAPPED frame has, in this order: the lineage columns the batch carries, one ``pl.String`` column per
canonical field that at least one present source column maps to (in ``CANONICAL_FIELDS`` order),
``attributes`` (JSON object of the unmapped source columns with a non-blank value, stripped, in column order;
``"{}"`` when none) and ``_payload`` (JSON object of every source column as read, nulls as ``null``).
Nothing is dropped: what is not mapped is kept in ``attributes`` and everything in ``_payload`` (invariant 2).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import polars as pl
from polars.datatypes import IntegerType

from crm_store.schema import (
    ATTRIBUTES_COL,
    CANONICAL_FIELDS,
    ERROR_CODE_COL,
    FOLDED_FIELDS,
    LINEAGE_COLS,
    PAYLOAD_COL,
    RAW_LINE_COL,
    SKIP_REASON_COL,
)

__all__ = ["FIELD_SEPARATOR", "apply_codes", "apply_mapping", "check_mapping", "mark_skipped"]

#: Joins the values of several source columns mapped onto one canonical field.
FIELD_SEPARATOR = " / "


def check_mapping(mapping: Mapping[str, str]) -> list[str]:
    """Return every problem of a ``source column -> canonical field`` mapping (empty when it is valid).

    Problems: a target that is not a canonical field (the message lists the allowed ones), a lineage column
    used as a source column, an empty source column name.
    """
    problems: list[str] = []
    allowed = ", ".join(CANONICAL_FIELDS)
    for source_col, field in mapping.items():
        if not source_col or not source_col.strip():
            problems.append(f"mapping has an empty source column name (mapped to {field!r})")
        if source_col in LINEAGE_COLS:
            problems.append(f"mapping[{source_col!r}]: {source_col!r} is a lineage column and cannot be mapped")
        if field not in CANONICAL_FIELDS:
            problems.append(f"mapping[{source_col!r}]: unknown canonical field {field!r}; allowed fields: {allowed}")
    return problems


def _clean(col: str) -> pl.Expr:
    """Stripped text; empty or whitespace-only -> null."""
    stripped = pl.col(col).cast(pl.String).str.strip_chars()
    return pl.when(stripped.str.len_chars() > 0).then(stripped)


def _json_string(expr: pl.Expr) -> pl.Expr:
    """A string expression encoded as a JSON string literal (quotes and escapes), by polars' JSON writer."""
    encoded = pl.struct(expr.alias("v")).struct.json_encode()  # {"v":"..."}
    return encoded.str.slice(5, encoded.str.len_chars() - 6)


#: Unmapped columns above which ``attributes`` is built from a long (row, column, value) frame instead of one
#: expression per column: polars plans each such expression in about 0.5 ms and 150 KB, so a 16,384-column
#: sheet of one row took 20 s and 3 GB.
WIDE_COLUMNS = 256


def _wide_attributes(raw: pl.DataFrame, unmapped: list[str]) -> pl.Series:
    """``attributes`` of a batch with many unmapped columns: the same JSON text as the narrow path, in linear time."""
    row = "__row"
    while row in unmapped:
        row += "_"
    keys = pl.DataFrame({"__col": unmapped, "__key": [json.dumps(c, ensure_ascii=False) + ":" for c in unmapped]})
    parts = []
    for start in range(0, len(unmapped), WIDE_COLUMNS):  # a slice at a time: only values are kept, not blanks
        parts.append(
            raw.select(pl.col(unmapped[start : start + WIDE_COLUMNS]).cast(pl.String))
            .with_row_index(row)
            .unpivot(index=row, variable_name="__col", value_name="__val")  # column by column
            .with_columns(_clean("__val").alias("__val"))
            .filter(pl.col("__val").is_not_null())
        )
    members = (
        pl.concat(parts)  # in column order within each row
        .join(keys, on="__col", how="left", maintain_order="left")
        .group_by(row, maintain_order=True)
        .agg((pl.col("__key") + _json_string(pl.col("__val"))).str.join(",").alias("__members"))
    )
    index_dtype = members.schema[row]
    assert isinstance(index_dtype, IntegerType)  # with_row_index's unsigned index type
    every_row = raw.select(pl.int_range(pl.len(), dtype=index_dtype).alias(row))
    joined = every_row.join(members, on=row, how="left", maintain_order="left")
    return ("{" + joined["__members"].fill_null("") + "}").alias(ATTRIBUTES_COL)


def apply_mapping(raw: pl.DataFrame, mapping: Mapping[str, str]) -> pl.DataFrame:
    """Map a raw batch onto canonical fields.

    Args:
        raw: a connector batch: source columns (text) plus lineage columns.
        mapping: ``source column -> canonical field``. Keys that are not columns of this batch are ignored
            (batches of one source may have different headers); several source columns may map to one field,
            their non-null values are joined with ``" / "`` in column order. A ``landline`` column is read as a
            ``phone`` column (``FOLDED_FIELDS``): the phone normaliser tells landlines by the number.

    Returns:
        The MAPPED frame (see the module docstring). Row order and count are unchanged.

    Raises:
        ValueError: the mapping names an unknown canonical field (see :func:`check_mapping`).
    """
    problems = check_mapping(mapping)
    if problems:
        raise ValueError("invalid column mapping:\n  " + "\n  ".join(problems))

    lineage = [c for c in raw.columns if c in LINEAGE_COLS]
    source_cols = [c for c in raw.columns if c not in LINEAGE_COLS and c != RAW_LINE_COL]
    mapped = [c for c in source_cols if c in mapping]
    unmapped = [c for c in source_cols if c not in mapping]

    by_field: dict[str, list[str]] = {}
    for col in mapped:
        field = mapping[col]
        by_field.setdefault(FOLDED_FIELDS.get(field, field), []).append(col)

    exprs: list[pl.Expr] = [pl.col(c) for c in lineage]
    for field in CANONICAL_FIELDS:
        cols = by_field.get(field)
        if not cols:
            continue
        if len(cols) == 1:
            value = _clean(cols[0])
        else:
            joined = pl.concat_str([_clean(c) for c in cols], separator=FIELD_SEPARATOR, ignore_nulls=True)
            value = pl.when(joined.str.len_chars() > 0).then(joined)
        exprs.append(value.cast(pl.String).alias(field))

    if len(unmapped) > WIDE_COLUMNS:
        attributes = pl.lit(_wide_attributes(raw, unmapped))
    elif unmapped:
        members = [
            pl.when(_clean(c).is_not_null()).then(
                pl.lit(json.dumps(c, ensure_ascii=False) + ":") + _json_string(_clean(c))
            )
            for c in unmapped
        ]
        attributes = pl.lit("{") + pl.concat_str(members, separator=",", ignore_nulls=True) + pl.lit("}")
    else:
        attributes = pl.lit("{}")
    exprs.append(attributes.cast(pl.String).alias(ATTRIBUTES_COL))

    if source_cols:
        payload = pl.struct([pl.col(c).cast(pl.String) for c in source_cols]).struct.json_encode()
    else:
        payload = pl.lit("{}")
    if RAW_LINE_COL in raw.columns:
        # A structurally broken row: its raw text is the faithful payload, the split columns are guesses.
        as_read = pl.lit('{"' + RAW_LINE_COL + '":') + _json_string(pl.col(RAW_LINE_COL)) + pl.lit("}")
        payload = pl.when(pl.col(RAW_LINE_COL).is_not_null()).then(as_read).otherwise(payload)
    exprs.append(payload.cast(pl.String).alias(PAYLOAD_COL))

    return raw.select(exprs)


def apply_codes(mapped: pl.DataFrame, codes: Mapping[str, Mapping[str, str]]) -> pl.DataFrame:
    """Translate coded values of canonical fields (a legacy ``status`` of 1/2/9 → active/inactive/deleted).

    Args:
        mapped: a MAPPED frame.
        codes: ``canonical field -> {code as text -> value}``; fields absent from the frame are ignored.

    Returns:
        The frame with those fields translated; a code missing from its table is kept as it is, so nothing is lost.
    """
    exprs = [
        pl.col(field).replace({str(k): str(v) for k, v in table.items()}).alias(field)
        for field, table in codes.items()
        if field in mapped.columns
    ]
    return mapped.with_columns(exprs) if exprs else mapped


def mark_skipped(mapped: pl.DataFrame, rules: Mapping[str, Mapping[str, Sequence[str]]]) -> pl.DataFrame:
    """Mark rows that a skip rule excludes (e.g. records the legacy system flags as deleted).

    Args:
        mapped: a MAPPED frame (after ``apply_codes``).
        rules: ``reason code -> {canonical field -> values}``; a row is skipped with the first reason one of whose
            fields holds one of its values. Rows already skipped or broken keep their own reason.

    Returns:
        The frame with ``_skip_reason`` set on the excluded rows.
    """
    reason: pl.Expr = pl.lit(None, pl.String)
    for code, conditions in reversed(list(rules.items())):
        hits = [pl.col(f).is_in([str(v) for v in values]) for f, values in conditions.items() if f in mapped.columns]
        if hits:
            reason = pl.when(pl.any_horizontal(hits).fill_null(False)).then(pl.lit(code)).otherwise(reason)
    untouched = pl.col(SKIP_REASON_COL).is_null() & pl.col(ERROR_CODE_COL).is_null()
    return mapped.with_columns(
        pl.when(untouched).then(reason).otherwise(pl.col(SKIP_REASON_COL)).alias(SKIP_REASON_COL)
    )

"""Spreadsheet connector (xlsx, and whatever else calamine reads: xlsm, xlsb, xls, ods)."""

from __future__ import annotations

import datetime as dt
import itertools
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path

import polars as pl
import python_calamine
from pydantic import BaseModel, ConfigDict, Field

from connectors._errors import SourceError
from connectors._frame import (
    BATCH_ROWS,
    BLANK_PATTERN,
    HASH_SEPARATOR,
    column_names,
    finish_batch,
    joined_values,
)
from connectors.lineage import EMPTY_ROW, REPEATED_HEADER, TOTAL_ROW

logger = logging.getLogger(__name__)

#: Rows searched for the header when ``header_row`` is not given.
HEADER_SCAN_ROWS = 20
#: Rows (from the top) whose width the header candidate is compared with.
_WIDTH_SCAN_ROWS = 200
#: A first non-empty cell like this marks a total row: Chinese prefixes, or the whole cell an English word.
TOTAL_PATTERN = r"^\s*(?:合计|总计|小计|合計|總計|小計|(?i:grand\s+total|sub-?total|total|sum)\s*[:：]?\s*$)"

Cell = str | float | int | bool | dt.datetime | dt.date | dt.time | dt.timedelta | None


class XlsxParams(BaseModel):
    """Where and how to read a workbook.

    Attributes:
        path: The workbook.
        sheets: Sheet names to read, in this order; ``None`` reads every sheet (empty sheets are skipped).
        header_row: 1-based Excel row of the header in every sheet read; ``None`` detects it past title rows.
    """

    model_config = ConfigDict(extra="forbid")

    path: Path
    sheets: list[str] | None = Field(default=None, min_length=1)
    header_row: int | None = Field(default=None, ge=1)


def cell_text(value: Cell) -> str | None:
    """A cell as calamine returns it, as text: integral floats without ``.0``, dates in ISO form.

    Empty cells (and formulas without a cached value, which calamine reads as empty) are ``None``.
    """
    if isinstance(value, str):
        return value or None
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        seconds = int(value.total_seconds())
        return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    return str(value)


def detect_header(rows: Sequence[Sequence[Cell]]) -> int | None:
    """0-based index of the header among the top rows, or ``None`` for a sheet with no non-empty cell.

    The header is the first of the first `HEADER_SCAN_ROWS` rows whose non-empty cells are mostly text, with
    at least 2 non-empty cells and at least half as many as the widest row below it (a merged title row has
    one cell). Failing that, the first non-empty row.
    """
    filled = [[c for c in row if c is not None and c != ""] for row in rows]
    counts = [len(f) for f in filled]
    widest_below = list(itertools.accumulate(reversed(counts), max))[::-1]
    for i, cells in enumerate(filled[:HEADER_SCAN_ROWS]):
        below = widest_below[i + 1] if i + 1 < len(rows) else 0
        texts = sum(isinstance(c, str) for c in cells)
        if len(cells) >= 2 and 2 * texts >= len(cells) and 2 * len(cells) >= below:
            return i
    return next((i for i, n in enumerate(counts) if n), None)


def _open(params: XlsxParams, source: str) -> python_calamine.CalamineWorkbook:
    path = params.path
    if not path.exists():
        raise SourceError(source, path, None, "file not found")
    if path.is_dir():
        raise SourceError(source, path, None, "is a directory, not a file")
    try:
        return python_calamine.CalamineWorkbook.from_path(str(path))
    except (python_calamine.CalamineError, OSError, ValueError) as exc:
        raise SourceError(
            source, path, None, f"cannot open the workbook (truncated or not a spreadsheet?): {exc}"
        ) from None


def read_xlsx(params: XlsxParams, *, source: str, cursor: object | None = None) -> Iterator[pl.DataFrame]:
    """Read workbook sheets into raw text batches with lineage, one sheet per batch.

    Rows above the header (titles) are not records and are not yielded. ``_source_key`` is ``Sheet!row``
    with Excel's 1-based row number. Below the header: blank rows are ``empty_row``, rows whose first
    non-empty cell starts with 合计/总计/小计 (or is Total/Sum) are ``total_row``, copies of the header are
    ``repeated_header``. Batches of different sheets may have different columns.

    Args:
        params: What to read.
        source: The source name written to ``_source``.
        cursor: Reserved for incremental reads; unused.

    Raises:
        SourceError: The workbook is missing or corrupt, a listed sheet does not exist or is empty.
    """
    del cursor
    workbook = _open(params, source)
    available = list(workbook.sheet_names)
    if params.sheets is not None:
        missing = [s for s in params.sheets if s not in available]
        if missing:
            raise SourceError(
                source,
                params.path,
                None,
                f"no sheet named {', '.join(map(repr, missing))}; the workbook has {', '.join(map(repr, available))}",
            )
    wanted = params.sheets or available
    found_any = False
    for name in wanted:
        for batch in _read_sheet(workbook, name, params, source, explicit=params.sheets is not None):
            found_any = True
            yield batch
    if not found_any and not wanted:
        raise SourceError(source, params.path, None, "the workbook has no sheets")
    if not found_any:
        logger.warning("%s: no sheet of %s holds any data", source, params.path)


def _read_sheet(
    workbook: python_calamine.CalamineWorkbook, name: str, params: XlsxParams, source: str, *, explicit: bool
) -> Iterator[pl.DataFrame]:
    try:
        sheet = workbook.get_sheet_by_name(name)
        rows = sheet.iter_rows()  # from Excel row 1, leading empty rows included
        top = list(itertools.islice(rows, _WIDTH_SCAN_ROWS))
    except python_calamine.CalamineError as exc:
        raise SourceError(source, params.path, f"{name}!1", f"cannot read the sheet: {exc}") from None
    if params.header_row is not None:
        header_index: int | None = params.header_row - 1
        if header_index >= len(top) or not any(c not in ("", None) for c in top[header_index]):
            raise SourceError(source, params.path, f"{name}!{params.header_row}", "the header row is empty")
    else:
        header_index = detect_header(top)
    if header_index is None:
        if explicit:
            raise SourceError(source, params.path, None, f"sheet {name!r} is empty: no header found")
        logger.info("%s: sheet %r is empty, skipped", source, name)
        return
    if header_index >= len(top):  # header_row below the scanned rows
        raise SourceError(source, params.path, f"{name}!{header_index + 1}", "no header here")
    header_cells = [cell_text(c) for c in top[header_index]]
    names = column_names(header_cells)
    header_joined = HASH_SEPARATOR.join(c or "" for c in header_cells)
    body = itertools.chain(top[header_index + 1 :], rows)
    row_number = header_index + 2  # Excel row of the first body row
    try:
        while batch := list(itertools.islice(body, BATCH_ROWS)):
            yield _frame(batch, row_number, names, header_joined, name, source)
            row_number += len(batch)
    except python_calamine.CalamineError as exc:
        raise SourceError(source, params.path, f"{name}!{row_number}", f"cannot read the sheet: {exc}") from None


def _frame(
    batch: list[list[Cell]], first_row: int, names: list[str], header_joined: str, sheet: str, source: str
) -> pl.DataFrame:
    # calamine ranges are rectangular; zip_longest only guards against a short row
    columns = itertools.islice(itertools.zip_longest(*batch), len(names))
    values = pl.DataFrame(
        [pl.Series(n, [cell_text(v) for v in col], dtype=pl.String) for n, col in zip(names, columns, strict=True)]
    )
    joined = joined_values(values)
    first_filled = pl.coalesce(pl.when(pl.col(c).str.strip_chars() != "").then(pl.col(c)) for c in names)
    skip = values.select(
        pl.when(pl.lit(joined).str.contains(BLANK_PATTERN))
        .then(pl.lit(EMPTY_ROW))
        .when(pl.lit(joined) == header_joined)
        .then(pl.lit(REPEATED_HEADER))
        .when(first_filled.str.contains(TOTAL_PATTERN))
        .then(pl.lit(TOTAL_ROW))
        .alias("skip")
    ).to_series()
    nulls: list[str | None] = [None] * len(batch)
    return finish_batch(
        values,
        source=source,
        keys=[f"{sheet}!{first_row + i}" for i in range(len(batch))],
        skip_reason=skip,
        error_code=nulls,
        error_detail=nulls,
        joined=joined,
    )

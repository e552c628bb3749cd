"""Spreadsheet connector (xlsx, and whatever else calamine reads: xlsm, xlsb, xls, ods)."""

from __future__ import annotations

import datetime as dt
import html
import io
import itertools
import logging
import posixpath
import re
import shutil
import warnings
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from xml.etree import ElementTree

import polars as pl
import python_calamine
from pydantic import ConfigDict, Field, field_validator

from connectors._errors import SourceError
from connectors._frame import (
    BATCH_ROWS,
    BLANK_PATTERN,
    HASH_SEPARATOR,
    EmptyRuns,
    column_names,
    finish_batch,
    joined_values,
)
from connectors._keys import KeyedParams
from connectors.lineage import EMPTY_ROW, MALFORMED_ROW, REPEATED_HEADER, TOTAL_ROW

logger = logging.getLogger(__name__)

#: Rows searched for the header when ``header_row`` is not given.
HEADER_SCAN_ROWS = 20
#: Rows (from the top) whose width the header candidate is compared with.
_WIDTH_SCAN_ROWS = 200
#: A first non-empty cell like this marks a total row: Chinese prefixes, or the whole cell an English word.
TOTAL_PATTERN = r"^\s*(?:合计|总计|小计|合計|總計|小計|(?i:grand\s+total|sub-?total|total|sum)\s*[:：]?\s*$)"

Cell = str | float | int | bool | dt.datetime | dt.date | dt.time | dt.timedelta | None

#: Excel's last row and column (``XFD``): a reference past them is not a cell of any real workbook.
MAX_ROWS = 1_048_576
MAX_COLUMNS = 16_384
#: Values this many empty columns (or more) to the right of the table are stray cells.
STRAY_COLUMN_GAP = 64
#: Values this many empty rows (or more) below the table are stray cells, when the sheet is over `CELL_BUDGET`.
STRAY_ROW_GAP = 1_000
#: Cells (rows × columns of the used range) above which far rows are looked for; calamine holds every cell of
#: the range, about 32 bytes each, so this is about 128 MB.
CELL_BUDGET = 4_000_000
#: Most stray cells set aside in one sheet; more than this far away is a second table, read as it is.
MAX_STRAY_CELLS = 1_000
#: Largest range read (about 1.6 GB in calamine); a larger sheet fails the source.
MAX_CELLS = 50_000_000
#: A range over `CELL_BUDGET` cells must hold a value in at least one cell of this many: calamine's memory is
#: the range's, so a few hundred values scattered over a million rows would cost gigabytes for nothing.
SPARSE_RATIO = 64
#: Shared strings a workbook may claim (``uniqueCount``) without being counted: calamine reserves room for that
#: many strings (24 bytes each) before reading one, so a claim of 2,147,483,647 aborts the process.
TRUSTED_STRING_COUNT = 1 << 20


class XlsxParams(KeyedParams):
    """Where and how to read a workbook.

    Attributes:
        key: Column(s) identifying a row (see `connectors._keys.KeyedParams`); default: the row's position.
        path: The workbook.
        sheets: Sheet names to read, in this order, each once; ``None`` reads every sheet (empty sheets are
            skipped, with or without ``header_row``).
        header_row: 1-based Excel row of the header in every sheet read; ``None`` detects it past title rows.
    """

    model_config = ConfigDict(extra="forbid")

    path: Path
    sheets: list[str] | None = Field(default=None, min_length=1)
    header_row: int | None = Field(default=None, ge=1)

    @field_validator("sheets")
    @classmethod
    def _each_sheet_once(cls, v: list[str] | None) -> list[str] | None:
        if v is not None and len(set(v)) != len(v):
            twice = next(s for s in v if v.count(s) > 1)
            raise ValueError(f"sheets names {twice!r} twice (its rows would be read twice)")
        return v


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


def _open(params: XlsxParams, source: str, bounds: _Bounds) -> python_calamine.CalamineWorkbook:
    path = params.path
    if not path.exists():
        raise SourceError(source, path, None, "file not found")
    if path.is_dir():
        raise SourceError(source, path, None, "is a directory, not a file")
    bounds.trust_string_count()  # before calamine reads the shared strings
    try:
        if isinstance(bounds.file, io.BytesIO):
            return python_calamine.CalamineWorkbook.from_filelike(bounds.file)
        return python_calamine.CalamineWorkbook.from_path(str(path))
    except (python_calamine.CalamineError, OSError, ValueError) as exc:
        raise SourceError(
            source, path, None, f"cannot open the workbook (truncated or not a spreadsheet?): {_problem(exc)}"
        ) from None


def _problem(exc: Exception) -> str:
    """calamine's error in words: some of its errors are only a tag or a sheet name (``XmlError('t')``)."""
    text = str(exc).strip()
    if isinstance(exc, python_calamine.XmlError) and " " not in text:
        return f"the XML breaks off or is malformed inside <{text}>" if text else "the XML breaks off or is malformed"
    if isinstance(exc, python_calamine.WorksheetNotFound):
        return f"the workbook lists sheet {text!r} but holds no XML for it"
    return text or f"{type(exc).__name__} (calamine gives no detail)"


def read_xlsx(params: XlsxParams, *, source: str, cursor: object | None = None) -> Iterator[pl.DataFrame]:
    """Read workbook sheets into raw text batches with lineage, one sheet per batch.

    Rows above the header (titles) are not records and are not yielded. ``_source_key`` is ``Sheet!row``
    with Excel's 1-based row number. Below the header: blank rows are ``empty_row`` (a run of consecutive
    blank rows is one skipped row keyed ``Sheet!first-last``, with the count in ``_error_detail``), rows whose
    first non-empty cell starts with 合计/总计/小计 (or is Total/Sum) are ``total_row``, copies of the header
    are ``repeated_header``. Batches of different sheets may have different columns.

    Bounded memory: calamine holds a sheet as one rectangle from A1 to its last cell, so the XML of every
    sheet read (xlsx, xlsm) is checked first. A reference past Excel's last cell XFD1048576 (in a cell, a row
    or the ``<dimension>``) fails the source. Values far from the table are stray cells: those at least
    `STRAY_COLUMN_GAP` empty columns right of it, and, when the sheet would be over `CELL_BUDGET` cells,
    those at least `STRAY_ROW_GAP` empty rows below it. At most `MAX_STRAY_CELLS` of them are taken out
    before calamine reads the sheet, and each is yielded as a ``malformed_row`` keyed ``Sheet!XFD5`` with its
    value (as the XML stores it: a date is its serial number) in ``_raw_line``, so nothing is lost and a
    stray cell costs nothing. A sheet still over `MAX_CELLS` cells fails the source. xls, xlsb and ods
    files are not checked.

    Args:
        params: What to read.
        source: The source name written to ``_source``.
        cursor: Reserved for incremental reads; unused.

    Raises:
        SourceError: The workbook is missing or corrupt, a listed sheet does not exist or is empty, a sheet
            names a cell past XFD1048576 or is too large to read.
    """
    del cursor
    bounds = _Bounds(params.path, source)
    workbook = _open(params, source, bounds)
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
    workbook, plans, strays = _bounded(workbook, bounds, wanted)
    found_any = False
    for name in wanted:
        cut = (plans[name], strays[name]) if strays.get(name) else None
        for batch in _read_sheet(workbook, name, params, source, explicit=params.sheets is not None, strays=cut):
            found_any = True
            yield batch
    if not found_any and not wanted:
        raise SourceError(source, params.path, None, "the workbook has no sheets")
    if not found_any:
        logger.warning("%s: no sheet of %s holds any data", source, params.path)


def _bounded(
    workbook: python_calamine.CalamineWorkbook, bounds: _Bounds, sheets: list[str]
) -> tuple[python_calamine.CalamineWorkbook, dict[str, _Plan], dict[str, list[_Stray]]]:
    """The workbook to read ``sheets`` from (without their stray cells, when they have any), the sheets'
    plans and their stray cells: checked before calamine allocates a sheet (see `read_xlsx`)."""
    plans = bounds.plans(sheets)
    strays: dict[str, list[_Stray]] = {}
    if any(plan.strays for plan in plans.values()):
        clipped, strays = bounds.clipped(plans)
        workbook.close()
        workbook = python_calamine.CalamineWorkbook.from_filelike(clipped)
    return workbook, plans, strays


def read_xlsx_headers(params: XlsxParams, *, source: str) -> tuple[list[str], dict[str, list[str]]]:
    """Every sheet of the workbook, and the column names `read_xlsx` would yield for each sheet it reads.

    Only the top rows of each sheet are looked at, with `read_xlsx`'s header detection (title rows skipped,
    ``header_row`` honoured) and its bounds checks. Sheets named in ``params.sheets`` that the workbook lacks
    are left out rather than raised, so that a caller can name each of them; empty sheets that were not asked
    for are left out as `read_xlsx` skips them.

    Raises:
        SourceError: The workbook is missing or corrupt, a sheet is too large to read, or a sheet asked for is
            empty or has no header where ``header_row`` says.
    """
    bounds = _Bounds(params.path, source)
    workbook = _open(params, source, bounds)
    available = list(workbook.sheet_names)
    wanted = [s for s in params.sheets if s in available] if params.sheets is not None else available
    workbook, _, _ = _bounded(workbook, bounds, wanted)
    headers: dict[str, list[str]] = {}
    try:
        for name in wanted:
            found = _sheet_header(workbook, name, params, source, explicit=params.sheets is not None)
            if found is not None:
                headers[name] = column_names(cell_text(c) for c in found[1][found[0]])
    finally:
        workbook.close()
    return available, headers


def _read_sheet(
    workbook: python_calamine.CalamineWorkbook,
    name: str,
    params: XlsxParams,
    source: str,
    *,
    explicit: bool,
    strays: tuple[_Plan, list[_Stray]] | None = None,
) -> Iterator[pl.DataFrame]:
    """The sheet's batches, then its stray cells (taken out of the XML before calamine read it), if any."""
    names: list[str] = []  # the sheet's columns, once its header is read
    yield from _sheet_rows(workbook, name, params, source, explicit=explicit, names=names)
    if strays is not None:
        plan, cells = strays
        logger.warning(
            "%s: sheet %r: %d stray cell(s) far outside the table %s set apart, quarantined",
            source,
            name,
            len(cells),
            plan.used,
        )
        yield _stray_frame(cells, plan, names, source)


def _sheet_rows(
    workbook: python_calamine.CalamineWorkbook,
    name: str,
    params: XlsxParams,
    source: str,
    *,
    explicit: bool,
    names: list[str],
) -> Iterator[pl.DataFrame]:
    found = _sheet_header(workbook, name, params, source, explicit=explicit)
    if found is None:
        return
    header_index, top, rows = found
    header_cells = [cell_text(c) for c in top[header_index]]
    names.extend(column_names(header_cells))
    header_joined = HASH_SEPARATOR.join(c or "" for c in header_cells)
    body = itertools.chain(top[header_index + 1 :], rows)
    row_number = header_index + 2  # Excel row of the first body row
    runs = EmptyRuns(f"{name}!")
    try:
        while batch := list(itertools.islice(body, BATCH_ROWS)):
            numbers = pl.int_range(row_number, row_number + len(batch), dtype=pl.Int64, eager=True)
            frame = runs.collapse(_frame(batch, row_number, names, header_joined, name, source), numbers, numbers)
            row_number += len(batch)
            if frame.height:
                yield frame
    except python_calamine.CalamineError as exc:
        where = f"{name}!{row_number}"
        raise SourceError(source, params.path, where, f"cannot read the sheet: {_problem(exc)}") from None
    held = runs.flush()
    if held is not None:
        yield held


def _sheet_header(
    workbook: python_calamine.CalamineWorkbook, name: str, params: XlsxParams, source: str, *, explicit: bool
) -> tuple[int, Sequence[Sequence[Cell]], Iterator[Sequence[Cell]]] | None:
    """(0-based index of the header among the top rows, the top rows, the rows after them), or ``None`` for an
    empty sheet that was not asked for by name (skipped)."""
    try:
        sheet = workbook.get_sheet_by_name(name)
        rows = sheet.iter_rows()  # from Excel row 1, leading empty rows included
        top = list(itertools.islice(rows, _WIDTH_SCAN_ROWS))
    except python_calamine.CalamineError as exc:
        raise SourceError(source, params.path, f"{name}!1", f"cannot read the sheet: {_problem(exc)}") from None
    header_index = detect_header(top)  # None: an empty sheet, skipped below unless it was asked for
    if params.header_row is not None and (header_index is not None or explicit):
        header_index = params.header_row - 1
        if header_index >= len(top) or not any(c not in ("", None) for c in top[header_index]):
            raise SourceError(source, params.path, f"{name}!{params.header_row}", "the header row is empty")
    if header_index is None:
        if explicit:
            raise SourceError(source, params.path, None, f"sheet {name!r} is empty: no header found")
        logger.info("%s: sheet %r is empty, skipped", source, name)
        return None
    if header_index >= len(top):  # header_row below the scanned rows
        raise SourceError(source, params.path, f"{name}!{header_index + 1}", "no header here")
    return header_index, top, rows


def _stray_frame(strays: list[_Stray], plan: _Plan, names: list[str], source: str) -> pl.DataFrame:
    """The stray cells of a sheet as ``malformed_row`` records keyed by cell, values in ``_raw_line``.

    The sheet's columns are there, empty, so that the batch has the same columns as the sheet's others.
    """
    seen: dict[str, int] = {}
    keys = []
    for stray in strays:  # a reference written twice in the XML is two records
        seen[stray.ref] = seen.get(stray.ref, 0) + 1
        keys.append(f"{plan.sheet}!{stray.ref}" + (f"#{seen[stray.ref]}" if seen[stray.ref] > 1 else ""))
    n = len(strays)
    detail = f"stray cell far outside the table {plan.used}: not read into a column; its value is in _raw_line"
    return finish_batch(
        pl.DataFrame({c: [None] * n for c in names}, schema=dict.fromkeys(names, pl.String)),
        source=source,
        keys=keys,
        skip_reason=[None] * n,
        error_code=[MALFORMED_ROW] * n,
        error_detail=[detail] * n,
        raw_line=[s.value for s in strays],
    )


def _frame(
    batch: Sequence[Sequence[Cell]], first_row: int, names: list[str], header_joined: str, sheet: str, source: str
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


# ------------------------------------------------------------------ bounds: checked before calamine allocates
#
# calamine holds a sheet as one dense rectangle from its first to its last cell, so one value at XFD1048576 asks
# for 17 billion cells (an abort, not an exception). The sheet's XML is read here first, in pieces, with regular
# expressions run by polars: where the cells are, and whether any is out of bounds.

_NS = r"(?:[\w.\-]+:)?"
_TAG = rf"""<{_NS}(?:row|c)(?:\s+[^\s=>/]+\s*=\s*(?:"[^"]*"|'[^']*'))*\s*/?>"""
_LOOSE_TAG = rf"<{_NS}(?:row|c)[\s/>]"
_REF_ATTR = r"""\sr\s*=\s*["']([^"']*)["']"""
_START = re.compile(rb"<(?:[\w.\-]+:)?(?:row|c)[\s/>]")
_DIMENSION = re.compile(rb"""<(?:[\w.\-]+:)?dimension\s[^>]*?\bref\s*=\s*["']([^"']*)["']""")
_CELL_REF = re.compile(r"([A-Z]+)([1-9][0-9]*)")
_QUICK_CELL = r'<c r="[A-Z]{1,3}[1-9][0-9]{0,6}"'
_QUICK_ROW = r'<row r="[1-9][0-9]{0,6}"'
_QUICK_EMPTY_CELL = r'<c r="[A-Z]{1,3}[1-9][0-9]{0,6}"(?:\s+[^\s=>/]+\s*=\s*(?:"[^"]*"|\'[^\']*\'))*\s*/>'
#: Tag forms the quick check does not count (a prefix, a tag without attributes, other white space).
_UNUSUAL = r":c[\s>/]|<c[>/\t\n\r]|:row[\s>/]|<row[>/\t\n\r]"
_PIECE_BYTES = 8 << 20
_HEAD_BYTES = 64 << 10
#: The ``uniqueCount`` attribute of the shared-strings table's start tag (group 1: the tag before it).
_UNIQUE_COUNT = re.compile(rb"""(<(?:[\w.\-]+:)?sst\b[^>]*?)\s+uniqueCount\s*=\s*["']([^"']*)["']""")
#: A shared string's start tag (``<si>``, ``<si/>``, ``<x:si ...>``).
_SI = re.compile(rb"<(?:[\w.\-]+:)?si[\s/>]")
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, OSError, EOFError, RuntimeError, NotImplementedError, ValueError)
_PART_LIMIT = 64 << 20  # workbook.xml and its relationships are parsed whole
_LETTER = {chr(64 + i): i for i in range(1, 27)}


def column_letters(number: int) -> str:
    """Excel's name of a 1-based column number (1 → ``A``, 16384 → ``XFD``)."""
    letters = ""
    while number > 0:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


@dataclass
class _Scan:
    """Where the cells of one worksheet part are (1-based), from its XML."""

    max_row: int = 0
    max_col: int = 0
    values: int = 0
    implicit: bool = False  # some cell has no ``r`` reference: its place is counted, not read
    columns: dict[int, int] = field(default_factory=dict)  # column → cells with a value
    rows: list[pl.DataFrame] = field(default_factory=list)  # row, first column, cells with a value


@dataclass(frozen=True)
class _Plan:
    """How much of a sheet calamine is given: columns ``1..last_col``, rows ``1..last_row``; the rest is stray."""

    sheet: str
    parts: tuple[str, ...]
    last_row: int
    last_col: int
    strays: int

    @property
    def used(self) -> str:
        return f"A1:{column_letters(self.last_col)}{self.last_row}"


@dataclass(frozen=True)
class _Stray:
    ref: str
    value: str


class _Bounds:
    """Checks the sheets of an xlsx/xlsm zip before calamine reads them, and cuts stray cells out of them.

    Other formats calamine reads (xls, xlsb, ods) are not checked here.
    """

    def __init__(self, path: Path, source: str) -> None:
        self.path = path
        self.source = source
        #: What is read: the file, or a copy of it made safe for calamine (`trust_string_count`).
        self.file: Path | io.BytesIO = path

    def error(self, sheet: str | None, problem: str) -> SourceError:
        where = f"sheet {sheet!r}: " if sheet is not None else ""
        return SourceError(self.source, self.path, None, where + problem)

    def plans(self, sheets: Sequence[str]) -> dict[str, _Plan]:
        """The plan of every sheet named, or nothing for a file that is not an xlsx zip.

        Raises:
            SourceError: A sheet names a cell past XFD1048576, or is too large to hold even without its strays.
        """
        if not zipfile.is_zipfile(self.file):
            return {}  # xls: a compound file, not a zip
        try:
            with zipfile.ZipFile(self.file) as zf:
                parts = self._sheet_parts(zf)
                if parts is None:
                    return {}
                plans = {}
                for sheet in sheets:
                    found = parts.get(sheet, ())
                    if not found:
                        raise self.error(sheet, "cannot find the sheet's XML in the workbook to check its size")
                    plan = self._quick_plan(zf, tuple(found), sheet)
                    if plan is None:  # something to look at closely: a gap, a far cell, an unusual tag
                        plan = self._plan(sheet, tuple(found), [self._scan(zf, part, sheet) for part in found])
                    plans[sheet] = plan
                return plans
        except _ZIP_ERRORS as exc:
            raise self.error(None, f"cannot read the workbook's XML (truncated or encrypted?): {exc}") from None

    def trust_string_count(self) -> None:
        """Make `file` a copy without the shared-strings ``uniqueCount`` when that claims more strings than the
        table holds (or is not a number calamine can use): calamine reserves memory for the claim up front.

        A claim up to `TRUSTED_STRING_COUNT` is taken as it is; a larger one is checked by counting the ``<si>``
        elements. A file that is not a readable zip is left to calamine, which reports it.
        """
        try:
            if not zipfile.is_zipfile(self.path):
                return
            with zipfile.ZipFile(self.path) as zf:
                names = [i.filename for i in zf.infolist() if i.filename.lower().endswith("sharedstrings.xml")]
                false = [n for n in names if self._false_count(zf, n)]
                if not false:
                    return
                buffer = io.BytesIO()
                with (
                    warnings.catch_warnings(),  # a name twice in the zip is copied as it is, twice
                    zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as out,
                ):
                    warnings.simplefilter("ignore", UserWarning)
                    for info in zf.infolist():
                        with zf.open(info) as src, out.open(info.filename, "w", force_zip64=True) as dst:
                            if info.filename in false:
                                head = src.read(_HEAD_BYTES)
                                dst.write(_UNIQUE_COUNT.sub(rb"\1", head, count=1))
                            shutil.copyfileobj(src, dst, _PIECE_BYTES)
        except _ZIP_ERRORS as exc:
            logger.debug("%s: shared strings not checked: %s", self.path, exc)
            return  # calamine will fail to read it too, and say so
        logger.warning("%s: %s claims more shared strings than it holds; the claim is ignored", self.path, false[0])
        buffer.seek(0)
        self.file = buffer

    @staticmethod
    def _false_count(zf: zipfile.ZipFile, name: str) -> bool:
        with zf.open(name) as handle:
            head = handle.read(_HEAD_BYTES)
            found = _UNIQUE_COUNT.search(head)
            if found is None:
                return False
            claim = found[2].strip()
            if claim.isdigit() and len(claim) < 20 and int(claim) <= TRUSTED_STRING_COUNT:
                return False
            held, data = 0, head
            while more := handle.read(_PIECE_BYTES):
                data += more
                cut = data.rfind(b"<")  # a tag may begin here and end in the next block
                held += len(_SI.findall(data, 0, cut))
                data = data[cut:]
            held += len(_SI.findall(data))
        return not (claim.isdigit() and len(claim) < 20 and int(claim) <= held)

    def _small_xml(self, zf: zipfile.ZipFile, name: str) -> ElementTree.Element | None:
        try:
            with zf.open(name) as handle:
                data = handle.read(_PART_LIMIT + 1)
        except KeyError:
            return None
        if len(data) > _PART_LIMIT:
            raise self.error(None, f"{name} is over {_PART_LIMIT >> 20} MB: not a workbook this reader trusts")
        try:
            return ElementTree.fromstring(data)
        except ElementTree.ParseError as exc:
            raise self.error(None, f"{name} is not well-formed XML: {exc}") from None

    def _sheet_parts(self, zf: zipfile.ZipFile) -> dict[str, list[str]] | None:
        """Sheet name → the zip members its XML may be in (every reading of the relationship's target)."""
        workbook = self._small_xml(zf, "xl/workbook.xml")
        if workbook is None:
            return None  # xlsb, or not an Office Open XML workbook
        rels = self._small_xml(zf, "xl/_rels/workbook.xml.rels")
        targets = {
            r.get("Id"): r.get("Target", "")
            for r in (rels if rels is not None else [])
            if r.tag.rsplit("}", 1)[-1] == "Relationship"
        }
        names = set(zf.namelist())
        parts: dict[str, list[str]] = {}
        for sheet in workbook.iter():
            if sheet.tag.rsplit("}", 1)[-1] != "sheet":
                continue
            rid = next((v for k, v in sheet.attrib.items() if k.rsplit("}", 1)[-1] == "id"), None)
            target = targets.get(rid, "").replace("\\", "/")
            readings = {target.lstrip("/"), "xl/" + target, posixpath.normpath(posixpath.join("xl", target))}
            parts[sheet.get("name", "")] = sorted(r for r in readings if r in names)
        return parts

    def _quick_plan(self, zf: zipfile.ZipFile, parts: tuple[str, ...], sheet: str) -> _Plan | None:
        """The plan of a sheet with nothing to cut, found the quick way, or ``None`` to look closer.

        Every sheet written by Excel, LibreOffice, openpyxl and their like starts each cell tag with its
        reference (``<c r="B7"``). When every ``<c>`` and ``<row>`` tag of the XML has that form, the column
        letters and row numbers alone (of every cell, with a value or not) show that no cell is far from the
        others and that the range is small enough; otherwise `_scan` reads each tag.
        """
        last_row = last_col = values = 0
        for part in parts:
            letters: set[str] = set()
            numbers: list[pl.Series] = []
            high = 0  # the highest row tag so far: every cell lies in a row
            with zf.open(part) as handle:
                for i, piece in enumerate(_pieces(handle)):
                    if i == 0:
                        self._check_dimension(piece, sheet)
                    text = _text(piece).to_frame("t")
                    t = pl.col("t").str
                    found = text.select(
                        t.contains(_UNUSUAL).alias("unusual"),
                        (t.count_matches("<c ") - t.count_matches(_QUICK_CELL)).alias("odd_cells"),
                        (t.count_matches("<row ") - t.count_matches(_QUICK_ROW)).alias("odd_rows"),
                        (t.count_matches("<c ") - t.count_matches(_QUICK_EMPTY_CELL)).alias("values"),
                        t.extract_all(r'<c r="[A-Z]+').list.unique().alias("letters"),
                        t.extract_all(_QUICK_ROW)
                        .list.eval(pl.element().str.strip_chars_end('"').str.slice(8).cast(pl.Int64))
                        .alias("rows"),
                    ).row(0, named=True)
                    if found["unusual"] or found["odd_cells"] or found["odd_rows"]:
                        return None
                    rows = pl.Series(found["rows"], dtype=pl.Int64)
                    high = max(high, int(rows.max() or 0))  # type: ignore[arg-type]
                    below = _greater(str(high), "0123456789", max_len=7)
                    if text.select(t.contains(rf'<c r="[A-Z]+(?:{below})"')).item():
                        return None  # a cell below every row so far: look closer
                    letters.update(x[6:] for x in found["letters"])
                    numbers.append(rows)
                    values += found["values"]
            cols = sorted(_column_number(c) for c in letters)
            row_numbers = pl.concat(numbers).unique().sort() if numbers else pl.Series(dtype=pl.Int64)
            width, height = (cols[-1] if cols else 0), int(row_numbers.max() or 0)  # type: ignore[arg-type]
            if width > MAX_COLUMNS or height > MAX_ROWS or width * height > MAX_CELLS:
                return None
            if any(right - left > STRAY_COLUMN_GAP for left, right in itertools.pairwise(cols)):
                return None
            if width * height > CELL_BUDGET and bool((row_numbers.diff() > STRAY_ROW_GAP).any()):
                return None
            last_row, last_col = max(last_row, height), max(last_col, width)
        if last_row * last_col > CELL_BUDGET and last_row * last_col > SPARSE_RATIO * values:
            return None  # values scattered thin over a large range: `_plan` says so
        return _Plan(sheet, parts, last_row, last_col, 0)

    def _scan(self, zf: zipfile.ZipFile, part: str, sheet: str) -> _Scan:
        scan = _Scan()
        carry = (0, 0)  # row and column of the last tag of the previous piece
        with zf.open(part) as handle:
            for i, piece in enumerate(_pieces(handle)):
                if i == 0:
                    self._check_dimension(piece, sheet)
                carry = self._scan_piece(_text(piece), carry, scan, sheet)
        return scan

    def _check_dimension(self, piece: bytes, sheet: str) -> None:
        found = _DIMENSION.search(piece)
        if found is None:
            return
        for ref in found.group(1).decode("ascii", "replace").split(":"):
            match = _CELL_REF.fullmatch(ref.strip().replace("$", ""))
            if match and (
                len(match[1]) > 3
                or len(match[2]) > 7
                or _column_number(match[1]) > MAX_COLUMNS
                or int(match[2]) > MAX_ROWS
            ):
                raise self.error(sheet, "its <dimension> " + _past_limits(ref, is_row=False).removeprefix("the XML "))

    def _scan_piece(self, text: pl.Series, carry: tuple[int, int], scan: _Scan, sheet: str) -> tuple[int, int]:
        tags = text.str.extract_all(_TAG).explode().drop_nulls()
        loose = text.str.count_matches(_LOOSE_TAG)[0]
        if loose != tags.len():
            raise self.error(sheet, "a <row> or <c> tag of the XML is malformed; cannot check where the cells are")
        if not tags.len():
            return carry
        tag = pl.col("tag")
        ref = pl.col("ref")
        frame = (
            tags.to_frame("tag")
            .with_columns(
                tag.str.contains(rf"^<{_NS}row[\s/>]").alias("is_row"),
                tag.str.extract(_REF_ATTR, 1).alias("ref"),
                (~tag.str.ends_with("/>")).alias("value"),
            )
            .with_columns(
                ref.str.extract(r"^([A-Z]*)", 1).alias("letters"),
                ref.str.extract(r"([0-9]*)$", 1).alias("digits"),
            )
        )
        shape = pl.when(pl.col("is_row")).then(ref.str.contains(r"^[1-9][0-9]*$"))
        bad = frame.filter(ref.is_not_null() & ~shape.otherwise(ref.str.contains(r"^[A-Z]+[1-9][0-9]*$")))
        if bad.height:
            raise self.error(sheet, f"{bad['ref'][0]!r} is not a cell or row reference")
        far = frame.filter((pl.col("letters").str.len_bytes() > 3) | (pl.col("digits").str.len_bytes() > 7))
        if far.height:
            raise self.error(sheet, _past_limits(far["ref"][0], is_row=far["is_row"][0]))
        padded = pl.col("letters").str.pad_start(3, "@")
        digit = [padded.str.slice(k, 1).replace_strict(_LETTER, default=0, return_dtype=pl.Int64) for k in range(3)]
        frame = frame.with_columns(
            pl.when(~pl.col("is_row") & (pl.col("letters") != ""))
            .then(digit[0] * 676 + digit[1] * 26 + digit[2])
            .alias("col"),
            pl.when(pl.col("digits") != "").then(pl.col("digits").cast(pl.Int64)).alias("num"),
            pl.col("is_row").cum_sum().alias("rowgrp"),
        )
        # rows: an <row> without r is the one after the previous
        row_seg = pl.col("num").is_not_null().cum_sum()
        k = pl.int_range(pl.len()).over(row_seg)
        rows = frame.filter("is_row").select(
            "rowgrp",
            pl.when(row_seg == 0).then(carry[0] + k + 1).otherwise(pl.col("num").forward_fill() + k).alias("row_no"),
        )
        frame = frame.join(rows, on="rowgrp", how="left", maintain_order="left").with_columns(
            pl.col("row_no").fill_null(carry[0])
        )
        # cells: a <c> without r is in the column after the previous cell of its row
        cells = frame.filter(~pl.col("is_row"))
        if cells.height:
            col_seg = pl.col("col").is_not_null().cum_sum().over("rowgrp")
            k2 = pl.int_range(pl.len()).over("rowgrp", col_seg)
            start = pl.when(pl.col("rowgrp") == 0).then(carry[1]).otherwise(0)
            cells = cells.with_columns(
                pl.when(pl.col("col").is_not_null())
                .then(pl.col("col"))
                .when(col_seg == 0)
                .then(start + k2 + 1)
                .otherwise(pl.col("col").forward_fill().over("rowgrp") + k2)
                .alias("col"),
                pl.col("num").fill_null(pl.col("row_no")).alias("row"),
            )
            past = cells.filter((pl.col("col") > MAX_COLUMNS) | (pl.col("row") > MAX_ROWS))
            if past.height:
                at = past.row(0, named=True)
                where = at["ref"] or f"in column {at['col']} of row {at['row']} (counted: the cell has no reference)"
                raise self.error(sheet, _past_limits(where, is_row=False))
            values = cells.filter("value")
            scan.implicit = scan.implicit or values["ref"].null_count() > 0
            if values.height:
                scan.values += values.height
                scan.max_row = max(scan.max_row, int(values["row"].max()))  # type: ignore[arg-type]
                scan.max_col = max(scan.max_col, int(values["col"].max()))  # type: ignore[arg-type]
                for col, n in values.group_by("col").len().iter_rows():
                    scan.columns[col] = scan.columns.get(col, 0) + n
                scan.rows.append(
                    values.group_by("row").agg(pl.col("col").min().alias("first"), pl.len().cast(pl.Int64).alias("n"))
                )
        far_rows = rows.filter(pl.col("row_no") > MAX_ROWS)
        if far_rows.height:
            raise self.error(sheet, _past_limits(str(far_rows["row_no"][0]), is_row=True))
        last = frame.row(frame.height - 1, named=True)
        last_col = 0 if last["is_row"] or not cells.height else int(cells["col"][-1])
        return (int(last["row_no"]), last_col)

    def _plan(self, sheet: str, parts: tuple[str, ...], scans: list[_Scan]) -> _Plan:
        scan = scans[0]
        for other in scans[1:]:  # the same sheet read two ways: plan for the larger reading
            if other.max_row * other.max_col > scan.max_row * scan.max_col:
                scan = other
        last_col, strays = scan.max_col, 0
        for left, right in itertools.pairwise(sorted(scan.columns)):
            beyond = sum(n for c, n in scan.columns.items() if c > left)
            if right - left > STRAY_COLUMN_GAP and beyond <= MAX_STRAY_CELLS:
                last_col, strays = left, beyond  # the leftmost gap with few enough cells beyond it
                break
        rows = (
            pl.concat(scan.rows).group_by("row").agg(pl.col("first").min(), pl.col("n").sum()).sort("row")
            if scan.rows
            else pl.DataFrame(schema={"row": pl.Int64, "first": pl.Int64, "n": pl.Int64})
        )
        inside = rows.filter(pl.col("first") <= last_col)
        last_row = int(inside["row"].max() or 0)  # type: ignore[arg-type]
        if last_row * last_col > CELL_BUDGET:
            # the topmost gap of STRAY_ROW_GAP empty rows with few enough cells below it
            below = rows.select("row", pl.col("n").reverse().cum_sum().reverse().alias("beyond"))
            cuts = (
                inside.select(pl.col("row").shift(1).alias("above"), pl.col("row").alias("far"))
                .filter(pl.col("far") - pl.col("above") > STRAY_ROW_GAP)
                .join(below, left_on="far", right_on="row", how="left", maintain_order="left")
                .filter(pl.col("beyond") + strays <= MAX_STRAY_CELLS)
            )
            if cuts.height:
                last_row, strays = int(cuts["above"][0]), strays + int(cuts["beyond"][0])
        if strays and scan.implicit:
            raise self.error(
                sheet, "values lie far outside the table, and some cells have no reference: cannot set them apart"
            )
        cells = last_row * last_col
        span = f"its cells span A1:{column_letters(last_col)}{last_row} ({cells:,} cells, about {cells * 32e-9:.1f} GB"
        if cells > MAX_CELLS:
            raise self.error(
                sheet,
                f"{span} to read) for {scan.values:,} values; over the limit of {MAX_CELLS:,} "
                "cells: delete far-away cells or split the sheet",
            )
        if cells > CELL_BUDGET and cells > SPARSE_RATIO * (scan.values - strays):
            raise self.error(
                sheet,
                f"{span} to read) for only {scan.values - strays:,} values scattered over it, fewer than one in "
                f"{SPARSE_RATIO}: delete the far-away cells or move the table together",
            )
        return _Plan(sheet, parts, last_row, last_col, strays)

    def clipped(self, plans: dict[str, _Plan]) -> tuple[io.BytesIO, dict[str, list[_Stray]]]:
        """The workbook with the stray cells of every planned sheet taken out, and those cells by sheet."""
        cut = {part: plan for plan in plans.values() if plan.strays for part in plan.parts}
        found: dict[str, list[tuple[str, str]]] = {}
        buffer = io.BytesIO()
        try:
            with (
                zipfile.ZipFile(self.file) as zf,
                zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as out,
            ):
                for info in zf.infolist():
                    with zf.open(info) as src, out.open(info.filename, "w", force_zip64=True) as dst:
                        plan = cut.get(info.filename)
                        if plan is None:
                            shutil.copyfileobj(src, dst, _PIECE_BYTES)
                            continue
                        pattern, elements = _stray_pattern(plan), found.setdefault(plan.sheet, [])
                        for piece in _pieces(src):
                            dst.write(_cut_strays(piece, pattern, elements))
                indices = {int(i) for cells in found.values() for _, xml in cells for i in _ssi(xml)}
                shared = self._shared_strings(zf, indices)
        except _ZIP_ERRORS as exc:
            raise self.error(None, f"cannot read the workbook's XML (truncated or encrypted?): {exc}") from None
        buffer.seek(0)
        return buffer, {
            sheet: [_Stray(ref, _cell_value(xml, shared)) for ref, xml in cells] for sheet, cells in found.items()
        }

    def _shared_strings(self, zf: zipfile.ZipFile, wanted: set[int]) -> dict[int, str]:
        if not wanted:
            return {}
        rels = self._small_xml(zf, "xl/_rels/workbook.xml.rels")
        target = next(
            (
                r.get("Target", "")
                for r in (rels if rels is not None else [])
                if r.get("Type", "").endswith("/sharedStrings")
            ),
            "sharedStrings.xml",
        )
        name = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join("xl", target))
        shared: dict[int, str] = {}
        try:
            with zf.open(name) as handle:
                index = 0
                for _, element in ElementTree.iterparse(handle):
                    if element.tag.rsplit("}", 1)[-1] != "si":
                        continue
                    if index in wanted:
                        shared[index] = _string_item(element)
                    element.clear()
                    index += 1
                    if index > max(wanted):
                        break
        except (KeyError, ElementTree.ParseError):
            pass  # a stray cell whose string cannot be found keeps its XML as its value
        return shared


def _text(piece: bytes) -> pl.Series:
    """A piece of XML as a one-string series (UTF-8 checked by polars; bytes that are not UTF-8 replaced)."""
    try:
        return pl.Series([piece], dtype=pl.Binary).cast(pl.String)
    except (pl.exceptions.ComputeError, pl.exceptions.InvalidOperationError):
        return pl.Series([piece.decode("utf-8", "replace")], dtype=pl.String)


def _past_limits(ref: str, *, is_row: bool) -> str:
    if is_row:
        return f"the XML names row {ref}, past Excel's last row {MAX_ROWS:,}: not a sheet Excel can hold"
    return f"the XML names cell {ref}, past Excel's last cell XFD{MAX_ROWS}: not a sheet Excel can hold"


def _cut_strays(piece: bytes, pattern: re.Pattern[bytes], cut: list[tuple[str, str]]) -> bytes:
    """The piece without the cell elements ``pattern`` matches; each one cut is added to ``cut`` (ref, XML)."""

    def keep(match: re.Match[bytes]) -> bytes:
        cut.append((match[1].decode("ascii"), match[0].decode("utf-8", "replace")))
        return b""

    return pattern.sub(keep, piece)


def _column_number(letters: str) -> int:
    number = 0
    for ch in letters:
        number = number * 26 + _LETTER[ch]
    return number


def _pieces(handle: IO[bytes]) -> Iterator[bytes]:
    """The XML in pieces of about `_PIECE_BYTES`, each ending right before a ``<row`` or ``<c`` tag.

    So every row or cell tag, and every cell element, lies whole in one piece.
    """
    carry = b""
    while block := handle.read(_PIECE_BYTES):
        data = carry + block
        cut = data.rfind(b"<")
        while cut > 0 and not _START.match(data, cut):
            cut = data.rfind(b"<", 0, cut)
        if cut <= 0:
            carry = data
            continue
        yield data[:cut]
        carry = data[cut:]
    if carry:
        yield carry


def _greater(bound: str, alphabet: str, *, max_len: int) -> str:
    """A regular expression for the strings over ``alphabet`` (digits, or letters A-Z) that count past ``bound``.

    Both count like numbers: a longer string is larger, and strings of the same length compare letter by letter.
    """
    any_char = f"[{alphabet[0]}-{alphabet[-1]}]"
    options = [f"{any_char}{{{len(bound) + 1},{max_len}}}"] if len(bound) < max_len else []
    for i, ch in enumerate(bound):
        higher = alphabet[alphabet.index(ch) + 1 :]
        if higher:
            rest = f"{any_char}{{{len(bound) - i - 1}}}"
            options.append(f"{re.escape(bound[:i])}[{higher[0]}-{higher[-1]}]{rest}")
    return "|".join(options) or "(?!)"


def _stray_pattern(plan: _Plan) -> re.Pattern[bytes]:
    """A cell element whose reference is right of ``plan.last_col`` or below ``plan.last_row``."""
    cols = _greater(column_letters(plan.last_col), "ABCDEFGHIJKLMNOPQRSTUVWXYZ", max_len=3)
    rows = _greater(str(plan.last_row), "0123456789", max_len=7)
    attrs = r"""(?:\s+[^\s=>/]+\s*=\s*(?:"[^"]*"|'[^']*'))*?"""
    ref = rf"((?:{cols})[1-9][0-9]*|[A-Z]{{1,3}}(?:{rows}))"
    element = (
        rf"""<{_NS}c(?={attrs}\s+r\s*=\s*["']{ref}["'])"""
        rf"""(?:\s+[^\s=>/]+\s*=\s*(?:"[^"]*"|'[^']*'))*\s*(?:/>|>.*?</{_NS}c\s*>)"""
    )
    return re.compile(element.encode(), re.DOTALL)


_SSI = re.compile(r"""\st\s*=\s*["']s["']""")
_V = re.compile(rf"<{_NS}v(?:\s[^>]*)?>(.*?)</{_NS}v\s*>", re.DOTALL)
_T = re.compile(rf"<{_NS}t(?:\s[^>]*)?>(.*?)</{_NS}t\s*>", re.DOTALL)
_TYPE = re.compile(r"""^<[^>]*?\st\s*=\s*["']([^"']*)["']""")


def _ssi(element: str) -> list[str]:
    """The shared-string index a cell element points at, if it is a shared-string cell."""
    start = element.split(">", 1)[0]
    if not _SSI.search(start):
        return []
    value = _V.search(element)
    return [value[1].strip()] if value and value[1].strip().isdigit() else []


def _cell_value(element: str, shared: dict[int, str]) -> str:
    """A stray cell's value as its XML stores it (a date is its serial number); the XML itself if it has none."""
    kind = _TYPE.match(element)
    kind_name = kind[1] if kind else "n"
    if kind_name == "inlineStr":
        return html.unescape("".join(_T.findall(element)))
    value = _V.search(element)
    if value is None:
        return element
    text = html.unescape(value[1])
    if kind_name == "s":
        return shared.get(int(text), element) if text.strip().isdigit() else element
    if kind_name == "b":
        return "true" if text.strip() == "1" else "false"
    return text


def _string_item(element: ElementTree.Element) -> str:
    """The text of a shared string: its ``t``, or the ``t`` of its runs (phonetic hints left out)."""
    parts = []
    for child in element:
        name = child.tag.rsplit("}", 1)[-1]
        if name == "t":
            parts.append(child.text or "")
        elif name == "r":
            parts.extend(g.text or "" for g in child if g.tag.rsplit("}", 1)[-1] == "t")
    return "".join(parts)

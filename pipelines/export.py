"""Exports of the store for the consultant (``crmkit export``) and the trace of one customer (``crmkit trace``).

Two concerns live here, both small:

- **Writing a table safely** (:func:`write_table`): CSV, XLSX, a JSON array or JSON Lines. Spreadsheet formats are
  *formula-safe* (OWASP CSV injection): a text cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
  return gets a leading ``'`` (:func:`safe_cell`), so ``=HYPERLINK(…)`` in a source key is shown, never run; numbers
  stay numbers. XLSX cells are always written as values, never as formulas. JSON is written as-is: it is not a
  spreadsheet, and a program reading it wants the exact values.
- **Building what is exported** (:func:`export_frame`, :func:`trace_customer`) from ``crm_store``'s readers,
  optionally masked with ``rules.mask`` (exports are unmasked by default: the consultant owns the data).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import logging
import math
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, get_args

import polars as pl

import crm_store
from pipelines._files import private_file
from rules.mask import PII_FIELDS, mask_id, mask_value

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from crm_store.access import Principal
    from pipelines.settings import ProjectSettings

__all__ = [
    "EXPORT_KINDS",
    "FORMATS",
    "ExportFormat",
    "ExportKind",
    "Trace",
    "Written",
    "export_frame",
    "format_for",
    "mask_columns",
    "safe_cell",
    "trace_customer",
    "write_table",
]

log = logging.getLogger(__name__)

ExportFormat = Literal["csv", "xlsx", "json", "jsonl"]
ExportKind = Literal["customers", "quarantine", "provenance", "crosswalk"]
EXPORT_KINDS: Final[tuple[ExportKind, ...]] = get_args(ExportKind)
#: The format an output file's suffix stands for when ``--format`` is not given.
FORMATS: Final[dict[str, ExportFormat]] = {
    ".csv": "csv",
    ".xlsx": "xlsx",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
#: First characters that make a spreadsheet read a cell as a formula (OWASP "CSV Injection").
FORMULA_TRIGGERS: Final = ("=", "+", "-", "@", "\t", "\r")
#: Excel's limits: characters in a cell, rows in a sheet.
XLSX_MAX_CHARS: Final = 32_767
XLSX_MAX_ROWS: Final = 1_048_576
#: Integers beyond this lose digits in a spreadsheet (Excel keeps 15 significant digits): written as text.
_EXACT_INT: Final = 10**15
#: Separator of a list cell (reason codes) in CSV and XLSX; JSON keeps lists as arrays.
LIST_SEPARATOR: Final = ";"
#: Payload column of a row a connector could not parse: the record's text as read.
RAW_LINE: Final = "_raw_line"

#: Store columns whose values are personal data of a canonical kind other than their name says
#: (``rules.mask.mask_value`` masks by canonical field).
MASK_AS: Final[dict[str, str]] = {
    "primary_phone": "phone",
    "landline": "phone",
    "primary_email": "email",
    "name_pinyin": "full_name",
    "street": "address",
}
#: Store columns of free text that may hold e-mail addresses and phone numbers (masked by ``mask_text``).
FREE_TEXT: Final = frozenset({"attributes", "notes", "summary"})


# ------------------------------------------------------------------------------------------------ safe writing


def safe_cell(value: Any) -> Any:
    """A cell value a spreadsheet shows as typed: text starting with ``= + - @``, a tab or a carriage return gets a
    leading ``'``; everything else (numbers, dates, ``None``, other text) is returned unchanged.

    ``-`` is escaped too, so a phone written ``-138…`` or a lone ``-`` stays text; a real negative number is a
    number cell, not text, and is not touched.
    """
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def format_for(path: Path, given: str | None = None) -> ExportFormat:
    """The format to write ``path`` in: ``given`` (``--format``) if set, else the one its suffix names.

    Raises:
        ValueError: an unknown format, or no format given and a suffix that names none; the message lists the
            known ones.
    """
    if given is not None:
        if given not in get_args(ExportFormat):
            raise ValueError(f"unknown format {given!r}; known formats: {', '.join(get_args(ExportFormat))}")
        return given  # type: ignore[return-value]
    found = FORMATS.get(path.suffix.lower())
    if found is None:
        known = ", ".join(f"{suffix} ({name})" for suffix, name in FORMATS.items())
        raise ValueError(f"cannot tell the format of {path.name}: give --format, or end the file in {known}")
    return found


@dataclass(frozen=True, slots=True)
class Written:
    """What :func:`write_table` wrote: the file, its format, the data rows and the cells it had to change to fit
    a spreadsheet (XLSX only: cells cut at Excel's 32,767 characters, control characters replaced by U+FFFD)."""

    path: Path
    format: ExportFormat
    rows: int
    truncated_cells: int = 0
    replaced_cells: int = 0


def write_table(
    frame: pl.DataFrame,
    path: Path,
    format: ExportFormat,
    *,
    sheet: str = "data",
    json_columns: Sequence[str] = (),
) -> Written:
    """Write ``frame`` to ``path`` as CSV, XLSX, a JSON array or JSON Lines, formula-safe in CSV and XLSX.

    The file appears only when complete (written beside it, then renamed), so a failed export leaves no half
    file; only its owner may read it (``0600``). Cells: ``None`` is an empty cell (``null`` in JSON); dates and
    timestamps are ISO 8601 text; a list is its items joined by ``;`` (an array in JSON); text goes through
    :func:`safe_cell` (CSV and XLSX, headers included); numbers and booleans are numbers and booleans (in CSV
    their usual text). ``json_columns`` hold JSON text, written as nested JSON in the JSON formats and as the text
    in CSV and XLSX.

    CSV is UTF-8 without a byte-order mark, every field quoted only when needed; for Excel prefer XLSX.

    Raises:
        ValueError: XLSX with more rows than a sheet holds.
    """
    partial = path.with_name(f".{path.name}.partial")
    private_file(partial)  # 0600 from the start (a missing folder is made 0700): exports hold personal data
    try:
        if format == "csv":
            written = _write_csv(frame, partial)
        elif format == "xlsx":
            written = _write_xlsx(frame, partial, sheet)
        elif format in ("json", "jsonl"):
            written = _write_json(frame, partial, as_lines=format == "jsonl", json_columns=json_columns)
        else:
            raise ValueError(f"unknown format {format!r}; known formats: {', '.join(get_args(ExportFormat))}")
        private_file(partial)  # a writer may have replaced the file
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    truncated, replaced = written
    return Written(path, format, frame.height, truncated_cells=truncated, replaced_cells=replaced)


def _iso(value: dt.date | dt.datetime | dt.time) -> str:
    return value.isoformat()


def _joined(items: Sequence[Any] | None) -> str | None:
    if items is None:
        return None
    return LIST_SEPARATOR.join("" if i is None else str(i) for i in items)


def _spreadsheet_cells(frame: pl.DataFrame) -> Iterator[list[Any]]:
    """Rows of ``frame`` as spreadsheet values: text (formula-safe), numbers, booleans or ``None``."""
    converters: list[Callable[[Any], Any] | None] = []
    for dtype in frame.dtypes:
        if dtype.is_temporal():
            converters.append(lambda v: None if v is None else _iso(v))
        elif isinstance(dtype, pl.List | pl.Array):
            converters.append(lambda v: safe_cell(_joined(v)))
        elif isinstance(dtype, pl.Struct | pl.Object):
            converters.append(lambda v: None if v is None else safe_cell(json.dumps(v, ensure_ascii=False)))
        elif dtype.is_integer():
            converters.append(lambda v: v if v is None or abs(v) < _EXACT_INT else str(v))
        elif dtype.is_float():
            converters.append(lambda v: v if v is None or math.isfinite(v) else str(v))
        elif dtype == pl.Boolean:
            converters.append(None)
        else:
            converters.append(lambda v: safe_cell(v if v is None or isinstance(v, str) else str(v)))
    for row in frame.iter_rows():
        yield [value if convert is None else convert(value) for convert, value in zip(converters, row, strict=True)]


def _write_csv(frame: pl.DataFrame, path: Path) -> tuple[int, int]:
    def text(value: Any) -> Any:
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        return value

    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([safe_cell(str(c)) for c in frame.columns])
        writer.writerows([text(v) for v in row] for row in _spreadsheet_cells(frame))
    return 0, 0


def _write_xlsx(frame: pl.DataFrame, path: Path, sheet: str) -> tuple[int, int]:
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.utils import get_column_letter

    if frame.height + 1 > XLSX_MAX_ROWS:
        raise ValueError(
            f"{frame.height:,} rows do not fit in one XLSX sheet ({XLSX_MAX_ROWS - 1:,} at most): export as CSV or JSON"
        )
    truncated = replaced = 0

    def fit(value: Any) -> Any:
        nonlocal truncated, replaced
        if not isinstance(value, str):
            return value
        if ILLEGAL_CHARACTERS_RE.search(value):
            value = ILLEGAL_CHARACTERS_RE.sub("\N{REPLACEMENT CHARACTER}", value)
            replaced += 1
        if len(value) > XLSX_MAX_CHARS:
            value = value[: XLSX_MAX_CHARS - 1] + "…"
            truncated += 1
        return value

    book = Workbook(write_only=True)
    ws = book.create_sheet(sheet[:31])
    ws.freeze_panes = "A2"
    if frame.width:
        ws.auto_filter.ref = f"A1:{get_column_letter(frame.width)}{frame.height + 1}"
    ws.append([fit(safe_cell(str(c))) for c in frame.columns])
    for row in _spreadsheet_cells(frame):
        ws.append([fit(v) for v in row])
    book.save(path)
    if truncated or replaced:
        log.warning(
            "%s: %d cells cut to %d characters, %d with control characters", path, truncated, XLSX_MAX_CHARS, replaced
        )
    return truncated, replaced


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return _iso(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items()}
    return value


def _json_records(frame: pl.DataFrame, json_columns: Sequence[str]) -> Iterator[dict[str, Any]]:
    nested = set(json_columns) & set(frame.columns)
    for row in frame.iter_rows(named=True):
        yield {
            name: (json.loads(v) if name in nested and isinstance(v, str) else _json_value(v))
            for name, v in row.items()
        }


def _write_json(frame: pl.DataFrame, path: Path, *, as_lines: bool, json_columns: Sequence[str]) -> tuple[int, int]:
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        if as_lines:
            for record in _json_records(frame, json_columns):
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        else:
            handle.write("[")
            for i, record in enumerate(_json_records(frame, json_columns)):
                handle.write(("," if i else "") + "\n" + json.dumps(record, ensure_ascii=False))
            handle.write("\n]\n")
    return 0, 0


# ------------------------------------------------------------------------------------------------------ masking


def _masked(kind: str | None, value: Any) -> Any:
    if value is None or not isinstance(value, str):
        return value
    if kind == RAW_LINE:
        return mask_id(value)
    return mask_value(kind, value)


def mask_columns(frame: pl.DataFrame, kinds: Mapping[str, str | None]) -> pl.DataFrame:
    """``frame`` with the text columns named in ``kinds`` masked by ``rules.mask.mask_value`` as that canonical
    field (``None``: free text, only its e-mail addresses and phone numbers masked)."""
    changed = []
    for name, kind in kinds.items():
        if name not in frame.columns or frame[name].dtype != pl.String:
            continue
        cache: dict[str, Any] = {}
        values = [v if v is None else cache.setdefault(v, _masked(kind, v)) for v in frame[name].to_list()]
        changed.append(pl.Series(name, values, dtype=pl.String))
    return frame.with_columns(changed) if changed else frame


def _mask_kind(column: str) -> str | Literal[False] | None:
    """How a store column is masked: a canonical field, ``None`` (free text) or ``False`` (not personal)."""
    kind = MASK_AS.get(column, column)
    if kind in PII_FIELDS:
        return kind
    return None if column in FREE_TEXT else False


def _mask_store_columns(frame: pl.DataFrame) -> pl.DataFrame:
    kinds = {c: k for c in frame.columns if (k := _mask_kind(c)) is not False}
    return mask_columns(frame, kinds)


def _mask_by_field(frame: pl.DataFrame, value: str = "value", by: str = "field") -> pl.DataFrame:
    """Mask each row's ``value`` as the store column named in its ``by`` column (field provenance)."""
    if frame.is_empty():
        return frame
    masked = [
        v if (kind := _mask_kind(f)) is False else _masked(kind, v)
        for f, v in zip(frame[by].to_list(), frame[value].to_list(), strict=True)
    ]
    return frame.with_columns(pl.Series(value, masked, dtype=pl.String))


def _payload_kinds(settings: ProjectSettings | None) -> dict[str, dict[str, str]]:
    """Per source, the canonical field each mapped source column feeds (the source's ``mapping``)."""
    return {} if settings is None else {s.name: dict(s.mapping) for s in settings.sources}


def _payload_kind(column: str, field: str | None) -> str | None:
    """How a raw column is masked: by the canonical field it is mapped to; an unmapped or free-text column as free
    text (``None``); a broken row's raw line as a whole (``RAW_LINE``)."""
    if column == RAW_LINE:
        return RAW_LINE
    if field is None or field in FREE_TEXT:
        return None
    return MASK_AS.get(field, field)


def _mask_payload(source: str, payload: dict[str, Any], kinds: Mapping[str, Mapping[str, str]]) -> dict[str, Any]:
    mapped = kinds.get(source, {})
    return {k: _masked(_payload_kind(k, mapped.get(k)), v) for k, v in payload.items()}


# ------------------------------------------------------------------------------------------------------ exports


def _payloads(texts: Sequence[str | None]) -> list[dict[str, Any]]:
    out = []
    for text in texts:
        try:
            value = json.loads(text) if text else {}
        except ValueError:
            value = {RAW_LINE: text}
        out.append(value if isinstance(value, dict) else {RAW_LINE: text})
    return out


def _spread_payloads(frame: pl.DataFrame, payloads: Sequence[Mapping[str, Any]]) -> pl.DataFrame:
    """``frame`` with one text column per payload key (first-seen order); a key that clashes with one of the
    frame's columns is named ``payload.<key>``."""
    names: dict[str, str] = {}
    for payload in payloads:
        for key in payload:
            if key not in names:
                names[key] = f"payload.{key}" if key in frame.columns or key.startswith("payload.") else key
    columns = [
        pl.Series(
            column,
            [
                None if (v := p.get(key)) is None else v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
                for p in payloads
            ],
            dtype=pl.String,
        )
        for key, column in names.items()
    ]
    return frame.with_columns(columns) if columns else frame


def _messages(details: str | None) -> str | None:
    """The quarantine details (JSON list) as one line: ``column: message; …``."""
    if not details:
        return None
    try:
        items = json.loads(details)
    except ValueError:
        return details
    if not isinstance(items, list):
        return details
    parts = []
    for item in items:
        if not isinstance(item, dict):
            continue
        message = str(item.get("message") or item.get("code") or "")
        parts.append(f"{item['column']}: {message}" if item.get("column") else message)
    return "; ".join(p for p in parts if p) or None


def _quarantine(
    session: Session, settings: ProjectSettings | None, masked: bool, principal: Principal | None = None
) -> pl.DataFrame:
    quarantine = crm_store.read_quarantine(session, principal=principal)
    sources = quarantine["source"].unique().sort().to_list()
    raw = crm_store.read_source_records(session, sources, principal=principal)
    raw = raw.select("source", "source_key", "payload")
    frame = quarantine.join(raw, on=["source", "source_key"], how="left", maintain_order="left")
    frame = frame.with_columns(
        pl.Series("messages", [_messages(d) for d in frame["details"].to_list()], dtype=pl.String)
    ).select("source", "source_key", "reasons", "messages", "details", "first_run_id", "payload")
    payloads = _payloads(frame["payload"].to_list())
    if masked:
        kinds = _payload_kinds(settings)
        payloads = [_mask_payload(s, p, kinds) for s, p in zip(frame["source"].to_list(), payloads, strict=True)]
    return _spread_payloads(frame.drop("payload"), payloads)


#: Per export kind: the columns written as nested JSON in the JSON formats.
JSON_COLUMNS: Final[dict[ExportKind, tuple[str, ...]]] = {
    "customers": ("attributes",),
    "quarantine": ("details",),
    "provenance": (),
    "crosswalk": (),
}


def _mask_here(principal: Principal | None, masked: bool) -> bool:
    """Whether to mask here: not when the store already gave the principal masked values (an auditor)."""
    return masked and not (principal is not None and principal.masks_pii)


def export_frame(
    session: Session,
    kind: ExportKind,
    settings: ProjectSettings | None = None,
    *,
    masked: bool = False,
    principal: Principal | None = None,
) -> pl.DataFrame:
    """The table ``crmkit export KIND`` writes.

    - ``customers``: every golden record, retired ones included, with every column the store returns;
    - ``quarantine``: every quarantined row: ``source``, ``source_key``, ``reasons`` (codes), ``messages`` (the
      details in words), ``details`` (JSON, values masked as stored), ``first_run_id``, then the row's raw columns
      as read (named as in the source; ``payload.<name>`` when a name clashes), so the row can be found and fixed;
    - ``provenance``: every golden field's origin (every column of ``crm_store.read_provenance``);
    - ``crosswalk``: one row per source row of the project's sources: ``source``, ``source_key``, ``status``,
      ``customer_id`` (blank unless loaded), ``reason``.

    ``masked`` masks names, phones, e-mails, ID numbers and addresses with ``rules.mask`` (and e-mails and phone
    numbers inside free text); source keys, ids and reason codes stay as they are. Masking the raw columns of a
    quarantined row needs ``settings`` (the source's mapping says which column holds what).

    ``principal`` (``crmkit export --as USER``): only the rows that user sees, as they see them
    (``crm_store.access``: an auditor's values come masked, a service user's hidden columns empty).
    """
    masked = _mask_here(principal, masked)
    if kind == "customers":
        frame = crm_store.read_customers(session, retired=True, principal=principal)
        return _mask_store_columns(frame) if masked else frame
    if kind == "provenance":
        frame = crm_store.read_provenance(session, principal=principal)
        return _mask_by_field(frame) if masked else frame
    if kind == "quarantine":
        return _quarantine(session, settings, masked, principal)
    if kind == "crosswalk":
        sources = None if settings is None else [s.name for s in settings.sources]
        frame = crm_store.read_outcomes(session, sources, principal=principal)
        return frame.select("source", "source_key", "status", "customer_id", "reason")
    raise ValueError(f"unknown export {kind!r}; known exports: {', '.join(EXPORT_KINDS)}")


# -------------------------------------------------------------------------------------------------------- trace


@dataclass(frozen=True, slots=True)
class Trace:
    """One customer traced to its sources: the golden record, every source row behind it (raw columns as read,
    match probability and evidence from the crosswalk) and where each golden field came from."""

    customer: dict[str, Any]
    rows: list[dict[str, Any]] = field(default_factory=list)
    fields: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready object: ``customer``, ``source_rows``, ``fields`` (timestamps as ISO text)."""
        return {
            "customer": _json_value(self.customer),
            "source_rows": _json_value(self.rows),
            "fields": _json_value(self.fields),
        }


def trace_customer(
    session: Session,
    customer_id: str,
    settings: ProjectSettings | None = None,
    *,
    masked: bool = False,
    principal: Principal | None = None,
) -> Trace | None:
    """The :class:`Trace` of ``customer_id`` (retired or not), or ``None`` when there is no such customer.

    ``customer`` holds every column of the record (``attributes`` parsed); each of ``rows`` holds ``source``,
    ``source_key``, ``link`` (``member``, ``activity`` or ``provenance``: a field's origin now linked elsewhere),
    ``status``, ``reason``, ``customer_id`` (where the crosswalk links the row now), ``match_probability``,
    ``evidence`` (parsed), ``first_run_id`` and ``payload`` (the raw columns, a dict); ``fields`` are the
    customer's ``field_provenance`` rows. ``masked`` masks personal values as :func:`export_frame` does.
    ``principal``: ``None`` unless that user sees the customer, and then only what they see (``crm_store.access``).
    """
    masked = _mask_here(principal, masked)
    record = crm_store.read_customer(session, customer_id, principal=principal)
    if record.is_empty():
        return None
    if masked:
        record = _mask_store_columns(record)
    customer = record.row(0, named=True)
    if isinstance(customer.get("attributes"), str):
        customer["attributes"] = json.loads(customer["attributes"])
    provenance = crm_store.read_customer_provenance(session, customer_id, principal=principal)
    if masked:
        provenance = _mask_by_field(provenance)
    kinds = _payload_kinds(settings)
    rows = []
    for row in crm_store.read_customer_rows(session, customer_id, principal=principal).iter_rows(named=True):
        payload = _payloads([row.pop("payload")])[0]
        row["evidence"] = json.loads(row["evidence"]) if row["evidence"] else None
        row["payload"] = _mask_payload(row["source"], payload, kinds) if masked else payload
        rows.append(row)
    return Trace(customer, rows, list(provenance.iter_rows(named=True)))

"""The columns a source would yield, read cheaply from its top: what a project file's mapping is checked against.

Each reader reuses its connector's own header handling (CSV preamble, delimiter and encoding; workbook title rows
and bounds checks; SQL reflection on a read-only connection), so the names are the ones a full read yields.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Callable, Collection, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
from pydantic import BaseModel

from connectors._csv import CsvParams, read_csv_header
from connectors._frame import BATCH_ROWS, read_bytes
from connectors._json import JsonParams, read_json
from connectors._jsonl import JsonlParams, read_jsonl
from connectors._sql import SqlParams, read_sql_columns
from connectors._xlsx import XlsxParams, read_xlsx_headers
from connectors.lineage import RESERVED_COLS


@dataclass(frozen=True)
class Headers:
    """The columns of one source, as its connector names them.

    Attributes:
        columns: Part → column names in order; the part is a sheet name for a workbook, ``""`` otherwise.
        sheets: Every sheet of a workbook (also those not read); ``None`` for other kinds.
        key: The key columns a read uses when the params name none (a SQL table's primary key), else ``None``.
        complete: Whether `columns` holds every column a full read yields. JSON and JSON Lines discover keys
            record by record, and only their first records are read.
        found_later: Of the names the caller expected, those not among the first records of a partly read
            file but written somewhere in its text: most likely keys of later records.
    """

    columns: dict[str, list[str]]
    sheets: list[str] | None = None
    key: list[str] | None = None
    complete: bool = True
    found_later: frozenset[str] = field(default_factory=frozenset)

    @property
    def names(self) -> set[str]:
        """Every column of every part, and the expected names found later in the text."""
        return {name for names in self.columns.values() for name in names} | self.found_later


def read_headers(kind: str, params: BaseModel, *, source: str, expect: Collection[str] = ()) -> Headers | None:
    """The columns a read of this source would yield, without reading it all; ``None`` for a kind whose
    columns are only known by fetching records (``http``: nothing is sent).

    Args:
        kind: The connector kind.
        params: Its validated params.
        source: The source name (for messages).
        expect: Column names the caller looks for (a mapping's source columns); a reader that sees only the first
            records reports those its file mentions further down in `Headers.found_later`.

    Raises:
        SourceError: The source cannot be read (missing or corrupt file, unknown codec, no header, the database
            does not answer, no such table …), as its connector would say.
    """
    reader = _READERS.get(kind)
    return None if reader is None else reader(params, source, expect)


def _csv(params: Any, source: str, expect: Collection[str]) -> Headers:
    assert isinstance(params, CsvParams)
    return Headers({"": read_csv_header(params, source=source)})


def _xlsx(params: Any, source: str, expect: Collection[str]) -> Headers:
    assert isinstance(params, XlsxParams)
    sheets, columns = read_xlsx_headers(params, source=source)
    return Headers(columns, sheets=sheets)


def _sql(params: Any, source: str, expect: Collection[str]) -> Headers:
    assert isinstance(params, SqlParams)
    columns, key = read_sql_columns(params, source=source)
    return Headers({"": columns}, key=key)


def _records(read: Callable[..., Iterator[pl.DataFrame]]) -> Callable[[Any, str, Collection[str]], Headers]:
    """JSON and JSON Lines: the keys of the first batch of records (`BATCH_ROWS`), read by the connector."""

    def headers(params: Any, source: str, expect: Collection[str]) -> Headers:
        assert isinstance(params, JsonParams | JsonlParams)
        batches = read(params, source=source)
        assert isinstance(batches, Generator)  # the connectors are generator functions
        try:
            first = next(batches, None)
        finally:
            batches.close()
        if first is None:
            return Headers({"": []})
        columns = [c for c in first.columns if c not in RESERVED_COLS]
        if first.height < BATCH_ROWS:  # a short batch is the last one
            return Headers({"": columns})
        unseen = [name for name in expect if name not in columns]
        found = _mentioned(params.path, params.encoding, unseen, source)
        return Headers({"": columns}, complete=False, found_later=found)

    return headers


_ESCAPE = re.compile(r"\\u([0-9a-f]{4})")


def _mentioned(path: Path, encoding: str, names: list[str], source: str) -> frozenset[str]:
    """Those of ``names`` whose text, or its JSON escape (``\\u59d3`` or ``\\u59D3`` for 姓), occurs anywhere in
    the file's bytes."""
    if not names:
        return frozenset()
    data = read_bytes(path, source)
    codec = codecs.lookup(encoding).name  # the connector has read the file with it
    found = set()
    for name in names:
        escaped = json.dumps(name)[1:-1]
        forms = {name, escaped, _ESCAPE.sub(lambda m: "\\u" + m[1].upper(), escaped)}
        needles = [form.encode(codec, "ignore") for form in forms]
        if any(needle and needle in data for needle in needles):
            found.add(name)
    return frozenset(found)


_READERS: dict[str, Callable[[Any, str, Collection[str]], Headers]] = {
    "csv": _csv,
    "xlsx": _xlsx,
    "sql": _sql,
    "json": _records(read_json),
    "jsonl": _records(read_jsonl),
}

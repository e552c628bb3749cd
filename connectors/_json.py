"""JSON connector: a file holding an array of objects (or an object with the array at ``records_path``)."""

from __future__ import annotations

import codecs
import json
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import polars as pl
from pydantic import ConfigDict, Field

from connectors import _encoding
from connectors._errors import SourceError
from connectors._frame import BATCH_ROWS, BLANK_PATTERN, HeaderNamer, finish_batch, joined_values, read_bytes
from connectors._jsonl import _DECODER, _KIND, record_values, shown
from connectors._keys import KeyedParams
from connectors.lineage import EMPTY_ROW, MALFORMED_ROW

logger = logging.getLogger(__name__)


class JsonParams(KeyedParams):
    """Where and how to read a JSON file.

    Attributes:
        key: Column(s) identifying a row (see `connectors._keys.KeyedParams`); default: the row's position.
        path: The file.
        encoding: A Python codec name (a UTF-8 byte-order mark is skipped).
        records_path: Dotted path to the array of records inside a top-level object (``"data.items"``; a
            numeric part indexes an array); ``None``: the file's top level is the array.
    """

    model_config = ConfigDict(extra="forbid")

    path: Path
    encoding: str = "utf-8"
    records_path: str | None = Field(default=None, min_length=1)


def kind_of(value: object) -> str:
    """``an object``, ``an array``, ``a string`` ... : what a parsed JSON value is, for messages."""
    return "an object" if isinstance(value, dict) else _KIND.get(type(value), type(value).__name__)


def find_records(document: object, records_path: str | None) -> tuple[list[Any] | None, str | None]:
    """The array at ``records_path`` (dotted, numeric parts index arrays), or ``None`` and what is wrong."""
    if records_path is None:
        if isinstance(document, list):
            return document, None
        if isinstance(document, dict):
            keys = ", ".join(repr(k) for k in list(document)[:20]) or "none"
            return None, f"the top level is an object, not an array: set records_path (its keys: {keys})"
        return None, f"the top level is {kind_of(document)}, not an array of records"
    node: object = document
    walked: list[str] = []
    for part in records_path.split("."):
        here = ".".join(walked) or "the top level"
        if isinstance(node, dict):
            if part not in node:
                keys = ", ".join(repr(k) for k in list(node)[:20]) or "none"
                return None, f"records_path {records_path!r}: {here} has no key {part!r} (its keys: {keys})"
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None, f"records_path {records_path!r}: {here} is {kind_of(node)}, cannot take {part!r}"
        walked.append(part)
    if not isinstance(node, list):
        return None, f"records_path {records_path!r} is {kind_of(node)}, not an array of records"
    return node, None


class RecordFrames:
    """Turns JSON records (parsed with numbers as written) into raw batches; columns grow as keys appear.

    Shared by the JSON file and HTTP connectors: an object is a row, anything else is ``malformed_row`` with
    its compact JSON in ``_raw_line``, an object without a non-blank value is ``empty_row``.
    """

    def __init__(self, source: str) -> None:
        self.source = source
        self._namer = HeaderNamer()
        self._column_of: dict[str, str] = {}

    def frame(
        self, records: Sequence[object], keys: Sequence[str], problems: dict[int, str] | None = None
    ) -> pl.DataFrame:
        """One raw batch of ``records`` with the given ``_source_key`` values.

        ``problems`` maps a record index to the detail of a ``malformed_row`` found by the caller.
        """
        problems = dict(problems or {})
        objects: list[dict[str, str | None]] = []
        raw: list[str | None] = []
        for i, record in enumerate(records):
            if isinstance(record, dict):
                fields, problem = record_values(record)
                obj = fields or {}
                if problem is not None:
                    problems.setdefault(i, problem)
                raw.append(shown(record) if i in problems else None)
            else:
                obj = {}
                problems.setdefault(i, f"expected a JSON object, found {kind_of(record)}")
                raw.append(shown(record))
            for key in obj:
                if key not in self._column_of:
                    self._column_of[key] = self._namer.add(key)
            objects.append(obj)
        columns = [pl.Series(c, [o.get(k) for o in objects], dtype=pl.String) for k, c in self._column_of.items()]
        values = pl.DataFrame(columns) if columns else pl.DataFrame()  # no object with a key so far
        code = [MALFORMED_ROW if i in problems else None for i in range(len(records))]
        detail = [problems.get(i) for i in range(len(records))]
        # no object with a key so far (``[null]``, ``[[1]]``, objects too deep to read): one blank per record
        joined = joined_values(values) if values.width else pl.Series([""] * len(records), dtype=pl.String)
        blank = pl.select(joined.str.contains(BLANK_PATTERN)).to_series().to_list()
        skip = [EMPTY_ROW if b and c is None else None for b, c in zip(blank, code, strict=True)]
        return finish_batch(
            values,
            source=self.source,
            keys=keys,
            skip_reason=skip,
            error_code=code,
            error_detail=detail,
            raw_line=raw,
            joined=joined,
        )


def read_json(params: JsonParams, *, source: str, cursor: object | None = None) -> Iterator[pl.DataFrame]:
    """Read a JSON array of objects into raw text batches with lineage.

    ``_source_key`` is the record's 1-based index in the array. Keys become columns (the union so far, in
    order of first appearance); strings stay as they are, numbers as written, booleans ``true``/``false``,
    nested values as compact JSON, null as null. An element that is not an object is ``malformed_row`` (its
    JSON in ``_raw_line``); ``{}`` is ``empty_row``.

    Args:
        params: What to read.
        source: The source name written to ``_source``.
        cursor: Reserved for incremental reads; unused.

    Raises:
        SourceError: The file is missing, does not decode, is not valid JSON (the message gives the line and
            column), or holds no array at ``records_path``.
    """
    del cursor
    path = params.path
    data = read_bytes(path, source)
    try:
        encoding = codecs.lookup(params.encoding).name
    except LookupError:
        raise SourceError(source, path, None, f"unknown encoding {params.encoding!r}") from None
    if encoding == "utf-8" and data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SourceError(
            source, path, None, f"not valid {encoding}: undecodable bytes at line {line} (byte {exc.start})"
        ) from None
    except (LookupError, UnicodeError) as exc:  # base64, rot13: not text encodings; ``undefined`` always fails
        raise SourceError(source, path, None, _encoding.codec_problem(params.encoding, exc)) from None
    try:
        document = _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise SourceError(
            source, path, None, f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    except RecursionError:
        raise SourceError(source, path, None, "invalid JSON: nested too deeply") from None
    records, problem = find_records(document, params.records_path)
    if records is None:
        raise SourceError(source, path, None, problem or "no records")
    logger.debug("%s: %s records in %s", source, len(records), path)
    frames = RecordFrames(source)
    for start in range(0, len(records), BATCH_ROWS):
        chunk = records[start : start + BATCH_ROWS]
        yield frames.frame(chunk, [str(start + i + 1) for i in range(len(chunk))])

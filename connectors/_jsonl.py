"""JSON Lines connector: one object per line, keys become columns, values kept as written."""

from __future__ import annotations

import codecs
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
from pydantic import ConfigDict

from connectors import _encoding
from connectors._errors import SourceError
from connectors._frame import BATCH_ROWS, BLANK_PATTERN, HeaderNamer, finish_batch, joined_values, read_bytes
from connectors._keys import KeyedParams
from connectors.lineage import BAD_ENCODING, EMPTY_ROW, MALFORMED_ROW

logger = logging.getLogger(__name__)


class JsonlParams(KeyedParams):
    """Where and how to read a JSON Lines file.

    Attributes:
        key: Column(s) identifying a row (see `connectors._keys.KeyedParams`); default: the row's position.
        path: The file.
        encoding: A Python codec name (a UTF-8 byte-order mark is skipped).
    """

    model_config = ConfigDict(extra="forbid")

    path: Path
    encoding: str = "utf-8"


class _Number(str):
    """A JSON number kept as the text it was written as."""

    __slots__ = ()


def _dump(value: Any) -> str:
    """JSON text of a nested value, numbers as written."""
    if isinstance(value, _Number):
        return str(value)
    if isinstance(value, dict):
        items = (f"{json.dumps(k, ensure_ascii=False)}:{_dump(v)}" for k, v in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_dump(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):  # _Number included
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return _dump(value)


_SURROGATE = re.compile("[\ud800-\udfff]")
_DECODER = json.JSONDecoder(parse_int=_Number, parse_float=_Number, parse_constant=_Number)
_KIND = {list: "an array", str: "a string", _Number: "a number", bool: "a boolean", type(None): "null"}


def _one_json_array(text: str) -> bool:
    """Whether the whole text is a single (pretty-printed) JSON array rather than one object per line."""
    head = text.lstrip("\ufeff \t\r\n")
    if not head.startswith("["):
        return False
    try:
        return isinstance(json.loads(text), list)
    except (ValueError, RecursionError):
        return False


def _parse(line: str) -> tuple[dict[str, str | None] | None, str | None]:
    """The line's object as text values, or ``None`` and why it is malformed."""
    try:
        obj = _DECODER.decode(line)
    except json.JSONDecodeError as exc:
        return None, f"invalid JSON at column {exc.colno}: {exc.msg}"
    except RecursionError:
        return None, "invalid JSON: nested too deeply"
    if not isinstance(obj, dict):
        return None, f"expected a JSON object, found {_KIND.get(type(obj), type(obj).__name__)}"
    return record_values(obj)


def record_values(obj: dict[Any, Any]) -> tuple[dict[str, str | None] | None, str | None]:
    """A decoded JSON object as text values, or ``None`` and why it cannot be a row (nested too deeply for the
    text conversion, or a lone surrogate escape such as ``\\ud800`` that no text encoding can store)."""
    try:
        values = {str(k): _text(v) for k, v in obj.items()}
    except RecursionError:
        return None, "invalid JSON: nested too deeply"
    if any(_SURROGATE.search(t) for t in (*values, *(v for v in values.values() if v))):
        return None, "invalid JSON: a lone surrogate escape (\\ud800-\\udfff) is not a character"
    return values, None


def shown(value: Any) -> str:
    """Compact JSON of a value for ``_raw_line`` (numbers as written), safe for any decoded value."""
    try:
        text = _dump(value)
    except RecursionError:
        return "(not shown: nested too deeply)"
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def read_jsonl(params: JsonlParams, *, source: str, cursor: object | None = None) -> Iterator[pl.DataFrame]:
    """Read a JSON Lines file into raw text batches with lineage.

    ``_source_key`` is the 1-based line number. Keys become columns (the union so far, in order of first
    appearance, so later batches may have more columns); strings stay as they are, numbers as written
    (``13800138000``, ``1.50``), booleans ``true``/``false``, nested values as compact JSON, null as null.
    Blank lines are ``empty_row``; a line that is not a JSON object is ``malformed_row`` with its text in
    ``_raw_line``; a line with undecodable bytes is ``bad_encoding``.

    Args:
        params: What to read.
        source: The source name written to ``_source``.
        cursor: Reserved for incremental reads; unused.

    Raises:
        SourceError: The file is missing or does not decode in ``params.encoding``.
    """
    del cursor
    data = read_bytes(params.path, source)
    try:
        encoding = codecs.lookup(params.encoding).name
    except LookupError:
        raise SourceError(source, params.path, None, f"unknown encoding {params.encoding!r}") from None
    if encoding == "utf-8" and data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    try:
        decoded = _encoding.decode(data, encoding)
    except (LookupError, UnicodeError) as exc:  # base64, rot13: not text encodings; ``undefined`` always fails
        raise SourceError(source, params.path, None, _encoding.codec_problem(params.encoding, exc)) from None
    lines = decoded.text.split("\n")  # JSON strings cannot hold a raw "\n", but may hold U+2028
    if lines and lines[-1] == "":
        lines.pop()
    bad_by_line: dict[int, list[_encoding.BadBytes]] = {}
    for b in decoded.bad:
        bad_by_line.setdefault(b.line, []).append(b)
    problem = _encoding.nothing_sensible(decoded, len(lines))
    if problem is not None:
        raise SourceError(source, params.path, None, problem)
    if _one_json_array(decoded.text):
        raise SourceError(source, params.path, None, "the file is one JSON array, not JSON Lines: use kind: json")
    namer = HeaderNamer()
    column_of: dict[str, str] = {}
    for start in range(0, len(lines), BATCH_ROWS):
        chunk = lines[start : start + BATCH_ROWS]
        objects: list[dict[str, str | None]] = []
        skip: list[str | None] = []
        code: list[str | None] = []
        detail: list[str | None] = []
        raw: list[str | None] = []
        for number, line in enumerate(chunk, start + 1):
            line = line.removesuffix("\r")
            obj: dict[str, str | None] | None = {}
            problem = None
            if not line.strip():
                skip.append(EMPTY_ROW)
            else:
                skip.append(None)
                obj, problem = _parse(line)
            bad = bad_by_line.get(number)
            if bad and skip[-1] is None:
                text = bad[0].describe(encoding)
                code.append(BAD_ENCODING)
                detail.append(text if problem is None else f"{text}; {problem}")
            else:
                code.append(None if problem is None else MALFORMED_ROW)
                detail.append(problem)
            raw.append(None if problem is None else line)
            obj = obj or {}
            for key in obj:
                if key not in column_of:
                    column_of[key] = namer.add(key)
            objects.append(obj)
        columns = [pl.Series(column_of[k], [o.get(k) for o in objects], dtype=pl.String) for k in column_of]
        values = pl.DataFrame(columns) if columns else pl.DataFrame()  # only blank lines so far: no columns
        joined = joined_values(values)
        if values.width:  # a row of blank strings only is a blank record too
            blank = pl.select(joined.str.contains(BLANK_PATTERN)).to_series().to_list()
            skip = [EMPTY_ROW if b and c is None else s for s, b, c in zip(skip, blank, code, strict=True)]
        yield finish_batch(
            values,
            source=source,
            keys=[str(start + i + 1) for i in range(len(chunk))],
            skip_reason=skip,
            error_code=code,
            error_detail=detail,
            raw_line=raw,
            # The hash is of the line as written: stable whatever keys other lines add to the batch's columns.
            joined=pl.Series([line.removesuffix("\r") for line in chunk], dtype=pl.String),
        )

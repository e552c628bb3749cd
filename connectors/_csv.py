"""CSV connector: any encoding and delimiter, every physical record yielded as text with its line number."""

from __future__ import annotations

import bisect
import csv
import io
import itertools
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import polars as pl
from pydantic import ConfigDict, Field

from connectors import _encoding
from connectors._errors import SourceError
from connectors._frame import (
    BATCH_ROWS,
    BLANK_PATTERN,
    HASH_SEPARATOR,
    EmptyRuns,
    column_names,
    finish_batch,
    joined_values,
    read_bytes,
)
from connectors._keys import KeyedParams
from connectors.lineage import BAD_ENCODING, EMPTY_ROW, MALFORMED_ROW, REPEATED_HEADER

logger = logging.getLogger(__name__)

#: Delimiters the sniffer chooses from, in order of preference on a tie.
DELIMITERS = (",", ";", "\t", "|")
_SNIFF_CHARS = 64 * 1024
#: Bytes `read_csv_header` decodes: room for a preamble, the header and the delimiter sample.
HEADER_BYTES = 1 << 20
_SNIFF_ROWS = 200
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_PLAIN: tuple[None, None, None, None] = (None, None, None, None)


class CsvParams(KeyedParams):
    """Where and how to read a delimited text file.

    Attributes:
        key: Column(s) identifying a row (see `connectors._keys.KeyedParams`); default: the row's position.
        path: The file.
        encoding: A Python codec name; ``None`` detects it (BOM, UTF-8, GB18030/Big5, charset-normalizer).
        delimiter: One character; ``None`` sniffs it among ``,`` ``;`` tab ``|``.
        header_row: 1-based physical line of the header; lines above it are a preamble, not records.
    """

    model_config = ConfigDict(extra="forbid")

    path: Path
    encoding: str | None = None
    delimiter: str | None = Field(default=None, min_length=1, max_length=1)
    header_row: int = Field(default=1, ge=1)


def sniff_delimiter(sample: str) -> str:
    """The delimiter among `DELIMITERS` that splits the sample into the most consistent, widest rows."""
    best, best_score = ",", (0.0, 1)
    for delimiter in DELIMITERS:
        try:
            reader = csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter)
            rows = [r for r in itertools.islice(reader, _SNIFF_ROWS) if any(f.strip() for f in r)]
        except csv.Error:
            continue
        if not rows or len(rows[0]) < 2:
            continue
        width = len(rows[0])
        consistency = sum(len(r) == width for r in rows) / len(rows)
        if (consistency, width) > best_score:
            best, best_score = delimiter, (consistency, width)
    return best


def _decode(params: CsvParams, data: bytes, source: str) -> _encoding.Decoded:
    try:
        decoded = _encoding.decode_text(data, params.encoding)
    except (LookupError, UnicodeError) as exc:  # no such codec, base64, ``undefined``: not the bytes' fault
        raise SourceError(source, params.path, None, _encoding.codec_problem(params.encoding, exc)) from None
    problem = _encoding.nothing_sensible(decoded, _encoding.line_breaks(decoded.text) + 1, decoded.skipped)
    if problem is not None:
        raise SourceError(source, params.path, None, problem)
    logger.debug("%s: read as %s", params.path, decoded.encoding)
    return decoded


class _Reader(Protocol):
    """What this module uses of a ``csv.reader``."""

    line_num: int

    def __iter__(self) -> Iterator[list[str]]: ...
    def __next__(self) -> list[str]: ...


class _LineIndex:
    """Character offsets of physical line starts, built only when a raw line is needed."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._starts: list[int] | None = None

    def _index(self) -> list[int]:
        if self._starts is None:
            self._starts = [0, *(m.end() for m in _LINE_BREAK.finditer(self._text))]
        return self._starts

    def start(self, line: int) -> int:
        """Character offset where physical line ``line`` (1-based) starts; the text's length past the last line."""
        starts = self._index()
        return starts[line - 1] if line <= len(starts) else len(self._text)

    def raw(self, first: int, last: int) -> str:
        """Text of physical lines ``first..last`` (1-based, inclusive) without the final line break."""
        starts = self._index()
        end = starts[last] if last < len(starts) else len(self._text)
        return self._text[starts[first - 1] : end].rstrip("\r\n")


def read_csv(params: CsvParams, *, source: str, cursor: object | None = None) -> Iterator[pl.DataFrame]:
    """Read a delimited text file into raw text batches with lineage.

    ``_source_key`` is the 1-based physical line where the record starts (quoted line breaks counted).
    Empty cells are null. Wrong field counts are ``malformed_row`` (values kept as far as they go, the
    record's text in ``_raw_line``); lines with undecodable bytes are ``bad_encoding`` (decoded with U+FFFD);
    blank rows are ``empty_row`` (a run of consecutive blank rows is one skipped row keyed ``first-last``,
    with the count in ``_error_detail``); copies of the header are ``repeated_header``.

    A quoted field that is never closed (it runs to the end of the file, past the csv field limit, or until a
    stray quote in a later line) does not swallow the lines after it: the line where its record starts is a
    ``malformed_row`` naming the unterminated quote, and reading starts again at the next physical line, so
    every later line is its own record. A quoted field with line breaks that is closed is one record.

    Args:
        params: What to read.
        source: The source name written to ``_source``.
        cursor: Reserved for incremental reads; unused.

    Raises:
        SourceError: The file is missing, does not decode, or has no header.
    """
    del cursor
    decoded = _decode(params, read_bytes(params.path, source), source)
    text = decoded.text
    header = _header(text, params, source)
    body = _Body(header.stream, header.delimiter, header.lines, _LineIndex(text))
    yield from _batches(body, column_names(header.cells), header.cells, decoded, source)


@dataclass(frozen=True)
class _Header:
    """The header record of a decoded file, and where its body starts."""

    cells: list[str]
    delimiter: str
    #: Positioned right after the header record.
    stream: io.StringIO
    #: Physical lines up to and including the header record.
    lines: int
    #: Characters, from the header's first line on, the delimiter was sniffed on (`_SNIFF_CHARS` unless the text
    #: ended first).
    sniffed: int


def _header(text: str, params: CsvParams, source: str) -> _Header:
    """Skip the preamble above ``header_row``, sniff the delimiter and read the header record.

    Raises:
        SourceError: No header line there, or it is blank or cannot be parsed.
    """
    path = params.path
    stream = io.StringIO(text, newline="")
    offset = params.header_row - 1
    for skipped in range(offset):
        if not stream.readline():
            raise SourceError(source, path, params.header_row, f"no header found: the file has only {skipped} lines")
    start_pos = stream.tell()
    sample = text[start_pos : start_pos + _SNIFF_CHARS]
    delimiter = params.delimiter or sniff_delimiter(sample)
    header_reader = csv.reader(stream, delimiter=delimiter)
    try:
        header = next(header_reader)
    except StopIteration:
        raise SourceError(source, path, params.header_row, "no header found: no line here") from None
    except csv.Error as exc:
        raise SourceError(source, path, params.header_row, f"cannot parse the header: {exc}") from None
    if not any(f.strip() for f in header):
        raise SourceError(source, path, params.header_row, "no header found: the header line is blank")
    return _Header(header, delimiter, stream, offset + header_reader.line_num, len(sample))


def read_csv_header(params: CsvParams, *, source: str) -> list[str]:
    """The column names `read_csv` would yield, from the top of the file only.

    The first `HEADER_BYTES` are decoded, the preamble skipped and the delimiter sniffed as `read_csv` does;
    the whole file is read only when the header record or the delimiter sample does not fit in them. Encoding
    detection then sees only those bytes (a file whose top is plain UTF-8 and whose rest is not is judged by
    its top: the header reads the same either way).

    Raises:
        SourceError: The file is missing, does not decode, or has no header (as `read_csv` says).
    """
    try:
        with params.path.open("rb") as handle:
            data = handle.read(HEADER_BYTES + 1)
    except OSError:
        data = read_bytes(params.path, source)  # raises the SourceError that names the problem
    whole = len(data) <= HEADER_BYTES
    if not whole:
        data = data[: data.rfind(b"\n", 0, HEADER_BYTES) + 1] or data[:HEADER_BYTES]
    text = _decode(params, data, source).text
    header = _header(text, params, source)
    if not whole and (header.stream.tell() >= len(text) or (header.sniffed < _SNIFF_CHARS and not params.delimiter)):
        header = _header(_decode(params, read_bytes(params.path, source), source).text, params, source)
    return column_names(header.cells)


class _Body:
    """The records below the header, read strictly so that a runaway quote shows, and read again after one.

    The csv module is strict here: a quoted field that reaches the end of the file, or is ended by a quote
    followed by more text, raises instead of silently taking the following lines into one field.
    """

    def __init__(self, stream: io.StringIO, delimiter: str, lines_before: int, lines: _LineIndex) -> None:
        self.stream = stream
        self.delimiter = delimiter
        self.lines = lines
        #: Physical lines above the reader's first line: a record's last line is ``base + reader.line_num``.
        self.base = lines_before
        self.reader: _Reader = csv.reader(stream, delimiter=delimiter, strict=True)

    def restart(self, line: int) -> None:
        """Parse again from the start of physical ``line`` with a fresh reader."""
        self.stream.seek(self.lines.start(line))
        self.base = line - 1
        self.reader = csv.reader(self.stream, delimiter=self.delimiter, strict=True)

    def lenient(self, first: int, last: int) -> list[list[str]]:
        """Physical lines ``first..last`` parsed the forgiving way (a quote after a closing quote is text)."""
        return list(csv.reader(io.StringIO(self.lines.raw(first, last), newline=""), delimiter=self.delimiter))


def _records(body: _Body) -> Iterator[tuple[list[list[str] | None], list[int], dict[int, str]]]:
    """Batches of (records, physical line where each record ends, error detail by record index).

    This is the one per-record Python loop of the connector, kept minimal: the work below happens only for
    a record the strict csv reader refuses. Such a record is ``None`` (or the values it has) with its detail.
    """
    rows: list[list[str] | None] = []
    ends: list[int] = []
    errors: dict[int, str] = {}
    last_end = body.base  # physical line where the previous record ended
    exhausted = False
    while not exhausted:
        reader, base = body.reader, body.base  # a new reader after a runaway quote
        try:
            for fields in reader:
                rows.append(fields)
                ends.append(base + reader.line_num)
                if len(rows) >= BATCH_ROWS:
                    break
            else:
                exhausted = True
        except csv.Error as exc:
            first, last = (ends[-1] if ends else last_end) + 1, base + reader.line_num
            refused, end, detail = _refused(body, first, last, str(exc))
            if detail is not None:
                errors[len(rows)] = detail
            rows.append(refused)
            ends.append(end)
        if len(rows) >= BATCH_ROWS or (exhausted and rows):
            last_end = ends[-1]
            yield rows, ends, errors
            rows, ends, errors = [], [], {}


def _refused(body: _Body, first: int, last: int, message: str) -> tuple[list[str] | None, int, str | None]:
    """(values, last physical line, error detail or None) of lines ``first..last`` the strict reader refused.

    A quote left open is named and only the record's first line is given up: the reader starts again at the
    next line. A closed quote followed by text (``"abc"def``) is read the forgiving way, as before.
    """
    eof = message.startswith("unexpected end of data")
    quote_after = "expected after" in message  # a closing quote followed by text
    if eof:
        why = "it runs to the end of the file"
    elif quote_after and (body.lines.raw(first, last).count('"') % 2 or _opens_field(body, last, first)):
        why = f"a stray quote on line {last} ends it mid-text"
    elif last > first and message.startswith("field larger than field limit"):
        why = f"it runs past line {last}, over the csv field limit"  # a quote left open, most likely
    else:
        records = body.lenient(first, last) if quote_after else []
        if len(records) == 1:
            return records[0], last, None
        return None, last, f"cannot parse the record: {message}"
    detail = f"unterminated quoted field on line {first}: {why}"
    if last > first:
        body.restart(first + 1)
        detail += f"; reading resumed at line {first + 1}"
    values = body.lenient(first, first)
    return (values[0] if values else []), first, detail


def _opens_field(body: _Body, line: int, first: int) -> bool:
    """Whether the quote that ended a multi-line quoted field on ``line`` stands where a field starts.

    Such a quote was meant to open a field of its own (``3,"北京``): the field it ended was left open on an
    earlier line. A closing quote stands after text (``line2" x``).
    """
    if line == first:
        return False
    text = body.lines.raw(line, line)
    i = text.find('"')
    while i >= 0 and text[i + 1 : i + 2] == '"':  # a doubled quote is a quote inside the field
        i = text.find('"', i + 2)
    return i >= 0 and (text[:i].rstrip(" ") == "" or text[:i].rstrip(" ").endswith(body.delimiter))


def _batches(
    body: _Body,
    names: list[str],
    header_text: list[str],
    decoded: _encoding.Decoded,
    source: str,
) -> Iterator[pl.DataFrame]:
    n = len(names)
    lines = body.lines
    bad_by_line: dict[int, list[_encoding.BadBytes]] = {}
    for b in decoded.bad:
        bad_by_line.setdefault(b.line, []).append(b)
    bad_lines = sorted(bad_by_line)
    first_line = body.base + 1
    if bad_lines and bad_lines[0] < first_line:
        logger.warning("%s: undecodable bytes above the first record (line %s)", source, bad_lines[0])
    runs = EmptyRuns()
    for rows, ends, errors in _records(body):
        starts = [first_line, *(e + 1 for e in ends[:-1])]
        first_line = ends[-1] + 1
        problems: dict[int, tuple[str | None, str | None, str | None, str | None]] = {}
        counts = list(map(len, (r or () for r in rows)))
        for i in [i for i, c in enumerate(counts) if c != n] + list(errors):
            problems[i] = _problem(rows[i] or [], n, errors.get(i), starts[i], ends[i], lines)
        # Undecodable bytes: blame the record whose lines hold them.
        lo = bisect.bisect_left(bad_lines, starts[0])
        hi = bisect.bisect_right(bad_lines, ends[-1])
        found: dict[int, list[_encoding.BadBytes]] = {}
        for line in bad_lines[lo:hi]:
            found.setdefault(bisect.bisect_left(ends, line), []).extend(bad_by_line[line])
        for i, bad in found.items():
            skip, _, detail, raw = problems.get(i, _PLAIN)
            if skip is not None:
                continue
            text = bad[0].describe(decoded.encoding)
            if len(bad) > 1:
                text += f" and {len(bad) - 1} more"
            problems[i] = (None, BAD_ENCODING, text if detail is None else f"{text}; {detail}", raw)
        pad = [""] * n
        for i in problems:
            rows[i] = ((rows[i] or []) + pad)[:n]
        frame = _frame(rows, starts, problems, names, header_text, source)  # type: ignore[arg-type]
        collapsed = runs.collapse(frame, pl.Series(starts, dtype=pl.Int64), pl.Series(ends, dtype=pl.Int64))
        if collapsed.height:
            yield collapsed
    held = runs.flush()
    if held is not None:
        yield held


def _problem(
    fields: list[str], n: int, parse_error: str | None, first: int, last: int, lines: _LineIndex
) -> tuple[str | None, str | None, str | None, str | None]:
    """(skip reason, error code, error detail, raw line) of a record that is not a plain n-field row."""
    if parse_error is None and not any(f.strip() for f in fields):
        return (EMPTY_ROW, None, None, None)
    if parse_error is not None:
        return (None, MALFORMED_ROW, parse_error, lines.raw(first, last))
    if len(fields) != n:
        return (None, MALFORMED_ROW, f"expected {n} fields, found {len(fields)}", lines.raw(first, last))
    return _PLAIN


def _frame(
    rows: list[list[str]],
    starts: list[int],
    problems: dict[int, tuple[str | None, str | None, str | None, str | None]],
    names: list[str],
    header: list[str],
    source: str,
) -> pl.DataFrame:
    height, width = len(rows), len(names)
    flat = pl.Series(list(itertools.chain.from_iterable(rows)), dtype=pl.String)
    values = flat.reshape((height, width)).arr.to_struct(fields=names).struct.unnest()
    values = values.select(pl.when(pl.col(c) != "").then(pl.col(c)).alias(c) for c in names)
    joined = joined_values(values)
    derived = pl.select(
        pl.when(joined.str.contains(BLANK_PATTERN))
        .then(pl.lit(EMPTY_ROW))
        .when(joined == HASH_SEPARATOR.join(header))
        .then(pl.lit(REPEATED_HEADER))
    ).to_series()
    skip: list[str | None] = [None] * height
    code: list[str | None] = [None] * height
    detail: list[str | None] = [None] * height
    raw: list[str | None] = [None] * height
    if problems:
        plain = [True] * height
        for i, (s, c, d, r) in problems.items():
            skip[i], code[i], detail[i], raw[i] = s, c, d, r
            plain[i] = False
        derived = pl.select(pl.when(pl.Series(plain)).then(derived)).to_series()
    skip_reason = pl.select(pl.coalesce(pl.Series(skip, dtype=pl.String), derived)).to_series()
    return finish_batch(
        values,
        source=source,
        keys=pl.Series(starts, dtype=pl.Int64).cast(pl.String),
        skip_reason=skip_reason,
        error_code=code,
        error_detail=detail,
        raw_line=raw,
        joined=joined,
    )

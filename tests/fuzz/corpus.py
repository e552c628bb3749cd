"""A deterministic corpus of bad input files for the file connectors (csv, xlsx, json, jsonl) and the SQL
connector (SQLite database files a legacy CRM would leave).

Each family writes files the way an attacker or a careless exporter would: wrong or mixed encodings, broken
quotes, NUL bytes, truncated zips, corrupted sheet XML, cells claimed at ``ZZZZZ99999999``, JSON nested 100,000
deep, lone surrogates, pretty-printed arrays saved as ``.jsonl`` ... Every file is generated from ``random.Random``
seeded with ``(seed, family, index)``, so a case id names the same file on every run (the same bytes, given the
same zlib) and a failing case can be regenerated alone (`generate` with ``only=``). Files are kept under
`MAX_BYTES`; nothing of the corpus is committed but this generator.
"""

from __future__ import annotations

import codecs
import contextlib
import functools
import gzip
import io
import json
import random
import re
import sqlite3
import warnings
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

#: Largest file the corpus holds (a bad file is small; its harm is in its shape, not its size).
MAX_BYTES = 200 * 1024

#: Every column a bad source may have, mapped onto canonical fields (English and Chinese headers).
MAPPING: dict[str, str] = {
    "name": "full_name",
    "姓名": "full_name",
    "mobile": "phone",
    "手机": "phone",
    "email": "email",
    "邮箱": "email",
    "company": "company",
    "公司": "company",
    "city": "city",
    "城市": "city",
    "owner": "owner",
    "负责人": "owner",
    "segment": "segment",
    "级别": "segment",
    "status": "status",
    "状态": "status",
    "postcode": "postcode",
    "邮编": "postcode",
    "birthday": "birth_date",
    "生日": "birth_date",
    "updated": "updated_at",
    "更新时间": "updated_at",
    "address": "address",
    "地址": "address",
    "note": "notes",
    "备注": "notes",
}
HEADER_EN = ["id", "name", "mobile", "email", "company", "city", "owner", "segment", "status", "postcode", "updated"]
HEADER_ZH = ["编号", "姓名", "手机", "邮箱", "公司", "城市", "负责人", "级别", "状态", "邮编", "更新时间"]
#: Overlong values per column position (the store's limits are 255 for company, 64 for city/status, 128 for
#: owner/segment, 16 for postcode).
OVERLONG = {4: 300, 5: 100, 6: 200, 7: 200, 8: 100, 9: 40, 1: 600, 3: 400}

SURNAMES = "张王李刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞"
LATIN = ["Anna Müller", "José Peña", "Zoë O'Brien", "Łukasz Żak", "Ngọc Trần", "Ömer Çelik", "Smith, John"]
COMPANIES = ["聊城华兴机械有限公司", "山东鲁信贸易有限公司", "Acme GmbH", "Ｏｐｅｎ科技", "北京\u200b云栈"]
CITIES = ["北京", "上海", "聊城", "München", "São Paulo", ""]
WEIRD = [
    "\u202eevil\u202c",  # bidi override
    "\u200b\u200c\u200d\ufeff",  # zero width, BOM
    "张伟👍",
    "\u2028line\u2029para",
    "\x85\x0b\x0c",
    "=cmd|' /C calc'!A0",
    "@SUM(1+1)",
    "+86 138 0013 8000",
    "../../../../etc/passwd",
    "<script>alert(1)</script>",
    "Robert'); DROP TABLE customer;--",
    "\U0001f468\u200d\U0001f469\u200d\U0001f467",
    "ｆｕｌｌｗｉｄｔｈ１２３",
    "null",
    "NaN",
    "-0",
    "1e309",
    "true",
]


@dataclass(frozen=True)
class Case:
    """One bad file and how the source reading it is configured."""

    id: str
    kind: str  # csv | xlsx | json | jsonl | sql
    family: str
    file: str
    params: dict[str, Any] = field(default_factory=dict)
    #: The store a run of this case must load (``sqlite``, ``postgresql``, ``mariadb``); None: the runner decides.
    store: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# ------------------------------------------------------------------------------------------------- values


def person(rng: random.Random, i: int) -> list[str]:
    """One plausible row under `HEADER_EN`/`HEADER_ZH` (id, name, mobile, email, company, ... updated)."""
    name = rng.choice(SURNAMES) + rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.5 else "")
    if rng.random() < 0.15:
        name = rng.choice(LATIN)
    # 139 numbers: the good source uses 138 numbers, so no bad row is the same person as a good one
    mobile = "139" + "".join(rng.choice("0123456789") for _ in range(8))
    return [
        f"K{i:04d}",
        name,
        mobile,
        f"u{rng.randrange(10**6)}@example.org",
        rng.choice(COMPANIES),
        rng.choice(CITIES),
        rng.choice(["张三", "Tom", ""]),
        rng.choice(["A", "B", "VIP", ""]),
        rng.choice(["active", "1", "inactive", ""]),
        rng.choice(["100000", "252000", "", "SW1A 1AA"]),
        rng.choice(["2024-03-01", "2023/11/12 09:30", "85.3.5", "", "昨天"]),
    ]


def people(rng: random.Random, n: int) -> list[list[str]]:
    return [person(rng, i + 1) for i in range(n)]


def weird_value(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.4:
        return rng.choice(WEIRD)
    if roll < 0.6:
        return "".join(chr(rng.randrange(1, 0x3000)) for _ in range(rng.randrange(1, 20)))
    if roll < 0.8:
        return "".join(chr(rng.randrange(0x1F300, 0x1FAFF)) for _ in range(rng.randrange(1, 5)))
    return "".join(rng.choice("\t\r\n \x01\x1f\x7f") for _ in range(rng.randrange(1, 6)))


def overlong(rng: random.Random, rows: list[list[str]]) -> None:
    for row in rows:
        if rng.random() < 0.6:
            col = rng.choice(sorted(OVERLONG))
            row[col] = rng.choice("xY张") * (OVERLONG[col] + rng.randrange(0, 50))


# ------------------------------------------------------------------------------------------------- csv


def csv_line(fields: list[str], delimiter: str, *, quote_all: bool = False) -> str:
    out = []
    for f in fields:
        if quote_all or any(ch in f for ch in (delimiter, '"', "\n", "\r")):
            out.append('"' + f.replace('"', '""') + '"')
        else:
            out.append(f)
    return delimiter.join(out)


@dataclass
class _CsvDoc:
    """A CSV being mutated: its lines (without line breaks), the break after each, and how it is encoded."""

    lines: list[str]
    delimiter: str
    eol: str
    encoding: str
    params: dict[str, Any]

    def text(self) -> str:
        return "".join(line + self.eol for line in self.lines)


def _csv_base(rng: random.Random) -> _CsvDoc:
    header = list(rng.choice([HEADER_EN, HEADER_ZH]))
    delimiter = rng.choice([",", ",", ",", ";", "\t", "|"])
    rows = people(rng, rng.choice([0, 1, 2, 3, 5, 8, 20, 40]))
    quote_all = rng.random() < 0.2
    lines = [csv_line(header, delimiter, quote_all=quote_all)] + [
        csv_line(r, delimiter, quote_all=quote_all) for r in rows
    ]
    encoding = rng.choice(
        ["utf-8"] * 4
        + ["utf-8-sig", "gb18030", "gbk", "big5", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "cp1252", "shift_jis"]
    )
    params: dict[str, Any] = {}
    roll = rng.random()
    if roll < 0.08:
        params["encoding"] = rng.choice(["utf-8", "ascii", "utf-16", "gb18030", "latin-1", "big5"])
    elif roll < 0.12:
        params["delimiter"] = rng.choice([",", ";", "\t", "|", '"', "x"])
    elif roll < 0.16:
        params["header_row"] = rng.choice([2, 3, 60, 100_000])
    elif roll < 0.24:
        params["key"] = rng.choice([header[0], [header[0], header[1]], header[2], "no_such_column"])
    return _CsvDoc(lines, delimiter, rng.choice(["\n", "\r\n", "\r"]), encoding, params)


def _pick(rng: random.Random, doc: _CsvDoc, *, header: bool = False) -> int:
    if not doc.lines:
        doc.lines.append("")
    lo = 0 if header or len(doc.lines) == 1 else 1
    return rng.randrange(lo, len(doc.lines))


def t_unclosed_quote(rng: random.Random, doc: _CsvDoc) -> None:
    i = _pick(rng, doc, header=rng.random() < 0.1)
    parts = doc.lines[i].split(doc.delimiter)
    j = rng.randrange(len(parts))
    parts[j] = '"' + parts[j]
    doc.lines[i] = doc.delimiter.join(parts)


def t_stray_quotes(rng: random.Random, doc: _CsvDoc) -> None:
    for _ in range(rng.randrange(1, 6)):
        i = _pick(rng, doc)
        line = doc.lines[i]
        k = rng.randrange(len(line) + 1)
        doc.lines[i] = line[:k] + rng.choice(['"', '""', '"""', "'"]) + line[k:]


def t_nul(rng: random.Random, doc: _CsvDoc) -> None:
    for _ in range(rng.randrange(1, 30)):
        i = _pick(rng, doc, header=True)
        line = doc.lines[i]
        k = rng.randrange(len(line) + 1)
        doc.lines[i] = line[:k] + "\x00" * rng.randrange(1, 4) + line[k:]


def t_mixed_eol(rng: random.Random, doc: _CsvDoc) -> None:
    # rebuilt as one line holding its own breaks: each line ends with a different break
    text = "".join(line + rng.choice(["\n", "\r\n", "\r", "\n\r", "\r\r\n"]) for line in doc.lines)
    doc.lines, doc.eol = [text], ""


def t_huge_field(rng: random.Random, doc: _CsvDoc) -> None:
    i = _pick(rng, doc)
    parts = doc.lines[i].split(doc.delimiter)
    j = rng.randrange(len(parts))
    size = rng.choice([5_000, 40_000, 90_000])
    chunk = rng.choice(["x", "张", "a,b", 'q"', "\n"]) * (size // 3)
    parts[j] = csv_line([chunk], doc.delimiter) if rng.random() < 0.7 else chunk
    doc.lines[i] = doc.delimiter.join(parts)


def t_ragged(rng: random.Random, doc: _CsvDoc) -> None:
    for _ in range(rng.randrange(1, 8)):
        i = _pick(rng, doc)
        parts = doc.lines[i].split(doc.delimiter)
        if rng.random() < 0.5:
            parts = parts[: rng.randrange(len(parts) + 1)]
        else:
            parts += ["extra"] * rng.randrange(1, 40)
        doc.lines[i] = doc.delimiter.join(parts)


def t_blank_runs(rng: random.Random, doc: _CsvDoc) -> None:
    for _ in range(rng.randrange(1, 4)):
        i = rng.randrange(1, len(doc.lines) + 1)
        filler = rng.choice(["", " ", "\t", doc.delimiter * 10, " " + doc.delimiter + " "])
        doc.lines[i:i] = [filler] * rng.choice([1, 2, 50, 3000])


def t_repeat_header(rng: random.Random, doc: _CsvDoc) -> None:
    for _ in range(rng.randrange(1, 5)):
        doc.lines.insert(rng.randrange(1, len(doc.lines) + 1), doc.lines[0])


def t_weird_values(rng: random.Random, doc: _CsvDoc) -> None:
    for _ in range(rng.randrange(1, 10)):
        i = _pick(rng, doc)
        parts = doc.lines[i].split(doc.delimiter)
        parts[rng.randrange(len(parts))] = csv_line([weird_value(rng)], doc.delimiter)
        doc.lines[i] = doc.delimiter.join(parts)


def t_overlong(rng: random.Random, doc: _CsvDoc) -> None:
    rows = [line.split(doc.delimiter) for line in doc.lines[1:]]
    rows = [r for r in rows if len(r) == len(HEADER_EN)]
    overlong(rng, rows)
    doc.lines[1:] = [doc.delimiter.join(r) for r in rows] or doc.lines[1:]


def t_weird_header(rng: random.Random, doc: _CsvDoc) -> None:
    parts = doc.lines[0].split(doc.delimiter) if doc.lines else [""]
    for _ in range(rng.randrange(1, 5)):
        j = rng.randrange(len(parts))
        parts[j] = rng.choice(
            ["", " ", parts[rng.randrange(len(parts))], "_source", "_row_hash", "_raw_line", "_x", "h" * 5000, '"']
        )
    doc.lines[0] = doc.delimiter.join(parts)


def t_wide(rng: random.Random, doc: _CsvDoc) -> None:
    n = rng.choice([300, 2000])
    extra = [f"c{k}" for k in range(n)]
    doc.lines = [line + doc.delimiter + doc.delimiter.join(extra) for line in doc.lines[:4]]


def t_many_rows(rng: random.Random, doc: _CsvDoc) -> None:
    row = doc.lines[1] if len(doc.lines) > 1 else doc.delimiter.join(person(rng, 1))
    doc.lines += [row] * rng.choice([50, 200])  # the same person 200 times: one cluster, pairs squared


def t_multiline(rng: random.Random, doc: _CsvDoc) -> None:
    for _ in range(rng.randrange(1, 5)):
        i = _pick(rng, doc)
        parts = doc.lines[i].split(doc.delimiter)
        parts[rng.randrange(len(parts))] = csv_line(
            [rng.choice(["a\nb", "x\r\ny", "p\rq", "\n\n\n"])], ",", quote_all=True
        )
        doc.lines[i] = doc.delimiter.join(parts)


def t_truncate(rng: random.Random, doc: _CsvDoc) -> None:
    text = doc.text()
    doc.lines, doc.eol = [text[: rng.randrange(len(text) + 1)]], ""


TEXT_MUTATORS: list[Callable[[random.Random, _CsvDoc], None]] = [
    t_unclosed_quote,
    t_stray_quotes,
    t_nul,
    t_mixed_eol,
    t_huge_field,
    t_ragged,
    t_blank_runs,
    t_repeat_header,
    t_weird_values,
    t_overlong,
    t_weird_header,
    t_wide,
    t_many_rows,
    t_multiline,
    t_truncate,
]


def b_flip(rng: random.Random, data: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randrange(1, 20)):
        if buf:
            buf[rng.randrange(len(buf))] = rng.randrange(256)
    return bytes(buf)


def b_truncate(rng: random.Random, data: bytes) -> bytes:
    return data[: rng.randrange(len(data) + 1)]


def b_garbage(rng: random.Random, data: bytes) -> bytes:
    k = rng.randrange(len(data) + 1)
    return data[:k] + rng.randbytes(rng.choice([1, 3, 16, 500, 5000])) + data[k:]


def b_bom_inside(rng: random.Random, data: bytes) -> bytes:
    bom = rng.choice([codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_LE])
    k = rng.choice([0, rng.randrange(len(data) + 1)])
    return data[:k] + bom + data[k:]


def b_invalid_sequences(rng: random.Random, data: bytes) -> bytes:
    for _ in range(rng.randrange(1, 10)):
        k = rng.randrange(len(data) + 1)
        bad = rng.choice([b"\xed\xa0\x80", b"\xc0\xaf", b"\xf4\x90\x80\x80", b"\xff", b"\x80\x80", b"\xe4\xb8"])
        data = data[:k] + bad + data[k:]
    return data


def b_mixed_encoding(rng: random.Random, data: bytes) -> bytes:
    lines = data.split(b"\n")
    for i in range(len(lines)):
        if rng.random() < 0.3:
            with contextlib.suppress(UnicodeDecodeError):  # a line a mutation already broke stays as it is
                lines[i] = lines[i].decode("utf-8").encode(rng.choice(["gb18030", "big5", "utf-16-le"]), "replace")
    return b"\n".join(lines)


BYTE_MUTATORS: list[Callable[[random.Random, bytes], bytes]] = [
    b_flip,
    b_truncate,
    b_garbage,
    b_bom_inside,
    b_invalid_sequences,
    b_mixed_encoding,
]


def csv_composed(rng: random.Random, i: int = 0) -> tuple[bytes, dict[str, Any]]:
    """A CSV in some encoding, with 1-3 text mutations and 0-2 byte mutations."""
    doc = _csv_base(rng)
    for mutate in rng.sample(TEXT_MUTATORS, rng.choice([1, 1, 2, 3])):
        mutate(rng, doc)
    data = doc.text().encode(doc.encoding, "replace")
    for mutate in rng.sample(BYTE_MUTATORS, rng.choice([0, 0, 1, 2])):
        data = mutate(rng, data)
    return data[:MAX_BYTES], doc.params  # a mix that grew past the limit is also a truncated file


def csv_specials() -> Iterator[tuple[str, bytes, dict[str, Any]]]:
    """Files no mutation of a table reaches: empty, only a BOM, only breaks, binary, another format."""
    header = ",".join(HEADER_EN).encode()
    row = ",".join(person(random.Random(1), 1)).encode()
    rng = random.Random("csv-specials")
    yield "empty", b"", {}
    yield "bom_utf8_only", codecs.BOM_UTF8, {}
    yield "bom_utf16_only", codecs.BOM_UTF16_LE, {}
    yield "bom_utf32_only", codecs.BOM_UTF32_LE, {}
    yield "one_newline", b"\n", {}
    yield "one_cr", b"\r", {}
    yield "crlf_5000", b"\r\n" * 5000, {}
    yield "newlines_100k", b"\n" * 100_000, {}
    yield "nul_only", b"\x00" * 1000, {}
    yield "nul_lines", b"\x00\n" * 1000, {}
    yield "header_only", header, {}
    yield "header_only_newline", header + b"\n", {}
    yield "header_then_nul_rows", header + b"\n" + b"\x00,\x00\n" * 50, {}
    yield "one_quote", b'"', {}
    yield "quotes_only", b'""""""""', {}
    yield "quote_header_unclosed", b'"' + header + b"\n" + row + b"\n", {}
    yield "quote_last_byte", header + b"\n" + row + b'\n"', {}
    yield "random_1k", rng.randbytes(1024), {}
    yield "random_150k", rng.randbytes(150_000), {}
    yield "random_printable", bytes(rng.choice(b'abc,;\t|"\r\n\x00') for _ in range(50_000)), {}
    yield "png", b"\x89PNG\r\n\x1a\n" + rng.randbytes(2000), {}
    yield "gzip", gzip.compress(header + b"\n" + row * 100, mtime=0), {}
    yield "zip", _zip({"a.csv": header + b"\n" + row}), {}
    yield "xlsx_named_csv", _zip(_book([("Sheet1", _sheet([HEADER_EN, person(rng, 1)]))])), {}
    yield "pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + rng.randbytes(3000), {}
    yield "dos_eof", b"\x1a" * 100, {}
    yield "utf16_odd_length", codecs.BOM_UTF16_LE + "姓名,手机\n张伟,138".encode("utf-16-le") + b"\x00\xd8\x41", {}
    yield "utf16_no_bom_one_char", "a".encode("utf-16-le"), {}
    yield "utf32_bom_garbage", codecs.BOM_UTF32_LE + rng.randbytes(999), {}
    yield "one_line_190k", b"x" * 190_000, {}
    yield "commas_190k", b"," * 190_000, {}
    yield "delims_one_row", header + b"\n" + b"," * 100_000 + b"\n", {}
    yield "header_16k_columns", ",".join(f"c{k}" for k in range(16_384)).encode() + b"\n" + b"1," * 16_383 + b"1\n", {}
    yield "header_blank", b" , , \n" + row + b"\n", {}
    yield (
        "header_all_reserved",
        b"_source,_source_key,_row_hash,_skip_reason,_error_code,_error_detail,_raw_line\n" + b"a,b,c,d,e,f,g\n",
        {},
    )
    yield "bidi_header", "\u202ename\u202c,mobile\n张伟,13900000000\n".encode(), {}
    yield "html_table", b"<html><table><tr><td>name</td></tr><tr><td>x</td></tr></table></html>", {}
    yield "cesu_surrogates", header + b"\n" + b"K1,\xed\xa0\xbd\xed\xb8\x80,139\n", {}
    yield "overlong_utf8", header + b"\n" + b"K1,\xc0\xae\xc0\xae/,139\n", {}
    yield (
        "gb_utf8_half_half",
        ("姓名,手机\n".encode() + "张伟,13900000001\n".encode("gb18030") + "李娜,13900000002\n".encode()),
        {},
    )
    yield "header_row_past_end", header + b"\n" + row + b"\n", {"header_row": 5}
    yield "key_all_blank", b"id,name\n,a\n,b\n ,c\n", {"key": "id"}
    yield "key_duplicates", b"id,name\nk,a\nk,b\nK,c\nk ,d\n", {"key": "id"}
    yield "key_too_long", b"id,name\n" + b"k" * 300 + b",a\n", {"key": "id"}
    yield "key_composite_escape", b"a,b,name\nx|y,z,p\nx,y|z,q\nx\\,|y,r\n", {"key": ["a", "b"]}
    yield "encoding_unknown", header + b"\n" + row, {"encoding": "no-such-codec"}
    yield "encoding_utf7", b"name,mobile\n+ZeVOKg-,139\n", {"encoding": "utf-7"}
    yield "encoding_rot13", b"name,mobile\nx,139\n", {"encoding": "rot13"}
    yield "encoding_base64", b"bmFtZQ==\n", {"encoding": "base64"}
    yield "encoding_idna", b"name\nx\n", {"encoding": "idna"}
    yield "encoding_hex", b"6e616d65\n", {"encoding": "hex"}
    yield "encoding_utf16_for_utf8", header + b"\n" + row, {"encoding": "utf-16"}
    yield "encoding_undefined", header + b"\n" + row, {"encoding": "undefined"}
    yield "encoding_punycode", header + b"\n\xff" + row, {"encoding": "punycode"}


# ------------------------------------------------------------------------------------------------- xlsx

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
CT_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
_CT_SHEET = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def col_letters(n: int) -> str:
    s = ""
    while n > 0:
        n, r = divmod(n - 1, 26)
        s = chr(65 + r) + s
    return s


def _cell(ref: str | None, value: object, *, shared: list[str] | None = None, style: int | None = None) -> str:
    r = f' r="{ref}"' if ref else ""
    s = f' s="{style}"' if style is not None else ""
    if value is None:
        return f"<c{r}{s}/>"
    if isinstance(value, bool):
        return f'<c{r}{s} t="b"><v>{int(value)}</v></c>'
    if isinstance(value, int | float):
        return f"<c{r}{s}><v>{value}</v></c>"
    text = str(value)
    if shared is not None:
        shared.append(text)
        return f'<c{r}{s} t="s"><v>{len(shared) - 1}</v></c>'
    return f'<c{r}{s} t="inlineStr"><is><t xml:space="preserve">{_esc(text)}</t></is></c>'


def _sheet(
    rows: list[list[object]],
    *,
    shared: list[str] | None = None,
    dimension: str | None = None,
    refs: bool = True,
    extra: str = "",
    first_row: int = 1,
) -> str:
    body = []
    for i, row in enumerate(rows, first_row):
        cells = "".join(_cell(f"{col_letters(j)}{i}" if refs else None, v, shared=shared) for j, v in enumerate(row, 1))
        body.append(f'<row r="{i}">{cells}</row>' if refs else f"<row>{cells}</row>")
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="{MAIN_NS}" xmlns:r="{REL_NS}">'
        f"{dim}<sheetData>{''.join(body)}{extra}</sheetData></worksheet>"
    )


def _sst(strings: list[str], *, count: str | None = None) -> str:
    n = count if count is not None else str(len(strings))
    items = "".join(f'<si><t xml:space="preserve">{_esc(s)}</t></si>' for s in strings)
    return f'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{MAIN_NS}" count="{n}" uniqueCount="{n}">{items}</sst>'


_STYLES = (
    f'<?xml version="1.0" encoding="UTF-8"?><styleSheet xmlns="{MAIN_NS}">'
    '<numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy-mm-dd hh:mm"/></numFmts>'
    '<fonts count="1"><font/></fonts><fills count="1"><fill/></fills><borders count="1"><border/></borders>'
    '<cellStyleXfs count="1"><xf/></cellStyleXfs>'
    '<cellXfs count="3"><xf numFmtId="0"/><xf numFmtId="14" applyNumberFormat="1"/>'
    '<xf numFmtId="164" applyNumberFormat="1"/></cellXfs></styleSheet>'
)


def _book(
    sheets: list[tuple[str, str]],
    *,
    shared: str | None = None,
    styles: str | None = None,
    targets: list[str] | None = None,
) -> dict[str, str | bytes]:
    """The zip parts of a workbook with these (name, sheet XML) sheets."""
    targets = targets or [f"worksheets/sheet{i}.xml" for i in range(1, len(sheets) + 1)]
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="{_CT_SHEET}"/>'
        for i in range(1, len(sheets) + 1)
    )
    rels = "".join(
        f'<Relationship Id="rId{i}" Type="{REL_NS}/worksheet" Target="{_esc(t)}"/>' for i, t in enumerate(targets, 1)
    )
    extra_rels = ""
    if shared is not None:
        extra_rels += f'<Relationship Id="rIdS" Type="{REL_NS}/sharedStrings" Target="sharedStrings.xml"/>'
    if styles is not None:
        extra_rels += f'<Relationship Id="rIdT" Type="{REL_NS}/styles" Target="styles.xml"/>'
    entries = "".join(
        f'<sheet name="{_esc(name)}" sheetId="{i}" r:id="rId{i}"/>' for i, (name, _) in enumerate(sheets, 1)
    )
    parts: dict[str, str | bytes] = {
        "[Content_Types].xml": (
            f'<?xml version="1.0"?><Types xmlns="{CT_NS}">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" '
            f'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>{overrides}'
            "</Types>"
        ),
        "_rels/.rels": (
            f'<?xml version="1.0"?><Relationships xmlns="{PKG_NS}"><Relationship Id="rId1" '
            f'Type="{REL_NS}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            f'<?xml version="1.0"?><workbook xmlns="{MAIN_NS}" xmlns:r="{REL_NS}"><sheets>{entries}</sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": (
            f'<?xml version="1.0"?><Relationships xmlns="{PKG_NS}">{rels}{extra_rels}</Relationships>'
        ),
    }
    for i, (_, xml) in enumerate(sheets, 1):
        parts[f"xl/worksheets/sheet{i}.xml"] = xml
    if shared is not None:
        parts["xl/sharedStrings.xml"] = shared
    if styles is not None:
        parts["xl/styles.xml"] = styles
    return parts


def _zip(
    parts: dict[str, str | bytes] | list[tuple[str, str | bytes]], *, method: int = zipfile.ZIP_DEFLATED, level: int = 6
) -> bytes:
    buf = io.BytesIO()
    items = parts.items() if isinstance(parts, dict) else parts
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names are the point of some cases
        with zipfile.ZipFile(buf, "w", method, compresslevel=level if method == zipfile.ZIP_DEFLATED else None) as zf:
            for name, data in items:
                info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
                info.compress_type = method
                zf.writestr(info, data.encode("utf-8") if isinstance(data, str) else data)
    return buf.getvalue()


def _table(rng: random.Random, n: int | None = None) -> list[list[object]]:
    header: list[object] = list(rng.choice([HEADER_EN, HEADER_ZH]))
    rows: list[list[object]] = [header]
    for r in people(rng, n if n is not None else rng.choice([1, 3, 8, 20])):
        rows.append([int(v) if v.isdigit() and rng.random() < 0.5 and not v.startswith("0") else v for v in r])
    return rows


def _good_book(rng: random.Random, *, shared: bool | None = None) -> dict[str, str | bytes]:
    use_shared = rng.random() < 0.5 if shared is None else shared
    strings: list[str] | None = [] if use_shared else None
    sheet = _sheet(_table(rng), shared=strings, dimension=rng.choice([None, "A1:K21"]))
    return _book([("客户", sheet)], shared=_sst(strings) if strings is not None else None)


def x_truncated(rng: random.Random, i: int = 0) -> bytes:
    data = _zip(_good_book(rng))
    return data[: max(1, int(len(data) * rng.uniform(0.02, 0.995)))]


def x_flipped(rng: random.Random, i: int = 0) -> bytes:
    return b_flip(rng, _zip(_good_book(rng)))


def x_stored_flipped(rng: random.Random, i: int = 0) -> bytes:
    data = bytearray(_zip(_good_book(rng), method=zipfile.ZIP_STORED))
    start = data.find(b"<sheetData>")
    for _ in range(rng.randrange(1, 8)):
        k = rng.randrange(max(start, 0), len(data))
        data[k] = rng.choice(b"<>&\"'\x00\xff/=r ")
    return bytes(data)


def _xml_breakers(rng: random.Random, xml: str) -> str | bytes:
    choice = rng.randrange(12)
    if choice == 0:
        return xml[: rng.randrange(len(xml))]
    if choice == 1:
        k = xml.find("<row", rng.randrange(len(xml)))
        return xml[:k] + "<row><c>" + xml[k:] if k > 0 else xml + "<c>"
    if choice == 2:
        return xml.replace("</sheetData>", "</sheetdata>")
    if choice == 3:
        raw = xml.encode()
        k = rng.randrange(len(raw))
        return raw[:k] + rng.choice([b"\xff\xfe", b"\xc3", b"\x00", b"\xed\xa0\x80"]) + raw[k:]
    if choice == 4:
        return xml.replace("<v>", "<v>&#0;", 1).replace("<t xml", "<t>&#xD800;</t><t xml", 1)
    if choice == 5:  # a small entity expansion bomb
        dtd = '<!DOCTYPE w [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">' + "".join(
            f'<!ENTITY {c} "{("&" + p + ";") * 10}">' for p, c in zip("bcdefg", "cdefgh", strict=True)
        )
        return xml.replace("<worksheet", dtd + "]><worksheet", 1).replace("<v>", "<v>&h;", 1)
    if choice == 6:  # an external entity
        dtd = '<!DOCTYPE w [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        return xml.replace("<worksheet", dtd + "<worksheet", 1).replace('preserve">', 'preserve">&x;', 1)
    if choice == 7:
        return xml.replace(MAIN_NS, "urn:not-spreadsheetml")
    if choice == 8:
        return "<worksheet/>" + xml
    if choice == 9:
        return xml.replace("<sheetData>", "<sheetData><sheetData>", 1)
    if choice == 10:
        return xml.replace(' r="', ' r ="', rng.randrange(1, 5)).replace("<c ", "<c\t", 3)
    return rng.randbytes(rng.randrange(1, 3000))


def x_bad_xml(rng: random.Random, i: int = 0) -> bytes:
    parts = _good_book(rng)
    target = rng.choice(["xl/worksheets/sheet1.xml"] * 4 + ["xl/workbook.xml", "xl/_rels/workbook.xml.rels"])
    if "xl/sharedStrings.xml" in parts and rng.random() < 0.2:
        target = "xl/sharedStrings.xml"
    value = parts[target]
    parts[target] = _xml_breakers(rng, value if isinstance(value, str) else value.decode("utf-8", "replace"))
    return _zip(parts)


def x_dimension(rng: random.Random, i: int = 0) -> bytes:
    ref = rng.choice(
        [
            "A1:XFD1048576",
            "A1:ZZZZZ99999999",
            "A1:XFE1",
            "A1:A1048577",
            "$A$1:$XFD$1048576",
            "A0:B2",
            "garbage",
            "",
            "A1:",
            ":",
            "A1:B2:C3",
            "XFD1048576",
            "A1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA1",
            "A1:A" + "9" * 40,
            "a1:k21",
        ]
    )
    return _zip(_book([("Data", _sheet(_table(rng), dimension=ref))]))


def x_far_cells(rng: random.Random, i: int = 0) -> bytes:
    table = _table(rng)
    base = _sheet(table)
    n = len(table)
    variant = i % 11
    if variant == 0:
        extra = '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>'
    elif variant == 1:
        extra = '<row r="5"><c r="XFE5"><v>1</v></c></row>'
    elif variant == 2:
        extra = '<row r="1048577"><c r="A1048577"><v>1</v></c></row>'
    elif variant == 3:
        extra = f'<row r="{n + 1}"><c r="{col_letters(rng.choice([200, 1000, 16384]))}{n + 1}"><v>1</v></c></row>'
    elif variant == 4:
        far = rng.choice([2000, 100_000, 1_048_576])
        extra = f'<row r="{far}"><c r="{rng.choice("ABK")}{far}" t="inlineStr"><is><t>stray</t></is></c></row>'
    elif variant == 5:  # more far cells than are set apart: a second table, read as it is
        extra = "".join(f'<row r="{200_000 + k}"><c r="K{200_000 + k}"><v>{k}</v></c></row>' for k in range(1100))
    elif variant == 6:  # values spread evenly over a million rows and 48 columns: no gap is a stray gap
        extra = "".join(
            f'<row r="{r}"><c r="{col_letters(1 + (r // 999) % 48)}{r}"><v>1</v></c></row>'
            for r in range(n + 999, 1_040_000, 999)
        )
    elif variant == 7:
        extra = f'<row r="{n + 1}"><c r="ZZZZZ99999999"><v>1</v></c></row>'
    elif variant == 8:  # far columns in every row
        extra = "".join(f'<row r="{n + k}"><c r="XFD{n + k}"><v>1</v></c></row>' for k in range(1, 50))
    elif variant == 9:
        extra = '<row r="99999999999999999999"><c><v>1</v></c></row>'
    else:
        extra = f'<row r="{n + 1}"><c r="A{n + 1}"/><c r="AMJ{n + 1}"/><c r="XFD{n + 1}"/></row>'
    return _zip(_book([("Data", base.replace("</sheetData>", extra + "</sheetData>"))]))


def x_refs(rng: random.Random, i: int = 0) -> bytes:
    table = _table(rng)
    variant = i % 10
    if variant == 0:
        xml = _sheet(table, refs=False)
    elif variant == 1:
        xml = _sheet(table).replace('<row r="', '<row x="')
    elif variant == 2:  # rows in reverse order
        rows = _sheet(table).split("<sheetData>")[1].split("</sheetData>")[0].split("</row>")[:-1]
        xml = _sheet([]).replace("<sheetData>", "<sheetData>" + "</row>".join(reversed(rows)) + "</row>")
    elif variant == 3:  # every row claims row 2
        xml = _sheet(table)
        for i in range(1, len(table) + 1):
            xml = xml.replace(f'<row r="{i}">', '<row r="2">')
    elif variant == 4:
        xml = _sheet(table).replace('r="A', 'r="a')
    elif variant == 5:
        xml = _sheet(table).replace('r="B2"', 'r="B02"').replace('r="C', 'r="$C$')
    elif variant == 6:
        xml = _sheet(table).replace('r="A1"', 'r="A0"')
    elif variant == 7:
        xml = _sheet(table).replace('r="B', 'r=""')
    elif variant == 8:
        xml = _sheet(table).replace('r="C2"', 'r="1A"')
    else:  # a cell of row 3 inside row 2, and a row tag with an absurd span
        xml = _sheet(table).replace('r="D2"', 'r="D3"').replace('<row r="2">', '<row r="2" spans="1:99999999">')
    return _zip(_book([("Data", xml)]))


def x_shared(rng: random.Random, i: int = 0) -> bytes:
    strings: list[str] = []
    xml = _sheet(_table(rng), shared=strings)
    variant = i % 10
    sst: str | None = _sst(strings)
    if variant == 0:
        xml = xml.replace("<v>1</v>", f"<v>{len(strings) + 5}</v>", 1)
    elif variant == 1:
        xml = xml.replace("<v>1</v>", "<v>-1</v>", 1)
    elif variant == 2:
        xml = xml.replace("<v>1</v>", "<v>abc</v>", 1)
    elif variant == 3:
        xml = xml.replace("<v>1</v>", "<v>99999999999999999999999</v>", 1)
    elif variant == 4:
        sst = None  # referenced, absent
    elif variant == 5:
        sst = _sst(strings)[: rng.randrange(60, 200)]
    elif variant == 6:
        sst = _sst(strings, count=rng.choice(["2147483647", "4294967296", "-5", "x", "18446744073709551615"]))
    elif variant == 7:
        sst = _sst(strings).replace("<si>", '<si><r><t>rich</t></r><rPh sb="0" eb="1"><t>ふ</t></rPh>', 3)
    elif variant == 8:
        sst = _sst([])
    else:
        sst = _sst(strings).replace("</t></si>", "</t></si><si/>", 5)
    parts = _book([("Data", xml)], shared=sst if sst is not None else _sst([]))
    if sst is None:
        del parts["xl/sharedStrings.xml"]
    return _zip(parts)


def x_empty(rng: random.Random, i: int = 0) -> bytes:
    variant = i % 9
    parts = _book([("Data", _sheet(_table(rng)))])
    if variant == 0:
        parts = _book([])
    elif variant == 1:
        parts = _book([("Data", _sheet([]))])
    elif variant == 2:
        parts = _book([(f"S{i}", _sheet([])) for i in range(5)])
    elif variant == 3:
        del parts["xl/workbook.xml"]
    elif variant == 4:
        del parts["xl/_rels/workbook.xml.rels"]
    elif variant == 5:
        del parts["xl/worksheets/sheet1.xml"]
    elif variant == 6:
        del parts["[Content_Types].xml"]
    elif variant == 7:
        parts["xl/worksheets/sheet1.xml"] = ""
    else:
        parts = _book([("Data", _sheet([[None, None], [None, ""], ["", None]]))])
    return _zip(parts)


def x_many_sheets(rng: random.Random, i: int = 0) -> bytes:
    n = (20, 60, 150)[i % 3]
    sheets = [(f"第{i}页", _sheet(_table(rng, rng.choice([0, 1, 2])))) for i in range(n)]
    return _zip(_book(sheets))


def x_sheet_names(rng: random.Random, i: int = 0) -> bytes:
    names = rng.choice(
        [
            ["Data", "Data"],
            ["", "x"],
            ["a" * 300],
            ["Sheet!1", "'quoted'"],
            ["<&>", "\u202e右", "\x01"],
            ["客户", "客户 ", " 客户"],
            ["Sheet1", "sheet1"],
        ]
    )
    return _zip(_book([(n, _sheet(_table(rng))) for n in names]))


def x_targets(rng: random.Random, i: int = 0) -> bytes:
    target = rng.choice(
        ["../../../../etc/passwd", "/xl/worksheets/sheet1.xml", "worksheets\\sheet1.xml", "worksheets/nope.xml", ""]
    )
    return _zip(_book([("Data", _sheet(_table(rng)))], targets=[target]))


def x_cell_types(rng: random.Random, i: int = 0) -> bytes:
    table = _table(rng, 2)
    odd = rng.choice(
        [
            '<c r="B4" t="e"><v>#DIV/0!</v></c>',
            '<c r="B4" t="b"><v>2</v></c>',
            '<c r="B4" t="b"><v>yes</v></c>',
            '<c r="B4" t="d"><v>not a date</v></c>',
            '<c r="B4" t="d"><v>99999-99-99T99:99:99</v></c>',
            '<c r="B4"><v>1e400</v></c>',
            '<c r="B4"><v>NaN</v></c>',
            '<c r="B4"><v>abc</v></c>',
            '<c r="B4"><v></v></c>',
            '<c r="B4" t="str"><f>1/0</f></c>',
            '<c r="B4" t="inlineStr"/>',
            '<c r="B4" t="inlineStr"><is/></c>',
            '<c r="B4" t="zzz"><v>1</v></c>',
            '<c r="B4" s="1"><v>1e15</v></c>',
            '<c r="B4" s="1"><v>-1</v></c>',
            '<c r="B4" s="1"><v>-693594</v></c>',
            '<c r="B4" s="2"><v>2958466</v></c>',
            '<c r="B4" s="1"><v>NaN</v></c>',
            '<c r="B4" s="1"><v>inf</v></c>',
            '<c r="B4" s="2"><v>1.7976931348623157e308</v></c>',
            '<c r="B4" s="99"><v>1</v></c>',
            '<c r="B4" t="inlineStr"><is><t>_x0000_nul_x001F_</t></is></c>',
            '<c r="B4" t="inlineStr"><is><t>&#x1F600;&#x10FFFF;</t></is></c>',
        ]
    )
    xml = _sheet(table).replace(
        "</sheetData>", f'<row r="4"><c r="A4" t="inlineStr"><is><t>x</t></is></c>{odd}</row></sheetData>'
    )
    return _zip(_book([("Data", xml)], styles=_STYLES))


def x_big_cells(rng: random.Random, i: int = 0) -> bytes:
    variant = i % 4
    if variant == 0:
        table = _table(rng, 2)
        table[1][1] = rng.choice(["x", "张"]) * rng.choice([40_000, 120_000])
        return _zip(_book([("Data", _sheet(table))]))
    if variant == 1:
        header = [f"h{k}" for k in range(16_384)]
        return _zip(_book([("Data", _sheet([header, [1] * 16_384]))]))
    if variant == 2:
        return _zip(_book([("Data", _sheet([[f"c{k}" for k in range(2000)]] + [[k] * 2000 for k in range(3)]))]))
    table = _table(rng, 3)
    overlong(rng, table[1:])  # type: ignore[arg-type]
    return _zip(_book([("Data", _sheet(table))]))


def x_header(rng: random.Random, i: int = 0) -> bytes:
    variant = i % 6
    if variant == 0:
        xml = _sheet([["2024年客户名单"], ["only a title"]])
    elif variant == 1:
        xml = _sheet(_table(rng), first_row=150)
    elif variant == 2:
        xml = _sheet([[1, 2, 3], [4, 5, 6]])
    elif variant == 3:
        xml = _sheet([[True, None, 3.5], ["a", "b", "c"]])
    elif variant == 4:
        xml = _sheet([["name", "name", "", "_source", "name"], ["a", "b", "c", "d", "e"]])
    else:
        xml = _sheet([["合计", "1"], ["Total", "2"], ["name", "mobile"], ["小计", "3"]])
    return _zip(_book([("Data", xml)]))


def x_not_xlsx(rng: random.Random, i: int = 0) -> bytes:
    return rng.choice(
        [
            b"",
            b"name,mobile\n\xe5\xbc\xa0\xe4\xbc\x9f,139\n",
            b"<html><body><table><tr><td>name</td></tr></table></body></html>",
            rng.randbytes(4096),
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + rng.randbytes(4000),  # an OLE (xls) header, then junk
            gzip.compress(b"name\nx\n", mtime=0),
            b"%PDF-1.7\n" + rng.randbytes(500),
            b'<?xml version="1.0"?><Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet"/>',
            _zip({"hello.txt": "hi"}),
            _zip({"mimetype": "application/vnd.oasis.opendocument.spreadsheet", "content.xml": "<x/>"}),
            b"PK\x03\x04" + rng.randbytes(200),
            b"PK\x05\x06" + b"\x00" * 18,
        ]
    )


def x_zip_weird(rng: random.Random, i: int = 0) -> bytes:
    variant = i % 8
    parts = _good_book(rng, shared=False)
    if variant == 0:  # the sheet twice, the second one garbage
        items = [*parts.items(), ("xl/worksheets/sheet1.xml", "<garbage")]
        return _zip(items)
    if variant == 1:  # a sheet of 8 MB of blanks: decompresses 400 times its size
        xml = str(parts["xl/worksheets/sheet1.xml"])
        parts["xl/worksheets/sheet1.xml"] = xml.replace("<sheetData>", "<sheetData>" + " " * 8_000_000, 1)
        return _zip(parts, level=9)
    if variant == 2:  # two million empty rows without references
        xml = str(parts["xl/worksheets/sheet1.xml"])
        parts["xl/worksheets/sheet1.xml"] = xml.replace("</sheetData>", "<row/>" * 1_100_000 + "</sheetData>")
        return _zip(parts, level=9)
    if variant == 3:  # the encryption flag set on every entry
        data = bytearray(_zip(parts))
        for sig in (b"PK\x03\x04", b"PK\x01\x02"):
            at = data.find(sig)
            while at >= 0:
                flag = at + (6 if sig == b"PK\x03\x04" else 8)
                data[flag] |= 1
                at = data.find(sig, at + 4)
        return bytes(data)
    if variant == 4:
        return _zip(parts, method=zipfile.ZIP_BZIP2)
    if variant == 5:
        return _zip(parts, method=zipfile.ZIP_LZMA)
    if variant == 6:
        return _zip({**parts, "../../evil.xml": "x", "xl/worksheets/": b""})
    data = _zip(parts)
    return data + b"trailing junk after the central directory" * 10


def x_row_level(rng: random.Random, i: int = 0) -> bytes:
    """A readable workbook with bad values: overlong, weird, blank runs, repeated headers, totals."""
    table = _table(rng, rng.choice([3, 10, 30]))
    for row in table[1:]:
        if rng.random() < 0.5:
            row[rng.randrange(len(row))] = weird_value(rng).replace("\x00", "")
    overlong(rng, table[1:])  # type: ignore[arg-type]
    for _ in range(rng.randrange(0, 4)):
        k = rng.randrange(1, len(table) + 1)
        table[k:k] = rng.choice([[[None] * 3] * rng.choice([1, 5, 2000]), [table[0]], [["合计", 100]]])
    xml = _sheet(table)
    xml = "".join(ch for ch in xml if ch in "\t\n\r" or ord(ch) >= 0x20)  # XML 1.0 has no other control chars
    return _zip(_book([("Data", xml)]))


@functools.cache
def x_params(rng: random.Random, i: int = 0) -> tuple[bytes, dict[str, Any]]:
    """A readable workbook read with settings that do not fit it: a missing sheet, a header row past the end, a
    key column with blanks and repeats, a key column it does not have."""
    table = _table(rng, 6)
    table[2][0] = table[1][0]  # a repeated key
    table[3][0] = ""  # a blank key
    params = [
        {"sheets": ["nope"]},
        {"sheets": ["Data", "Data"]},
        {"header_row": 1000},
        {"header_row": 3},
        {"key": str(table[0][0])},
        {"key": [str(table[0][0]), str(table[0][1])]},
        {"key": "nope"},
    ][i % 7]
    return _zip(_book([("Data", _sheet(table)), ("Empty", _sheet([]))])), params


def _openpyxl_book(seed: int) -> bytes:
    """A workbook as openpyxl writes it (styles, theme, doc properties), with its save time fixed."""
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in _table(random.Random(seed), 10):
        sheet.append(row)
    sheet.merge_cells("A20:C22")
    sheet["E30"] = "=SUM(A1:A3)"
    buf = io.BytesIO()
    workbook.save(buf)
    with zipfile.ZipFile(buf) as zf:  # openpyxl stamps the time of saving: rewritten, for the same bytes every run
        parts = {
            name: re.sub(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", b"2024-01-01T00:00:00Z", zf.read(name))
            for name in zf.namelist()
        }
    return _zip(parts)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------- json(l)


def _record(rng: random.Random, i: int) -> dict[str, Any]:
    header = rng.choice([HEADER_EN, HEADER_ZH])
    values: list[Any] = list(person(rng, i))
    record = dict(zip(header, values, strict=True))
    if rng.random() < 0.3:
        record[header[2]] = int(values[2])  # a phone as a number
    return record


def _deep(depth: int, kind: str) -> str:
    if kind == "array":
        return "[" * depth + "]" * depth
    if kind == "object":
        return '{"a":' * depth + "1" + "}" * depth
    return "[" * depth  # unclosed


def _value_mutation(rng: random.Random, record: dict[str, Any]) -> None:
    key = rng.choice(list(record)) if record else "name"
    record[key] = rng.choice(
        [
            None,
            True,
            0,
            -0.0,
            [],
            {},
            ["a", 1, None],
            {"first": "张", "last": "伟"},
            weird_value(rng),
            "x" * rng.choice([300, 5000]),
            10**30,
            1.5e300,
            "\x00",
            "\u0000nul",
        ]
    )


def _json_text(rng: random.Random, value: Any) -> str:
    if rng.random() < 0.3:
        return json.dumps(value, ensure_ascii=rng.random() < 0.5, indent=2)
    return json.dumps(value, ensure_ascii=rng.random() < 0.5)


_SURROGATE_TEXTS = [
    r'"\ud800"',
    r'"\udfff"',
    r'"\ud800\u0041"',
    r'"\ud800\ud800"',
    r'"\udc00\ud800"',
    r'"a\ud83d"',
    r'"\ud83d\ude00"',  # a valid pair
    r'"\uDFFF\uDBFF"',
    r'"\u0000"',
    r'"\uZZZZ"',
    r'"\x41"',
    r'"\"',
]


def _raw_record(rng: random.Random, i: int) -> str:
    """A JSON object's text, sometimes with a raw (hand-written) lone surrogate, odd number or duplicate key."""
    record = _record(rng, i)
    text = json.dumps(record, ensure_ascii=False)
    roll = rng.random()
    if roll < 0.15:
        return text[:-1] + f', "note": {rng.choice(_SURROGATE_TEXTS)}}}'
    if roll < 0.25:
        return text[:-1] + f", {rng.choice(_SURROGATE_TEXTS)}: 1}}"
    if roll < 0.35:
        number = rng.choice(
            [
                "1e999999",
                "-1e-999999",
                "1" * 5000,
                "-0",
                "1E+2",
                "0.0000000000000000000001",
                "NaN",
                "Infinity",
                "-Infinity",
            ]
        )
        return text[:-1] + f', "mobile": {number}}}'
    if roll < 0.45:
        key = rng.choice(list(record))
        return text[:-1] + f', "{key}": "second", "{key}": null}}'
    if roll < 0.5:
        return text[:-1] + ', "": 1, "_source": "spoof", "_source_key": "1", "_row_hash": "x", "_raw_line": 2}'
    if roll < 0.55:
        return text[:-1] + ', "Name": "a", "NAME": "b", "name ": "c"}'
    return text


def json_composed(rng: random.Random, i: int = 0) -> tuple[bytes, dict[str, Any]]:
    """A JSON array of records with value, text and byte mutations."""
    n = rng.choice([0, 1, 2, 5, 20, 60])
    records = [_raw_record(rng, i + 1) for i in range(n)]
    for _ in range(rng.randrange(0, 4)):
        if records:
            k = rng.randrange(len(records))
            if rng.random() < 0.5:
                rec = _record(rng, k)
                _value_mutation(rng, rec)
                records[k] = _json_text(rng, rec)
            else:
                records[k] = rng.choice(
                    ["1", "null", '"x"', "[]", "[{}]", "true", "{}", _deep(rng.choice([10, 400, 2000]), "array")]
                )
    text = "[" + ("," + rng.choice(["", "\n", "\n  "])).join(records) + "]"
    params: dict[str, Any] = {}
    if rng.random() < 0.15:
        text = '{"data": {"items": ' + text + "}}"
        params["records_path"] = rng.choice(["data.items", "data", "data.items.0", "items", "data.items.x", "0"])
    roll = rng.random()
    if roll < 0.1:
        text = text[: rng.randrange(len(text) + 1)]
    elif roll < 0.15:
        text += rng.choice(["garbage", "]", "\n[]", "\x00", "// comment"])
    elif roll < 0.2:
        text = text.replace("}", "},", 1)
    data = text.encode("utf-8", "surrogatepass")
    if rng.random() < 0.15:
        data = rng.choice(BYTE_MUTATORS)(rng, data)
    if rng.random() < 0.05:
        params["encoding"] = rng.choice(["utf-16", "gb18030", "latin-1", "ascii"])
    return data[:MAX_BYTES], params


def json_specials() -> Iterator[tuple[str, bytes, dict[str, Any]]]:
    rng = random.Random("json-specials")
    good = json.dumps([_record(rng, 1), _record(rng, 2)], ensure_ascii=False)
    for depth in (100, 350, 999, 1000, 5000, 90_000):
        yield f"deep_array_{depth}", _deep(depth, "array").encode(), {}
        yield f"deep_unclosed_{depth}", _deep(depth, "open").encode(), {}
        yield (
            f"deep_in_record_{depth}",
            f'[{{"name": "x", "note": {_deep(min(depth, 30_000), "object")}}}]'.encode(),
            {},
        )
    for top in [
        "42",
        '"string"',
        "null",
        "true",
        "{}",
        '{"a": 1}',
        "[[1, 2], [3]]",
        "[1, 2, 3]",
        "[null]",
        "[]",
        '[{}, 1, "x", [], null]',
        "-0",
        "1e999",
    ]:
        yield f"top_{top[:12]}", top.encode(), {}
    for path in ["data", "data.items", "data.items.0", "data.items.5", "x.y.z", "data..items", "0"]:
        yield (
            f"records_path_{path}",
            json.dumps({"data": {"items": [_record(rng, 1)]}}).encode(),
            {"records_path": path},
        )
    yield "records_path_into_list", b'[[{"name": "x"}]]', {"records_path": "0"}
    yield "empty", b"", {}
    yield "whitespace", b" \n\t\r ", {}
    yield "bom_only", codecs.BOM_UTF8, {}
    yield "bom_array", codecs.BOM_UTF8 + good.encode(), {}
    yield "utf16_bom", codecs.BOM_UTF16_LE + good.encode("utf-16-le"), {}
    yield "utf16_no_bom", good.encode("utf-16-le"), {}
    yield "utf16_declared", codecs.BOM_UTF16_LE + good.encode("utf-16-le"), {"encoding": "utf-16"}
    yield "gb18030_undeclared", good.encode("gb18030"), {}
    yield "invalid_utf8_in_string", good.encode()[:20] + b"\xff\xfe" + good.encode()[20:], {}
    yield "cesu_surrogate_raw", b'[{"name": "\xed\xa0\x80"}]', {}
    yield "nul_raw_in_string", b'[{"name": "a\x00b"}]', {}
    yield "control_raw_in_string", b'[{"name": "a\x01\x1fb\tc"}]', {}
    yield "comments", b'[/* c */ {"name": "x"} // d\n]', {}
    yield "trailing_comma", b'[{"name": "x",},]', {}
    yield "single_quotes", b"[{'name': 'x'}]", {}
    yield "nan_values", b'[{"name": NaN, "mobile": Infinity, "email": -Infinity}]', {}
    yield "concatenated", (good + good).encode(), {}
    yield "jsonl_as_json", b'{"name": "a"}\n{"name": "b"}\n', {}
    yield "big_int_keys", json.dumps([{str(k): k for k in range(3000)}]).encode(), {}
    yield "key_per_record", json.dumps([{f"k{k}": k} for k in range(3000)]).encode(), {}
    yield "records_4000", json.dumps([{"name": f"n{k}", "mobile": "13900000000"} for k in range(4000)]).encode(), {}
    yield "one_string_190k", json.dumps([{"name": "x" * 190_000}]).encode(), {}
    yield "huge_int_digits", b'[{"mobile": ' + b"9" * 100_000 + b"}]", {}
    yield "encoding_unknown", good.encode(), {"encoding": "no-such-codec"}
    yield "encoding_base64", good.encode(), {"encoding": "base64"}
    yield "encoding_rot13", good.encode(), {"encoding": "rot13"}
    yield "encoding_utf7", b'[{"name": "+ZeVOKg-"}]', {"encoding": "utf-7"}
    yield "encoding_undefined", good.encode(), {"encoding": "undefined"}
    yield "encoding_punycode", b"\xff" + good.encode(), {"encoding": "punycode"}
    yield "key_missing_column", good.encode(), {"key": "no_such"}
    yield (
        "key_duplicates",
        json.dumps([{"id": 1, "name": "a"}, {"id": 1, "name": "b"}, {"id": "1", "name": "c"}]).encode(),
        {"key": "id"},
    )
    yield (
        "key_nested",
        json.dumps([{"id": {"a": 1}, "name": "a"}, {"id": [1], "name": "b"}, {"id": None}]).encode(),
        {"key": "id"},
    )


def jsonl_composed(rng: random.Random, i: int = 0) -> tuple[bytes, dict[str, Any]]:
    """JSON Lines with broken lines, blank runs, odd separators and byte mutations."""
    lines = [_raw_record(rng, i + 1) for i in range(rng.choice([0, 1, 2, 5, 20, 80]))]
    for _ in range(rng.randrange(0, 6)):
        k = rng.randrange(len(lines) + 1)
        bad = rng.choice(
            [
                "",
                "   ",
                "\t",
                "[]",
                '[{"name": "x"}]',
                "1",
                "null",
                '"str"',
                "{",
                '{"name": "x"',
                '{"name": "x"}{"name": "y"}',
                '{"name": "x"} trailing',
                _deep(rng.choice([50, 999, 1000, 20_000]), rng.choice(["array", "object", "open"])),
                '{"name": ' + _deep(5000, "array") + "}",
                "{'name': 'x'}",
                '{"name": "a\u2028b\u2029c\x85d"}',
                "\x00" * 5,
                '{"name": "\\ud800"}',
                "// comment",
            ]
        )
        lines[k:k] = [bad] * rng.choice([1, 1, 3, 100])
    text = "\n".join(lines) + rng.choice(["", "\n", "\n\n\n"])
    roll = rng.random()
    if roll < 0.1:
        text = text.replace("\n", "\r\n")
    elif roll < 0.15:
        text = text.replace("\n", "\r")
    elif roll < 0.25:
        text = text[: rng.randrange(len(text) + 1)]
    elif roll < 0.3:
        text = json.dumps([json.loads(x) for x in lines if _loads(x)], indent=rng.choice([None, 2]))
    data = text.encode("utf-8", "surrogatepass")
    if rng.random() < 0.2:
        data = rng.choice(BYTE_MUTATORS)(rng, data)
    params: dict[str, Any] = {}
    if rng.random() < 0.05:
        params["encoding"] = rng.choice(["utf-16", "gb18030", "latin-1", "ascii", "utf-8-sig"])
    elif rng.random() < 0.05:
        params["key"] = rng.choice(["id", "编号", "name", "nope"])
    return data[:MAX_BYTES], params


def _loads(text: str) -> bool:
    try:
        json.loads(text)
    except (ValueError, RecursionError):
        return False
    return True


def jsonl_specials() -> Iterator[tuple[str, bytes, dict[str, Any]]]:
    rng = random.Random("jsonl-specials")
    records = [_record(rng, k) for k in range(1, 6)]
    lines = [json.dumps(r, ensure_ascii=False) for r in records]
    yield "empty", b"", {}
    yield "one_newline", b"\n", {}
    yield "blank_lines_100", b"\n" * 100, {}
    yield "blank_lines_100k", b"\n" * 100_000, {}
    yield "whitespace_lines", b" \n\t\n \r\n" * 300, {}
    yield "pretty_array", json.dumps(records, indent=2, ensure_ascii=False).encode(), {}
    yield "pretty_array_bom", codecs.BOM_UTF8 + json.dumps(records, indent=2).encode(), {}
    yield "one_line_array", json.dumps(records).encode(), {}
    yield "pretty_objects", "\n".join(json.dumps(r, indent=2) for r in records).encode(), {}
    yield "array_then_lines", (json.dumps(records[:2]) + "\n" + "\n".join(lines)).encode(), {}
    yield "blank_between", ("\n\n\n".join(lines)).encode(), {}
    yield "blank_100_then_record", b"\n" * 100 + lines[0].encode(), {}
    yield "crlf", "\r\n".join(lines).encode(), {}
    yield "cr_only", "\r".join(lines).encode(), {}
    yield "u2028_separated", "\u2028".join(lines).encode(), {}
    yield "nel_separated", "\x85".join(lines).encode(), {}
    yield "nul_separated", "\x00".join(lines).encode(), {}
    yield "utf16_bom", codecs.BOM_UTF16_LE + "\n".join(lines).encode("utf-16-le"), {}
    yield "utf16_declared", "\n".join(lines).encode("utf-16"), {"encoding": "utf-16"}
    yield "gb18030_undeclared", "\n".join(lines).encode("gb18030"), {}
    yield "gb18030_declared", "\n".join(lines).encode("gb18030"), {"encoding": "gb18030"}
    yield "invalid_utf8_every_line", b"\n".join(line.encode() + b"\xff" for line in lines), {}
    yield "invalid_utf8_one_line", b"\n".join([lines[0].encode() + b"\xc3", *(x.encode() for x in lines[1:])]), {}
    yield "random_bytes", rng.randbytes(20_000), {}
    yield "nul_only", b"\x00" * 1000, {}
    yield "one_line_190k", json.dumps({"name": "x" * 190_000}).encode(), {}
    yield "deep_lines", "\n".join(_deep(d, "array") for d in (10, 500, 999, 1000, 5000, 50_000)).encode(), {}
    yield "deep_object_lines", "\n".join(_deep(d, "object") for d in (999, 1000, 3000)).encode(), {}
    yield "surrogates", "\n".join('{"name": ' + s + "}" for s in _SURROGATE_TEXTS).encode(), {}
    yield "surrogate_keys", "\n".join("{" + s + ': "x"}' for s in _SURROGATE_TEXTS).encode(), {}
    yield "huge_numbers", b'{"mobile": 1e999999}\n{"mobile": ' + b"9" * 50_000 + b'}\n{"mobile": NaN}\n', {}
    yield "many_keys", json.dumps({f"k{k}": k for k in range(5000)}).encode(), {}
    yield "key_per_line", "\n".join(json.dumps({f"k{k}": k}) for k in range(3000)).encode(), {}
    yield (
        "reserved_keys",
        b'{"_source": "a", "_source_key": "b", "_row_hash": "c", "_raw_line": "d", "_error_code": "e"}',
        {},
    )
    yield "empty_key", b'{"": "x", " ": "y"}\n{"": ""}\n', {}
    yield "all_null", b'{"name": null}\n{"name": ""}\n{"name": " "}\n{}\n', {}
    yield (
        "key_duplicates",
        b'{"id": 1, "name": "a"}\n{"id": 1, "name": "b"}\n{"id": null}\n{"name": "c"}\n',
        {"key": "id"},
    )
    yield "key_missing", b'{"name": "a"}\n', {"key": "id"}
    yield "encoding_unknown", b'{"name": "a"}\n', {"encoding": "no-such-codec"}
    yield "encoding_base64", b'{"name": "a"}\n', {"encoding": "base64"}
    yield "encoding_utf7", b'{"name": "+ZeVOKg-"}\n', {"encoding": "utf-7"}
    yield "encoding_undefined", b'{"name": "a"}\n', {"encoding": "undefined"}
    yield "encoding_punycode", b'\xff{"name": "a"}\n', {"encoding": "punycode"}


# ------------------------------------------------------------------------------------------------- load edges

#: Columns of the `load_specials` tables: every field a store column limits, a date, a timestamp, a note and an
#: unmapped column (kept in the customer's ``attributes`` JSON).
LOAD_HEADER = [
    "id", "name", "mobile", "email", "company", "city", "owner", "segment", "status", "postcode", "birthday", "updated",
    "note", "extra",
]  # fmt: skip
#: What a store column keeps (characters): a value of exactly this length must load, one longer is quarantined.
LOAD_LIMITS = {"name": 255, "company": 255, "city": 64, "owner": 128, "segment": 128, "status": 64, "postcode": 16}
#: Keys a case- or accent-insensitive, or a PAD SPACE, collation takes for one (MariaDB's default ``*_ci``
#: collations: ``abc``/``ABC``/``abc ``, ``é1``/``e1``, ``Straße``/``STRASSE``, every emoji alike); a binary,
#: no-pad collation keeps them apart, as SQLite and PostgreSQL do. Surrounding white space is trimmed from keys,
#: so `` abc`` and ``abc\t`` are duplicates of ``abc`` in the read itself (quarantined, not lost).
COLLIDING_KEYS = [
    "abc", "ABC", "Abc", "abc ", " abc", "abc\t", "abc\u00a0", "abc\u200b", "ａｂｃ", "ＡＢＣ",
    "é1", "e\u03011", "e1", "É1", "E1", "è1",
    "Straße", "STRASSE", "strasse", "ß", "ss", "ẞ", "ǅ", "ǆ", "Ǆ",
    "I", "ı", "İ", "i", "i\u0307", "ⅰ",
    "😀", "😁", "🙂", "😀\ufe0f", "\U00020000", "\U00020001", "𝐀", "A",
    "a\u202eb", "a\u202db", "ab", "a\u2066b\u2069", "a\u00adb", "a-b", "a\u2011b",
]  # fmt: skip
#: Dates and timestamps past what a column, a driver or Python keeps (year 0, 10000, 0000-00-00, Feb 30, a zone
#: that moves 9999-12-31 into year 10000 in UTC, epochs in seconds and milliseconds).
ODD_DATES = [
    "0000-00-00", "0001-01-01", "0000-01-01", "-0001-01-01", "0999-12-31", "1000-01-01", "1582-10-10", "1900-02-29",
    "2024-02-30", "2024-13-01", "9999-12-31", "10000-01-01", "99999-12-31", "1969-12-31", "2038-01-19 03:14:08",
    "9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "9999-12-31 23:59:59.9999999", "1970-01-01T00:00:00Z",
    "253402300800", "-62135596800", "253402300800000", "1e10", "0", "-1", "١٩٩٠-٠١-٠١", "２０２４－０１－０１",
]  # fmt: skip
#: Values that are only characters, but not every store keeps every character alike: NUL, controls, C1
#: controls, noncharacters, a BOM inside, bidi overrides and isolates, 4-byte UTF-8 (emoji sequences, CJK
#: extension B, math letters, tag characters), stacked combining marks.
ODD_TEXTS = [
    "a\x00b", "\x00", "\x01\x02\x1f\x7f", "\x80\x85\x9f", "\ufffe\uffff", "a\ufeffb", "\u202eevil\u202c",
    "\u2067rtl\u2069", "محمد علي", "דוד כהן", "👨\u200d👩\u200d👧\u200d👦", "🇨🇳🇩🇪", "👍🏿", "\U00020000\U0002a6d6",
    "𝕮𝖗𝖒", "\U000e0041\U000e0042", "Z" + "\u0336\u0321\u0322" * 30, "\U0010fffd", "\ud7ff\ue000",
]  # fmt: skip


def _load_row(i: int, **values: str) -> list[str]:
    """A plausible row under `LOAD_HEADER` (a 137 mobile: no other file's person), with ``values`` replacing some."""
    row = {
        "id": f"L{i:04d}",
        "name": SURNAMES[i % 20] + GIVEN[(i * 7) % 20] + GIVEN[(i * 3) % 20],
        "mobile": f"137{i:08d}",
        "email": f"l{i}@example.net",
        "company": COMPANIES[i % len(COMPANIES)],
        "city": CITIES[i % len(CITIES)],
        "owner": ["张三", "Tom", ""][i % 3],
        "segment": ["A", "B", "VIP"][i % 3],
        "status": ["active", "inactive"][i % 2],
        "postcode": "252000",
        "birthday": "1990-01-01",
        "updated": "2024-03-01",
        "note": "",
        "extra": "",
    }
    row.update(values)
    return [row[c] for c in LOAD_HEADER]


def _load_csv(rows: list[list[str]], header: list[str] = LOAD_HEADER) -> bytes:
    return "".join(csv_line(r, ",") + "\r\n" for r in [header, *rows]).encode("utf-8", "surrogatepass")


def _load_jsonl(records: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=True) + "\n" for r in records).encode()


def _load_xlsx(rows: list[list[str]]) -> bytes:
    """The rows as an xlsx sheet (shared strings); XML keeps no NUL or C0 control: those cells are dropped."""
    strings: list[str] = []
    ok = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
    clean = [[None if ok.search(v) else v for v in r] for r in [LOAD_HEADER, *rows]]
    return _zip(_book([("客户", _sheet(clean, shared=strings))], shared=_sst(strings)))


def load_specials() -> Iterator[tuple[str, str, bytes, dict[str, Any]]]:
    """(kind, name, data, params) of the files that probe the load step of every store (run on SQLite, PostgreSQL
    and MariaDB alike): keys that differ only by case, accents, width or trailing space, keys at and past the
    store's key length, values at and past each column's length in 1-, 3- and 4-byte characters, NUL and control
    characters, lone surrogates, huge numbers, dates out of every range, emoji and bidi text, and organisations,
    e-mails and attribute names that a case-insensitive collation would merge."""
    keys = [_load_row(k, id=key) for k, key in enumerate(COLLIDING_KEYS, 1)]
    yield "csv", "keys_collide", _load_csv(keys), {"key": "id"}
    yield "xlsx", "keys_collide", _load_xlsx(keys), {"key": "id"}
    yield "jsonl", "keys_collide", _load_jsonl([dict(zip(LOAD_HEADER, r, strict=True)) for r in keys]), {"key": "id"}
    composite = [
        ("a", "B"),
        ("A", "b"),
        ("a|b", "c"),
        ("a", "b|c"),
        ("é", "x"),
        ("e\u0301", "x"),
        ("x" * 200, "y" * 60),
    ]
    yield (
        "csv",
        "keys_composite",
        _load_csv(
            [[a, b, *_load_row(k)[1:]] for k, (a, b) in enumerate(composite, 100)], ["id", "sub", *LOAD_HEADER[1:]]
        ),
        {"key": ["id", "sub"]},
    )
    long_keys = []
    for k, (char, n) in enumerate(
        [("k", 255), ("😀", 255), ("长", 255), ("\U00020000", 255), ("k", 256), ("😀", 256), ("k", 1000)], 200
    ):
        long_keys += [_load_row(k, id=char * n), _load_row(k + 50, id=char * (n - 1) + "z")]
    long_keys.append(_load_row(299, id="😀" * 254 + " "))
    yield "csv", "keys_length", _load_csv(long_keys), {"key": "id"}
    bounds = []
    for k, (column, limit) in enumerate(LOAD_LIMITS.items()):
        for j, char in enumerate(["x", "长", "😀", "\U00020000"]):
            for extra in (0, 1):
                bounds.append(_load_row(300 + k * 10 + j * 2 + extra, **{column: char * (limit + extra)}))
    bounds.append(_load_row(390, email="a" * 64 + "@" + "b" * 180 + ".com"))
    bounds.append(_load_row(391, email="😀" * 64 + "@example.com"))
    bounds.append(_load_row(392, email="x" * 400 + "@example.com"))
    bounds.append(_load_row(393, mobile="1" * 300))
    bounds.append(_load_row(394, note="长" * 22_000))  # 66 KB: past MySQL's 64 KB TEXT
    yield "csv", "values_length", _load_csv(bounds), {"key": "id"}
    odd = [
        _load_row(400 + k, **{column: text})
        for k, (column, text) in enumerate(
            (c, t) for t in ODD_TEXTS for c in ("name", "company", "city", "owner", "note", "extra", "email")
        )
    ]
    yield "csv", "values_characters", _load_csv(odd), {"key": "id"}
    yield "xlsx", "values_characters", _load_xlsx(odd), {"key": "id"}
    dates = [_load_row(600 + k, birthday=d, updated=d) for k, d in enumerate(ODD_DATES)]
    yield "csv", "values_dates", _load_csv(dates), {}
    yield "xlsx", "values_dates", _load_xlsx(dates), {}
    lines = [
        '{"id": 1, "name": "张伟", "mobile": 13700000001, "extra": ' + "9" * 400 + "}",
        '{"id": 1.0, "name": "张伟", "mobile": 13700000002}',
        '{"id": "1", "name": "张伟", "mobile": 13700000003}',
        '{"id": 1180591620717411303424, "name": "李娜", "mobile": 1e308, "birthday": 100000000000000000000}',
        '{"id": "1180591620717411303424", "name": "李娜", "mobile": -9223372036854775809}',
        '{"id": -0, "name": "王芳", "mobile": 18446744073709551616, "updated": 18446744073709551616}',
        '{"id": 0, "name": "王芳", "mobile": 1.5e-320, "updated": -9223372036854775808}',
        '{"id": 1e400, "name": "x", "mobile": 13700000008, "extra": {"n": 1e400, "m": -1e400}}',
        '{"id": "\\ud800", "name": "\\ud800", "mobile": "13700000009", "company": "a\\udfffb", "extra": "\\udc00"}',
        '{"id": "\\udfff", "name": "\\ud83d", "mobile": "13700000010", "extra": {"\\ud800": "\\u0000"}}',
        '{"id": "\\u0000", "name": "a\\u0000b", "mobile": "13700000011", "extra": {"k\\u0000": ["\\u0000"]}}',
        '{"id": "nul\\u0000key", "name": "c\\u0000", "mobile": "13700000012", "note": "\\u0000"}',
        '{"id": "😀", "name": "😀", "mobile": "13700000013", "extra": {"😀": "😁", "Note": 1, "note": 2, "NOTE": 3}}',
        '{"id": true, "name": "x", "mobile": "13700000014"}',
        '{"id": "true", "name": "y", "mobile": "13700000015"}',
        '{"id": null, "name": "z", "mobile": "13700000016"}',
        '{"id": [1, 2], "name": "w", "mobile": "13700000017"}',
        '{"id": {"a": 1}, "name": "v", "mobile": "13700000018"}',
    ]
    yield "jsonl", "values_numbers", "\n".join(lines).encode(), {"key": "id"}
    yield "json", "values_numbers", ("[" + ",".join(lines) + "]").encode(), {}
    companies = [
        "Müller GmbH", "Muller GmbH", "MÜLLER GMBH", "Müller GmbH ", "Mu\u0308ller GmbH", "Ｍüller GmbH",
        "Straße AG", "Strasse AG", "STRASSE AG", "😀 Ltd", "😁 Ltd", "İstanbul AŞ", "istanbul aş", "Acme\u00a0Inc",
        "Acme Inc", "Acme  Inc", "acme inc.", "长" * 255, "长" * 254 + "短",
    ]  # fmt: skip
    owners = ["Tom", "tom", "TOM", "Tóm", "Tom ", "ｔｏｍ", "😀", "😁"]
    orgs = [
        _load_row(700 + k, company=c, owner=owners[k % len(owners)], segment=owners[(k + 3) % len(owners)])
        for k, c in enumerate(companies)
    ]
    yield "csv", "organisations_collide", _load_csv(orgs), {"key": "id"}
    same = [
        _load_row(800 + k, name="张伟", mobile="13700000800", email=e)
        for k, e in enumerate(
            [
                "zw@example.com",
                "ZW@example.com",
                "zw@EXAMPLE.COM",
                "zw@example.com ",
                "zẃ@example.com",
                "zw@exämple.com",
                "zw@example.com\u200b",
                "😀@example.com",
                "😁@example.com",
                "",
            ]
        )
    ] + [
        _load_row(820 + k, name="李娜", mobile=m)
        for k, m in enumerate(["137 0000 0820", "+86 13700000820", "１３７００００００８２０"])
    ]
    yield "csv", "contacts_collide", _load_csv(same), {"key": "id"}
    header = ["id", "name", "mobile", "Note", "note", "NOTE", "nöte", "note ", "extra", "Extra", "EXTRA", "Éxtra",
              "😀", "😁", "\u202eextra", "x" * 300, "ex\x00tra"]  # fmt: skip
    yield (
        "csv",
        "attributes_collide",
        _load_csv(
            [[f"A{k}", "张伟", f"137000009{k:02d}", *(f"v{j}" for j in range(len(header) - 3))] for k in range(5)],
            header,
        ),
        {"key": "id"},
    )
    yield (
        "csv",
        "surrogates_cesu",
        b"id,name,mobile,company\n"
        + b"\xed\xa0\x80,\xed\xa0\xbd\xed\xb8\x80,13700000950,\xed\xbf\xbf\n"
        + b"\xed\xa0\x81,a\xed\xa0\x80b,13700000951,x\n"
        + b"ok,\xf0\x9f\x98\x80,13700000952,\xf4\x8f\xbf\xbf\n",
        {"key": "id"},
    )


# ------------------------------------------------------------------------------------------------- sql

#: The table every `sql_specials` database holds (and the one a refused query tries to drop).
SQL_TABLE = "customers"
#: Its columns (all mapped but ``id``, the key): a legacy CRM's, declared loosely as SQLite lets one.
SQL_COLUMNS = ["id", "name", "mobile", "email", "company", "city", "note"]


def _sqlite_bytes(statements: list[str], rows: list[tuple[Any, ...]] = (), insert: str | None = None) -> bytes:
    """A SQLite database file (its bytes) made by ``statements``, then ``insert`` run once per row of ``rows``."""
    conn = sqlite3.connect(":memory:")
    try:
        for statement in statements:
            conn.execute(statement)
        if insert is not None:
            conn.executemany(insert, rows)
        conn.commit()
        return conn.serialize()
    finally:
        conn.close()


def _sql_table(rows: list[tuple[Any, ...]], *, key: str = "id TEXT", primary: bool = False) -> bytes:
    """`SQL_TABLE` with `SQL_COLUMNS` (``id`` declared as ``key``, the primary key when ``primary``) and ``rows``."""
    columns = [f"{key}{' PRIMARY KEY' if primary else ''}", *(f"{c} TEXT" for c in SQL_COLUMNS[1:])]
    insert = f"INSERT INTO {SQL_TABLE} VALUES ({', '.join('?' * len(SQL_COLUMNS))})"
    return _sqlite_bytes([f"CREATE TABLE {SQL_TABLE} ({', '.join(columns)})"], rows, insert)


def _quoted(name: str) -> str:
    """``name`` as a SQL identifier, quoted."""
    return '"' + name.replace('"', '""') + '"'


def _sql_row(i: int, **values: Any) -> tuple[Any, ...]:
    """A plausible row of `SQL_COLUMNS` (a 136 mobile: no other file's person), with ``values`` replacing some."""
    row: dict[str, Any] = {
        "id": f"S{i:04d}",
        "name": SURNAMES[i % 20] + GIVEN[(i * 7) % 20],
        "mobile": f"136{i:08d}",
        "email": f"s{i}@example.org",
        "company": COMPANIES[i % len(COMPANIES)],
        "city": CITIES[i % len(CITIES)],
        "note": "",
    }
    row.update(values)
    return tuple(row[c] for c in SQL_COLUMNS)


def sql_specials() -> Iterator[tuple[str, bytes, dict[str, Any]]]:
    """(name, data, params) of SQLite databases as a legacy CRM leaves them: duplicate, NULL, overlong and
    colliding composite keys, BLOBs, huge numbers, NaN and infinities, NUL and invalid UTF-8 in text, dates out
    of range in typed columns, odd column names, an empty table; and queries that must be refused unsent (a
    ``DROP TABLE``, a ``CREATE TABLE``, a second statement, a writing CTE) or that name a missing table.

    ``params`` are the source's but its ``url`` (the runner points it at the file); every case reads `SQL_TABLE`
    unless its params say otherwise."""
    table = {"table": SQL_TABLE}
    by_id = {**table, "key": "id"}
    yield (
        "keys_duplicate",
        _sql_table([_sql_row(1), _sql_row(2, id="S0001"), _sql_row(3), _sql_row(4, id="S0003")]),
        by_id,
    )
    yield "keys_null", _sql_table([_sql_row(10, id=None), _sql_row(11), _sql_row(12, id=None)]), by_id
    yield (
        "keys_long",
        _sql_table(
            [
                _sql_row(20 + k, id=c * n)
                for k, (c, n) in enumerate([("k", 255), ("k", 256), ("😀", 256), ("长", 1000)])
            ],
            primary=True,
        ),
        {"table": SQL_TABLE},  # the primary key
    )
    composite = [("x|y", "z"), ("x", "y|z"), ("x\\", "|y|z"), ("x", "y"), ("x|y", "z")]
    yield (
        "keys_composite",
        _sqlite_bytes(
            [f"CREATE TABLE {SQL_TABLE} (id TEXT, sub TEXT, name TEXT, mobile TEXT)"],
            [(a, b, SURNAMES[k] + GIVEN[k], f"1360000030{k}") for k, (a, b) in enumerate(composite)],
            f"INSERT INTO {SQL_TABLE} VALUES (?, ?, ?, ?)",
        ),
        {**table, "key": ["id", "sub"]},
    )
    yield (
        "keys_typed",
        _sqlite_bytes(  # an INTEGER key column holding text, a real, a blob, a huge integer
            [f"CREATE TABLE {SQL_TABLE} (id INTEGER, name TEXT, mobile TEXT)"],
            [(1, "张伟", "13600000401"), ("1", "李娜", "13600000402"), (1.0, "王芳", "13600000403"),
             (b"\x01", "刘洋", "13600000404"), (2**63 - 1, "陈静", "13600000405"), (1e300, "杨磊", "13600000406")],
            f"INSERT INTO {SQL_TABLE} VALUES (?, ?, ?)",
        ),
        by_id,
    )  # fmt: skip
    yield (
        "values_blob",
        _sql_table(
            [_sql_row(50, name=b"\xe5\xbc\xa0\xe4\xbc\x9f"), _sql_row(51, name=b"\xff\xfe\x00\x01", note=b""),
             _sql_row(52, id=b"S0052", company=bytes(range(256))), _sql_row(53, note=b"\x00" * 5000)]
        ),
        by_id,
    )  # fmt: skip
    yield (
        "values_numbers",
        _sql_table(
            [_sql_row(60, mobile=2**63 - 1), _sql_row(61, mobile=-(2**63)), _sql_row(62, mobile=1e308),
             _sql_row(63, mobile=float("inf"), note=float("-inf")), _sql_row(64, mobile=float("nan")),
             _sql_row(65, mobile=13600000065.0, city=-0.0), _sql_row(66, mobile="9" * 400, note=5e-324)]
        ),
        by_id,
    )  # fmt: skip
    yield (
        "values_nul",
        _sql_table([_sql_row(70, name="a\x00b"), _sql_row(71, id="S\x000071"), _sql_row(72, note="\x00" * 10)]),
        by_id,
    )
    yield (
        "values_invalid_utf8",
        _sqlite_bytes(
            [f"CREATE TABLE {SQL_TABLE} (id TEXT, name TEXT, mobile TEXT)",
             f"INSERT INTO {SQL_TABLE} VALUES ('S0080', '张伟', '13600000080')",
             f"INSERT INTO {SQL_TABLE} VALUES ('S0081', CAST(x'ffeda080' AS TEXT), '13600000081')",
             f"INSERT INTO {SQL_TABLE} VALUES (CAST(x'c3' AS TEXT), 'x', '13600000082')"]
        ),
        by_id,
    )  # fmt: skip
    odd = ["id", "full name", 'na"me', "姓名", " ", "", "'", "name", "a" * 300, "😀", "手机"]
    yield (
        "columns_odd_names",
        _sqlite_bytes(
            [f"CREATE TABLE {SQL_TABLE} ({', '.join(_quoted(c) for c in odd)})"],
            [tuple(f"v{k}{j}" for j in range(len(odd))) for k in range(3)],
            f"INSERT INTO {SQL_TABLE} VALUES ({', '.join('?' * len(odd))})",
        ),
        by_id,
    )
    yield "table_empty", _sql_table([], primary=True), table
    yield "table_no_primary_key", _sql_table([_sql_row(110)]), table
    yield "table_missing", _sql_table([_sql_row(111)]), {"table": "nowhere", "key": "id"}
    yield "key_missing", _sql_table([_sql_row(112)]), {**table, "key": "nope"}
    yield "query_missing_table", _sql_table([_sql_row(113)]), {"query": "SELECT * FROM nowhere", "key": "id"}
    yield (
        "query_duplicate_columns",
        _sql_table([_sql_row(114), _sql_row(115)]),
        {"query": f"SELECT id, name, name, mobile, mobile AS name FROM {SQL_TABLE}", "key": "id"},
    )
    for name, query in SQL_WRITING_QUERIES.items():
        yield name, _sql_table([_sql_row(120)]), {"query": query, "key": "id"}


def sql_defects() -> Iterator[tuple[str, bytes, dict[str, Any]]]:
    """(name, data, params) of SQLite tables holding values SQLAlchemy's reflected column types cannot convert (a
    DATE or DATETIME out of range or not a date, text in a NUMERIC or DECIMAL column): they once escaped
    `connectors._sql.read_sql` as a ValueError or TypeError and stopped the whole run (see ``test_fuzz``)."""
    table = {"table": SQL_TABLE}
    dated = ["0000-00-00", "2024-02-30", "10000-01-01", "-0001-01-01", "yesterday", "", "2024-13-01 25:61:61", "1"]
    yield (
        "values_dates",
        _sqlite_bytes(  # typed columns: SQLAlchemy parses what it reflects as DATE and DATETIME
            [f"CREATE TABLE {SQL_TABLE} (id TEXT PRIMARY KEY, name TEXT, birthday DATE, updated DATETIME)"],
            [(f"S{90 + k:04d}", f"日期{k}", d, d) for k, d in enumerate(dated)],
            f"INSERT INTO {SQL_TABLE} VALUES (?, ?, ?, ?)",
        ),
        table,
    )
    yield (
        "values_declared_types",
        _sqlite_bytes(  # what a reflected type does with a value SQLite kept anyway
            [f"CREATE TABLE {SQL_TABLE} (id TEXT PRIMARY KEY, name VARCHAR(4), mobile NUMERIC, note JSON, "
             "company BOOLEAN, city DECIMAL(2, 1))"],
            [("S0100", "太长的名字" * 10, "abc", "{not json", "yes", "NaN"),
             ("S0101", "ok", "1e999", "[1, 2", "2", "1e400"),
             ("S0102", "ok", "13600000102", '{"a": 1}', "0", "-inf")],
            f"INSERT INTO {SQL_TABLE} VALUES (?, ?, ?, ?, ?, ?)",
        ),
        table,
    )  # fmt: skip


#: `sql_specials` queries that must be refused before they are sent: the database must be left unchanged.
SQL_WRITING_QUERIES = {
    "query_drop": f"DROP TABLE {SQL_TABLE}",
    "query_create": "CREATE TABLE x(a)",
    "query_second_statement": f"SELECT * FROM {SQL_TABLE}; DROP TABLE {SQL_TABLE}",
    "query_writing_cte": f"WITH a AS (SELECT 1) INSERT INTO {SQL_TABLE}(id) SELECT 'new' FROM a",
}


# ------------------------------------------------------------------------------------------------- the corpus

#: A family makes its ``i``-th file with ``rng`` (families with variants take variant ``i % n``).
Family = Callable[[random.Random, int], bytes | tuple[bytes, dict[str, Any]]]

#: (kind, family, how many files, the function); the composed families draw a new mix per file.
FAMILIES: list[tuple[str, str, int, Family]] = [
    ("csv", "composed", 420, csv_composed),
    ("xlsx", "truncated", 40, x_truncated),
    ("xlsx", "flipped", 30, x_flipped),
    ("xlsx", "stored_flipped", 15, x_stored_flipped),
    ("xlsx", "bad_xml", 50, x_bad_xml),
    ("xlsx", "dimension", 15, x_dimension),
    ("xlsx", "far_cells", 22, x_far_cells),
    ("xlsx", "refs", 20, x_refs),
    ("xlsx", "shared_strings", 25, x_shared),
    ("xlsx", "empty", 12, x_empty),
    ("xlsx", "many_sheets", 3, x_many_sheets),
    ("xlsx", "sheet_names", 8, x_sheet_names),
    ("xlsx", "targets", 6, x_targets),
    ("xlsx", "cell_types", 30, x_cell_types),
    ("xlsx", "big_cells", 4, x_big_cells),
    ("xlsx", "header", 8, x_header),
    ("xlsx", "not_xlsx", 15, x_not_xlsx),
    ("xlsx", "zip_weird", 8, x_zip_weird),
    ("xlsx", "row_level", 25, x_row_level),
    ("xlsx", "params", 7, x_params),
    ("xlsx", "openpyxl_truncated", 15, lambda rng, i: b_truncate(rng, _openpyxl_book(1))),
    ("xlsx", "openpyxl_flipped", 10, lambda rng, i: b_flip(rng, _openpyxl_book(2))),
    ("json", "composed", 150, json_composed),
    ("jsonl", "composed", 190, jsonl_composed),
]
SPECIALS: list[tuple[str, Callable[[], Iterator[tuple[str, bytes, dict[str, Any]]]]]] = [
    ("csv", csv_specials),
    ("json", json_specials),
    ("jsonl", jsonl_specials),
]
#: The family of `load_specials` cases: the fuzz suite loads each of them into every store.
LOAD_FAMILY = "load"
#: The family of `sql_specials` cases (SQLite databases read by the ``sql`` connector): loaded into every store too.
SQL_FAMILY = "sql"
_SUFFIX = {"csv": ".csv", "xlsx": ".xlsx", "json": ".json", "jsonl": ".jsonl", "sql": ".db"}


def _cases(seed: int) -> Iterator[tuple[str, str, str, Callable[[], tuple[bytes, dict[str, Any]]]]]:
    """(id, kind, family, make) of every case, in a fixed order; ``make`` builds the file only when called."""
    for kind, family, count, fn in FAMILIES:
        for i in range(count):

            def make(
                fn: Family = fn, rng_seed: str = f"{seed}:{kind}:{family}:{i}", i: int = i
            ) -> tuple[bytes, dict[str, Any]]:
                made = fn(random.Random(rng_seed), i)
                return made if isinstance(made, tuple) else (made, {})

            yield f"{kind}-{family}-{i:03d}", kind, family, make
    for kind, specials in SPECIALS:
        for name, data, params in specials():
            yield f"{kind}-special-{name}", kind, "special", lambda data=data, params=params: (data, params)
    for kind, name, data, params in load_specials():
        yield f"{kind}-{LOAD_FAMILY}-{name}", kind, LOAD_FAMILY, lambda data=data, params=params: (data, params)
    for name, data, params in sql_specials():
        yield f"sql-{SQL_FAMILY}-{name}", "sql", SQL_FAMILY, lambda data=data, params=params: (data, params)


def generate(folder: Path, seed: int = 11, *, only: set[str] | None = None) -> list[Case]:
    """Write the corpus into ``folder`` (one file per case, named by its id) and return its cases.

    Args:
        folder: Where the files go (created).
        seed: The corpus seed; the same seed writes the same bytes.
        only: Case ids to write (all when ``None``): regenerate one failing case to look at it.
    """
    folder.mkdir(parents=True, exist_ok=True)
    cases = []
    for case_id, kind, family, make in _cases(seed):
        if only is not None and case_id not in only:
            continue
        data, params = make()
        if len(data) > MAX_BYTES:
            raise AssertionError(f"{case_id}: {len(data):,} bytes, over the corpus limit of {MAX_BYTES:,}")
        name = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in case_id) + _SUFFIX[kind]
        (folder / name).write_bytes(data)
        cases.append(Case(case_id, kind, family, name, params))
    return cases

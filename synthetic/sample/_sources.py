"""Render the population into the three messy sources, with the truth row for every row a connector reads."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import random
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.utils import get_column_letter

from . import names as T
from ._population import Address, Company, Person, PopulationBuilder, pinyin_parts, to_traditional

if TYPE_CHECKING:
    from openpyxl.cell import Cell
    from openpyxl.worksheet._write_only import WriteOnlyWorksheet

SALES, LEGACY, WEB = "sales_workbook", "legacy_crm", "web_signups"
FIXED_TIME = dt.datetime(2024, 10, 1, 9, 0, 0)
V = TypeVar("V")
_FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


@dataclass(slots=True)
class Record:
    """One appearance of a person in one source, at one moment."""

    person: Person
    source: str
    when: dt.datetime


#: (source, source_key, entity_id, row_kind)
TruthRow = tuple[str, str, str, str]


def _pick(rng: random.Random, options: Sequence[tuple[V, float]]) -> V:
    """A weighted choice among (value, weight) pairs (one random draw; fast for short option lists)."""
    r = rng.random() * sum(w for _, w in options)
    for value, weight in options:
        r -= weight
        if r < 0:
            return value
    return options[-1][0]


# ------------------------------------------------------------------------------------------------- planning
_RECORDS_PER_ENTITY = ((1, 55.0), (2, 33.0), (3, 9.0), (4, 3.0))  # mean 1.6
_SOURCE_WEIGHTS = {
    True: ((SALES, 42.0), (LEGACY, 33.0), (WEB, 25.0)),
    False: ((SALES, 50.0), (LEGACY, 15.0), (WEB, 35.0)),
}
_SOURCE_PERIODS = {
    LEGACY: (dt.date(2016, 1, 1), dt.date(2022, 12, 31)),
    SALES: (dt.date(2023, 1, 1), dt.date(2024, 9, 30)),
    WEB: (dt.date(2023, 6, 1), dt.date(2025, 6, 30)),
}


def plan_records(people: list[Person], b: PopulationBuilder) -> list[Record]:
    """Decide how often and where each person appears (1-4 records, about 1.6 on average)."""
    rng = b.rng
    records = []
    for p in people:
        n = _pick(rng, _RECORDS_PER_ENTITY)
        for _ in range(n):
            source = _pick(rng, _SOURCE_WEIGHTS[p.cn])
            start, end = _SOURCE_PERIODS[source]
            records.append(Record(p, source, b.when(start, end)))
        p.records = n
    return records


# ---------------------------------------------------------------------------------------- facts at a time
def mobile_at(p: Person, when: dt.datetime) -> tuple[str, str]:
    if p.phone_changed_at is not None and when < p.phone_changed_at:
        return p.mobiles[0]
    return p.mobiles[-1]


def email_at(p: Person, when: dt.datetime, rng: random.Random) -> str | None:
    private = None
    if p.emails:
        private = p.emails[0] if p.email_changed_at is not None and when < p.email_changed_at else p.emails[-1]
    if p.work_email and (private is None or rng.random() < 0.4):
        return p.work_email
    return private


# ------------------------------------------------------------------------------------------------- formatting
def digit_typo(text: str, rng: random.Random) -> str:
    """Change one digit (not in the first three), keeping the formatting."""
    positions = [i for i, ch in enumerate(text) if ch.isdigit()][3:]
    if not positions:
        return text
    i = rng.choice(positions)
    new = rng.choice([d for d in "0123456789" if d != text[i]])
    return text[:i] + new + text[i + 1 :]


def fmt_mobile(phone: tuple[str, str], rng: random.Random, fullwidth: float = 0.0) -> str:
    cc, n = phone
    r = rng.random()
    if cc == "86":
        if r < fullwidth:
            return n.translate(_FULLWIDTH)
        style = _pick(
            rng,
            (
                ("plain", 45),
                ("s", 12),
                ("d", 10),
                ("+s", 10),
                ("+", 8),
                ("86", 6),
                ("0086", 3),
                ("paren", 3),
                ("+d", 3),
            ),
        )
        return {
            "plain": n,
            "s": f"{n[:3]} {n[3:7]} {n[7:]}",
            "d": f"{n[:3]}-{n[3:7]}-{n[7:]}",
            "+s": f"+86 {n[:3]} {n[3:7]} {n[7:]}",
            "+": f"+86{n}",
            "86": f"86{n}",
            "0086": f"0086 {n}",
            "paren": f"(+86){n}",
            "+d": f"+86-{n[:3]}-{n[3:7]}-{n[7:]}",
        }[style]
    if cc == "1":
        a, x, y = n[:3], n[3:6], n[6:]
        return rng.choice(
            (
                f"+1 {a}-{x}-{y}",
                f"+1 ({a}) {x}-{y}",
                f"+1{n}",
                f"001 {a} {x} {y}",
                f"+1 {a}.{x}.{y}",
                f"({a}) {x}-{y}",
            )
        )
    if cc == "44":
        return rng.choice(
            (
                f"+44 {n[:4]} {n[4:]}",
                f"+44{n}",
                f"0044 {n[:4]} {n[4:]}",
                f"+44 (0){n[:4]} {n[4:]}",
                f"0{n[:4]} {n[4:]}",
            )
        )
    return rng.choice((f"+49 {n[:3]} {n[3:]}", f"+49{n}", f"0049 {n}", f"0{n[:3]} {n[3:]}"))


def fmt_landline(line: tuple[str, str], rng: random.Random, ext: str | None = None) -> str:
    area, local = line
    style = _pick(
        rng,
        (("dash", 50), ("paren", 12), ("plain", 10), ("space", 10), ("+86", 8), ("local", 5), ("dash2", 5)),
    )
    text = {
        "dash": f"{area}-{local}",
        "paren": f"({area}){local}",
        "plain": f"{area}{local}",
        "space": f"{area} {local}",
        "+86": f"+86 {area[1:]} {local}",
        "local": local,
        "dash2": f"{area}-{local[:3]}-{local[3:]}",
    }[style]
    if ext:
        text += rng.choice(("转", "-", " ext. ", "转分机")) + ext
    return text


def fmt_cn_name(p: Person, rng: random.Random, *, trad: float, pinyin: float, typo: float = 0.04) -> str:
    r = rng.random()
    if r < pinyin:
        fam, giv = pinyin_parts(p.family, p.given)
        return rng.choice(
            (
                f"{fam} {giv}",
                f"{giv} {fam}",
                f"{fam.upper()} {giv}",
                f"{fam.lower()} {giv.lower()}",
                f"{fam}{giv.lower()}",
                f"{giv} {fam.upper()}",
            )
        )
    r -= pinyin
    if r < trad:
        return to_traditional(p.name)
    r -= trad
    if r < typo:
        i = rng.randrange(len(p.name))
        ch = p.name[i]
        pool = T.HOMOPHONES.get(ch) or (T.GIVEN_CHARS_MALE if p.gender == "M" else T.GIVEN_CHARS_FEMALE)
        return p.name[:i] + rng.choice([c for c in pool if c != ch] or ["小"]) + p.name[i + 1 :]
    r -= typo
    if r < 0.03 and len(p.name) == 2:
        return f"{p.name[0]} {p.name[1]}"
    if r < 0.05:
        return p.name + rng.choice((" ", "\u3000", "（先生）" if p.gender == "M" else "（女士）"))
    return p.name


def _swap_letters(word: str, rng: random.Random) -> str:
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 2)
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def fmt_west_name(p: Person, rng: random.Random) -> str:
    first, last = p.given, p.family
    if p.nickname and rng.random() < 0.2:
        first = p.nickname if rng.random() < 0.7 else f'{p.given} "{p.nickname}"'
    r = rng.random()
    if r < 0.06:
        name = f"{last}, {first}"
    elif r < 0.10:
        name = f"{first} {last}".upper()
    elif r < 0.14:
        name = f"{first} {last}".lower()
    elif r < 0.18:
        name = f"{first} {rng.choice('ABCDEFGHJKLMNPRSTW')}. {last}"
    elif r < 0.23:
        name = f"{_swap_letters(first, rng)} {last}" if rng.random() < 0.5 else f"{first} {_swap_letters(last, rng)}"
    elif r < 0.26:
        name = f"{'Mr.' if p.gender == 'M' else 'Ms.'} {first} {last}"
    else:
        name = f"{first} {last}"
    if p.generation and rng.random() < 0.6:
        name += f" {p.generation}" if rng.random() < 0.5 else f", {p.generation}"
    return name


def fmt_name(p: Person, source: str, rng: random.Random, english_sheet: bool = False) -> str:
    if not p.cn:
        return fmt_west_name(p, rng)
    if source == LEGACY:
        return fmt_cn_name(p, rng, trad=0.15, pinyin=0.01)
    if source == WEB:
        return fmt_cn_name(p, rng, trad=0.03, pinyin=0.12)
    if not english_sheet and rng.random() < 0.01:
        return p.family + rng.choice(("总", "经理", "老师", "工"))  # what salespeople really type
    return fmt_cn_name(p, rng, trad=0.04, pinyin=0.5 if english_sheet else 0.03)


def fmt_email(email: str, rng: random.Random) -> str:
    local, _, domain = email.partition("@")
    r = rng.random()
    if r < 0.06:
        return f"{local[:1].upper()}{local[1:]}@{domain.upper() if rng.random() < 0.5 else domain.capitalize()}"
    if r < 0.08:
        return email.upper()
    if r < 0.12 and domain in T.EMAIL_DOMAIN_TYPOS:
        return f"{local}@{rng.choice(T.EMAIL_DOMAIN_TYPOS[domain])}"
    if r < 0.14:
        return f" {email} " if rng.random() < 0.5 else email + " "
    if r < 0.155:
        return email.replace("@", "＠")
    if r < 0.165 and len(local) > 4:
        return f"{_swap_letters(local, rng)}@{domain}"
    return email


def fmt_company(c: Company, rng: random.Random, english: float = 0.06) -> str:
    if not c.cn:
        long = c.english
        return _pick(
            rng,
            (
                (c.canonical, 50),
                (long, 15),
                (c.brand, 15),
                (c.canonical.upper(), 8),
                (c.canonical.rstrip(".") + ".", 6),
                (f"{c.brand} Co.", 6),
            ),
        )
    core = c.brand + c.industry
    alt_suffix = "有限责任公司" if c.suffix == "有限公司" else "有限公司"
    return _pick(
        rng,
        (
            (c.canonical, 40),
            (core, 18),
            (c.city_short + core + alt_suffix, 10),
            (core + c.suffix, 10),
            (c.city_full + core + c.suffix, 7),
            (c.english, english * 100),
            (c.english.upper().replace(", ", ","), 2),
            (to_traditional(c.canonical), 4),
            (f"{core}（{c.city_short}）{c.suffix}", 4),
            (f"{c.city_short}{c.brand}", 3),
        ),
    )


def _cn_street(a: Address, fullwidth: bool = False) -> str:
    num = str(a.number).translate(_FULLWIDTH) if fullwidth else str(a.number)
    return f"{a.street}{num}号"


def fmt_address(a: Address, rng: random.Random, comma: float = 0.0) -> str:
    if not a.cn:
        if a.country == "USA":
            text = f"{a.number} {a.street}, {a.city}, {a.region} {a.postcode}"
        elif a.country == "UK":
            text = f"{a.number} {a.street}, {a.city} {a.postcode}"
        else:
            text = f"{a.street} {a.number}, {a.postcode} {a.city}"
        if rng.random() < 0.5:
            text += f", {a.country}"
        return text.upper() if rng.random() < 0.05 else text
    street = _cn_street(a)
    extra = a.extra if rng.random() < 0.8 else ""
    if extra and rng.random() < comma:
        return f"{a.province}{a.city}{a.district}{street},{extra}"
    province_short = a.province[:-1] if a.province else ""
    style = _pick(
        rng,
        (
            ("full", 35),
            ("noprov", 25),
            ("short", 10),
            ("spaced", 8),
            ("fw", 5),
            ("trad", 4),
            ("district", 8),
            ("nocity", 5),
        ),
    )
    if style == "full":
        return f"{a.province}{a.city}{a.district}{street}{extra}"
    if style == "noprov":
        return f"{a.city}{a.district}{street}{extra}"
    if style == "short":
        return f"{province_short}{a.city[:-1]}{a.district}{street}{extra}"
    if style == "spaced":
        return " ".join(x for x in (a.province, a.city, a.district, street + extra) if x)
    if style == "fw":
        return f"{a.province}{a.city}{a.district}{_cn_street(a, fullwidth=True)}{extra}"
    if style == "trad":
        return to_traditional(f"{a.province}{a.city}{a.district}{street}{extra}")
    if style == "district":
        return f"{a.district}{street}{extra}"
    return f"{a.city[:-1]}{street}{extra}"


def fmt_city(a: Address, rng: random.Random) -> str:
    if not a.cn:
        return a.city
    return _pick(
        rng,
        (
            (a.city[:-1], 40),
            (a.city, 30),
            (a.city_en, 10),
            (f"{a.province[:-1]}{a.city[:-1]}", 8),
            (a.district, 7),
            (a.city_en.lower(), 5),
        ),
    )


def fmt_birth_text(d: dt.date, rng: random.Random, english: bool = False) -> str:
    if english:
        return rng.choice((d.strftime("%b ") + f"{d.day}, {d.year}", f"{d.day} " + d.strftime("%B %Y"), d.isoformat()))
    return _pick(
        rng,
        (
            (f"{d.year}年{d.month}月{d.day}日", 30),
            (f"{d.year}/{d.month}/{d.day}", 25),
            (f"{d.year % 100:02d}.{d.month}.{d.day}", 10),
            (d.isoformat(), 20),
            (f"{d.year}.{d.month:02d}.{d.day:02d}", 10),
            (f"{d.year}{d.month:02d}{d.day:02d}", 5),
        ),
    )


def fmt_notes(rng: random.Random, tricky: float, english: bool = False) -> str:
    if english:
        return rng.choice(T.NOTES_EN)
    return rng.choice(T.NOTES_TRICKY) if rng.random() < tricky else rng.choice(T.NOTES_CN)


# ------------------------------------------------------------------------------------------------- xlsx
@dataclass(slots=True)
class SheetSpec:
    """One salesperson's sheet: which columns, under which headers, with which decorations."""

    title: str
    english: bool
    columns: list[str]
    headers: list[str]
    title_rows: int  # 0, 1 (merged title) or 2 (merged title and a blank row)
    total_row: bool  # an empty row and a 合计 row at the bottom
    date_format: str
    records: list[Record]


_OPTIONAL_COLUMNS = (
    ("landline", 0.35),
    ("email", 0.8),
    ("company", 0.9),
    ("job_title", 0.3),
    ("address", 0.7),
    ("birth_date", 0.65),
    ("gender", 0.6),
    ("segment", 0.3),
    ("wechat", 0.3),
    ("notes", 0.7),
    ("updated_at", 0.85),
)
_COLUMN_ORDER = (
    "seq",
    "name",
    "gender",
    "phone",
    "landline",
    "wechat",
    "email",
    "company",
    "job_title",
    "address",
    "birth_date",
    "segment",
    "notes",
    "updated_at",
)


def _sheet_specs(rng: random.Random) -> list[SheetSpec]:
    n_sheets = rng.randint(3, 6)
    names = rng.sample(T.SALESPEOPLE, n_sheets - 1)
    specs = []
    for i, title in enumerate(names):
        cols = ["name", "phone"] + [c for c, p in _OPTIONAL_COLUMNS if rng.random() < p]
        if rng.random() < 0.4:
            cols.append("seq")
        cols.sort(key=_COLUMN_ORDER.index)
        if len(cols) > 4 and rng.random() < 0.5:  # someone dragged a column
            j = rng.randrange(2, len(cols) - 1)
            cols[j], cols[j + 1] = cols[j + 1], cols[j]
        headers = [rng.choice(T.SHEET_HEADERS_CN[c]) for c in cols]
        title_rows = 2 if i == 0 else 1 if i == 1 else rng.choice((0, 0, 1, 2))
        specs.append(
            SheetSpec(
                title,
                False,
                cols,
                headers,
                title_rows,
                total_row=(i % 2 == 0),
                date_format=rng.choice(("yyyy-mm-dd", 'yyyy"年"m"月"d"日"', "yyyy/m/d")),
                records=[],
            )
        )
    cols = [
        "name",
        "phone",
        "email",
        "company",
        "job_title",
        "address",
        "birth_date",
        "gender",
        "notes",
        "updated_at",
    ]
    specs.append(
        SheetSpec(
            T.WESTERN_SALESPERSON,
            True,
            cols,
            [T.SHEET_HEADERS_EN[c] for c in cols],
            0,
            total_row=False,
            date_format="m/d/yyyy",
            records=[],
        )
    )
    return specs


def _phone_cell(ws: WriteOnlyWorksheet, p: Person, rec: Record, spec: SheetSpec, rng: random.Random) -> object:
    phone = mobile_at(p, rec.when)
    if phone[0] == "86" and not spec.english:
        r = rng.random()
        if r < 0.28:
            return int(phone[1]) if rng.random() > 0.02 else int(digit_typo(phone[1], rng))
        if r < 0.31:
            cell = WriteOnlyCell(ws, value=float(phone[1]))
            cell.number_format = "0.0000000E+00"
            return cell
        text = fmt_mobile(phone, rng, fullwidth=0.09)
    else:
        text = fmt_mobile(phone, rng)
    return digit_typo(text, rng) if rng.random() < 0.015 else text


def _date_cell(ws: WriteOnlyWorksheet, value: dt.date | dt.datetime, number_format: str) -> Cell:
    cell = WriteOnlyCell(ws, value=value)  # type: ignore[arg-type]  # openpyxl writes dates; its stubs say datetime
    cell.number_format = number_format
    return cell


def _sheet_row(ws: WriteOnlyWorksheet, rec: Record, seq: int, spec: SheetSpec, rng: random.Random) -> list[object]:
    p = rec.person
    en = spec.english
    email = email_at(p, rec.when, rng) if "email" in spec.columns and rng.random() < (0.85 if en else 0.6) else None
    values: list[object] = []
    for col in spec.columns:
        v: object = None
        if col == "seq":
            v = seq
        elif col == "name":
            v = fmt_name(p, SALES, rng, english_sheet=en)
        elif col == "phone":
            if email is None or rng.random() < 0.9:
                v = _phone_cell(ws, p, rec, spec, rng)
            elif p.landline and "landline" not in spec.columns:
                v = fmt_landline(p.landline, rng)
        elif col == "landline":
            if p.landline and rng.random() < 0.6:
                v = fmt_landline(p.landline, rng)
            elif p.company and p.company.switchboard and rng.random() < 0.4:
                v = fmt_landline(
                    p.company.switchboard,
                    rng,
                    ext=str(rng.randint(800, 8999)) if rng.random() < 0.3 else None,
                )
        elif col == "email":
            v = fmt_email(email, rng) if email else None
        elif col == "company":
            v = fmt_company(p.company, rng, english=0.4 if en else 0.04) if p.company and rng.random() < 0.9 else None
        elif col == "job_title":
            v = p.job_title if rng.random() < 0.8 else None
        elif col == "address":
            v = fmt_address(p.address, rng) if rng.random() < 0.7 else None
        elif col == "birth_date":
            if p.birth and rng.random() < 0.5:
                v = (
                    _date_cell(ws, p.birth, spec.date_format)
                    if rng.random() < 0.45
                    else fmt_birth_text(p.birth, rng, english=en)
                )
        elif col == "gender":
            if rng.random() < 0.75:
                v = (("M", "F") if en and rng.random() < 0.6 else ("Male", "Female") if en else ("男", "女"))[
                    p.gender == "F"
                ]
        elif col == "segment":
            v = rng.choice(T.SEGMENTS) if rng.random() < 0.7 else None
        elif col == "wechat":
            v = p.wechat if rng.random() < 0.8 else None
        elif col == "notes":
            v = fmt_notes(rng, 0.1, english=en) if rng.random() < 0.45 else None
        elif col == "updated_at":
            r = rng.random()
            if r < 0.35:
                v = _date_cell(ws, rec.when.replace(second=0), "yyyy-mm-dd hh:mm")
            elif r < 0.6:
                v = _date_cell(ws, rec.when.date(), spec.date_format)
            elif r < 0.8:
                v = rec.when.strftime("%Y-%m-%d")
            else:
                v = f"{rec.when.year}/{rec.when.month}/{rec.when.day}" if not en else rec.when.strftime("%m/%d/%Y")
        values.append(v)
    return values


def write_sales(path: Path, records: list[Record], rng: random.Random) -> tuple[list[TruthRow], list[SheetSpec]]:
    """Write the sales workbook: one sheet per salesperson; returns the truth rows and the sheet layouts."""
    specs = _sheet_specs(rng)
    tom, cn_specs = specs[-1], specs[:-1]
    for rec in records:
        to_tom = rng.random() < (0.04 if rec.person.cn else 0.6)
        (tom if to_tom else rng.choice(cn_specs)).records.append(rec)
    wb = Workbook(write_only=True)
    truth: list[TruthRow] = []
    for spec in specs:
        ws = wb.create_sheet(spec.title)
        spec.records.sort(key=lambda r: r.when)
        last_col = get_column_letter(len(spec.columns))
        if spec.title_rows:
            title = rng.choice(
                (
                    f"2024年第三季度客户名单 — {spec.title}",
                    f"{spec.title}的客户（截至2024年9月30日）",
                    f"客户资料汇总表（{spec.title}）",
                )
            )
            ws.append([title])
            ws.merged_cells.add(f"A1:{last_col}1")
            if spec.title_rows == 2:
                ws.append([])
        ws.append(spec.headers)
        row = spec.title_rows + 2
        for seq, rec in enumerate(spec.records, 1):
            ws.append(_sheet_row(ws, rec, seq, spec, rng))
            truth.append((SALES, f"{spec.title}!{row}", rec.person.entity_id, "record"))
            row += 1
        if spec.total_row:
            ws.append([])
            truth.append((SALES, f"{spec.title}!{row}", "", "empty"))
            total: list[object] = [None] * len(spec.columns)
            total[0] = "Total" if spec.english else "合计"
            total[1] = f"{len(spec.records)} customers" if spec.english else f"共{len(spec.records)}人"
            ws.append(total)
            truth.append((SALES, f"{spec.title}!{row + 1}", "", "total"))
    wb.properties.creator = "crmkit sample"
    wb.properties.created = FIXED_TIME
    wb.save(path)
    _make_zip_reproducible(path)
    return truth, specs


def _make_zip_reproducible(path: Path) -> None:
    """Fix the zip entry timestamps and the core properties' modified time openpyxl sets to now."""
    with zipfile.ZipFile(path) as src:
        entries = [(info.filename, src.read(info.filename)) for info in src.infolist()]
    stamp = FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for name, data in entries:
            if name == "docProps/core.xml":
                data = re.sub(
                    rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                    rb"\g<1>" + stamp + rb"\g<2>",
                    data,
                )
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(info, data)


# ------------------------------------------------------------------------------------------------- csv
def _legacy_fields(rec: Record, khbh: str, rng: random.Random) -> list[str]:
    p = rec.person
    mobile = ""
    if rng.random() < 0.85:
        phone = mobile_at(p, rec.when)
        mobile = phone[1] if phone[0] == "86" and rng.random() < 0.75 else fmt_mobile(phone, rng)
        if rng.random() < 0.015:
            mobile = digit_typo(mobile, rng)
    landline = ""
    if p.landline and rng.random() < 0.7:
        landline = fmt_landline(p.landline, rng)
    elif p.company and p.company.switchboard and rng.random() < 0.35:
        landline = fmt_landline(
            p.company.switchboard, rng, ext=str(rng.randint(800, 8999)) if rng.random() < 0.3 else None
        )
    email = email_at(p, rec.when, rng) if rng.random() < 0.45 else None
    if not mobile and not email:
        mobile = mobile_at(p, rec.when)[1]
    name = fmt_name(p, LEGACY, rng)
    if p.company and rng.random() < 0.85:
        company = fmt_company(p.company, rng)
    else:
        company = name if rng.random() < 0.5 else ""  # individual customers: the person is the customer
    birth = ""
    if p.birth and rng.random() < 0.55:
        birth = f"{p.birth.year}{p.birth.month:02d}{p.birth.day:02d}"
    elif rng.random() < 0.05:
        birth = "19000101"  # the old system's "unknown"
    gender = {"M": "1", "F": "2"}[p.gender] if rng.random() < 0.8 else rng.choice(("", "0"))
    status = _pick(rng, (("1", 85), ("2", 10), ("9", 5)))
    notes = fmt_notes(rng, 0.25) if rng.random() < 0.4 else ""
    if len(p.mobiles) > 1 and mobile and rng.random() < 0.1:
        notes = (notes + "；" if notes else "") + "客户换号了"
    return [
        khbh,
        company,
        name,
        mobile,
        landline,
        fmt_email(email, rng) if email else "",
        fmt_address(p.address, rng, comma=0.15) if rng.random() < 0.75 else "",
        birth,
        gender,
        status,
        rec.when.strftime("%Y-%m-%d %H:%M:%S"),
        notes,
    ]


def write_legacy(path: Path, records: list[Record], rng: random.Random) -> list[TruthRow]:
    """Write the legacy CRM export: GB18030, CRLF, cryptic columns, one malformed row."""
    records = sorted(records, key=lambda r: r.when)
    rows: list[tuple[str, list[str] | str, str]] = []  # (row kind, fields or raw line, entity id)
    number = 100000
    for rec in records:
        number += rng.randint(1, 3)
        rows.append(("record", _legacy_fields(rec, f"KH{number}", rng), rec.person.entity_id))
    for _ in range(1 + len(records) // 15000):
        number += 1
        spam = [
            f"KH{number}",
            "测试公司",
            rng.choice(("测试", "test", "测试1")),
            rng.choice(T.SPAM_PHONES),
            "",
            rng.choice(T.SPAM_EMAILS),
            "",
            "",
            "",
            "9",
            "2019-01-01 00:00:00",
            "系统测试数据，勿删",
        ]
        rows.insert(rng.randint(0, len(rows)), ("spam", spam, ""))
    # One broken row: an address with an unquoted comma gives 13 fields instead of 12.
    broken = (
        ",".join(
            (
                f"KH{number + 1}",
                "聊城鲁信纺织有限公司",
                "孙丽",
                "13906351234",
                "",
                "",
                "山东省聊城市东昌府区柳园路8号",
                "华兴大厦",
                "19800101",
                "2",
                "1",
                "2021-07-01 09:30:00",
                "",
            )
        )
        + "\r\n"
    )
    rows.insert(rng.randint(1, len(rows)), ("malformed", broken, ""))

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")

    def render(fields: list[str]) -> str:
        buf.seek(0)
        buf.truncate()
        writer.writerow(fields)
        return buf.getvalue()

    chunks = [render([c for c, _, _ in T.LEGACY_COLUMNS])]
    truth: list[TruthRow] = []
    line = 2  # the header is line 1
    for kind, fields, eid in rows:
        text = fields if isinstance(fields, str) else render(fields)
        chunks.append(text)
        truth.append((LEGACY, str(line), eid, kind))
        line += text.count("\n")  # quoted line breaks inside a field start new physical lines
    path.write_bytes("".join(chunks).encode("gb18030"))
    return truth


# ------------------------------------------------------------------------------------------------- jsonl
def _signup(rec: Record, rng: random.Random) -> dict[str, object]:
    p = rec.person
    obj: dict[str, object] = {"name": fmt_name(p, WEB, rng)}
    if rng.random() < 0.88:
        phone = mobile_at(p, rec.when)
        text = fmt_mobile(phone, rng)
        if rng.random() < 0.015:
            text = digit_typo(text, rng)
        obj["mobile"] = int(phone[1]) if phone[0] == "86" and rng.random() < 0.08 else text
    email = email_at(p, rec.when, rng) if rng.random() < 0.85 else None
    if email:
        obj["email"] = fmt_email(email, rng)
    elif "mobile" not in obj:
        obj["mobile"] = mobile_at(p, rec.when)[1]
    if p.company and rng.random() < 0.55:
        obj["company"] = fmt_company(p.company, rng, english=0.1)
    if rng.random() < 0.7:
        obj["city"] = fmt_city(p.address, rng)
    obj["signup_at"] = _iso(rec.when, rng)
    obj["utm_source"] = rng.choice(T.UTM_SOURCES) if rng.random() < 0.8 else None
    obj["consent"] = rng.random() < 0.9
    for key in ("email", "company", "city"):  # forms send empty strings or nulls for skipped fields
        if key not in obj and rng.random() < 0.3:
            obj[key] = rng.choice(("", None))
    return obj


def _iso(when: dt.datetime, rng: random.Random) -> str:
    r = rng.random()
    if r < 0.7:
        return when.strftime("%Y-%m-%dT%H:%M:%S+08:00")
    utc = when - dt.timedelta(hours=8)
    if r < 0.9:
        return utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{rng.randrange(1000):03d}Z"


def write_signups(path: Path, records: list[Record], b: PopulationBuilder) -> list[TruthRow]:
    """Write web sign-ups as JSON Lines: repeats, spam, one truncated line and one blank line."""
    rng = b.rng
    lines: list[tuple[dt.datetime, str, str, str]] = []  # (time, text, entity id, kind)
    for rec in records:
        obj = _signup(rec, rng)
        text = json.dumps(obj, ensure_ascii=rng.random() < 0.2)
        lines.append((rec.when, text, rec.person.entity_id, "record"))
        if rng.random() < 0.06:  # pressed submit twice
            lines.append((rec.when, text, rec.person.entity_id, "record"))
            rec.person.records += 1
    start, end = _SOURCE_PERIODS[WEB]
    for _ in range(max(3, len(records) // 40)):
        spam: dict[str, object] = {
            "name": rng.choice(T.SPAM_NAMES),
            "mobile": rng.choice(T.SPAM_PHONES),
            "email": rng.choice(T.SPAM_EMAILS),
        }
        if rng.random() < 0.5:
            spam["company"] = rng.choice(("asdf", "test", "http://seo-boost.example", "www.example.com"))
        when = b.when(start, end)
        spam.update(signup_at=_iso(when, rng), utm_source=None, consent=rng.random() < 0.5)
        lines.append((when, json.dumps(spam, ensure_ascii=False), "", "spam"))
    lines.sort(key=lambda x: x[0])
    source = next((t for t in lines if t[3] == "record"), None)
    truncated = source[1] if source else '{"name": "王芳", "mobile": "13800138000"}'
    lines.insert(rng.randint(1, len(lines)), (FIXED_TIME, truncated[: max(10, len(truncated) // 2)], "", "malformed"))
    # The blank line sits between two lines: some readers take a trailing blank line for the end of file.
    lines.insert(rng.randint(1, max(1, len(lines) - 1)), (FIXED_TIME, "", "", "empty"))
    path.write_bytes("".join(text + "\n" for _, text, _, _ in lines).encode("utf-8"))
    return [(WEB, str(i), eid, kind) for i, (_, _, eid, kind) in enumerate(lines, 1)]

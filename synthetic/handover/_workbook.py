"""The sales reps' workbook: one sheet per rep, each laid out the way that rep liked it.

No timestamps; headers differ per sheet; some sheets have a title above the header; phone cells are numbers
(the leading zero of a landline lost), floats pasted as text (``13812345678.0``), full-width digits, or several
numbers in one cell; companies are written the way the rep says them (正宇, 正宇钢管, Zhengyu Steel Pipe); names
carry titles (陈总, 王经理) or are typed in pinyin. Blank rows, a 合计 row, a pasted second header, region
section rows and pre-numbered empty rows are layout, not customers.
"""

from __future__ import annotations

import datetime as dt
import random
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from . import _render as R
from . import _vocab as V
from ._people import WORKBOOK, Company, Person, Rec, Weighted, World

if TYPE_CHECKING:
    from openpyxl.worksheet._write_only import WriteOnlyWorksheet

#: A fixed moment for every timestamp inside the xlsx (zip entries, document properties): same seed, same bytes.
FIXED_TIME = dt.datetime(2024, 1, 2, 9, 0, 0)

Fact = tuple[int, str, str]
TruthRow = tuple[str, str, str, str]


@dataclass(frozen=True)
class Sheet:
    """How one rep keeps their list."""

    name: str
    title: tuple[str, ...]  # single-cell rows above the header
    columns: tuple[tuple[str, str], ...]  # (header, what it holds)
    weights: tuple[float, float, float]  # share of business, consumer and expat rows this rep holds
    numeric: float = 0.5  # phone cells stored as numbers
    total: str = ""  # the 合计 row's first cell
    blank_rows: float = 0.012
    repeated_header: bool = False
    sections: bool = False
    prenumbered: int = 0
    footnote: str = ""


#: What each kind of column is mapped to in the project file (None: left unmapped, kept in attributes).
FIELDS: dict[str, str | None] = {
    "seq": None,
    "name": "full_name",
    "company": "company",
    "title": "job_title",
    "mobile": "phone",
    "landline": "phone",
    "phone": "phone",
    "home_phone": "phone",
    "email": "email",
    "email_qq": "email",
    "address": "address",
    "region": "city",
    "province": "province",
    "city": "city",
    "birthday": "birth_date",
    "gender": "gender",
    "wechat": "wechat",
    "notes": "notes",
    "fax": None,
}

SHEETS: tuple[Sheet, ...] = (
    Sheet(
        "张经理",
        ("张经理客户资料表（2019年整理）",),
        (
            ("序号", "seq"),
            ("客户姓名", "name"),
            ("公司名称", "company"),
            ("职务", "title"),
            ("手机", "mobile"),
            ("固话", "landline"),
            ("邮箱", "email"),
            ("地址", "address"),
            ("备注", "notes"),
        ),
        (18, 3, 4),
        numeric=0.7,
        total="合计",
        prenumbered=6,
        footnote="注：标红的是重点客户，勿外传",
    ),
    Sheet(
        "李娜",
        (),
        (
            ("姓名", "name"),
            ("单位", "company"),
            ("电话", "phone"),
            ("Email", "email"),
            ("地址", "address"),
            ("生日", "birthday"),
            ("备注", "notes"),
        ),
        (14, 15, 3),
        numeric=0.4,
    ),
    Sheet(
        "王强",
        ("客户通讯录", "制表：王强"),
        (
            ("编号", "seq"),
            ("联系人", "name"),
            ("公司", "company"),
            ("联系电话", "phone"),
            ("邮箱", "email"),
            ("地区", "region"),
            ("详细地址", "address"),
            ("备注", "notes"),
        ),
        (14, 3, 2),
        numeric=0.3,
        total="合计",
        sections=True,
    ),
    Sheet(
        "刘洋",
        (),
        (
            ("客户名称", "company"),
            ("联系人", "name"),
            ("手机号码", "mobile"),
            ("办公电话", "landline"),
            ("电子邮箱", "email"),
            ("地址", "address"),
        ),
        (12, 1, 2),
        numeric=0.6,
        total="总计",
    ),
    Sheet(
        "陈静",
        ("零售客户登记",),
        (
            ("姓名", "name"),
            ("性别", "gender"),
            ("生日", "birthday"),
            ("手机", "mobile"),
            ("微信", "wechat"),
            ("家庭电话", "home_phone"),
            ("地址", "address"),
            ("备注", "notes"),
        ),
        (3, 60, 3),
        numeric=0.5,
        total="合计",
    ),
    Sheet(
        "赵总",
        (),
        (
            ("公司", "company"),
            ("联系人", "name"),
            ("职位", "title"),
            ("电话", "phone"),
            ("传真", "fax"),
            ("邮箱", "email"),
            ("公司地址", "address"),
        ),
        (10, 1, 3),
        numeric=0.2,
    ),
    Sheet(
        "孙丽华",
        (),
        (
            ("客户", "name"),
            ("手机/电话", "phone"),
            ("QQ/邮箱", "email_qq"),
            ("单位名称", "company"),
            ("地址", "address"),
            ("出生日期", "birthday"),
            ("跟进记录", "notes"),
        ),
        (10, 15, 3),
        numeric=0.5,
        total="合计",
    ),
    Sheet(
        "周杰",
        ("周杰 - 客户明细",),
        (
            ("序号", "seq"),
            ("姓名", "name"),
            ("公司名称", "company"),
            ("手机", "mobile"),
            ("固定电话", "landline"),
            ("邮箱", "email"),
            ("省份", "province"),
            ("城市", "city"),
            ("地址", "address"),
            ("备注", "notes"),
        ),
        (14, 2, 4),
        numeric=0.6,
        total="小计",
        repeated_header=True,
        prenumbered=4,
    ),
    Sheet(
        "Tony",
        ("Customer List (Tony)",),
        (
            ("Name", "name"),
            ("Company", "company"),
            ("Title", "title"),
            ("Mobile", "mobile"),
            ("Tel", "landline"),
            ("Email", "email"),
            ("Address", "address"),
            ("Remarks", "notes"),
        ),
        (5, 0.5, 76),
        numeric=0.3,
        total="Total",
    ),
)

NAME_STYLES = {
    "plain": 72,
    "with_title": 5,
    "title_only": 3,
    "pinyin": 3,
    "traditional": 2.5,
    "sound_alike": 2,
    "spaced": 6,
    "english": 4,
}
NAME_STYLES_TONY = {"plain": 45, "english": 35, "pinyin": 20}
COMPANY_STYLES = {
    "full": 42,
    "short": 18,
    "brand": 8,
    "city_brand": 8,
    "no_city": 6,
    "english": 4,
    "traditional": 2.5,
    "typo": 3,
    "wrong_suffix": 3,
    "no_suffix": 3,
    "paren_city": 1,
    "city_form": 2,
}
COMPANY_STYLES_TONY = {"english": 45, "full": 30, "short": 25}
MOBILE_TEXT_STYLES = {"plain": 70, "spaced": 10, "dashed": 8, "plus86": 4, "fullwidth": 8}
LANDLINE_STYLES = {"dashed": 55, "plain": 10, "paren": 8, "spaced": 10, "fullwidth": 4, "local": 8, "plus86": 5}
ADDRESS_STYLES = {
    "full": 25,
    "no_province": 30,
    "district": 15,
    "street": 8,
    "spaced": 7,
    "comma": 5,
    "short_city": 7,
    "fullwidth": 3,
}


class SheetWriter:
    """Renders one rep's rows."""

    def __init__(self, world: World, sheet: Sheet, rng: random.Random) -> None:
        self.world = world
        self.sheet = sheet
        self.rng = rng
        self.facts: list[Fact] = []
        self.tony = sheet.name == "Tony"

    def _fact(self, p: Person, kind: str, value: str) -> None:
        self.facts.append((p.pid, kind, value))

    def _mobile_cell(self, p: Person, number: str) -> object:
        rng = self.rng
        as_number = rng.random() < self.sheet.numeric
        if not as_number and rng.random() < 0.005:
            return f"{number[0]}.{number[1:6]}E+10"  # a narrow column copied as displayed: the number is gone
        self._fact(p, "phone", number)
        if as_number:
            return int(number)
        if rng.random() < 0.06:
            return f"{number}.0"  # pasted from an export that had made it a float
        return R.mobile(number, rng, MOBILE_TEXT_STYLES)

    def _landline_cell(self, p: Person, number: str, area: str, ext: bool = False) -> object:
        rng = self.rng
        self._fact(p, "phone", number)
        if not ext and rng.random() < self.sheet.numeric * 0.3:
            return int(number)  # typed into a General cell: the leading 0 is gone
        return R.landline(number, area, rng, LANDLINE_STYLES, ext=ext)

    def _own_mobile(self, p: Person, rec: Rec) -> str | None:
        if rec.borrowed and p.borrowed:
            return p.borrowed
        return p.mobile_at(rec.day)

    def _mobile(self, p: Person, rec: Rec) -> object:
        number = self._own_mobile(p, rec)
        if number is None:
            if p.foreign:
                self._fact(p, "phone", "+" + p.foreign)
                return R.foreign(p.foreign, p.foreign_cc, self.rng)
            return None
        if self.rng.random() < 0.02:
            return R.damaged_digits(number, self.rng)
        return self._mobile_cell(p, number)

    def _landline(self, p: Person, rec: Rec, company: Company | None) -> object:
        rng = self.rng
        job = p.job_at(rec.day)
        if company is not None and job is not None:
            if job.direct and rng.random() < 0.45:
                return self._landline_cell(p, job.direct, company.city.area)
            if rng.random() < 0.75:
                return self._landline_cell(p, company.switchboard, company.city.area, ext=rng.random() < 0.12)
            return None
        home = p.home_at(rec.day)
        if p.home_phone and home and rng.random() < 0.7:
            return self._landline_cell(p, p.home_phone, home.city.area)
        return None

    def _mixed_phone(self, p: Person, rec: Rec, company: Company | None) -> object:
        """One 电话 column for everything: a mobile, a landline, or several numbers in one cell."""
        rng = self.rng
        roll = rng.random()
        if roll < 0.60:
            return self._mobile(p, rec)
        if roll < 0.72:
            cell = self._landline(p, rec, company)
            return cell if cell is not None else self._mobile(p, rec)
        mobile = self._own_mobile(p, rec)
        if mobile is None:
            return self._mobile(p, rec)
        self._fact(p, "phone", mobile)
        if roll < 0.80 and p.second_mobile:
            self._fact(p, "phone", p.second_mobile)
            return f"{mobile}{rng.choice(('，', '/', ' ', '、'))}{p.second_mobile}"
        if roll < 0.86:
            return f"{mobile}{rng.choice(('(微信同号)', '（微信同号）', ' 微信同号'))}"
        line = self._landline(p, rec, company)
        if line is None:
            return mobile
        text = line if isinstance(line, str) else str(line)
        return rng.choice((f"{mobile} / {text}", f"{mobile}/{text}", f"手机{mobile} 座机{text}", f"{text}，{mobile}"))

    def _email(self, p: Person, company: Company | None, rec: Rec, qq_ok: bool) -> str | None:
        rng = self.rng
        job = p.job_at(rec.day)
        if qq_ok and p.qq and rng.random() < 0.3:
            return p.qq  # the QQ number alone stands for the QQ mailbox
        options: list[str] = []
        if job is not None and job.email:
            options += [job.email] * 3
        if p.email:
            options += [p.email] * 2
        if company is not None:
            options.append(company.role_email)
        if not options or rng.random() < 0.4:
            return None
        text, canonical = R.email(rng.choice(options), rng, typo=0.02)
        if canonical:
            self._fact(p, "email", canonical)
        return text

    def _birthday(self, ws: WriteOnlyWorksheet, p: Person) -> object:
        rng = self.rng
        if not p.birth_known or rng.random() < 0.4:
            return None
        b = p.birth
        roll = rng.random()
        if roll < 0.5:
            cell = WriteOnlyCell(ws, value=dt.datetime(b.year, b.month, b.day))
            cell.number_format = rng.choice(("yyyy-mm-dd", "yyyy/m/d", "yyyy年m月d日"))
            return cell
        return rng.choice(
            (
                f"{b:%Y-%m-%d}",
                f"{b.year}.{b.month}.{b.day}",
                f"{b.month}月{b.day}日",
                f"{b.year % 100:02d}-{b.month:02d}-{b.day:02d}",
                f"{b.year}年{b.month}月",
            )
        )

    def _wechat(self, p: Person, rec: Rec) -> str | None:
        rng = self.rng
        if rng.random() < 0.6:
            return None
        mobile = p.mobile_at(rec.day)
        if mobile and rng.random() < 0.4:
            self._fact(p, "phone", mobile)
            return mobile
        stem = p.surname_py + "".join(p.given_py) if p.surname_py else p.english.lower()
        return rng.choice(
            (
                f"wxid_{rng.randrange(10**9, 10**10):x}"[:16],
                f"{stem}{rng.randrange(10, 9999)}",
                f"{stem}_{p.birth.year}",
            )
        )

    def row(self, ws: WriteOnlyWorksheet, rec: Rec, seq: int) -> list[object]:
        """The cells of one customer row."""
        rng = self.rng
        sheet = self.sheet
        p = self.world.people[rec.person]
        job = p.job_at(rec.day)
        company = self.world.companies[job.company] if job else None
        title = job.title if job else ""
        place = company.address if company is not None else p.home_at(rec.day)
        cells: list[object] = []
        for _, what in sheet.columns:
            value: object = None
            if what == "seq":
                value = seq
            elif what == "name":
                styles = NAME_STYLES_TONY if self.tony else NAME_STYLES
                if p.culture != "cn_en":
                    styles = {k: v for k, v in styles.items() if k != "english"}
                value = R.person_name(p, rng, styles, title)
            elif what == "company":
                if company is not None and rng.random() < 0.96:
                    value = R.company_name(company, rng, COMPANY_STYLES_TONY if self.tony else COMPANY_STYLES)
                elif company is None and rng.random() < 0.15:
                    value = rng.choice(("个人", "无", "-", "个体"))
            elif what == "title":
                if title and rng.random() < 0.6:
                    value = V.TITLES_EN.get(title, title) if self.tony and rng.random() < 0.7 else title
            elif what == "mobile":
                value = self._mobile(p, rec)
            elif what in ("landline", "home_phone"):
                value = self._landline(p, rec, company)
                if value is None and p.foreign and what == "landline" and rng.random() < 0.5:
                    self._fact(p, "phone", "+" + p.foreign)
                    value = R.foreign(p.foreign, p.foreign_cc, rng)
            elif what == "phone":
                value = self._mixed_phone(p, rec, company)
            elif what in ("email", "email_qq"):
                value = self._email(p, company, rec, what == "email_qq")
            elif what == "address":
                if place is not None and rng.random() < 0.7:
                    value = R.address(place, rng, ADDRESS_STYLES)
            elif what == "region" and place is not None:
                city = place.city
                value = rng.choice((city.name.removesuffix("市"), f"{city.province.removesuffix('省')}{city.name}"))
            elif what == "province" and place is not None and rng.random() < 0.8:
                value = place.city.province or place.city.name
            elif what == "city" and place is not None and rng.random() < 0.8:
                value = place.city.name.removesuffix("市") if rng.random() < 0.5 else place.city.name
            elif what == "birthday":
                value = self._birthday(ws, p)
            elif what == "gender":
                value = ("男" if p.gender == "M" else "女") if rng.random() < 0.9 else None
            elif what == "wechat":
                value = self._wechat(p, rec)
            elif what == "fax" and company is not None and company.fax and rng.random() < 0.5:
                value = R.landline(company.fax, company.city.area, rng, LANDLINE_STYLES)
            elif what == "notes" and rng.random() < 0.35:
                value = rng.choice(V.NOTES_EN if self.tony else V.NOTES)
            cells.append(value)
        return cells


def _assign(world: World, rng: random.Random) -> dict[str, list[Rec]]:
    """Which rep's sheet holds each workbook row (a person's second row mostly sits with another rep)."""
    by_kind = {
        kind: Weighted([s.name for s in SHEETS], [s.weights[i] for s in SHEETS])
        for i, kind in enumerate(("b2b", "consumer", "west"))
    }
    sheets: dict[str, list[Rec]] = {s.name: [] for s in SHEETS}
    for p in world.people:
        kind = (
            "west" if p.culture != "cn" and p.kind == "b2b" and (p.culture == "west" or rng.random() < 0.4) else p.kind
        )
        used: list[str] = []
        for rec in p.records:
            if rec.source != WORKBOOK:
                continue
            name = by_kind[kind].pick(rng)
            if name in used and rng.random() < 0.75:
                name = by_kind[kind].pick(rng)
            used.append(name)
            sheets[name].append(rec)
    return sheets


class _SheetOut:
    """Appends rows to one worksheet, counting Excel's row numbers, and the truth rows of those a connector reads."""

    def __init__(self, ws: WriteOnlyWorksheet, name: str, truth: list[TruthRow]) -> None:
        self.ws = ws
        self.name = name
        self.truth = truth
        self.row = 0

    def above_header(self, cells: Sequence[object]) -> None:
        self.ws.append(cells)
        self.row += 1

    def emit(self, cells: list[object], kind: str, entity: str = "") -> None:
        self.above_header(cells)
        self.truth.append((WORKBOOK, f"{self.name}!{self.row}", entity, kind))


def _write_sheet(out: _SheetOut, sheet: Sheet, recs: list[Rec], writer: SheetWriter, rng: random.Random) -> None:
    world = writer.world
    for title in sheet.title:
        out.above_header([title])
    if sheet.title and rng.random() < 0.5:
        out.above_header([])
    header = [h for h, _ in sheet.columns]
    out.above_header(header)
    width = len(header)
    seq = 0
    section = ""
    repeat_at = rng.randrange(len(recs)) if sheet.repeated_header and len(recs) > 4 else -1
    for i, rec in enumerate(recs):
        if sheet.sections:
            now = "【山东省内】" if _province(world, rec) == "山东省" else "【省外客户】"
            if now != section:
                section = now
                out.emit([now] + [None] * (width - 1), "layout")
        if i == repeat_at:
            out.emit(list(header), "layout")  # a second list pasted below the first, with its header
        if i and rng.random() < sheet.blank_rows:
            out.emit([None] * width, "layout")
        seq += 1
        out.emit(writer.row(out.ws, rec, seq), "record", world.people[rec.person].entity_id)
    for _ in range(sheet.prenumbered):
        seq += 1
        out.emit([seq] + [None] * (width - 1), "layout")  # numbered ahead, never filled in
    if sheet.total:
        count = len(recs)
        cells: list[object] = [None] * width
        if sheet.total.isascii():
            cells[0] = rng.choice((sheet.total, sheet.total.upper(), f"{sheet.total}:"))
        else:
            cells[0] = rng.choice((sheet.total, f"{sheet.total}：", f"{sheet.total}{count}户"))
        cells[1] = count if rng.random() < 0.5 else f"{count}人"
        out.emit(cells, "layout")
    if sheet.footnote:
        out.emit([sheet.footnote] + [None] * (width - 1), "layout")


def write_workbook(path: Path, world: World, rng: random.Random) -> tuple[list[TruthRow], list[Fact], list[str]]:
    """Write the workbook; return the truth rows, the contact facts of records and the sheet names."""
    wb = Workbook(write_only=True)
    wb.properties.creator = "张磊"
    wb.properties.created = FIXED_TIME
    wb.properties.modified = FIXED_TIME
    truth: list[TruthRow] = []
    facts: list[Fact] = []
    assignment = _assign(world, rng)
    for sheet in SHEETS:
        writer = SheetWriter(world, sheet, rng)
        recs = sorted(assignment[sheet.name], key=lambda r: (r.day, r.person))
        if sheet.sections:  # grouped into Shandong and the rest, each under a section row
            local = [r for r in recs if _province(world, r) == "山东省"]
            recs = local + [r for r in recs if _province(world, r) != "山东省"]
        _write_sheet(_SheetOut(wb.create_sheet(sheet.name), sheet.name, truth), sheet, recs, writer, rng)
        facts.extend(writer.facts)
    wb.save(path)
    make_reproducible(path)
    return truth, facts, [s.name for s in SHEETS]


def _province(world: World, rec: Rec) -> str:
    p = world.people[rec.person]
    job = p.job_at(rec.day)
    if job is not None:
        return world.companies[job.company].city.province
    home = p.home_at(rec.day)
    return home.city.province if home else ""


def make_reproducible(path: Path) -> None:
    """Pin the timestamps openpyxl writes (zip entries, document properties) so that the bytes repeat."""
    with zipfile.ZipFile(path) as src:
        entries = [(info.filename, src.read(info.filename)) for info in src.infolist()]
    stamp = FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for name, data in entries:
            if name == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(<)", rb"\g<1>" + stamp + rb"\g<2>", data)
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(info, data)

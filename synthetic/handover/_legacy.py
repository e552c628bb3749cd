"""The legacy in-house CRM: one SQLite table ``KHXX`` (客户信息) with pinyin-abbreviation columns.

The system ran from 2010 to 2020. 客户名称 (KHMC) and 手机 (SJ) were mandatory, so consumers' rows carry the
person's own name (or 个人/散户) as the customer name, and staff typed placeholders (13800000000, 无, -) when they
did not know a mobile; from the 2015 upgrade the e-mail field was mandatory too (test@test.com, 无). Deleting a
customer set 删除标志 SCBZ=1 and 状态 ZT=9 together. The vendor's test and demo rows were never removed.
"""

from __future__ import annotations

import datetime as dt
import random
import sqlite3
from pathlib import Path

from . import _render as R
from . import _vocab as V
from ._people import DAY0, LEGACY, Person, Rec, World, date_of

#: (column, SQL type, meaning): the table as the vendor created it.
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("KHBH", "INTEGER PRIMARY KEY", "客户编号 customer number"),
    ("KHMC", "VARCHAR(100) NOT NULL", "客户名称 customer name (company, or the person for consumers)"),
    ("KHLX", "CHAR(1)", "客户类型 customer type: 1 企业 company, 2 个人 consumer"),
    ("LXR", "VARCHAR(50)", "联系人 contact person"),
    ("ZW", "VARCHAR(30)", "职务 job title"),
    ("XB", "CHAR(2)", "性别 gender: 1 男, 2 女, 0 unknown"),
    ("CSRQ", "VARCHAR(20)", "出生日期 birth date"),
    ("SJ", "VARCHAR(40) NOT NULL", "手机 mobile (mandatory)"),
    ("DH", "VARCHAR(50)", "电话 phone: landline or a second mobile"),
    ("CZ", "VARCHAR(30)", "传真 fax"),
    ("DZYX", "VARCHAR(100)", "电子邮箱 e-mail (mandatory from 2015)"),
    ("QQ", "VARCHAR(20)", "QQ号 QQ number"),
    ("SF", "VARCHAR(20)", "省份 province"),
    ("CS", "VARCHAR(20)", "城市 city"),
    ("DZ", "VARCHAR(200)", "地址 address"),
    ("YB", "CHAR(6)", "邮编 postcode"),
    ("KHJB", "VARCHAR(10)", "客户级别 customer grade"),
    ("YWY", "VARCHAR(20)", "业务员 sales rep"),
    ("ZT", "CHAR(1)", "状态 status: 1 正常 active, 2 休眠 dormant, 9 作废 deleted"),
    ("SCBZ", "CHAR(1)", "删除标志 deleted flag: 0 / 1"),
    ("BZ", "VARCHAR(500)", "备注 notes"),
    ("CJSJ", "DATETIME", "创建时间 created"),
    ("GXSJ", "DATETIME", "更新时间 last updated"),
)
TABLE = "KHXX"
FIRST_KEY = 10001
UPGRADE_DAY = (dt.date(2015, 3, 1) - DAY0).days
END_DAY = (dt.date(2020, 12, 31) - DAY0).days
#: Sales reps who used the legacy system (some left before the workbook era).
REPS = ("张磊", "李娜", "王强", "刘洋", "陈静", "马建", "老刘", "赵志刚", "孙丽华", "周杰", "admin")

NAME_STYLES = {
    "plain": 86,
    "with_title": 3,
    "title_only": 1.5,
    "sound_alike": 2.5,
    "spaced": 4,
    "traditional": 0.5,
    "pinyin": 0.5,
    "english": 2,
}
NAME_STYLES_EN = {"plain": 70, "english": 25, "pinyin": 5}
COMPANY_STYLES = {
    "full": 70,
    "no_city": 6,
    "city_form": 6,
    "short": 6,
    "no_suffix": 4,
    "wrong_suffix": 3,
    "typo": 2,
    "traditional": 0.5,
    "paren_city": 1,
    "english": 0.5,
}
MOBILE_STYLES = {"plain": 88, "spaced": 4, "dashed": 4, "plus86": 3, "fullwidth": 1}
LANDLINE_STYLES = {"dashed": 52, "plain": 20, "paren": 7, "spaced": 7, "fullwidth": 1, "plus86": 1}
ADDRESS_STYLES = {"full": 20, "no_province": 30, "district": 30, "street": 10, "spaced": 5, "comma": 5}
TEST_NAMES = ("测试客户", "测试公司", "演示数据", "test", "测试", "演示客户（勿删）", "ABC有限公司", "培训用")

Row = tuple[object, ...]
Fact = tuple[int, str, str]
TruthRow = tuple[str, str, str, str]


def _stamp(day: int, rng: random.Random) -> str:
    when = dt.datetime.combine(date_of(day), dt.time(rng.randint(8, 18), rng.randrange(60), rng.randrange(60)))
    return when.strftime("%Y-%m-%d %H:%M:%S")


def _birth(p: Person, rng: random.Random) -> str:
    b = p.birth
    return R.pick(
        rng,
        {
            f"{b:%Y-%m-%d}": 50,
            f"{b:%Y%m%d}": 30,
            f"{b.year}/{b.month}/{b.day}": 10,
            f"{b:%Y-%m-%d} 00:00:00": 10,
        },
    )


class LegacyWriter:
    """Renders the legacy rows of the world and writes the SQLite file."""

    def __init__(self, world: World, rng: random.Random) -> None:
        self.world = world
        self.rng = rng
        self.facts: list[Fact] = []

    def _phone_fact(self, p: Person, number: str) -> None:
        self.facts.append((p.pid, "phone", number))

    def _mobile(self, p: Person, rec: Rec) -> str:
        rng = self.rng
        number = p.borrowed if rec.borrowed and p.borrowed else p.mobile_at(rec.day)
        if number is None:  # an expat without a Chinese mobile: the foreign number goes in
            assert p.foreign is not None
            self._phone_fact(p, "+" + p.foreign)
            return R.foreign(p.foreign, p.foreign_cc, rng)
        if rng.random() < 0.05:
            return rng.choice(V.PLACEHOLDER_MOBILES)
        if rng.random() < 0.015:
            return R.damaged_digits(number, rng)
        self._phone_fact(p, number)
        text = R.mobile(number, rng, MOBILE_STYLES)
        if p.second_mobile and rng.random() < 0.2:
            self._phone_fact(p, p.second_mobile)
            text += rng.choice(("/", " / ", "，", ";", " ")) + p.second_mobile
        return text

    def _landline(self, p: Person, number: str, area: str, ext: bool = False) -> str:
        rng = self.rng
        styles = dict(LANDLINE_STYLES)
        if area == "0635":  # the seller's own city: staff often left the area code off
            styles["local"] = 25
        self._phone_fact(p, number)
        return R.landline(number, area, rng, styles, ext=ext)

    def _email(self, p: Person, candidates: list[str], rec: Rec) -> str:
        rng = self.rng
        if candidates:
            text, canonical = R.email(rng.choice(candidates), rng, typo=0.015)
            if canonical:
                self.facts.append((p.pid, "email", canonical))
            return text
        if rec.day >= UPGRADE_DAY and rng.random() < 0.6:
            return rng.choice(V.PLACEHOLDER_EMAILS)
        return ""

    def row(self, key: int, rec: Rec) -> Row:
        """One KHXX row for a person at the row's date."""
        rng = self.rng
        p = self.world.people[rec.person]
        job = p.job_at(rec.day)
        company = self.world.companies[job.company] if job else None
        name_styles = NAME_STYLES_EN if p.culture == "cn_en" else NAME_STYLES
        title = job.title if job else ""
        if company is not None:
            khmc = R.company_name(company, rng, COMPANY_STYLES)
            khlx = "1"
            lxr = R.person_name(p, rng, name_styles, title)
            zw = title if rng.random() < 0.4 else ""
        else:
            own = R.person_name(p, rng, {"plain": 95, "spaced": 3, "sound_alike": 2})
            khmc = own if rng.random() < 0.8 else rng.choice(("个人", "散户", "个人客户", "零售"))
            khlx = "2"
            lxr = own if rng.random() < 0.15 else ""
            zw = ""
        sj = self._mobile(p, rec)
        dh = ""
        home = p.home_at(rec.day)
        if company is not None and rng.random() < 0.5:
            roll = rng.random()
            if job and job.direct and roll < 0.35:
                dh = self._landline(p, job.direct, company.city.area)
            elif p.second_mobile and roll < 0.45:
                self._phone_fact(p, p.second_mobile)
                dh = p.second_mobile
            else:
                dh = self._landline(p, company.switchboard, company.city.area, ext=rng.random() < 0.15)
        elif company is None and p.home_phone and home and rng.random() < 0.7:
            dh = self._landline(p, p.home_phone, home.city.area)
        elif company is not None and p.foreign and rng.random() < 0.5:
            self._phone_fact(p, "+" + p.foreign)
            dh = R.foreign(p.foreign, p.foreign_cc, rng)
        cz = ""
        if company is not None and company.fax and rng.random() < 0.4:
            cz = R.landline(company.fax, company.city.area, rng, LANDLINE_STYLES)
        candidates: list[str] = []
        if company is not None:
            roll = rng.random()
            if job and job.email and roll < 0.5:
                candidates = [job.email]
            elif p.email and roll < 0.7:
                candidates = [p.email]
            elif roll < 0.82:
                candidates = [company.role_email]
        elif p.email and rng.random() < 0.35:
            candidates = [p.email]
        dzyx = self._email(p, candidates, rec)
        qq = p.qq if p.qq and rng.random() < 0.2 else ""
        place = company.address if company is not None else home
        sf = cs = dz = yb = ""
        if place is not None:
            if rng.random() < 0.75:
                sf = rng.choice((place.city.province, place.city.province.removesuffix("省"))) or place.city.name
                cs = rng.choice((place.city.name, place.city.name.removesuffix("市")))
            roll = rng.random()
            if roll < 0.62:
                dz = R.address(place, rng, ADDRESS_STYLES)
            elif roll < 0.64:
                dz = rng.choice(V.PLACEHOLDER_TEXT)
            if rng.random() < 0.15:
                yb = place.city.postcode
        xb = ""
        roll = rng.random()
        if roll < 0.55:
            xb = "1" if p.gender == "M" else "2"
        elif roll < 0.60:
            xb = "男" if p.gender == "M" else "女"
        elif roll < 0.63:
            xb = "0"
        csrq = _birth(p, rng) if p.birth_known and rng.random() < 0.5 else ""
        deleted = rec.kind == "deleted"
        zt = "9" if deleted else ("1" if rng.random() < 0.82 else "2")
        created = _stamp(rec.day, rng)
        updated = created if rng.random() < 0.3 else _stamp(min(END_DAY, rec.day + rng.randint(1, 900)), rng)
        updated = max(created, updated)
        if rng.random() < 0.005:
            created = "1900-01-01 00:00:00"  # rows imported from the spreadsheet the system replaced
        if rng.random() < 0.03:
            lxr += " "  # CHAR padding left over from an earlier migration
        row = (
            key,
            khmc,
            khlx,
            lxr,
            zw,
            xb,
            csrq,
            sj,
            dh,
            cz,
            dzyx,
            qq,
            sf,
            cs,
            dz,
            yb,
            rng.choice(V.SEGMENTS) if rng.random() < 0.5 else "",
            rng.choice(REPS),
            zt,
            "1" if deleted else "0",
            rng.choice(V.NOTES) if rng.random() < 0.3 else "",
            created,
            updated,
        )
        if rec.day < UPGRADE_DAY:  # the old client wrote empty strings, the new one NULL
            return row
        return tuple(None if v == "" else v for v in row)

    def test_row(self, key: int, day: int, deleted: bool) -> Row:
        """A row the vendor or a trainee typed to try the system."""
        rng = self.rng
        stamp = _stamp(day, rng)
        return (
            key,
            rng.choice(TEST_NAMES),
            "1",
            rng.choice(("测试", "张三", "admin", "test", "", "李四")),
            "",
            "",
            "",
            rng.choice(("12345678901", "13800138000", "11111111111", "13900000000")),
            rng.choice(("0635-1234567", "", "12345678", "")),
            "",
            rng.choice(("test@test.com", "test@qq.com", "", "123@123.com")),
            "",
            "",
            "",
            rng.choice(("", "测试地址", "xxx")),
            "",
            "",
            "admin",
            "9" if deleted else "1",
            "1" if deleted else "0",
            rng.choice(("测试数据", "系统初始化演示", "培训用，勿删", "")),
            stamp,
            stamp,
        )


def write_legacy(path: Path, world: World, rng: random.Random) -> tuple[list[TruthRow], list[Fact]]:
    """Write the legacy SQLite database; return one truth row per table row and the contact facts of records."""
    writer = LegacyWriter(world, rng)
    recs = sorted((r for r in world.records if r.source == LEGACY), key=lambda r: (r.day, r.person, r.kind))
    tests = max(3, round(0.005 * len(recs)))
    test_days = sorted(
        rng.choice((rng.randint(0, 80), rng.randint(1880, 1950), rng.randint(0, END_DAY))) for _ in range(tests)
    )
    plan: list[tuple[int, Rec | None, bool]] = [(r.day, r, r.kind == "deleted") for r in recs]
    plan += [(day, None, i >= 2 and rng.random() < 0.3) for i, day in enumerate(test_days)]
    plan.sort(key=lambda x: (x[0], x[1] is not None))
    rows: list[Row] = []
    truth: list[TruthRow] = []
    key = FIRST_KEY
    for day, rec, deleted in plan:
        if rec is None:
            rows.append(writer.test_row(key, day, deleted))
            truth.append((LEGACY, str(key), "", "deleted" if deleted else "test"))
        else:
            facts_before = len(writer.facts)
            rows.append(writer.row(key, rec))
            entity = world.people[rec.person].entity_id
            truth.append((LEGACY, str(key), entity, "deleted" if deleted else "record"))
            if deleted:
                del writer.facts[facts_before:]
        key += 1 if rng.random() < 0.985 else rng.randint(2, 6)  # rows removed for good leave gaps
    if path.exists():
        path.unlink()
    conn = sqlite3.connect(path)
    try:
        columns = ", ".join(f"{name} {kind}" for name, kind, _ in COLUMNS)
        conn.execute(f"CREATE TABLE {TABLE} ({columns})")
        placeholders = ", ".join("?" for _ in COLUMNS)
        conn.executemany(f"INSERT INTO {TABLE} VALUES ({placeholders})", rows)
        conn.commit()
    finally:
        conn.close()
    return truth, writer.facts

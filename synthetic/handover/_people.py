"""The true world behind the hand-over: companies, people, households, and how their details change over time.

Everything a source row shows is drawn from this world at the row's date: the mobile a person had then, the
company they worked for, the home they lived in. The hard cases are built into the world here (colleagues behind
one switchboard, an assistant answering the boss's phone, families, fathers and sons of one name, recycled
numbers); the writers only decide how a row shows them.
"""

from __future__ import annotations

import bisect
import datetime as dt
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Generic, TypeVar

from . import _vocab as V

T = TypeVar("T")

DAY0 = dt.date(2010, 1, 1)
#: Last day anything in the hand-over happened.
LAST_DAY = (dt.date(2024, 12, 31) - DAY0).days
FOREVER = 1 << 30

LEGACY, WORKBOOK, WEB = "legacy_db", "sales_workbook", "web_signups"
SOURCES = (LEGACY, WORKBOOK, WEB)
#: Days in which each source collected rows: the legacy CRM ran 2010-2020, the reps' lists cover 2016-2023,
#: the web form went live in 2019.
WINDOWS: dict[str, tuple[int, int]] = {
    LEGACY: (0, (dt.date(2020, 12, 31) - DAY0).days),
    WORKBOOK: ((dt.date(2016, 1, 1) - DAY0).days, (dt.date(2023, 12, 31) - DAY0).days),
    WEB: ((dt.date(2019, 1, 1) - DAY0).days, LAST_DAY),
}


@dataclass(frozen=True)
class Rates:
    """How often each phenomenon happens (see the table in the package docstring)."""

    b2b: float = 0.75
    west_b2b: float = 0.025  # Western expats among business contacts (more in trade hubs)
    english_name: float = 0.06  # Chinese business contacts who also go by an English name
    west_consumer: float = 0.004
    records: tuple[float, ...] = (0.56, 0.30, 0.10, 0.04)  # 1, 2, 3, 4 rows per person
    sources_b2b: tuple[float, float, float] = (0.45, 0.38, 0.17)  # legacy, workbook, web
    sources_consumer: tuple[float, float, float] = (0.35, 0.12, 0.53)
    sources_west: tuple[float, float, float] = (0.20, 0.50, 0.30)
    birth_known: float = 0.35
    qq: float = 0.55
    personal_email: float = 0.6
    mobile_change: float = 0.25  # of people with 2+ rows: a new mobile between their first and last row
    second_change: float = 0.04
    recycled: float = 0.30  # of abandoned mobiles: reassigned to someone else in the data a year or more later
    job_change: float = 0.18  # of business contacts with 2+ rows
    move: float = 0.12  # of consumers with 2+ rows
    second_mobile: float = 0.10  # business contacts carrying a work and a private phone
    direct_line: float = 0.22  # staff of companies of 3+ with a direct line
    shared_direct: float = 0.25  # of direct lines: an office line shared with a colleague
    company_domain: float = 0.55  # companies with their own e-mail domain (the rest: a free-mail role box)
    work_email: float = 0.6  # staff of a company with a domain who have a personal address on it
    fax: float = 0.3
    assistant_mobile: float = 0.3  # companies of 3+ where the boss's rows carry the assistant's mobile
    household: float = 0.30  # consumers living with other people of the data
    home_phone_household: float = 0.45
    home_phone_single: float = 0.2
    shared_mobile: float = 0.15  # households where one member's rows carry another member's mobile
    shared_email: float = 0.05
    father_son_company: float = 0.10  # of companies of 3+ with a male boss born before 1969
    father_son_household: float = 0.12  # of households with an adult son
    same_name_colleague: float = 0.05  # of companies of 4+: two employees of one name
    deleted_copy: float = 0.045  # legacy rows with an older, deleted duplicate of the same person


class Weighted(Generic[T]):
    """A weighted choice that is fast for repeated draws (bisect on cumulative weights)."""

    __slots__ = ("cum", "items", "total")

    def __init__(self, items: Sequence[T], weights: Sequence[float]) -> None:
        self.items = list(items)
        self.cum = list(accumulate(weights))
        self.total = self.cum[-1]

    def pick(self, rng: random.Random) -> T:
        return self.items[bisect.bisect_right(self.cum, rng.random() * self.total)]


def weighted(pairs: Sequence[tuple[T, float]]) -> Weighted[T]:
    """A `Weighted` from ``(item, weight)`` pairs."""
    return Weighted([p[0] for p in pairs], [p[1] for p in pairs])


def date_of(day: int) -> dt.date:
    """The calendar date of a day number."""
    return DAY0 + dt.timedelta(days=day)


# ------------------------------------------------------------------------------------------------ the world
@dataclass(slots=True)
class Address:
    """A postal address in China."""

    city: V.CityInfo
    district: str
    street: str
    number: int
    extra: str  # compound, building and room, or an industrial park ("" when none)
    home: bool


@dataclass(slots=True)
class Company:
    """A small or medium enterprise some people of the data work for."""

    cid: int
    city: V.CityInfo
    brand: str
    brand_py: str
    industry: V.Industry
    suffix: str
    suffix_en: str
    prefix: str  # how the registered name starts: 泰安市 / 泰安 / 山东 / ""
    name: str  # the registered name
    switchboard: str  # national digits, e.g. 06358261234
    fax: str | None
    domain: str | None
    role_email: str  # the shared mailbox: sales@domain, or the company's free-mail box
    address: Address
    members: list[int] = field(default_factory=list)
    directs: list[str] = field(default_factory=list)  # direct lines handed out so far
    boss: int | None = None
    assistant: int | None = None

    @property
    def short_city(self) -> str:
        return self.city.name.removesuffix("市")


@dataclass(slots=True)
class Job:
    """One position a person held."""

    company: int
    title: str
    start: int
    end: int
    direct: str | None = None  # a direct landline (national digits)
    email: str | None = None  # a personal address on the company's domain


@dataclass(slots=True)
class Rec:
    """One row a source holds about a person (the writer decides how it looks)."""

    person: int
    source: str
    day: int
    kind: str = "record"  # record | deleted
    resubmit: bool = False  # a web double submission minutes after the previous row
    borrowed: bool = False  # shows someone else's mobile (the boss's assistant, a family member)


@dataclass(slots=True)
class Person:
    """A real person behind one or more rows."""

    pid: int
    entity_id: str
    kind: str  # b2b | consumer
    culture: str  # cn | cn_en (Chinese with an English name) | west
    surname: str
    given: str
    surname_py: str
    given_py: tuple[str, ...]
    gender: str  # M | F
    birth: dt.date
    birth_known: bool
    english: str = ""  # English first name (cn_en) or the Western first name
    west_last: str = ""
    west_short: tuple[str, ...] = ()
    mobiles: list[tuple[str, int, int]] = field(default_factory=list)  # (number, from day, to day)
    second_mobile: str | None = None
    foreign: str | None = None  # E.164 digits without "+"
    foreign_cc: str = ""
    jobs: list[Job] = field(default_factory=list)
    homes: list[tuple[Address, int, int]] = field(default_factory=list)
    home_phone: str | None = None
    email: str | None = None
    qq: str | None = None
    household: int | None = None
    role: str = ""  # boss | assistant | staff | head | spouse | child
    borrowed: str | None = None
    borrowed_kind: str = ""
    records: list[Rec] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The name as the person writes it (hanzi, or "First Last" for Westerners)."""
        if self.culture == "west":
            return f"{self.english} {self.west_last}"
        return self.surname + self.given

    def mobile_at(self, day: int) -> str | None:
        for number, start, end in self.mobiles:
            if start <= day < end:
                return number
        return self.mobiles[-1][0] if self.mobiles else None

    def job_at(self, day: int) -> Job | None:
        for job in self.jobs:
            if job.start <= day < job.end:
                return job
        return self.jobs[-1] if self.jobs else None

    def home_at(self, day: int) -> Address | None:
        for home, start, end in self.homes:
            if start <= day < end:
                return home
        return self.homes[-1][0] if self.homes else None

    @property
    def city(self) -> V.CityInfo | None:
        if self.homes:
            return self.homes[0][0].city
        return None


@dataclass
class World:
    """Everything that is true, and the registries the truth tables are derived from."""

    people: list[Person]
    companies: list[Company]
    households: dict[int, list[int]]
    #: landline (national digits) -> ("switchboard" | "direct", company id) or ("home", household id)
    landlines: dict[str, tuple[str, int]]
    #: mobile -> the people it belonged to, in order (more than one: a recycled number)
    mobile_owners: dict[str, list[int]]
    #: shared role mailbox -> company id
    role_emails: dict[str, int]
    father_son: list[tuple[int, int]]
    same_name_colleagues: list[tuple[int, int]]
    records: list[Rec]


# ------------------------------------------------------------------------------------------------ builder
class WorldBuilder:
    """Draws the world for ``people`` persons from one random generator."""

    def __init__(self, people: int, rng: random.Random, rates: Rates | None = None) -> None:
        self.n = people
        self.rng = rng
        self.r = rates or Rates()
        self.width = max(6, len(str(people)))
        self.cities = Weighted(V.CITIES, [c.weight for c in V.CITIES])
        self.consumer_cities = Weighted(V.CITIES, [c.weight * (2.5 if c.area == "0635" else 1.0) for c in V.CITIES])
        self.city_by_name = {c.name: c for c in V.CITIES}
        self.industries = Weighted(V.INDUSTRIES, [i.weight for i in V.INDUSTRIES])
        self.suffixes = Weighted([(s, e) for s, e, _ in V.SUFFIXES], [w for _, _, w in V.SUFFIXES])
        self.surnames = Weighted([(s, p) for s, p, _ in V.SURNAMES], [w for _, _, w in V.SURNAMES])
        self.single_m = Weighted([(c, p) for c, p, _ in V.SINGLE_GIVEN_M], [w for _, _, w in V.SINGLE_GIVEN_M])
        self.single_f = Weighted([(c, p) for c, p, _ in V.SINGLE_GIVEN_F], [w for _, _, w in V.SINGLE_GIVEN_F])
        self.whole: dict[tuple[str, str], Weighted[tuple[str, str]]] = {}
        for gender in "MF":
            for era in ("old", "mid", "young"):
                rows = [(h, p, w) for h, p, g, e, w in V.WHOLE_GIVEN if g == gender and e == era]
                self.whole[gender, era] = Weighted([(h, p) for h, p, _ in rows], [w for _, _, w in rows])
        self.staff_titles = weighted(V.TITLES_STAFF)
        self.mobile_prefixes = weighted(V.MOBILE_PREFIXES)
        self.freemail = weighted(V.FREEMAIL_CN)
        self.freemail_west = weighted(V.FREEMAIL_WEST)
        self.roles = weighted(V.ROLE_LOCALS)
        self.tlds = weighted(V.DOMAIN_TLDS)
        self.foreign = Weighted(V.FOREIGN_NUMBERS, [f[1] for f in V.FOREIGN_NUMBERS])
        self.used_numbers: dict[str, None] = {}
        self.used_names: dict[str, None] = {}
        self.used_domains: dict[str, None] = {}
        self.used_emails: dict[str, None] = {}
        self.used_qq: dict[str, None] = {}
        self.people: list[Person] = []
        self.companies: list[Company] = []
        self.households: dict[int, list[int]] = {}
        self.landlines: dict[str, tuple[str, int]] = {}
        self.mobile_owners: dict[str, list[int]] = {}
        self.role_emails: dict[str, int] = {}
        self.father_son: list[tuple[int, int]] = []
        self.same_name: list[tuple[int, int]] = []

    # ------------------------------------------------------------------ numbers
    def _unique(self, make: Callable[[], str], used: dict[str, None] | None = None) -> str:
        """A value ``make`` draws that was never drawn before (numbers by default)."""
        used = self.used_numbers if used is None else used
        for _ in range(100_000):
            value = make()
            if value not in used:
                used[value] = None
                return value
        raise RuntimeError(f"no unused value left (last drawn: {value})")  # a draw that cannot vary

    def new_mobile(self) -> str:
        rng = self.rng
        return self._unique(lambda: self.mobile_prefixes.pick(rng) + f"{rng.randrange(10**8):08d}")

    def new_landline(self, city: V.CityInfo, exchange: str = "") -> str:
        rng = self.rng

        def make() -> str:
            if exchange:
                rest = city.local_len - len(exchange)
                return city.area + exchange + f"{rng.randrange(10**rest):0{rest}d}"
            first = rng.choice("88886665543322")
            body = f"{rng.randrange(10 ** (city.local_len - 1)):0{city.local_len - 1}d}"
            if rng.random() < 0.1:  # a lucky number for the switchboard
                body = body[:-4] + rng.choice(("8888", "6666", "8899", "1688", "9999"))
            return city.area + first + body

        return self._unique(make)

    def new_foreign(self) -> tuple[str, str]:
        """An expat's home number as E.164 digits without "+", and its country code."""
        rng = self.rng
        cc, _, prefixes = self.foreign.pick(rng)

        def make() -> str:
            prefix = rng.choice(prefixes)
            if cc == "1":
                rest = f"{rng.randrange(2, 10)}{rng.randrange(10)}{rng.randrange(10)}{rng.randrange(10**4):04d}"
                if rest[1:3] == "55":  # keep clear of the fictional 555 exchange
                    rest = rest[0] + "47" + rest[3:]
                return cc + prefix + rest
            length = {"44": 10, "49": 11 if prefix.startswith("1") else 10, "61": 9}[cc]
            tail = "".join(str(rng.randrange(10)) for _ in range(length - len(prefix) - 1))
            return cc + prefix + str(rng.randrange(2, 10)) + tail

        return self._unique(make), cc

    # ------------------------------------------------------------------ names
    def chinese_name(self, gender: str, year: int) -> tuple[str, str, str, tuple[str, ...]]:
        rng = self.rng
        surname, surname_py = self.surnames.pick(rng)
        era = "old" if year < 1970 else "mid" if year < 1990 else "young"
        single = {"old": 0.28, "mid": 0.22, "young": 0.10}[era]
        roll = rng.random()
        if roll < single:
            given, py = (self.single_m if gender == "M" else self.single_f).pick(rng)
            return surname, given, surname_py, (py,)
        if roll < single + 0.22:
            given, py = self.whole[gender, era].pick(rng)
            return surname, given, surname_py, tuple(py.split())
        first = rng.choice(V.GIVEN_FIRST_M if gender == "M" else V.GIVEN_FIRST_F)
        second = rng.choice(V.GIVEN_SECOND_M if gender == "M" else V.GIVEN_SECOND_F)
        if second[0] == first[0]:
            second = rng.choice(V.GIVEN_SECOND_M if gender == "M" else V.GIVEN_SECOND_F)
        return surname, first[0] + second[0], surname_py, (first[1], second[1])

    def new_person(self, kind: str, culture: str, gender: str, year: int) -> Person:
        rng = self.rng
        pid = len(self.people)
        birth = dt.date(year, rng.randrange(1, 13), rng.randrange(1, 29))
        entity = f"P{pid + 1:0{self.width}d}"
        if culture == "west":
            first, _, short = rng.choice([w for w in V.WESTERN_FIRST if w[1] == gender])
            person = Person(
                pid,
                entity,
                kind,
                culture,
                "",
                "",
                "",
                (),
                gender,
                birth,
                rng.random() < self.r.birth_known,
                english=first,
                west_last=rng.choice(V.WESTERN_LAST),
                west_short=short,
            )
        else:
            surname, given, surname_py, given_py = self.chinese_name(gender, year)
            person = Person(
                pid,
                entity,
                kind,
                culture,
                surname,
                given,
                surname_py,
                given_py,
                gender,
                birth,
                rng.random() < self.r.birth_known,
            )
            if culture == "cn_en":
                person.english = rng.choice(V.ENGLISH_NAMES_M if gender == "M" else V.ENGLISH_NAMES_F)
        self.people.append(person)
        return person

    def rename(self, person: Person, like: Person) -> None:
        """Give ``person`` exactly the name of ``like`` (a son named after his father, a second 王伟)."""
        person.culture = like.culture
        person.surname, person.given = like.surname, like.given
        person.surname_py, person.given_py = like.surname_py, like.given_py
        person.english, person.west_last, person.west_short = like.english, like.west_last, like.west_short
        person.gender = like.gender

    # ------------------------------------------------------------------ e-mail
    def _email(self, local: str, domain: str) -> str:
        candidate = f"{local}@{domain}"
        n = 1
        while candidate in self.used_emails:
            n += 1
            candidate = f"{local}{n}@{domain}"
        self.used_emails[candidate] = None
        return candidate

    def new_qq(self, year: int) -> str:
        rng = self.rng
        digits = 5 + (year - 1940) // 12 + rng.randrange(0, 3)
        digits = max(6, min(11, digits))
        return self._unique(
            lambda: str(rng.randrange(1, 10)) + f"{rng.randrange(10 ** (digits - 1)):0{digits - 1}d}", self.used_qq
        )

    def personal_email(self, p: Person) -> str:
        rng = self.rng
        if p.culture == "west":
            first, last = p.english.lower(), p.west_last.lower().replace(" ", "").replace("'", "")
            last = last.replace("ü", "ue")
            local = rng.choice((f"{first}.{last}", f"{first}{last}", f"{first[0]}{last}", f"{first}_{last}"))
            return self._email(local, self.freemail_west.pick(rng))
        if p.qq and rng.random() < 0.6:
            return self._email(p.qq, "qq.com")
        full = p.surname_py + "".join(p.given_py)
        initials = p.surname_py[0] + "".join(s[0] for s in p.given_py)
        year = str(p.birth.year)
        choices = (
            full,
            full + year[2:],
            full + year,
            initials + year[2:] + f"{p.birth.month:02d}",
            "".join(p.given_py) + "_" + p.surname_py,
            full + rng.choice(("888", "666", "123", "520", "168")),
            p.english.lower() + p.surname_py if p.english else full + "_" + str(rng.randrange(10, 99)),
        )
        return self._email(rng.choice(choices), self.freemail.pick(rng))

    def work_email(self, p: Person, domain: str) -> str:
        rng = self.rng
        if p.culture == "west":
            first, last = p.english.lower(), p.west_last.lower().replace(" ", "").replace("'", "").replace("ü", "ue")
            return self._email(rng.choice((f"{first}.{last}", first, f"{first[0]}{last}")), domain)
        given = "".join(p.given_py)
        if p.english and rng.random() < 0.6:
            eng = p.english.lower()
            return self._email(rng.choice((eng, f"{eng}.{p.surname_py}", f"{eng}{p.surname_py[0]}")), domain)
        initials = p.surname_py[0] + "".join(s[0] for s in p.given_py)
        local = rng.choice(
            (p.surname_py + given, p.surname_py + given, initials, f"{given}.{p.surname_py}", f"{p.surname_py}.{given}")
        )
        return self._email(local, domain)

    # ------------------------------------------------------------------ places
    def address(self, city: V.CityInfo, home: bool) -> Address:
        rng = self.rng
        district = rng.choice(city.districts)
        street = rng.choice(city.streets)
        number = int(rng.paretovariate(1.2) * 12) % 999 + 1
        if home:
            building, unit, floor, flat = (
                rng.randrange(1, 30),
                rng.randrange(1, 5),
                rng.randrange(1, 19),
                rng.randrange(1, 5),
            )
            extra = f"{rng.choice(V.COMPOUNDS)}{building}号楼{unit}单元{floor}0{flat}"
        else:
            roll = rng.random()
            if roll < 0.25:
                extra = rng.choice(V.PARKS)
            elif roll < 0.4:
                tower = rng.choice(("华兴", "金融", "国贸", "世纪", "财富", "创业"))
                extra = f"{tower}大厦{rng.randrange(2, 30)}{rng.randrange(1, 20):02d}室"
            else:
                extra = ""
        return Address(city, district, street, number, extra, home)

    # ------------------------------------------------------------------ companies
    def _company_size(self) -> int:
        rng = self.rng
        roll = rng.random()
        for limit, low, high in (
            (0.34, 1, 1),
            (0.54, 2, 2),
            (0.66, 3, 3),
            (0.74, 4, 4),
            (0.80, 5, 5),
            (0.88, 6, 8),
            (0.95, 9, 15),
            (0.985, 16, 30),
            (1.01, 31, 60),
        ):
            if roll < limit:
                return rng.randint(low, high)
        return 1  # pragma: no cover

    def new_company(self) -> Company:
        rng = self.rng
        industry = self.industries.pick(rng)
        hubs = [self.city_by_name[h] for h in industry.hubs if h in self.city_by_name]
        city = rng.choice(hubs) if hubs and rng.random() < 0.45 else self.cities.pick(rng)
        suffix, suffix_en = self.suffixes.pick(rng)
        short = city.name.removesuffix("市")
        province = city.province.removesuffix("省").removesuffix("壮族自治区") or short
        while True:
            a, b = rng.sample(V.BRAND_CHARS, 2)
            brand, brand_py = a[0] + b[0], a[1] + b[1]
            roll = rng.random()
            if roll < 0.55:
                prefix, name = city.name, f"{city.name}{brand}{industry.cn}{suffix}"
            elif roll < 0.80:
                prefix, name = short, f"{short}{brand}{industry.cn}{suffix}"
            elif roll < 0.90:
                prefix, name = province, f"{province}{brand}{industry.cn}{suffix}"
            elif roll < 0.95:
                prefix, name = "", f"{brand}{industry.cn}（{short}）{suffix}"
            else:
                prefix, name = "", f"{brand}{industry.cn}{suffix}"
            if name not in self.used_names:
                self.used_names[name] = None
                break
        cid = len(self.companies)
        switchboard = self.new_landline(city)
        fax = None
        if rng.random() < self.r.fax:
            fax = switchboard if rng.random() < 0.5 else self.new_landline(city, switchboard[len(city.area) : -3])
        domain = None
        if rng.random() < self.r.company_domain:
            initials = a[1][0] + b[1][0]
            city_key = city.pinyin.lower().replace("'", "")[:2]
            for stem in (
                brand_py,
                f"{brand_py}{industry.en.split()[-1].lower()}",
                f"{initials}{industry.abbr}",
                f"{city_key}{initials}{industry.abbr}",
                f"{brand_py}-{industry.en.split()[0].lower()}",
                f"{brand_py}{rng.randrange(10, 99)}",
            ):
                candidate = stem + self.tlds.pick(rng)
                if candidate not in self.used_domains:
                    domain = candidate
                    self.used_domains[candidate] = None
                    break
        if domain is not None:
            role = self._email(self.roles.pick(rng), domain)
        else:
            box = rng.choice(
                (
                    f"{a[1][0]}{b[1][0]}{industry.abbr}{rng.randrange(1990, 2016)}",
                    f"{brand_py}{rng.choice(('88', '66', '168', '888', '2008', '666'))}",
                    f"{city.pinyin.lower().replace(chr(39), '')[:2]}_{brand_py}",
                    str(rng.randrange(10**8, 4 * 10**9)),  # the company's QQ mailbox
                )
            )
            role = self._email(box, "qq.com" if box.isdigit() else rng.choice(("163.com", "126.com", "163.com")))
        company = Company(
            cid,
            city,
            brand,
            brand_py,
            industry,
            suffix,
            suffix_en,
            prefix,
            name,
            switchboard,
            fax,
            domain,
            role,
            self.address(city, home=False),
        )
        self.landlines[switchboard] = ("switchboard", cid)
        if fax is not None and fax != switchboard:
            self.landlines[fax] = ("switchboard", cid)
        self.role_emails[role] = cid
        self.companies.append(company)
        return company

    def direct_line(self, company: Company) -> str:
        """A direct line on the switchboard's exchange; a quarter are an office line shared with a colleague."""
        if company.directs and self.rng.random() < self.r.shared_direct:
            return self.rng.choice(company.directs)
        exchange = company.switchboard[len(company.city.area) : -3]
        number = self.new_landline(company.city, exchange)
        self.landlines[number] = ("direct", company.cid)
        company.directs.append(number)
        return number

    # ------------------------------------------------------------------ people
    def _culture(self, city: V.CityInfo, b2b: bool) -> str:
        roll = self.rng.random()
        intl = city.name in V.INTERNATIONAL_CITIES
        if b2b:
            west = self.r.west_b2b * (2.5 if intl else 0.35)
            eng = self.r.english_name * (2.2 if intl else 0.5)
        else:
            west, eng = self.r.west_consumer, 0.01
        return "west" if roll < west else "cn_en" if roll < west + eng else "cn"

    def staff(self, company: Company, role: str) -> Person:
        rng = self.rng
        if role == "boss":
            gender = "M" if rng.random() < 0.85 else "F"
            year, title = rng.randint(1955, 1982), rng.choice(V.TITLES_BOSS)
        elif role == "assistant":
            gender = "F" if rng.random() < 0.8 else "M"
            year, title = rng.randint(1978, 1998), rng.choice(V.TITLES_ASSISTANT)
        else:
            gender = "M" if rng.random() < 0.6 else "F"
            year, title = rng.randint(1962, 1998), self.staff_titles.pick(rng)
        p = self.new_person("b2b", self._culture(company.city, True), gender, year)
        p.role = role
        p.homes = [(self.address(company.city, home=True), 0, FOREVER)]
        job = Job(company.cid, title, 0, FOREVER)
        share = self.r.direct_line / 2 if role == "boss" else self.r.direct_line if len(company.members) >= 2 else 0
        if rng.random() < share:
            job.direct = self.direct_line(company)
        p.jobs.append(job)
        company.members.append(p.pid)
        return p

    def contact_facts(self, p: Person) -> None:
        rng = self.rng
        if p.culture == "west":
            p.foreign, p.foreign_cc = self.new_foreign()
            if rng.random() < 0.65:
                p.mobiles = [(self.new_mobile(), 0, FOREVER)]
        else:
            p.mobiles = [(self.new_mobile(), 0, FOREVER)]
            if rng.random() < self.r.qq:
                p.qq = self.new_qq(p.birth.year)
        if p.kind == "b2b" and p.culture != "west" and rng.random() < self.r.second_mobile:
            p.second_mobile = self.new_mobile()
        if rng.random() < self.r.personal_email:
            p.email = self.personal_email(p)
        for number, _, _ in p.mobiles:
            self.mobile_owners[number] = [p.pid]

    def build_companies(self, b2b: int) -> None:
        made = 0
        while made < b2b:
            company = self.new_company()
            size = min(self._company_size(), b2b - made)
            for i in range(size):
                role = "boss" if i == 0 else "assistant" if i == 1 and size >= 3 else "staff"
                p = self.staff(company, role)
                if role == "boss":
                    company.boss = p.pid
                elif role == "assistant":
                    company.assistant = p.pid
            made += size

    def build_consumers(self, count: int) -> None:
        rng = self.rng
        made = 0
        while made < count:
            city = self.consumer_cities.pick(rng)
            home = self.address(city, home=True)
            if rng.random() < self.r.household and count - made >= 2:
                size = min(count - made, rng.choices((2, 3, 4), (0.70, 0.22, 0.08))[0])
                hid = len(self.households)
                members = self._household(size, city, home, hid)
                self.households[hid] = [m.pid for m in members]
                made += size
                if rng.random() < self.r.home_phone_household:
                    phone = self.new_landline(city)
                    self.landlines[phone] = ("home", hid)
                    for m in members:
                        m.home_phone = phone
            else:
                p = self.new_person("consumer", self._culture(city, False), rng.choice("MF"), rng.randint(1945, 2003))
                p.homes = [(home, 0, FOREVER)]
                if rng.random() < self.r.home_phone_single * (2 if p.birth.year < 1970 else 1):
                    p.home_phone = self.new_landline(city)
                made += 1

    def _household(self, size: int, city: V.CityInfo, home: Address, hid: int) -> list[Person]:
        rng = self.rng
        head_year = rng.randint(1948, 1985)
        head = self.new_person("consumer", "cn", "M", head_year)
        head.role = "head"
        members = [head]
        spouse = self.new_person("consumer", "cn", "F", min(2003, head_year + rng.randint(-2, 5)))
        spouse.role = "spouse"
        members.append(spouse)
        for _ in range(size - 2):
            year = min(2003, head_year + rng.randint(22, 34))
            child = self.new_person("consumer", "cn", rng.choice("MF"), year)
            # children carry the father's surname
            child.surname, child.surname_py, child.role = head.surname, head.surname_py, "child"
            members.append(child)
        for m in members:
            m.homes = [(home, 0, FOREVER)]
            m.household = hid
        return members

    # ------------------------------------------------------------------ hard cases
    def build_name_twins(self) -> None:
        """Fathers and sons of one name (family firms and households) and two colleagues of one name."""
        rng = self.rng
        for company in self.companies:
            if len(company.members) < 3 or company.boss is None:
                continue
            boss = self.people[company.boss]
            if boss.gender == "M" and boss.birth.year <= 1968 and rng.random() < self.r.father_son_company:
                candidates = [m for m in company.members[1:] if self.people[m].gender == "M"]
                if candidates:
                    son = self.people[rng.choice(candidates)]
                    self.rename(son, boss)
                    son.birth = son.birth.replace(year=boss.birth.year + rng.randint(23, 32))
                    son.jobs[0].title = rng.choice(("副总经理", "总经理助理", "销售经理", "厂长"))
                    if rng.random() < 0.5:
                        son.homes = list(boss.homes)
                    self.father_son.append((boss.pid, son.pid))
                    continue
            if len(company.members) >= 4 and rng.random() < self.r.same_name_colleague:
                a, b = rng.sample(company.members[1:], 2)
                if self.people[a].culture == self.people[b].culture:
                    self.rename(self.people[b], self.people[a])
                    self.same_name.append((min(a, b), max(a, b)))
        for members in self.households.values():
            head = self.people[members[0]]
            sons = [m for m in members[2:] if self.people[m].gender == "M"]
            if sons and head.birth.year <= 1975 and rng.random() < self.r.father_son_household:
                son = self.people[sons[0]]
                self.rename(son, head)
                self.father_son.append((head.pid, son.pid))

    def plan_records(self) -> list[Rec]:
        rng = self.rng
        counts = Weighted((1, 2, 3, 4), self.r.records)
        by_kind = {
            "b2b": Weighted(SOURCES, self.r.sources_b2b),
            "consumer": Weighted(SOURCES, self.r.sources_consumer),
            "west": Weighted(SOURCES, self.r.sources_west),
        }
        records: list[Rec] = []
        for p in self.people:
            sources = by_kind["west" if p.culture == "west" else p.kind]
            for _ in range(counts.pick(rng)):
                source = sources.pick(rng)
                low, high = WINDOWS[source]
                p.records.append(Rec(p.pid, source, rng.randint(low, high)))
            p.records.sort(key=lambda r: r.day)
            records.extend(p.records)
        return records

    def build_changes(self) -> None:
        """New mobiles, new employers and new homes between a person's first and last row."""
        rng = self.rng
        r = self.r
        for p in self.people:
            first, last = p.records[0].day, p.records[-1].day
            if last - first < 60:
                continue
            if p.mobiles and rng.random() < r.mobile_change:
                times = sorted(rng.randint(first + 1, last) for _ in range(2 if rng.random() < r.second_change else 1))
                numbers = [p.mobiles[0][0]] + [self.new_mobile() for _ in times]
                bounds = [0, *times, FOREVER]
                p.mobiles = [(numbers[i], bounds[i], bounds[i + 1]) for i in range(len(numbers))]
                for number in numbers[1:]:
                    self.mobile_owners[number] = [p.pid]
            if p.kind == "b2b" and rng.random() < r.job_change:
                when = rng.randint(first + 1, last)
                old = p.jobs[0]
                old_company = self.companies[old.company]
                same_city = [
                    c
                    for c in rng.sample(self.companies, min(12, len(self.companies)))
                    if c.cid != old.company and c.city == old_company.city
                ]
                others = [c for c in rng.sample(self.companies, min(4, len(self.companies))) if c.cid != old.company]
                pool = same_city if same_city and rng.random() < 0.6 else others
                if pool:
                    new = rng.choice(pool)
                    job = Job(new.cid, self.staff_titles.pick(rng), when, FOREVER)
                    if rng.random() < r.direct_line:
                        job.direct = self.direct_line(new)
                    if new.domain and rng.random() < r.work_email:
                        job.email = self.work_email(p, new.domain)
                    old.end = when
                    p.jobs.append(job)
                    new.members.append(p.pid)
            if p.kind == "consumer" and p.household is None and rng.random() < r.move:
                when = rng.randint(first + 1, last)
                old_home = p.homes[0][0]
                city = old_home.city if rng.random() < 0.85 else self.consumer_cities.pick(rng)
                p.homes = [(old_home, 0, when), (self.address(city, home=True), when, FOREVER)]
                if p.home_phone and rng.random() < 0.7:
                    p.home_phone = self.new_landline(city)

    def build_recycling(self) -> None:
        """Hand abandoned mobiles to other people of the data who turn up a year or more later."""
        rng = self.rng
        takers = sorted((p.records[0].day, p.pid) for p in self.people if len(p.mobiles) == 1 and p.culture != "west")
        starts = [t[0] for t in takers]
        taken: dict[int, None] = {}
        for p in self.people:
            for number, _, end in p.mobiles[:-1]:
                if rng.random() >= self.r.recycled:
                    continue
                at = bisect.bisect_left(starts, end + rng.randint(180, 900))
                for _ in range(6):
                    if at >= len(takers):
                        break
                    _, pid = takers[rng.randrange(at, len(takers))]
                    other = self.people[pid]
                    if pid in taken or pid == p.pid or (other.household is not None and other.household == p.household):
                        continue
                    taken[pid] = None
                    del self.mobile_owners[other.mobiles[0][0]]
                    other.mobiles = [(number, 0, FOREVER)]
                    self.mobile_owners[number].append(pid)
                    break

    def build_borrowing(self) -> None:
        """An assistant's mobile on the boss's rows; one family member's mobile on another's rows."""
        rng = self.rng
        for company in self.companies:
            if company.assistant is None or company.boss is None or rng.random() >= self.r.assistant_mobile:
                continue
            boss, assistant = self.people[company.boss], self.people[company.assistant]
            if not assistant.mobiles or boss.culture == "west":
                continue
            number, start, end = assistant.mobiles[0]
            rows = [r for r in boss.records if start <= r.day < end]
            if rows:
                boss.borrowed, boss.borrowed_kind = number, "assistant_mobile"
                for i, rec in enumerate(rows):
                    rec.borrowed = i == 0 or rng.random() < 0.4
        for members in self.households.values():
            if rng.random() >= self.r.shared_mobile:
                continue
            owner, borrower = self.people[members[0]], self.people[rng.choice(members[1:])]
            if borrower.pid == owner.pid or not owner.mobiles:
                continue
            number, start, end = owner.mobiles[0]
            rows = [r for r in borrower.records if start <= r.day < end]
            if rows:
                borrower.borrowed, borrower.borrowed_kind = number, "household"
                for i, rec in enumerate(rows):
                    rec.borrowed = i == 0 or rng.random() < 0.5
            if rng.random() < self.r.shared_email / self.r.shared_mobile and owner.email:
                borrower.email = owner.email

    def build_deleted(self, records: list[Rec]) -> list[Rec]:
        """Older duplicates of legacy rows that staff entered again and then deleted."""
        rng = self.rng
        extra = []
        for rec in records:
            if rec.source == LEGACY and rec.kind == "record" and rng.random() < self.r.deleted_copy:
                day = rec.day - rng.randint(0, min(400, rec.day - WINDOWS[LEGACY][0]))
                copy = Rec(rec.person, LEGACY, day, kind="deleted")
                self.people[rec.person].records.append(copy)
                extra.append(copy)
        return records + extra

    def build(self) -> World:
        b2b = max(1, round(self.n * self.r.b2b)) if self.n > 1 else 1
        self.build_companies(b2b)
        self.build_consumers(self.n - b2b)
        self.build_name_twins()
        for p in self.people:
            self.contact_facts(p)
            if p.jobs:
                company = self.companies[p.jobs[0].company]
                if company.domain and self.rng.random() < self.r.work_email:
                    p.jobs[0].email = self.work_email(p, company.domain)
        records = self.plan_records()
        self.build_changes()
        self.build_recycling()
        self.build_borrowing()
        records = self.build_deleted(records)
        for p in self.people:
            p.records.sort(key=lambda r: (r.day, r.kind))
        return World(
            people=self.people,
            companies=self.companies,
            households=self.households,
            landlines=self.landlines,
            mobile_owners=self.mobile_owners,
            role_emails=self.role_emails,
            father_son=self.father_son,
            same_name_colleagues=self.same_name,
            records=records,
        )


def build_world(people: int, rng: random.Random, rates: Rates | None = None) -> World:
    """Draw the true world of ``people`` persons (companies and households come with them)."""
    return WorldBuilder(people, rng, rates).build()

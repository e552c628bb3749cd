"""The true population behind a sample: people, households, companies, with the facts each record draws on."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate

from pypinyin import lazy_pinyin

from . import names as T

CN_SHARE = 0.7
DAY = dt.timedelta(days=1)


@lru_cache(maxsize=1)
def _s2t_converter() -> object:
    import opencc

    return opencc.OpenCC("s2t")


@lru_cache(maxsize=65536)
def to_traditional(text: str) -> str:
    """Simplified -> traditional characters (OpenCC ``s2t``)."""
    return _s2t_converter().convert(text)  # type: ignore[attr-defined, no-any-return]


@lru_cache(maxsize=4096)
def _char_pinyin(ch: str) -> str:
    return lazy_pinyin(ch)[0]


def syllables(text: str) -> list[str]:
    """Pinyin per character (names are read character by character; cached, pypinyin is slow)."""
    return [_char_pinyin(ch) for ch in text]


@lru_cache(maxsize=65536)
def pinyin_parts(family: str, given: str) -> tuple[str, str]:
    """Romanised surname and given name ("Zhang", "Wei"), with the surname reading table applied."""
    fam = T.SURNAME_PINYIN.get(family) or "".join(syllables(family))
    giv = _join_syllables(syllables(given))
    return fam.capitalize(), giv.capitalize()


def _join_syllables(syllables: list[str]) -> str:
    out = syllables[0] if syllables else ""
    for syl in syllables[1:]:
        out += ("'" if syl[:1] in "aoe" else "") + syl
    return out


@lru_cache(maxsize=4096)
def initials(text: str) -> str:
    """Pinyin initials of a Chinese word ("机械" -> "jx")."""
    return "".join(s[0] for s in syllables(text))


@dataclass(slots=True)
class Address:
    """A postal address; Chinese ones keep the administrative levels apart."""

    cn: bool
    province: str = ""
    city: str = ""
    district: str = ""
    street: str = ""
    number: int = 0
    extra: str = ""
    city_en: str = ""
    region: str = ""
    postcode: str = ""
    country: str = ""


@dataclass(slots=True)
class Company:
    """An employer; colleagues share its switchboard and e-mail domain."""

    cn: bool
    canonical: str
    brand: str
    industry: str
    suffix: str
    city_short: str
    city_full: str
    english: str
    domain: str
    switchboard: tuple[str, str] | None  # (area code, local number), Chinese companies only
    size: int = 0


@dataclass(slots=True)
class Person:
    """One real person (an entity): the facts every record about them is drawn from."""

    idx: int
    cn: bool
    gender: str  # "M" | "F"
    family: str
    given: str
    name: str
    birth: dt.date | None
    mobiles: list[tuple[str, str]]  # (country code, national number), oldest first
    phone_changed_at: dt.datetime | None
    emails: list[str]  # private addresses, oldest first
    email_changed_at: dt.datetime | None
    address: Address
    company: Company | None = None
    job_title: str | None = None
    landline: tuple[str, str] | None = None  # shared household landline (area code, local number)
    household: int | None = None
    father_son: int | None = None
    nickname: str | None = None
    generation: str = ""  # "Sr." | "Jr." for Western fathers and sons of the same name
    wechat: str | None = None
    work_email: str | None = None
    entity_id: str = ""
    records: int = 0


class PopulationBuilder:
    """Draws a population of ``n`` people from one random generator (deterministic for a seed)."""

    def __init__(self, n: int, rng: random.Random) -> None:
        self.n = n
        self.rng = rng
        self.people: list[Person] = []
        self._mobiles: dict[str, None] = {}
        self._emails: dict[str, None] = {}
        self._landlines: dict[str, None] = {}
        self._company_names: dict[str, None] = {}
        self._domains: dict[str, None] = {}
        self._households = 0
        self._pairs = 0
        self._surnames = [s for s, _ in T.SURNAMES]
        self._surname_cum = list(accumulate(w for _, w in T.SURNAMES))
        self._cities = range(len(T.CN_CITIES))
        self._city_cum = list(accumulate(c[5] for c in T.CN_CITIES))
        self._cn_domains = [d for d, _ in T.CN_EMAIL_DOMAINS]
        self._cn_domain_cum = list(accumulate(w for _, w in T.CN_EMAIL_DOMAINS))
        self._west_domains = [d for d, _ in T.WESTERN_EMAIL_DOMAINS]
        self._west_domain_cum = list(accumulate(w for _, w in T.WESTERN_EMAIL_DOMAINS))
        self.cn_companies: list[Company] = []
        self.west_companies: list[Company] = []

    # ---------------------------------------------------------------------------------------------- basics
    def _date(self, start_year: int, end_year: int) -> dt.date:
        start = dt.date(start_year, 1, 1)
        span = (dt.date(end_year, 12, 31) - start).days
        return start + self.rng.randrange(span + 1) * DAY

    def when(self, start: dt.date, end: dt.date) -> dt.datetime:
        """A random moment in office hours between two dates."""
        day = start + self.rng.randrange((end - start).days + 1) * DAY
        return dt.datetime(
            day.year,
            day.month,
            day.day,
            self.rng.randint(8, 20),
            self.rng.randrange(60),
            self.rng.randrange(60),
        )

    def _cn_mobile(self) -> tuple[str, str]:
        while True:
            num = self.rng.choice(T.CN_MOBILE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"
            if num not in self._mobiles and len(set(num[3:])) > 2:
                self._mobiles[num] = None
                return ("86", num)

    def _west_phone(self, addr: Address) -> tuple[str, str]:
        while True:
            if addr.country == "USA":
                area = self.rng.choice(T.US_AREA_CODES[addr.city_en])
                num = ("1", f"{area}{self.rng.randint(201, 989)}{self.rng.randrange(10000):04d}")
            elif addr.country == "UK":
                num = ("44", f"7{self.rng.choice('4589')}{self.rng.randrange(10**8):08d}")
            else:
                num = ("49", f"15{self.rng.choice('12579')}{self.rng.randrange(10**8):08d}")
            if num[1] not in self._mobiles:
                self._mobiles[num[1]] = None
                return num

    def _landline(self, city_idx: int, round_number: bool = False) -> tuple[str, str]:
        _, _, _, area, digits, _, _ = T.CN_CITIES[city_idx]
        while True:
            head = str(self.rng.randint(2, 8))
            if round_number:
                local = (
                    head
                    + f"{self.rng.randrange(10 ** (digits - 4)):0{digits - 4}d}"
                    + self.rng.choice(("000", "888", "666", "001"))
                )
            else:
                local = head + f"{self.rng.randrange(10 ** (digits - 1)):0{digits - 1}d}"
            if area + local not in self._landlines:
                self._landlines[area + local] = None
                return (area, local)

    def _unique_email(self, local: str, domain: str) -> str:
        email = f"{local}@{domain}"
        tries = 0
        while email in self._emails:
            tries += 1
            email = f"{local}{self.rng.randint(1, 999 * tries)}@{domain}"
        self._emails[email] = None
        return email

    # ---------------------------------------------------------------------------------------------- places
    def cn_address(self, city_idx: int | None = None) -> Address:
        if city_idx is None:
            city_idx = self.rng.choices(self._cities, cum_weights=self._city_cum)[0]
        province, city, city_en, _, _, _, districts = T.CN_CITIES[city_idx]
        extra = ""
        if self.rng.random() < 0.5:
            extra = (
                f"{self.rng.choice(T.CN_BUILDINGS)}{self.rng.randint(1, 20)}号楼{self.rng.randint(1, 6)}单元"
                f"{self.rng.randint(1, 18)}0{self.rng.randint(1, 4)}室"
            )
        return Address(
            cn=True,
            province=province,
            city=city,
            district=self.rng.choice(districts),
            street=self.rng.choice(T.CN_STREETS),
            number=self.rng.randint(1, 399),
            extra=extra,
            city_en=city_en,
            country="中国",
        )

    def _city_idx(self, addr: Address) -> int:
        for i, row in enumerate(T.CN_CITIES):
            if row[1] == addr.city:
                return i
        return 0

    def west_address(self) -> Address:
        streets, city, region, pattern, country, _ = self.rng.choice(T.WESTERN_CITIES)
        postcode = "".join(str(self.rng.randrange(10)) if ch == "#" else ch for ch in pattern)
        return Address(
            cn=False,
            street=self.rng.choice(streets),
            number=self.rng.randint(1, 480),
            city=city,
            city_en=city,
            region=region,
            postcode=postcode,
            country=country,
        )

    # ---------------------------------------------------------------------------------------------- companies
    def _new_cn_company(self) -> Company:
        rng = self.rng
        while True:
            city_idx = rng.choices(self._cities, cum_weights=self._city_cum)[0]
            if rng.random() < 0.5:
                brand, brand_en = rng.choice(T.CN_BRANDS)
            else:
                brand = rng.choice(T.BRAND_CHARS) + rng.choice(T.BRAND_CHARS)
                if brand[0] == brand[1]:
                    continue
                brand_en = _join_syllables(syllables(brand)).capitalize()
            industry, industry_en = rng.choice(T.CN_INDUSTRIES)
            suffix, suffix_en = rng.choice(T.CN_SUFFIXES)
            _, city_full, city_en, *_ = T.CN_CITIES[city_idx]
            city_short = city_full[:-1]
            canonical = f"{city_short}{brand}{industry}{suffix}"
            if canonical not in self._company_names:
                break
        self._company_names[canonical] = None
        stem = initials(brand) + initials(industry)
        domain = f"{stem}.{rng.choice(('com', 'com.cn', 'cn'))}"
        if domain in self._domains:
            domain = f"{initials(city_short)}{stem}.com.cn"
        n = 2
        while domain in self._domains:
            domain = f"{stem}{n}.com"
            n += 1
        self._domains[domain] = None
        english = f"{city_en} {brand_en} {industry_en} {suffix_en}"
        return Company(
            cn=True,
            canonical=canonical,
            brand=brand,
            industry=industry,
            suffix=suffix,
            city_short=city_short,
            city_full=city_full,
            english=english,
            domain=domain,
            switchboard=self._landline(city_idx, round_number=True),
        )

    def _new_west_company(self) -> Company:
        rng = self.rng
        while True:
            stem = f"{rng.choice(T.WESTERN_COMPANY_STEMS)} {rng.choice(T.WESTERN_COMPANY_INDUSTRIES)}"
            suffix, long_suffix = rng.choice(T.WESTERN_COMPANY_SUFFIXES)
            canonical = f"{stem} {suffix}"
            if canonical not in self._company_names:
                break
        self._company_names[canonical] = None
        domain = stem.lower().replace(" ", "") + ".com"
        n = 2
        while domain in self._domains:
            domain = stem.lower().replace(" ", "-") + (f"{n}.com" if n > 2 else ".com")
            n += 1
        self._domains[domain] = None
        return Company(
            cn=False,
            canonical=canonical,
            brand=stem,
            industry="",
            suffix=suffix,
            city_short="",
            city_full="",
            english=f"{stem} {long_suffix}",
            domain=domain,
            switchboard=None,
        )

    def _pick_company(self, pool: list[Company], new: object, per_company: float, capacity: int) -> Company:
        # A growing pool: a new company with probability 1/per_company, else an existing one (bigger ones
        # attract more), so colleagues share a switchboard and an e-mail domain. ``capacity`` stays well below
        # the number of distinct names the tables can make.
        if not pool or (len(pool) < capacity and self.rng.random() < 1.0 / per_company):
            pool.append(new())  # type: ignore[operator]
            return pool[-1]
        a, b = self.rng.randrange(len(pool)), self.rng.randrange(len(pool))
        return pool[a] if pool[a].size >= pool[b].size else pool[b]

    # ---------------------------------------------------------------------------------------------- people
    def _cn_given(self, gender: str) -> str:
        pool = T.GIVEN_CHARS_MALE if gender == "M" else T.GIVEN_CHARS_FEMALE
        if self.rng.random() < 0.3:
            return self.rng.choice(pool)
        first = self.rng.choice(pool)
        second = self.rng.choice(pool)
        return first + second if second != first or self.rng.random() < 0.3 else first

    def _cn_email(self, family: str, given: str, birth: dt.date | None) -> str:
        rng = self.rng
        domain = rng.choices(self._cn_domains, cum_weights=self._cn_domain_cum)[0]
        fam, giv = pinyin_parts(family, given)
        fam, giv = fam.lower(), giv.lower().replace("'", "")
        year = f"{birth.year % 100:02d}" if birth else ""
        r = rng.random()
        if domain == "qq.com" and r < 0.7:
            return self._unique_email(str(rng.randint(10**5, 3 * 10**9)), domain)
        if r < 0.3:
            local = fam + giv
        elif r < 0.5:
            local = f"{fam}{giv}{year or rng.randint(1, 99)}"
        elif r < 0.65:
            local = f"{fam}.{giv}"
        elif r < 0.8:
            local = f"{giv}{fam}"
        else:
            local = f"{fam[0]}{initials(given)}{rng.randint(1, 9999)}"
        return self._unique_email(local, domain)

    def _west_email(self, first: str, last: str) -> str:
        rng = self.rng
        domain = rng.choices(self._west_domains, cum_weights=self._west_domain_cum)[0]
        f = first.lower()
        la = last.lower().replace("'", "").replace("ü", "ue").replace("í", "i")
        local = rng.choice((f"{f}.{la}", f"{f}{la}", f"{f[0]}{la}", f"{f}_{la}{rng.randint(1, 99)}"))
        return self._unique_email(local, domain)

    def _finish(self, p: Person) -> Person:
        """Employer, job, changed contacts, WeChat: the parts every kind of person gets the same way."""
        rng = self.rng
        if rng.random() < (0.72 if p.cn else 0.65):
            if p.cn or rng.random() < 0.3:
                p.company = self._pick_company(self.cn_companies, self._new_cn_company, 2.4, 30000)
            else:
                p.company = self._pick_company(self.west_companies, self._new_west_company, 2.4, 400)
            p.company.size += 1
            if rng.random() < 0.5:
                p.job_title = rng.choice(T.JOB_TITLES_CN if p.cn else T.JOB_TITLES_EN)
            if rng.random() < 0.3:  # a corporate address next to the private one
                local = (pinyin_parts(p.family, p.given)[0] + pinyin_parts(p.family, p.given)[1]).lower()
                if not p.cn:
                    local = f"{p.given[0]}{p.family}".lower().replace("'", "").replace("ü", "ue").replace("í", "i")
                p.work_email = self._unique_email(local.replace("'", ""), p.company.domain)
        if rng.random() < 0.15:
            p.mobiles.append(self._cn_mobile() if p.address.cn else self._west_phone(p.address))
            p.phone_changed_at = self.when(dt.date(2021, 1, 1), dt.date(2023, 12, 31))
        if p.emails and rng.random() < 0.10:
            if p.cn:
                p.emails.append(self._cn_email(p.family, p.given, p.birth))
            else:
                p.emails.append(self._west_email(p.given, p.family))
            p.email_changed_at = self.when(dt.date(2021, 1, 1), dt.date(2023, 12, 31))
        if p.cn and rng.random() < 0.4:
            r = rng.random()
            if r < 0.4:
                p.wechat = p.mobiles[-1][1]
            elif r < 0.7:
                fam, giv = pinyin_parts(p.family, p.given)
                p.wechat = f"{fam.lower()}{giv.lower().replace(chr(39), '')}{rng.randint(1, 9999)}"
            else:
                p.wechat = "wxid_" + "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(12))
        self.people.append(p)
        return p

    def cn_person(
        self,
        gender: str | None = None,
        family: str | None = None,
        given: str | None = None,
        birth: dt.date | None = None,
        address: Address | None = None,
    ) -> Person:
        rng = self.rng
        gender = gender or rng.choice("MF")
        family = family or rng.choices(self._surnames, cum_weights=self._surname_cum)[0]
        given = given or self._cn_given(gender)
        if birth is None and rng.random() < 0.9:
            birth = self._date(1955, 2002)
        address = address or self.cn_address()
        p = Person(
            idx=len(self.people),
            cn=True,
            gender=gender,
            family=family,
            given=given,
            name=family + given,
            birth=birth,
            mobiles=[self._cn_mobile()],
            phone_changed_at=None,
            emails=[self._cn_email(family, given, birth)] if rng.random() < 0.85 else [],
            email_changed_at=None,
            address=address,
        )
        return self._finish(p)

    def west_person(
        self,
        first: str | None = None,
        last: str | None = None,
        gender: str | None = None,
        birth: dt.date | None = None,
        address: Address | None = None,
    ) -> Person:
        rng = self.rng
        if first is None:
            first, gender, _ = rng.choice(T.WESTERN_FIRST)
        nicks = next((n for f, _, n in T.WESTERN_FIRST if f == first), ())
        last = last or rng.choice(T.WESTERN_LAST)
        if birth is None and rng.random() < 0.8:
            birth = self._date(1950, 2000)
        if address is None:
            address = self.cn_address() if rng.random() < 0.35 else self.west_address()
        mobile = self._cn_mobile() if address.cn else self._west_phone(address)
        p = Person(
            idx=len(self.people),
            cn=False,
            gender=gender or "M",
            family=last,
            given=first,
            name=f"{first} {last}",
            birth=birth,
            mobiles=[mobile],
            phone_changed_at=None,
            emails=[self._west_email(first, last)],
            email_changed_at=None,
            address=address,
            nickname=rng.choice(nicks) if nicks and rng.random() < 0.7 else None,
        )
        return self._finish(p)

    # ---------------------------------------------------------------------------------------------- groups
    def household(self, father_son: bool) -> list[Person]:
        """People sharing an address and a landline: a couple, maybe a child.

        With ``father_son`` the son carries his father's full name (a hard negative: same name, address and
        landline, different birthday).
        """
        rng = self.rng
        addr = self.cn_address()
        landline = self._landline(self._city_idx(addr))
        self._households += 1
        hh = self._households
        head_birth = self._date(1952, 1972)
        head_given = rng.choice(T.FATHER_GIVEN_NAMES) if father_son else None
        head = self.cn_person("M", given=head_given, birth=head_birth, address=addr)
        members = [head]
        if rng.random() < 0.7 or not father_son:
            members.append(self.cn_person("F", birth=head_birth + rng.randint(-1500, 1500) * DAY, address=addr))
        if father_son:
            son_birth = head_birth + rng.randint(22 * 365, 32 * 365) * DAY
            son = self.cn_person("M", family=head.family, given=head.given, birth=son_birth, address=addr)
            self._pairs += 1
            head.father_son = son.father_son = self._pairs
            members.append(son)
        elif rng.random() < 0.5:
            members.append(
                self.cn_person(
                    rng.choice("MF"),
                    family=head.family,
                    birth=head_birth + rng.randint(22 * 365, 32 * 365) * DAY,
                    address=addr,
                )
            )
        for m in members:
            m.landline = landline
            m.household = hh
        return members

    def west_father_son(self) -> list[Person]:
        rng = self.rng
        first, _, _ = rng.choice([f for f in T.WESTERN_FIRST if f[1] == "M"])
        last = rng.choice(T.WESTERN_LAST)
        addr = self.west_address()
        birth = self._date(1945, 1965)
        father = self.west_person(first, last, "M", birth=birth, address=addr)
        son = self.west_person(first, last, "M", birth=birth + rng.randint(22 * 365, 35 * 365) * DAY, address=addr)
        father.generation, son.generation = "Sr.", "Jr."
        self._pairs += 1
        self._households += 1
        for m in (father, son):
            m.father_son = self._pairs
            m.household = self._households
        return [father, son]


def build_population(n: int, rng: random.Random, b: PopulationBuilder | None = None) -> list[Person]:
    """Draw ``n`` people, about 70% Chinese, with deliberate hard negatives, in a shuffled order."""
    b = b or PopulationBuilder(n, rng)
    n_cn = round(n * CN_SHARE)
    n_west = n - n_cn
    # Deliberate structures first (they guarantee hard negatives even in a small sample), then singles.
    cn_groups = max(2, round(n_cn * 0.012)) if n_cn >= 20 else 0
    for _ in range(cn_groups):  # several different people with one very common name
        family, given, gender = rng.choice(T.COMMON_FULL_NAMES[:12] if rng.random() < 0.7 else T.COMMON_FULL_NAMES)
        for _ in range(rng.randint(2, 4)):
            b.cn_person(gender, family=family, given=given)
    hh_target = max(2, round(n_cn * 0.012)) if n_cn >= 20 else 0
    for i in range(hh_target):
        b.household(father_son=(i % 3 == 0))
    while len(b.people) < n_cn:
        b.cn_person()
    del b.people[n_cn:]  # a household may overshoot a tiny target
    west_start = len(b.people)
    if n_west >= 10:
        for _ in range(max(1, round(n_west * 0.01))):
            first, last, gender = rng.choice(T.COMMON_WESTERN_NAMES)
            for _ in range(rng.randint(2, 3)):
                b.west_person(first, last, gender)
        b.west_father_son()
    while len(b.people) - west_start < n_west:
        b.west_person()
    del b.people[n:]
    people = b.people
    rng.shuffle(people)
    width = max(5, len(str(n)))
    for i, p in enumerate(people, 1):
        p.entity_id = f"E{i:0{width}d}"
    return people

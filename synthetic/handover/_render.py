"""How people write things down: the many spellings of one phone number, name, company, address or e-mail.

Every function takes the true value and a random generator and returns text as it would appear in a source.
Functions that may damage a value (a typo) say so by returning the canonical value only when it survived,
so the truth tables know which values a row really shows.
"""

from __future__ import annotations

import random
from collections.abc import Mapping

from . import _vocab as V
from ._people import Address, Company, Person

FULLWIDTH = str.maketrans("0123456789-()+ ", "０１２３４５６７８９－（）＋\u3000")


def fullwidth(text: str) -> str:
    """Digits and phone punctuation in their full-width forms (typed with a Chinese IME)."""
    return text.translate(FULLWIDTH)


def traditional(text: str) -> str:
    """The text in traditional characters (as typed by a customer from Hong Kong or Taiwan, or an old IME)."""
    return "".join(V.TRADITIONAL.get(ch, ch) for ch in text)


def pick(rng: random.Random, weights: Mapping[str, float]) -> str:
    """One key of ``weights``, drawn by weight."""
    roll = rng.random() * sum(weights.values())
    for key, weight in weights.items():
        roll -= weight
        if roll < 0:
            return key
    return next(iter(weights))


# ------------------------------------------------------------------------------------------------ phones
def mobile(number: str, rng: random.Random, styles: Mapping[str, float]) -> str:
    """A Chinese mobile as written: plain, grouped 3-4-4, with +86, full-width."""
    style = pick(rng, styles)
    if style == "plain":
        return number
    if style == "spaced":
        return f"{number[:3]} {number[3:7]} {number[7:]}"
    if style == "dashed":
        return f"{number[:3]}-{number[3:7]}-{number[7:]}"
    if style == "plus86":
        return rng.choice(
            (f"+86 {number}", f"+86{number}", f"86-{number}", f"+86 {number[:3]} {number[3:7]} {number[7:]}")
        )
    if style == "fullwidth":
        return fullwidth(number)
    raise ValueError(style)


def landline(number: str, area: str, rng: random.Random, styles: Mapping[str, float], ext: bool = False) -> str:
    """A Chinese landline (national digits) as written: 0635-8261234, (0635)8261234, local only, with extension."""
    local = number[len(area) :]
    style = pick(rng, styles)
    if style == "dashed":
        text = f"{area}-{local}"
    elif style == "plain":
        text = number
    elif style == "spaced":
        text = f"{area} {local}"
    elif style == "paren":
        text = f"({area}){local}"
    elif style == "local":
        text = local
    elif style == "plus86":
        text = f"+86-{area[1:]}-{local}"
    elif style == "fullwidth":
        text = fullwidth(f"{area}-{local}")
    else:
        raise ValueError(style)
    if ext:
        digits = f"{rng.randrange(8000, 8100)}" if rng.random() < 0.6 else f"{rng.randrange(100, 999)}"
        text += rng.choice(("-", "转", " ext.", "-", "转")) + digits
    return text


def foreign(digits: str, cc: str, rng: random.Random) -> str:
    """A foreign number (E.164 digits without "+") as an expat writes it: ``(212) 517-1640``, ``+1 212 517 1640``."""
    national = digits[len(cc) :]
    if cc == "1":
        a, b, c = national[:3], national[3:6], national[6:]
        return rng.choice(
            (
                f"({a}) {b}-{c}",
                f"+1 {a} {b} {c}",
                f"+1-{a}-{b}-{c}",
                f"{a}-{b}-{c}",
                f"{a}.{b}.{c}",
                f"001 {a} {b}{c}",
                f"+1 ({a}) {b}-{c}",
            )
        )
    groups = [national[i : i + 4] for i in range(0, len(national), 4)]
    return rng.choice((f"+{cc} {' '.join(groups)}", f"+{cc}{national}", f"00{cc} {national}", f"+{cc} (0){national}"))


def damaged_digits(text: str, rng: random.Random) -> str:
    """One digit mistyped or two neighbours swapped (a number copied by hand)."""
    positions = [i for i, ch in enumerate(text) if ch.isdigit()]
    if len(positions) < 4:
        return text
    i = rng.choice(positions[2:])
    chars = list(text)
    if rng.random() < 0.5:
        chars[i] = str((int(chars[i]) + rng.randrange(1, 10)) % 10)
    else:
        j = positions[positions.index(i) - 1]
        chars[i], chars[j] = chars[j], chars[i]
    return "".join(chars)


# ------------------------------------------------------------------------------------------------ names
def pinyin_name(p: Person, rng: random.Random) -> str:
    """The name in pinyin, as people type it in Latin-only fields: Wang Lina, LI Na, Lina Wang, wanglina."""
    family = p.surname_py.capitalize()
    given = "".join(p.given_py)
    given_cap = given.capitalize()
    return rng.choice(
        (
            f"{family} {given_cap}",
            f"{family} {given_cap}",
            f"{family.upper()} {given_cap}",
            f"{given_cap} {family}",
            f"{family.lower()} {given}",
            f"{family}{given}",
            f"{family.upper()} {given.upper()}",
            f"{family} {' '.join(s.capitalize() for s in p.given_py)}",
        )
    )


def sound_alike(p: Person, rng: random.Random) -> str:
    """The hanzi name with one given-name character replaced by one that sounds alike (typed by ear)."""
    chars = list(p.given)
    options = [i for i, ch in enumerate(chars) if ch in V.SOUND_ALIKES]
    if not options:
        return p.surname + p.given
    i = rng.choice(options)
    chars[i] = rng.choice(V.SOUND_ALIKES[chars[i]])
    return p.surname + "".join(chars)


def western_name(p: Person, rng: random.Random, styles: Mapping[str, float] | None = None) -> str:
    """A Western name as written in a Chinese company's files."""
    first, last = p.english, p.west_last
    short = rng.choice(p.west_short) if p.west_short else first
    style = pick(rng, styles or {"plain": 60, "short": 15, "upper_last": 8, "comma": 7, "initial": 5, "lower": 5})
    return {
        "plain": f"{first} {last}",
        "short": f"{short} {last}",
        "upper_last": f"{last.upper()} {first}",
        "comma": f"{last}, {first}",
        "initial": f"{first[0]}. {last}",
        "lower": f"{first.lower()} {last.lower()}",
    }[style]


def person_name(p: Person, rng: random.Random, styles: Mapping[str, float], title: str = "") -> str:
    """A person's name as one row shows it.

    ``styles`` weighs: ``plain``, ``traditional``, ``pinyin``, ``sound_alike``, ``spaced`` (王　伟),
    ``title_only`` (陈总), ``with_title`` (王伟经理, 王伟(采购)), ``english`` (Kevin Wang, for those who have one).
    """
    if p.culture == "west":
        return western_name(p, rng)
    style = pick(rng, styles)
    name = p.surname + p.given
    if style == "english" and p.english:
        return rng.choice(
            (
                f"{p.english} {p.surname_py.capitalize()}",
                f"{p.english} {p.surname_py.capitalize()}",
                p.english,
                f"{name} {p.english}",
                f"{name}({p.english})",
                f"{p.english} {p.surname_py.upper()}",
            )
        )
    if style == "traditional":
        return traditional(name)
    if style == "pinyin":
        return pinyin_name(p, rng)
    if style == "sound_alike":
        return sound_alike(p, rng)
    if style == "spaced" and len(name) == 2:
        return name[0] + rng.choice(("\u3000", " ", "  ")) + name[1]
    if style == "title_only" and title:
        form = V.ADDRESS_FORMS.get(title)
        if form:
            return p.surname + form
    if style == "with_title" and title:
        form = V.ADDRESS_FORMS.get(title, title)
        return rng.choice((f"{name}{form}", f"{name}({title})", f"{name} {title}", f"{name}（{title}）"))
    return name


# ------------------------------------------------------------------------------------------------ companies
def company_name(c: Company, rng: random.Random, styles: Mapping[str, float]) -> str:
    """A company as one row names it.

    ``styles`` weighs: ``full`` (registered), ``no_city`` (正宇钢管有限公司), ``city_form`` (泰安 vs 泰安市),
    ``short`` (正宇钢管), ``city_brand`` (泰安正宇), ``brand`` (正宇), ``english``, ``traditional``,
    ``wrong_suffix`` (有限公司 for 有限责任公司), ``no_suffix`` (泰安市正宇钢管), ``typo`` (a sound-alike in the
    brand), ``paren_city`` (正宇钢管（泰安）有限公司).
    """
    style = pick(rng, styles)
    city = c.short_city
    core = f"{c.brand}{c.industry.cn}"
    if style == "no_city":
        return f"{core}{c.suffix}"
    if style == "city_form":
        other = city if c.prefix == c.city.name else c.city.name
        return f"{other}{core}{c.suffix}"
    if style == "short":
        return core
    if style == "city_brand":
        return f"{city}{c.brand}"
    if style == "brand":
        return c.brand
    if style == "english":
        return english_company(c, rng)
    if style == "traditional":
        return traditional(c.name)
    if style == "wrong_suffix":
        swap = {
            "有限公司": "有限责任公司",
            "有限责任公司": "有限公司",
            "股份有限公司": "有限公司",
            "集团有限公司": "集团",
            "集团": "集团有限公司",
            "厂": "有限公司",
            "经营部": "有限公司",
        }
        return f"{c.prefix}{core}{swap[c.suffix]}" if c.prefix else f"{core}{swap[c.suffix]}"
    if style == "no_suffix":
        return f"{c.prefix}{core}"
    if style == "typo":
        chars = list(c.brand)
        options = [i for i, ch in enumerate(chars) if ch in V.SOUND_ALIKES]
        if options:
            i = rng.choice(options)
            chars[i] = rng.choice(V.SOUND_ALIKES[chars[i]])
        return f"{c.prefix}{''.join(chars)}{c.industry.cn}{c.suffix}"
    if style == "paren_city":
        return f"{core}（{city}）{c.suffix}"
    return c.name


def english_company(c: Company, rng: random.Random) -> str:
    """The company's English name as on its business cards: Zhengyu Steel Pipe Co., Ltd."""
    brand = c.brand_py.capitalize()
    city = c.city.pinyin
    suffix = c.suffix_en
    if "Group" in suffix:
        suffix = rng.choice(("Group Co., Ltd.", "Grp Co., Ltd.", "Group Co.,Ltd", "Group"))
    elif suffix == "Co., Ltd.":
        suffix = rng.choice(("Co., Ltd.", "Co.,Ltd.", "Co., Ltd", "CO.,LTD", "Company Limited"))
    industry = c.industry.en
    return rng.choice(
        (
            f"{brand} {industry} {suffix}",
            f"{city} {brand} {industry} {suffix}",
            f"{brand} {industry} {suffix}",
            f"{brand.upper()} {industry.upper()} {suffix.upper()}",
        )
    )


# ------------------------------------------------------------------------------------------------ places
def street_part(a: Address) -> str:
    """Street, number and the compound/building/park part."""
    if a.home:
        return f"{a.street}{a.number}号{a.extra}"
    if a.extra.endswith("室"):
        return f"{a.street}{a.number}号{a.extra}"
    if a.extra:
        return f"{a.extra}{a.street}{a.number}号"
    return f"{a.street}{a.number}号"


def address(a: Address, rng: random.Random, styles: Mapping[str, float]) -> str:
    """An address as one row writes it: full, without the province, from the district on, spaced, with commas."""
    style = pick(rng, styles)
    city = a.city
    province = city.province
    rest = street_part(a)
    if style == "full":
        return f"{province}{city.name}{a.district}{rest}"
    if style == "no_province":
        return f"{city.name}{a.district}{rest}"
    if style == "short_city":
        return f"{province.removesuffix('省')}{city.name.removesuffix('市')}{a.district}{rest}"
    if style == "district":
        return f"{a.district}{rest}"
    if style == "street":
        return rest
    if style == "spaced":
        return " ".join(x for x in (province, city.name, a.district, rest) if x)
    if style == "comma":
        return "，".join(x for x in (province, city.name, a.district, rest) if x)
    if style == "fullwidth":
        return fullwidth(f"{city.name}{a.district}{rest}")
    raise ValueError(style)


def city_name(city: str, province: str, pinyin: str, rng: random.Random) -> str:
    """A city as typed into a free-text city field: 聊城, 聊城市, 山东聊城, Liaocheng."""
    short = city.removesuffix("市")
    return rng.choice(
        (
            short,
            short,
            city,
            f"{province.removesuffix('省')}{short}" if province else city,
            f"{province}{city}" if province else city,
            pinyin,
            short,
        )
    )


# ------------------------------------------------------------------------------------------------ e-mail
def email(address: str, rng: random.Random, typo: float) -> tuple[str, str | None]:
    """An address as typed, and the address it still is (``None`` when a typo broke it)."""
    roll = rng.random()
    if roll >= typo:
        if rng.random() < 0.04:
            return address.upper() if rng.random() < 0.3 else address.capitalize(), address
        if rng.random() < 0.02:
            return f" {address} ", address
        return address, address
    local, _, domain = address.partition("@")
    typos = V.DOMAIN_TYPOS.get(domain)
    kind = rng.random()
    if typos and kind < 0.6:
        return f"{local}@{rng.choice(typos)}", None
    if kind < 0.75:
        return f"{local}＠{domain}", None
    if kind < 0.88:
        return f"{local}{domain}", None  # the @ forgotten
    return f"{local}@{domain}。", None

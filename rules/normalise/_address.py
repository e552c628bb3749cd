"""Address normaliser: Chinese addresses to province/city/district + GB/T 2260 code, Western ones to their parts.

**Chinese** (any Han character): the text is cleaned (half-width, traditional → simplified with OpenCC, spaces
between Chinese characters dropped) and read from the left, larger units first: an optional 中国, then names of
the packaged division table (``_divisions``: full names and short forms such as 山东, 聊城, 东昌府, 内蒙古,
广西). At each step the longest name that fits below what was already found is taken; a name that fits
several units at the same level (朝阳区: Beijing and Changchun) is ``ambiguous`` and nothing is guessed, unless
a province or city given earlier in the text, or in ``context``, decides. A lone county-level name that is
unique (东昌府区) fills its city and province. A short form is not taken when a street word follows it
(中山路, 南京东路: streets named after places). What follows the district is the ``street``
(柳园南路88号3单元). ``admin_code`` is the code of the most specific unit found. Municipalities are their own
city (北京市朝阳区 → city 北京市); county-level units a province administers directly (济源市, 仙桃市) and
cities without districts (东莞市) count as complete without a district.

**Western** (no Han character): comma-separated parts, read from the end: an optional country (``USA``,
``UK``, ``Germany``…, to ISO-2), then a postcode: US ``CA 94043`` (state and ZIP, after the city or alone),
UK ``SW1A 2AA`` (after the city or alone), continental ``10117 Berlin`` or Dutch ``1012 LG Amsterdam``
(postcode before the city), or digits after the city or alone. Without a postcode the last part is the city
(a two-letter US state before it is the region). Everything before the city is the street, kept as written.
The country comes from the text, else from the postcode form (US state + ZIP, UK postcode), else from a short
list of well-known cities, else from ``region`` when it is not ``CN``. The value is
``street, city, region postcode, country`` (the country is added so that the value reads back the same).
Addresses in pinyin or English for Chinese places are read by the Western rules (no division codes).
"""

from __future__ import annotations

import functools
import re
from typing import Final

import polars as pl
from pydantic import BaseModel, ConfigDict, field_validator

from ._base import ISSUES_DTYPE, NULL_MARKERS, Schema, blank_row, clean_text, map_distinct, to_simplified
from ._divisions import CITY, COUNTY, MUNICIPALITIES, PROVINCE, Division, Entry, divisions, name_index, name_lengths
from ._pinyin import HAN_CLASS, has_han
from ._registry import FrameSpec, check_params, register_normaliser
from ._romanised import han_readings

_SCHEMA: Schema = {
    "value": pl.String,
    "issues": ISSUES_DTYPE,
    "province": pl.String,
    "city": pl.String,
    "district": pl.String,
    "street": pl.String,
    "admin_code": pl.String,
    "region": pl.String,
    "postcode": pl.String,
    "country": pl.String,
}
_PART_NAMES: Final = tuple(_SCHEMA)[2:]
_CONTEXT_SEP: Final = "\x1e"


class AddressParams(BaseModel):
    """Parameters of :func:`normalise_address`."""

    model_config = ConfigDict(extra="forbid")

    #: ISO country of Western addresses that name no country and have no recognisable postcode form
    #: (``"CN"``, the default, leaves such a country unset).
    region: str = "CN"

    @field_validator("region")
    @classmethod
    def _iso2(cls, region: str) -> str:
        if not re.fullmatch(r"[A-Za-z]{2}", region):
            raise ValueError(f"region must be an ISO 3166-1 alpha-2 code such as CN or US, not {region!r}")
        return region.upper()


# ---------------------------------------------------------------------------------------------------- China

_FULLWIDTH_ALNUM = re.compile("[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]")
_SPACE_NEXT_TO_NON_ASCII = re.compile(r"\s+(?=[^\x00-\x7f])|(?<=[^\x00-\x7f])\s+")
# separators between the parts of an address (``match`` at a position: no ``^``, which only fits position 0)
_JUNK_CHARS = " \t\n,，、;；:：/\\|-—_.。·"
_JUNK = re.compile(r"[\s,，、;；:：/\\|\-—_.。·]+")
_LABEL = re.compile(r"^(?:(?:联系|通讯|通信|收货|家庭|公司|单位|详细)?地址|住址)\s*[:：]?\s*")
_COUNTRY_PREFIX = re.compile(r"^(?:中华人民共和国|中国)(?:大陆)?")
# A short place name followed by one of these is a street named after the place (中山路, 南京东路).
_STREET_AFTER_SHORT = re.compile(
    r"[东西南北中]?[一二三四五六七八九十\d]*(?:路|街|大道|大街|巷|弄|胡同|号|桥|村|广场|公园)"
)
#: ISO 3166-1 codes of the provincial-level units that have their own (the rest: CN).
_COUNTRY_BY_PROVINCE: Final = {"710000": "TW", "810000": "HK", "820000": "MO"}
#: Abbreviations not derived from the table.
_ALIASES: Final = {"内蒙": "150000"}


@functools.cache
def _index() -> tuple[dict[str, tuple[Entry, ...]], dict[str, tuple[int, ...]]]:
    index = dict(name_index())
    for alias, code in _ALIASES.items():
        index.setdefault(alias, (Entry(divisions()[code], short=True),))
    lengths = dict(name_lengths())
    for alias in _ALIASES:
        lengths[alias[0]] = tuple(sorted({*lengths.get(alias[0], ()), len(alias)}, reverse=True))
    return index, lengths


class _State:
    """What the reading of one Chinese address found so far."""

    __slots__ = ("ambiguous_at", "candidates", "city", "depth", "district", "province")

    def __init__(self, province: Division | None = None, city: Division | None = None) -> None:
        self.province = province
        self.city = city
        self.district: Division | None = None
        self.depth = 0
        #: Where an ambiguous name starts in the text (-1: none), and the units it may name.
        self.ambiguous_at = -1
        self.candidates: tuple[Division, ...] = ()

    @property
    def ambiguous(self) -> bool:
        return self.ambiguous_at >= 0

    def rank(self) -> tuple[bool, int, bool, bool]:
        return (not self.ambiguous, self.depth, self.province is not None, self.city is not None)


def _fits(division: Division, state: _State) -> bool:
    if division.level <= state.depth:
        return False
    if state.province is not None and division.province_code != state.province.code:
        return False
    return state.city is None or division.level == PROVINCE or division.city_code == state.city.code


def _match_at(text: str, pos: int, state: _State) -> tuple[int, list[Division]] | None:
    """The longest indexed name at ``pos`` naming units that fit ``state``: its length and those units."""
    index, lengths = _index()
    room = len(text) - pos
    for length in lengths.get(text[pos], ()):
        if length > room:
            continue
        entries = index.get(text[pos : pos + length])
        if entries is None:
            continue
        if len(entries) == 1:  # the common case, without the bookkeeping below
            entry = entries[0]
            if not _fits(entry.division, state):
                continue
            if entry.short and _STREET_AFTER_SHORT.match(text, pos + length):
                continue
            return length, [entry.division]
        fitting = [e for e in entries if _fits(e.division, state)]
        if not fitting:
            continue
        if all(e.short for e in fitting) and _STREET_AFTER_SHORT.match(text, pos + length):
            continue
        # 吉林 is a province and a city: the larger unit comes first; its subunits follow in the text
        top = min(e.division.level for e in fitting)
        units = list(dict.fromkeys(e.division for e in fitting if e.division.level == top))
        return length, units
    return None


def _set(state: _State, division: Division) -> None:
    table = divisions()
    state.province = table[division.province_code]
    if division.level == PROVINCE:
        state.depth = COUNTY if division.leaf else PROVINCE
        return
    if division.city_code is not None:
        state.city = table[division.city_code]
    if division.level == CITY:
        state.depth = COUNTY if division.leaf else CITY
    else:
        state.district = division
        state.depth = COUNTY


def _after_junk(text: str, pos: int) -> int:
    if pos < len(text) and text[pos] in _JUNK_CHARS:
        junk = _JUNK.match(text, pos)
        return junk.end() if junk else pos
    return pos


def _read(text: str, state: _State) -> int:
    """Read division names from the start of ``text`` into ``state``; return where the street starts."""
    pos = 0
    while pos < len(text) and state.depth < COUNTY:
        at = _after_junk(text, pos) if pos else pos
        if at >= len(text):
            break
        found = _match_at(text, at, state)
        if found is None:
            break
        length, units = found
        if len(units) > 1:
            state.ambiguous_at = at
            state.candidates = tuple(units)
            return at + length
        _set(state, units[0])
        pos = at + length
        while (after := _skip_repeat(text, pos, units[0])) != pos:
            pos = after
    return pos


def _lstrip_junk(text: str) -> str:
    junk = _JUNK.match(text)
    return text[junk.end() :] if junk else text


def _skip_repeat(text: str, pos: int, division: Division) -> int:
    """Skip the same unit written again in full (北京北京市朝阳区, 上海市上海市 from joined columns)."""
    start = _after_junk(text, pos)
    return start + len(division.name) if text.startswith(division.name, start) else pos


def _cn_one(text: str, context: str, issues: list[str]) -> tuple[object, ...]:
    label = _LABEL.match(text)
    if label:
        text = text[label.end() :]
    prefix = None
    while found := _COUNTRY_PREFIX.match(text):
        prefix, text = found, _lstrip_junk(text[found.end() :])
    if not text:  # a bare label or a bare 中国
        return (
            None,
            [*issues, "incomplete" if prefix else "empty"],
            *([None] * (len(_PART_NAMES) - 1)),
            ("CN" if prefix else None),
        )
    state = _State()
    start = _read(text, state)
    if context and (state.ambiguous or state.depth < COUNTY):
        # the text alone says too little: read it again below the province/city the context names
        hint = _State()
        _read(context, hint)
        if not hint.ambiguous and hint.province is not None:
            hinted = _State(hint.province, hint.city)
            hinted_start = _read(text, hinted)
            if hinted.rank() > state.rank():
                state, start = hinted, hinted_start
    street = _lstrip_junk(text[start:]) or None
    province = state.province.name if state.province else None
    city = state.city.name if state.city else None
    if city is None and state.province is not None and state.province.code in MUNICIPALITIES:
        city = province
    district = state.district.name if state.district else None
    resolved = "".join(p for p in (province, city if city != province else None) if p)
    if state.ambiguous:
        issues.append("ambiguous")
        names = {c.name for c in state.candidates}
        if len(names) == 1 and state.candidates[0].level == COUNTY:
            district = names.pop()
        elif len(names) == 1 and city is None:
            city = names.pop()
        # what was resolved in full, then the text from the ambiguous name on (nothing guessed, nothing lost)
        value = resolved + text[state.ambiguous_at :]
    elif state.province is None:
        issues.append("unknown_place")
        return text, issues, None, None, None, street, None, None, None, None
    else:
        if state.depth < COUNTY:
            issues.append("incomplete")
        value = resolved + (district or "") + (street or "")
    most_specific = state.district or state.city or state.province
    admin_code = most_specific.code if most_specific else None
    country = _COUNTRY_BY_PROVINCE.get(state.province.code, "CN") if state.province else "CN"
    return value, issues, province, city, district, street, admin_code, None, None, country


@functools.cache
def _protected() -> re.Pattern[str] | None:
    """Division names that OpenCC would wrongly change (乾安县 → 干安县, 乾县 → 干县)."""
    names = sorted((n for n in _index()[0] if to_simplified(n) != n), key=len, reverse=True)
    return re.compile("|".join(map(re.escape, names))) if names else None


def _simplify(text: str) -> str:
    simplified = to_simplified(text)
    if simplified == text:
        return text
    protected = _protected()
    if protected is None or not protected.search(text):
        return simplified
    pieces, last = [], 0
    for match in protected.finditer(text):
        pieces += [to_simplified(text[last : match.start()]), match.group(0)]
        last = match.end()
    return "".join([*pieces, to_simplified(text[last:])])


def _cn_text(text: str, issues: list[str]) -> str:
    """Cleaned text to simplified characters without spaces between Chinese characters."""
    simplified = _simplify(text)
    if simplified != text:
        issues.append("traditional")
    return _SPACE_NEXT_TO_NON_ASCII.sub("", simplified) if " " in simplified else simplified


# -------------------------------------------------------------------------------------------------- Western

_US_STATES: Final = dict(
    pair.split("=")
    for pair in [
        *("AL=Alabama AK=Alaska AZ=Arizona AR=Arkansas CA=California CO=Colorado CT=Connecticut DE=Delaware",),
        *("FL=Florida GA=Georgia HI=Hawaii ID=Idaho IL=Illinois IN=Indiana IA=Iowa KS=Kansas KY=Kentucky",),
        *("LA=Louisiana ME=Maine MD=Maryland MA=Massachusetts MI=Michigan MN=Minnesota MS=Mississippi",),
        *("MO=Missouri MT=Montana NE=Nebraska NV=Nevada NH=New_Hampshire NJ=New_Jersey NM=New_Mexico",),
        *("NY=New_York NC=North_Carolina ND=North_Dakota OH=Ohio OK=Oklahoma OR=Oregon PA=Pennsylvania",),
        *("RI=Rhode_Island SC=South_Carolina SD=South_Dakota TN=Tennessee TX=Texas UT=Utah VT=Vermont",),
        *("VA=Virginia WA=Washington WV=West_Virginia WI=Wisconsin WY=Wyoming DC=District_of_Columbia",),
        "PR=Puerto_Rico",
    ]
    for pair in pair.split()
)
_US_STATE_BY_NAME: Final = {name.replace("_", " ").casefold(): code for code, name in _US_STATES.items()}
#: Country names and codes as written in addresses (case-folded, dots dropped) → ISO 3166-1 alpha-2.
_COUNTRIES: Final = {
    **dict.fromkeys(("us", "usa", "united states", "united states of america", "america"), "US"),
    **dict.fromkeys(("uk", "gb", "united kingdom", "great britain", "england", "scotland", "wales"), "GB"),
    **dict.fromkeys(("de", "germany", "deutschland", "federal republic of germany"), "DE"),
    **dict.fromkeys(("fr", "france"), "FR"),
    **dict.fromkeys(("at", "austria", "österreich"), "AT"),
    **dict.fromkeys(("ch", "switzerland", "schweiz", "suisse"), "CH"),
    **dict.fromkeys(("nl", "netherlands", "the netherlands", "holland", "nederland"), "NL"),
    **dict.fromkeys(("be", "belgium", "belgique", "belgië"), "BE"),
    **dict.fromkeys(("it", "italy", "italia"), "IT"),
    **dict.fromkeys(("es", "spain", "españa"), "ES"),
    **dict.fromkeys(("ie", "ireland"), "IE"),
    **dict.fromkeys(("ca", "canada"), "CA"),
    **dict.fromkeys(("au", "australia"), "AU"),
    **dict.fromkeys(("nz", "new zealand"), "NZ"),
    **dict.fromkeys(("sg", "singapore"), "SG"),
    **dict.fromkeys(("jp", "japan"), "JP"),
    **dict.fromkeys(("kr", "korea", "south korea"), "KR"),
    **dict.fromkeys(("cn", "china", "prc", "p r china", "pr china", "people's republic of china"), "CN"),
    **dict.fromkeys(("hk", "hong kong"), "HK"),
    **dict.fromkeys(("tw", "taiwan"), "TW"),
}
#: Well-known cities whose country is certain when the address names none (case-folded).
_CITY_COUNTRY: Final = {
    city.strip(): country
    for country, cities in {
        "DE": "berlin, hamburg, münchen, munich, köln, cologne, frankfurt, frankfurt am main, stuttgart, düsseldorf,"
        " dortmund, essen, leipzig, bremen, dresden, hannover, nürnberg, nuremberg, duisburg, bochum, wuppertal,"
        " bielefeld, bonn, münster, mannheim, karlsruhe, augsburg, wiesbaden, mainz, kiel, aachen, freiburg,"
        " heidelberg, potsdam",
        "FR": "paris, lyon, marseille, toulouse, nice, nantes, strasbourg, bordeaux",
        "AT": "wien, vienna, graz, linz, salzburg, innsbruck",
        "CH": "zürich, zurich, genève, geneva, basel, bern, lausanne",
        "NL": "amsterdam, rotterdam, den haag, the hague, utrecht, eindhoven",
        "ES": "madrid, barcelona, valencia, sevilla",
        "IT": "roma, rome, milano, milan",
        "GB": "london, manchester, birmingham, edinburgh, glasgow, cardiff, belfast",
    }.items()
    for city in cities.split(",")
}

_SPLIT = re.compile(r"\s*[,;\n]\s*")
_US_ZIP = r"\.?\s+(?P<zip>\d{5}(?:-\d{4})?)$"
_US_TAIL = re.compile(r"^(?:(?P<city>.*?)[\s,]+)?(?P<state>[A-Za-z]{2})" + _US_ZIP)
_US_TAIL_NAME = re.compile(
    r"^(?:(?P<city>.*?)[\s,]+)?(?P<state>"
    + "|".join(n.replace("_", " ") for n in sorted(_US_STATES.values(), key=len, reverse=True))
    + ")"
    + _US_ZIP,
    re.IGNORECASE,
)
_UK_POSTCODE = r"[A-Za-z]{1,2}\d[A-Za-z\d]?\s*\d[A-Za-z]{2}"
_UK_TAIL = re.compile(rf"^(?:(?P<city>.*?)\s+)?(?P<pc>{_UK_POSTCODE})$")
_PC_FIRST = re.compile(r"^(?:[A-Za-z]{1,2}-)?(?P<pc>\d{4}\s?[A-Z]{2}(?=\s)|\d{4,5})\s+(?P<city>\D.*)$")
_PC_LAST = re.compile(r"^(?:(?P<city>\D.*?)\s+)?(?P<pc>\d{4}\s?[A-Z]{2}|\d{4,6})$")
_HAS_ALNUM = re.compile(r"[^\W_]")
_STATE_ALONE = re.compile(r"^[A-Za-z]{2}$")


def _country_of(segment: str) -> str | None:
    return _COUNTRIES.get(segment.casefold().replace(".", "").strip())


def _us_state(text: str) -> str | None:
    code = text.upper()
    if code in _US_STATES:
        return code
    return _US_STATE_BY_NAME.get(" ".join(text.split()).casefold())


def _western_one(text: str, region: str, issues: list[str]) -> tuple[object, ...]:
    segments = [s for s in (seg.strip(" .-/") for seg in _SPLIT.split(text)) if _HAS_ALNUM.search(s)]
    if not segments:  # punctuation only
        return None, [*issues, "placeholder"], *([None] * len(_PART_NAMES))
    country = None
    if len(segments) > 1 and (found := _country_of(segments[-1])):
        country = found
        segments.pop()
    city = state = postcode = None
    inferred = None
    tail = segments[-1] if segments else ""
    if (m := _US_TAIL.match(tail) or _US_TAIL_NAME.match(tail)) and (code := _us_state(m.group("state"))):
        state, postcode, inferred = code, m.group("zip"), "US"
        segments.pop()
        city = m.group("city") or None
    elif m := _UK_TAIL.match(tail):
        pc = m.group("pc").upper().replace(" ", "")
        postcode, inferred = f"{pc[:-3]} {pc[-3:]}", "GB"
        segments.pop()
        city = m.group("city") or None
    elif ((m := _PC_LAST.match(tail)) and len(segments) > 1) or (m := _PC_FIRST.match(tail)):
        postcode, city = m.group("pc"), m.group("city")
        segments.pop()
    if city is None and (len(segments) > 1 or (postcode is not None and segments)):
        lone_state = inferred in (None, "US") and _STATE_ALONE.match(segments[-1]) and _us_state(segments[-1])
        if state is None and lone_state and len(segments) > 2:
            state, inferred = _us_state(segments[-1]), inferred or "US"
            segments.pop()
        city = segments.pop()
    if city is not None:
        city = city.strip(" ,.") or None
    street = ", ".join(segments) or None
    country = (
        country
        or inferred
        or (_CITY_COUNTRY.get(city.casefold()) if city else None)
        or (region if region != "CN" else None)
    )
    if street is None or city is None:
        issues.append("incomplete")
    tail_part = " ".join(p for p in (state, postcode) if p)
    value = ", ".join(p for p in (street, city, tail_part, country) if p)
    return value or text, issues, None, city, None, street, None, state, postcode, country


# ------------------------------------------------------------------------------------- place columns alone


def _place_only(context: str, region: str, blank: tuple[object, ...]) -> tuple[object, ...]:
    """An empty address cell beside province/city/district columns: the places those columns name, resolved
    like an address's (山东临沂 → 山东省 临沂市 371300; ``Liaocheng`` → 聊城市 in a Chinese project), so that a
    sign-up's free-typed city reads like the one an address gives; the address itself stays empty."""
    text = clean_text(context)
    if has_han(text):
        parsed = _cn_one(_cn_text(text, []), "", [])
        found = parsed if parsed[2] is not None else None
    else:
        found = _romanised_place(text) if region == "CN" else None
    if found is None:
        return blank
    _, _, province, city, district, _, admin_code, _, _, country = found
    return blank[0], blank[1], province, city, district, None, admin_code, None, None, country


def _romanised_place(text: str) -> tuple[object, ...] | None:
    """A place written in pinyin or English (``Liaocheng``, ``Jinan``, ``Taizhou, Jiangsu``) read through the Han
    texts it may stand for (:func:`han_readings`, pypinyin's readings first, then any reading): of the readings
    that name a unit and nothing else, the highest level wins (``Jinan`` is 济南市, not 金安区); several units
    at that level (``Fuzhou``: 福州市, 抚州市) name none, and a Han name that fits several districts ties with the
    district readings (``Chaoyang District``: 朝阳区 of Beijing or of Changchun, or 潮阳区). The choice of
    ``analytics``' place reader, without its hints."""
    for any_reading in (False, True):
        whole, ambiguous = [], False
        for reading in han_readings(text, any_reading=any_reading):
            issues: list[str] = []
            parsed = _cn_one(reading, "", issues)
            if parsed[5] is not None:  # a street is left over: not a place name alone
                continue
            if "ambiguous" in issues:
                ambiguous = True
            elif parsed[2] is not None:
                whole.append(parsed)
        if whole:
            top = min(_depth(p) for p in whole)
            units = {p[6]: p for p in whole if _depth(p) == top}
            return units.popitem()[1] if len(units) == 1 and not (ambiguous and top == 3) else None
    return None


def _depth(parsed: tuple[object, ...]) -> int:
    """1 for a province, 2 for a city, 3 for a district (of :func:`_cn_one`'s parts)."""
    return 3 if parsed[4] else 2 if parsed[3] and parsed[3] != parsed[2] else 1


# --------------------------------------------------------------------------------------------------- common


def _one(raw: str | None, region: str) -> tuple[object, ...]:
    if raw is None:
        return None, ["empty"], *([None] * len(_PART_NAMES))
    context, _, raw = raw.rpartition(_CONTEXT_SEP)
    blank = blank_row(raw, _SCHEMA)  # screened here: map_distinct sees the cell with its context
    if blank is not None:
        return _place_only(context, region, blank) if context else blank
    issues: list[str] = []
    if _FULLWIDTH_ALNUM.search(raw):
        issues.append("fullwidth")
    text = clean_text(raw)
    if has_han(text):
        text = _cn_text(text, issues)
        hint = _cn_text(clean_text(context), []) if context else ""
        return _cn_one(text, hint, issues)
    return _western_one(text, region, issues)


#: A street line alone: words of ASCII letters and digits one space apart (``42 Smith Street``), the commonest
#: Western cell of a person table; :func:`_western_one` gives it street, country and ``incomplete`` unless it could
#: hold a postcode, state or city, which these keep for the Python path: a zip or a UK postcode at the end, a
#: postcode of four digits or more at the start.
_STREET_LINE: Final = r"^[0-9A-Za-z]+(?: [0-9A-Za-z]+)*$"
_MAYBE_TAIL: Final = (r"\d{5}$", r"\d[A-Za-z]{2}$", r"^\d{4}")


def _fast(keys: pl.Series, region: str) -> pl.DataFrame:
    """The answers of :func:`_one` for the keys that are a street line alone (``__key`` and the schema's columns),
    computed in polars; the other keys are left to :func:`_one` (a million people hold some 450k such lines)."""
    key = pl.col("__key")
    line = key.str.contains(_STREET_LINE) & ~key.str.to_lowercase().is_in(list(NULL_MARKERS))
    for tail in _MAYBE_TAIL:
        line &= ~key.str.contains(tail)
    country = None if region == "CN" else region
    none = pl.lit(None, pl.String)
    return (
        keys.to_frame("__key")
        .filter(line.fill_null(False))
        .select(
            "__key",
            (key if country is None else key + f", {country}").alias("value"),
            pl.lit(["incomplete"], dtype=ISSUES_DTYPE).alias("issues"),
            none.alias("province"),
            none.alias("city"),
            none.alias("district"),
            key.alias("street"),
            none.alias("admin_code"),
            none.alias("region"),
            none.alias("postcode"),
            pl.lit(country, pl.String).alias("country"),
        )
    )


@register_normaliser(
    "address",
    params=AddressParams,
    frame=FrameSpec(
        parts=("street", "admin_code"),
        reads={"context": ("province", "city", "district")},
        # the parsed part wins over the source's own column (a US state sets the province); the column fills gaps
        overrides={
            "province": ("province", "region"),
            "city": ("city",),
            "district": ("district",),
            "postcode": ("postcode",),
            "country": ("country",),
        },
        after=("text",),
        without_field=True,
    ),
)
def normalise_address(values: pl.Series, *, region: str = "CN", context: pl.Series | None = None) -> pl.DataFrame:
    """Normalise postal addresses: Chinese ones to divisions with their GB/T 2260 code, Western ones to parts.

    Args:
        values: raw address cells (any dtype).
        region: ISO-2 country assumed for Western addresses that show none (``"CN"``, the default, assumes
            nothing).
        context: optional text of the same height that names the province/city of each row (the frame's
            ``province``, ``city`` and ``district`` columns joined); used only where the address alone is
            ambiguous or stops above the district level (朝阳区… with context 北京).

    Returns:
        A frame of the same height with ``value`` (Chinese: province + city + district + street without
        spaces, the city left out when it is the province (municipalities); Western: ``street, city,
        region postcode, country``), ``issues`` and the parts ``province``, ``city``, ``district``, ``street``,
        ``admin_code`` (6-digit code of the most specific unit found), ``region`` (US state), ``postcode`` and
        ``country`` (ISO-2: ``CN`` for a Chinese address with a known place, ``HK``/``MO``/``TW`` for those).
        Issue codes: ``empty``, ``placeholder``, ``ambiguous`` (a place name that fits several units: nothing guessed),
        ``unknown_place`` (no division found; the cleaned text is kept as value and street), ``incomplete``
        (Chinese: no county level where one exists; Western: no street or no city), ``traditional``,
        ``fullwidth`` (full-width digits or letters).
    """
    checked = check_params(AddressParams, {"region": region})
    if context is not None:
        if context.len() != values.len():
            raise ValueError(f"context has {context.len()} rows, values {values.len()}")
        hint = context.cast(pl.String).fill_null("")
        # only a Chinese address reads its context: a Western one is keyed by its own text, so that one street
        # seen in many cities is parsed once
        keyed = (
            pl.DataFrame({"v": values.cast(pl.String), "c": hint})
            .select(
                pl.when(pl.col("c") == "")
                .then(pl.col("v"))
                # an empty cell takes the places its context names (a sign-up's city column alone)
                .when(pl.col("v").is_null())
                .then(pl.col("c") + _CONTEXT_SEP)
                .when(~pl.col("v").str.contains(HAN_CLASS))
                .then(pl.col("v"))
                .otherwise(pl.col("c") + _CONTEXT_SEP + pl.col("v"))
            )
            .to_series()
        )
        values = keyed
    fast = functools.partial(_fast, region=checked.region)
    return map_distinct(values, lambda raw: _one(raw, checked.region), _SCHEMA, fast=fast)

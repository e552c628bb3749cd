"""Standardised dimensions of a customer: region names with GB/T 2260 codes, canonical segment and status, and
``attributes`` as parsed JSON.

Regions are read with the project's own address normaliser (``rules.normalise.normalise_address``) and its
division table, so 聊城, 聊城市 and 山东聊城 are one city with one code wherever they come from.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any, Final, Literal

import polars as pl

from analytics._frames import Frame, require, to_polars
from analytics._rules import AnalyticsRules, code_key, load_rules
from rules.normalise import han_readings, is_mobile_number, normalise_address

__all__ = [
    "REGION_COLUMNS",
    "attribute_values",
    "dimensions",
    "parse_attributes",
    "standardise_codes",
    "standardise_regions",
    "unmapped_codes",
]

log = logging.getLogger(__name__)

#: Columns :func:`standardise_regions` gives besides ``customer_id``.
REGION_COLUMNS: Final = (
    "country",
    "province",
    "province_code",
    "city",
    "city_code",
    "district",
    "district_code",
    "admin_code",
    "area_code",
    "region_source",
)
#: Where a region came from, most trusted first.
RegionSource = Literal["record", "address", "phone_area", "mobile_prefix"]
_RANK: Final[dict[str, int]] = {"record": 0, "address": 1, "phone_area": 2, "mobile_prefix": 3}
_HAN = re.compile(r"[\u3400-\u9fff]")


@dataclass(frozen=True, slots=True)
class _Place:
    """One reading of where a customer is: names and codes down to the deepest level found."""

    country: str | None = None
    province: str | None = None
    province_code: str | None = None
    city: str | None = None
    city_code: str | None = None
    district: str | None = None
    district_code: str | None = None
    foreign: bool = False
    source: str | None = None

    @property
    def depth(self) -> int:
        return 3 if self.district_code else 2 if self.city_code else 1 if self.province_code else 0

    @property
    def admin_code(self) -> str | None:
        return self.district_code or self.city_code or self.province_code

    def holds(self, other: _Place) -> bool:
        """Whether ``other`` lies inside this place (same province, and same city when this one has one)."""
        if other.province_code != self.province_code:
            return False
        return self.city_code is None or other.city_code == self.city_code


_NOWHERE: Final = _Place()


def _read_places(texts: Iterable[str], hints: dict[str, str] | None = None) -> dict[str, _Place]:
    """Each distinct text (province + city + district, an address, a geocoder's 山东省聊城市) as a place.

    A text in pinyin or English (``Liaocheng``, ``Liaocheng Shi``, ``Shandong``, ``Jinan, Shandong``) is read
    through the Han texts it may stand for (:func:`rules.normalise.han_readings`): the readings the address
    normaliser reads whole are kept, the highest unit wins (``Jinan`` is 济南市, not 金安区 or 晋安区), and a name
    that fits several units at that level (``Fuzhou``: 福州市, 抚州市) names none, as a Han name that fits several
    does. (The migrate flow's normaliser resolves a city column alone the same way; this reads what a store
    written before it, or by other tools, holds.)

    ``hints`` (text → a place text) are read as the address normaliser's ``context``: they decide a name that
    fits several units (朝阳区 with 北京市, ``Fuzhou`` with 福建省福州市), never override what the text says.
    """
    distinct = sorted(set(texts))
    if not distinct:
        return {}
    tiers = [{text: han_readings(text, any_reading=tier) for text in distinct} for tier in (False, True)]
    context = None if hints is None else dict.fromkeys(distinct, "") | hints
    to_parse = {text: (context or {}).get(text, "") for text in distinct}
    for readings in tiers:
        for text, found in readings.items():
            for reading in found:
                to_parse.setdefault(reading, (context or {}).get(text, ""))
    for hint in sorted({hint for hint in (hints or {}).values() if hint}):
        to_parse.setdefault(hint, "")
    parsed, whole, unclear = _parse_places(to_parse, with_context=hints is not None)
    out: dict[str, _Place] = {}
    for text in distinct:
        place = parsed[text]
        hinted = parsed.get((hints or {}).get(text) or "")
        for readings in tiers:  # pypinyin's readings first, then any reading of the characters
            places = [parsed[r] for r in readings[text] if r in whole]
            chosen = _from_readings(places, sum(r in unclear for r in readings[text]), hinted)
            if chosen is not None:
                place = chosen
                break
        else:
            if tiers[1][text]:
                place = replace(place, foreign=False)  # Chinese names that fit no one place together: not abroad
        out[text] = place
    return out


def _from_readings(places: list[_Place], ambiguous: int, hint: _Place | None) -> _Place | None:
    """The place the readings of one romanised text agree on: inside the hint's place when some are, then the
    highest level; ``None`` when no reading names a place; a place without a unit when several tie.

    ``ambiguous`` readings are Han names that fit several units (朝阳区): they tie with the county-level
    readings (``Chaoyang District`` is 朝阳区 or 潮阳区, so none), never with a higher unit (``Jinan``: 济南市)."""
    found = [p for p in places if p.depth]
    if hint is not None and hint.depth:
        inside = [p for p in found if hint.holds(p) or p.holds(hint)]
        if inside:
            found, ambiguous = inside, 0
    if not found:
        return _Place(country="CN") if ambiguous else None
    top = min(p.depth for p in found)
    units = {p for p in found if p.depth == top}
    if len(units) == 1 and not (ambiguous and top == 3):
        return units.pop()
    countries = {p.country for p in units}
    return _Place(country=countries.pop() if len(countries) == 1 else None)


def _parse_places(texts: dict[str, str], *, with_context: bool) -> tuple[dict[str, _Place], set[str], set[str]]:
    """Han texts (each with its context) read by the address normaliser: each as a place, the texts it read
    whole (nothing left over as a street), and those that name several units (朝阳区)."""
    distinct = list(texts)
    context = pl.Series(list(texts.values()), dtype=pl.String) if with_context else None
    parsed = normalise_address(pl.Series(distinct, dtype=pl.String), context=context)
    # the code of a city is what the city alone, inside its province, normalises to
    parents = {
        f"{row['province']}{row['city']}"
        for row in parsed.iter_rows(named=True)
        if row["province"] and row["city"] and row["district"]
    }
    parent_codes: dict[str, str | None] = {}
    if parents:
        ordered = sorted(parents)
        parent_parsed = normalise_address(pl.Series(ordered, dtype=pl.String))
        for text, row in zip(ordered, parent_parsed.iter_rows(named=True), strict=True):
            parent_codes[text] = row["admin_code"] if "ambiguous" not in row["issues"] and row["city"] else None
    out: dict[str, _Place] = {}
    whole: set[str] = set()
    unclear: set[str] = set()
    for text, row in zip(distinct, parsed.iter_rows(named=True), strict=True):
        province, code = row["province"], row["admin_code"]
        if "ambiguous" in row["issues"] and not row["street"]:
            unclear.add(text)
        if not province or not code or "ambiguous" in row["issues"]:
            out[text] = _Place(country=row["country"], foreign=not _HAN.search(text))
            continue
        if not row["street"]:
            whole.add(text)
        district = row["district"]
        city = row["city"]
        if district:
            city_code = parent_codes.get(f"{province}{city}") if city else None
        else:
            city_code = code if city else None
        out[text] = _Place(
            country=row["country"],
            province=province,
            province_code=code[:2] + "0000",
            city=city if city_code else None,
            city_code=city_code,
            district=district if district and city_code else None,
            district_code=code if district and city_code else None,
        )
    return out, whole, unclear


def _parts_text(df: pl.DataFrame, columns: tuple[str, ...]) -> pl.Series:
    return df.select(
        pl.concat_str([pl.col(c).cast(pl.String).str.strip_chars() for c in columns], separator="", ignore_nulls=True)
        .replace("", None)
        .alias("text")
    ).to_series()


def _best(places: list[_Place]) -> _Place:
    """The deepest place; ties: the one most rows agree on, then the smallest code (stable)."""
    counts = Counter(places)
    return max(counts, key=lambda p: (p.depth, counts[p], [-ord(c) for c in (p.admin_code or "")]))


@functools.cache
def _geocoder() -> Any:
    from phonenumbers import geocoder  # its data takes seconds to load: only when a number needs it

    return geocoder


def _phone_places(numbers: list[str]) -> dict[str, tuple[str | None, str | None]]:
    """Chinese number → (area code such as ``0635``, the geocoder's Chinese place text such as 山东省聊城市)."""
    import phonenumbers

    out: dict[str, tuple[str | None, str | None]] = {}
    for number in numbers:
        try:
            parsed = phonenumbers.parse(number)
        except phonenumbers.NumberParseException:
            continue
        if parsed.country_code != 86 or not phonenumbers.is_valid_number(parsed):
            continue
        nsn = phonenumbers.national_significant_number(parsed)
        length = phonenumbers.length_of_geographical_area_code(parsed)
        area = "0" + nsn[:length] if length else None
        place = _geocoder().description_for_number(parsed, "zh") or None
        out[number] = (area, place)
    return out


def _phones(customers: pl.DataFrame, contact_points: pl.DataFrame | None) -> pl.DataFrame:
    """Every Chinese number of each customer: ``customer_id``, ``number``, ``golden`` (a golden-record field),
    ``mobile``."""
    frames = [
        customers.select("customer_id", pl.col(c).alias("number"), pl.lit(True).alias("golden"))
        for c in ("landline", "primary_phone")
        if c in customers.columns
    ]
    if contact_points is not None and contact_points.height:
        require(contact_points, ("customer_id", "kind", "value"), "contact_points")
        frames.append(
            contact_points.filter(pl.col("kind") == "phone").select(
                "customer_id", pl.col("value").alias("number"), pl.lit(False).alias("golden")
            )
        )
    if not frames:
        return pl.DataFrame(
            schema={"customer_id": pl.String, "number": pl.String, "golden": pl.Boolean, "mobile": pl.Boolean}
        )
    phones = (
        pl.concat(frames)
        .filter(pl.col("number").str.starts_with("+86"))
        .group_by("customer_id", "number")
        .agg(pl.col("golden").any())
    )
    numbers = phones["number"].unique().sort()
    listed = pl.DataFrame({"p": [numbers.to_list()]}, schema={"p": pl.List(pl.String)})
    flags = listed.select(pl.col("p").list.eval(is_mobile_number(numbers))).item().to_list()
    mobiles = dict(zip(numbers.to_list(), flags, strict=True))
    return phones.with_columns(
        pl.col("number").replace_strict(mobiles, default=False, return_dtype=pl.Boolean).alias("mobile")
    ).sort("customer_id", "number")


def _phone_candidates(phones: pl.DataFrame, rules: AnalyticsRules) -> tuple[dict[str, list[_Place]], dict[str, str]]:
    """Places from landline area codes (and mobile prefixes when the rules allow), and each customer's area code."""
    wanted = phones.filter(~pl.col("mobile") | pl.lit(rules.regions.mobile_prefix))
    if wanted.is_empty():
        return {}, {}
    located = _phone_places(wanted["number"].unique().sort().to_list())
    places = _read_places(text for _, text in located.values() if text)
    by_customer: dict[str, list[tuple[int, str, _Place]]] = {}
    area_codes: dict[str, str] = {}
    # golden numbers first, then landlines before mobiles, then by number: the first landline gives area_code
    ordered = wanted.sort(["customer_id", "golden", "mobile", "number"], descending=[False, True, False, False])
    for customer_id, number, golden, mobile in ordered.select("customer_id", "number", "golden", "mobile").iter_rows():
        area, text = located.get(number, (None, None))
        if not mobile and area and customer_id not in area_codes:
            area_codes[customer_id] = area
        if text is None:
            continue
        place = places.get(text, _NOWHERE)
        if place.depth == 0:
            continue
        source = "mobile_prefix" if mobile else "phone_area"
        if not mobile and not rules.regions.phone_area:
            continue
        by_customer.setdefault(customer_id, []).append((0 if golden else 1, source, replace(place, source=source)))
    out: dict[str, list[_Place]] = {}
    for customer_id, found in by_customer.items():
        for source in ("phone_area", "mobile_prefix"):
            golden = [p for g, s, p in found if s == source and g == 0]
            others = [p for g, s, p in found if s == source]
            if golden or others:
                out.setdefault(customer_id, []).append(_best(golden) if golden else _best(others))
    return out, area_codes


def _decide_ambiguous(candidates: dict[str, list[_Place]], record_texts: dict[str, str | None]) -> None:
    """Read again, with the phone's place as context, a record whose Chinese place name fits several units and
    so named none (朝阳区 with a Beijing landline → 北京市朝阳区); the result replaces the record's candidate."""
    hints: dict[str, dict[str, str]] = {}
    for customer_id, found in candidates.items():
        text = record_texts.get(customer_id)
        record = next((p for p in found if p.source == "record"), None)
        phone = next((p for p in found if p.source in ("phone_area", "mobile_prefix")), None)
        if text and record is not None and record.depth == 0 and not record.foreign and phone is not None:
            hint = "".join(n for n in (phone.province, phone.city if phone.city != phone.province else None) if n)
            hints.setdefault(hint, {})[customer_id] = text
    for hint, texts in hints.items():
        places = _read_places(texts.values(), dict.fromkeys(texts.values(), hint))
        for customer_id, text in texts.items():
            place = places[text]
            if place.depth:
                found = candidates[customer_id]
                found[:] = [replace(place, source="record") if p.source == "record" else p for p in found]


def _choose(candidates: list[_Place]) -> _Place:
    """The customer's region from its candidates, most trusted source first.

    The first source that names a division is taken; a later source refines it only from inside (a landline's
    聊城市 under the record's 山东省), never overrides it. A record or address that names only a foreign place
    (London, New York) keeps the customer out of Chinese divisions: a +86 landline does not move them.
    """
    ordered = sorted(candidates, key=lambda p: _RANK[p.source or "record"])
    explicit = [p for p in ordered if p.source in ("record", "address")]
    chosen = next((p for p in explicit if p.depth), None)
    if chosen is None:
        foreign = next((p for p in explicit if p.foreign), None)
        if foreign is not None:
            return foreign
        chosen = next((p for p in ordered if p.depth), None)
        if chosen is None:
            return next((p for p in explicit if p.country), _NOWHERE)
    for later in ordered[ordered.index(chosen) + 1 :]:
        if later.depth > chosen.depth and chosen.holds(later):
            chosen = later
    return chosen


def standardise_regions(
    customers: Frame,
    addresses: Frame | None = None,
    contact_points: Frame | None = None,
    *,
    rules: AnalyticsRules | None = None,
) -> pl.DataFrame:
    """Each customer's region as names and GB/T 2260 codes, from every place the store knows.

    Sources, most trusted first: the golden record's ``province``/``city``/``district`` (``record``), the
    customer's stored addresses (``address``: the deepest, then the one most rows agree on), the area code of a
    Chinese landline (``phone_area``: 0635 → 山东省聊城市) and, only when ``rules.regions.mobile_prefix`` is on,
    where a Chinese mobile number was issued (``mobile_prefix``). The first source naming a division decides; a
    later one may only add a deeper level inside it. Names are canonical (聊城 and 聊城市 are both 聊城市),
    municipalities are their own city (北京市 / 北京市, city code = province code), units a province
    administers directly count as cities (济源市 419001).

    Args:
        customers: ``customer_id``, ``province``, ``city``, ``district``; optionally ``landline`` and
            ``primary_phone`` (E.164).
        addresses: ``crm_store.read_addresses`` (``customer_id``, ``province``, ``city``, ``district``, ``country``).
        contact_points: ``crm_store.read_contact_points`` (``customer_id``, ``kind``, ``value``).
        rules: the rule set (default: the packaged one).

    Returns:
        One row per customer, in the input order: ``customer_id``, ``country`` (ISO-2: CN, HK, MO, TW for a
        division; else the address's country), ``province``, ``province_code``, ``city``, ``city_code``,
        ``district``, ``district_code``, ``admin_code`` (the deepest code), ``area_code`` (of the customer's
        first Chinese landline, ``0635``), ``region_source`` (record | address | phone_area | mobile_prefix, null
        when no region is known).
    """
    rules = rules or load_rules()
    people = to_polars(customers, "customers")
    require(people, ("customer_id", "province", "city", "district"), "customers")
    record_text = _parts_text(people, ("province", "city", "district"))
    texts = [t for t in record_text.to_list() if t]
    address_rows: pl.DataFrame | None = None
    if addresses is not None:
        address_rows = to_polars(addresses, "addresses")
        require(address_rows, ("customer_id", "province", "city", "district"), "addresses")
        address_rows = address_rows.with_columns(
            _parts_text(address_rows, ("province", "city", "district")).alias("_text"),
            (pl.col("country") if "country" in address_rows.columns else pl.lit(None, pl.String)).alias("_country"),
        ).filter(pl.col("_text").is_not_null() | pl.col("_country").is_not_null())
        texts += [t for t in address_rows["_text"].to_list() if t]
    places = _read_places(texts)

    candidates: dict[str, list[_Place]] = {}
    for customer_id, text in zip(people["customer_id"].to_list(), record_text.to_list(), strict=True):
        if text:
            candidates.setdefault(customer_id, []).append(replace(places[text], source="record"))
    if address_rows is not None and address_rows.height:
        per_customer: dict[str, list[_Place]] = {}
        for customer_id, text, country in address_rows.select("customer_id", "_text", "_country").iter_rows():
            place = places[text] if text else _Place(country=country, foreign=country not in (None, "CN"))
            if place.country is None and country:
                place = replace(place, country=country)
            per_customer.setdefault(customer_id, []).append(place)
        for customer_id, found in per_customer.items():
            candidates.setdefault(customer_id, []).append(replace(_best(found), source="address"))
    phones = _phones(people, to_polars(contact_points, "contact_points") if contact_points is not None else None)
    phone_places, area_codes = _phone_candidates(phones, rules)
    for customer_id, found in phone_places.items():
        candidates.setdefault(customer_id, []).extend(found)
    _decide_ambiguous(candidates, dict(zip(people["customer_id"].to_list(), record_text.to_list(), strict=True)))

    rows = []
    for customer_id in people["customer_id"].to_list():
        place = _choose(candidates.get(customer_id, []))
        rows.append(
            (
                customer_id,
                place.country,
                place.province,
                place.province_code,
                place.city,
                place.city_code,
                place.district,
                place.district_code,
                place.admin_code,
                area_codes.get(customer_id),
                place.source if place.depth else None,
            )
        )
    schema = {"customer_id": pl.String, **dict.fromkeys(REGION_COLUMNS, pl.String)}
    return pl.DataFrame(rows, schema=schema, orient="row")


def _code_column(values: pl.Series, table: dict[str, str]) -> pl.Series:
    distinct = values.drop_nulls().unique().to_list()
    mapping = {raw: table.get(code_key(raw)) for raw in distinct}
    return values.replace_strict(mapping, default=None, return_dtype=pl.String)


def standardise_codes(customers: Frame, *, rules: AnalyticsRules | None = None) -> pl.DataFrame:
    """``segment`` and ``status`` through the rule set's code tables, and each status's lifecycle ``stage``.

    Raw values are matched half-width, trimmed and case-folded (``vip`` = ``VIP``, ``Ａ`` = ``A``). A raw value
    the table does not list gets a null canonical value and stays visible in ``<field>_raw`` (see
    :func:`unmapped_codes`).

    Returns:
        One row per customer: ``customer_id``, ``segment``, ``segment_raw``, ``status``, ``status_raw``,
        ``stage`` (lead | customer | lost, from ``rules.stages``; null when the status has none).
    """
    rules = rules or load_rules()
    df = to_polars(customers, "customers")
    require(df, ("customer_id",), "customers")
    out = df.select("customer_id")
    for field in ("segment", "status"):
        raw = df[field].cast(pl.String) if field in df.columns else pl.Series(field, [None] * df.height, pl.String)
        canonical = _code_column(raw.str.strip_chars().replace("", None), rules.code_table(field))
        out = out.with_columns(canonical.alias(field), raw.alias(f"{field}_raw"))
    stages = {status: stage for status, stage in rules.stages.items()}
    return out.with_columns(
        pl.col("status").replace_strict(stages, default=None, return_dtype=pl.String).alias("stage")
    )


def unmapped_codes(customers: Frame, *, rules: AnalyticsRules | None = None) -> pl.DataFrame:
    """Raw ``segment`` and ``status`` values that no code table lists: ``field``, ``raw``, ``customers``,
    most frequent first, so the table can be completed."""
    coded = standardise_codes(customers, rules=rules)
    frames = [
        coded.filter(pl.col(f"{field}_raw").is_not_null() & pl.col(field).is_null())
        .group_by(pl.col(f"{field}_raw").alias("raw"))
        .len("customers")
        .select(pl.lit(field).alias("field"), "raw", pl.col("customers").cast(pl.Int64))
        for field in ("segment", "status")
    ]
    return pl.concat(frames).sort(["customers", "field", "raw"], descending=[True, False, False])


def parse_attributes(values: pl.Series) -> pl.Series:
    """JSON text of ``attributes`` (``{"\\u5ba2\\u6237\\u6765\\u6e90": …}`` or plain) as a polars Struct of its
    keys: real values, readable keys. A key missing on a row is null there; a key whose values have different
    JSON types across rows is kept as text. Empty or null text is a null struct."""
    parsed: list[dict[str, Any] | None] = []
    for text in values.cast(pl.String).to_list():
        value = json.loads(text) if text else None
        parsed.append(value if isinstance(value, dict) and value else None)
    keys = sorted({key for row in parsed if row for key in row})
    if not keys:
        return pl.Series(values.name, [None] * len(parsed), dtype=pl.Struct([]))
    kinds: dict[str, set[type]] = {key: set() for key in keys}
    for row in parsed:
        for key, value in (row or {}).items():
            if value is not None:
                kinds[key].add(float if isinstance(value, int) and not isinstance(value, bool) else type(value))
    as_text = {key for key, found in kinds.items() if len(found) > 1 or found & {dict, list}}
    fields = {
        key: pl.String
        if key in as_text or not kinds[key]
        else {str: pl.String, bool: pl.Boolean, float: pl.Float64}[next(iter(kinds[key]))]
        for key in keys
    }

    def cell(value: Any, key: str) -> Any:
        if value is None or key not in as_text:
            return float(value) if fields[key] == pl.Float64 and value is not None else value
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)

    rows = [None if row is None else {key: cell(row.get(key), key) for key in keys} for row in parsed]
    return pl.Series(values.name, rows, dtype=pl.Struct(fields))


def attribute_values(customers: Frame) -> pl.DataFrame:
    """``attributes`` in long form, one row per customer and key: ``customer_id``, ``key``, ``value`` (text; a
    nested value as JSON text). Handy for custom fields: filter on ``key`` and read ``value``."""
    df = to_polars(customers, "customers")
    require(df, ("customer_id", "attributes"), "customers")
    rows = []
    for customer_id, text in df.select("customer_id", pl.col("attributes").cast(pl.String)).iter_rows():
        value = json.loads(text) if text else None
        if not isinstance(value, dict):
            continue
        for key in sorted(value):
            item = value[key]
            if item is None:
                continue
            rows.append((customer_id, key, item if isinstance(item, str) else json.dumps(item, ensure_ascii=False)))
    return pl.DataFrame(rows, schema={"customer_id": pl.String, "key": pl.String, "value": pl.String}, orient="row")


def dimensions(
    customers: Frame,
    addresses: Frame | None = None,
    contact_points: Frame | None = None,
    *,
    rules: AnalyticsRules | None = None,
) -> pl.DataFrame:
    """The standardised dimensions of every customer: :func:`standardise_regions` joined with
    :func:`standardise_codes` (one row per customer, ``customer_id`` first, in the input order)."""
    rules = rules or load_rules()
    regions = standardise_regions(customers, addresses, contact_points, rules=rules)
    codes = standardise_codes(customers, rules=rules)
    return regions.join(codes, on="customer_id", how="left", maintain_order="left")

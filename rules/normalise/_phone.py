"""Phone normaliser: every valid number in a cell, in E.164, with its type.

A cell is read left to right as "spans" of digits and number punctuation; words (手机, Tel, 或, and) and
hard separators (``/ , ; 、 ，``) end a span. Inside a span, whitespace, dots and dashes split tokens, and
tokens are grouped greedily (longest valid group first), so ``+86 138 0013 8000`` is one number while
``13800138000 13900139000`` is two. A short token right after a landline is its extension
(``0635-8123456-801``); a 7-8 digit token after a landline is another number in the same area
(``0635-8123456/8123457``). Every number is gated on phonenumbers' validity rules.

Chinese numbers, the bulk of the data, take shortcuts built from phonenumbers' own metadata: plain 11-digit
mobiles are matched against its mobile pattern, and numbers written ``0<area><local>`` or ``+86 <area>
<local>`` are typed with a copy of its number-type rules (tests check both shortcuts agree with the library
on every prefix). Whole columns go through a vectorised polars path first: distinct cells that are exactly
one valid Chinese mobile, one national-form number, two bare mobiles (in any spacing and dashes), one number
of another country in international form or written the North American way (typed by the library's metadata
as polars expressions), two such numbers on either side of a separator, or any of these in full-width digits,
are answered without Python; the rest go through :func:`_one`, with results memoised across calls.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import phonenumbers
import polars as pl
from phonenumbers import PhoneNumberFormat, PhoneNumberType
from pydantic import BaseModel, ConfigDict, field_validator

from ._base import ISSUES_DTYPE, Schema, clean_text, map_distinct, memo_for, to_halfwidth
from ._registry import FrameSpec, check_params, register_normaliser

if TYPE_CHECKING:
    from polars.expr.whenthen import ChainedThen, Then

PhoneType = Literal["mobile", "landline", "other"]

_SCHEMA: Schema = {
    "value": pl.String,
    "issues": ISSUES_DTYPE,
    "phone_type": pl.String,
    "phones": pl.List(pl.String),
    "phone_extension": pl.String,
}


class PhoneParams(BaseModel):
    """Parameters of :func:`normalise_phone`."""

    model_config = ConfigDict(extra="forbid")

    #: ISO 3166 region used for numbers written without a country code.
    region: str = "CN"

    @field_validator("region")
    @classmethod
    def _known_region(cls, region: str) -> str:
        region = region.upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"unknown phone region {region!r} (use an ISO 3166 code such as CN, US, GB)")
        return region


_EXCEL_INT = re.compile(r"(\+?\d+)\.0+")
_EXCEL_SCI = re.compile(r"(\d)(?:\.(\d+))?[eE]\+?(\d{1,2})")
_SPAN = re.compile(r"(?:\+|\(\+?)?\d(?:[\d \-.()]*\d)?\)?")
_EXT = re.compile(r"\s*(?:ext\.?|extn\.?|extension|x|转|分机|分機|#)\s*[:.]?\s*(\d{1,6})", re.IGNORECASE)
_TOKEN_SPLIT = re.compile(r"[ \-.]+")
_FULLWIDTH_NUMBER = re.compile("[\uff10-\uff19\uff0b]")  # ０-９ ＋ (full-width brackets are normal)
_NON_DIGIT = re.compile(r"\D")
_NUMBER_PUNCT = re.compile(r"[\s\-.()]")
_FAST_CN = re.compile(r"(?:\+86|0086|86)?(1\d{10})")
_ASCENDING = "0123456789012345678901234567890"
_DESCENDING = _ASCENDING[::-1]
_MAX_GROUP = 6  # tokens joined at most when looking for one number
#: North American formatting without a country code: "(212) 517-1640", "212-517-1640", "212.517.1640".
_NANP_SHAPE = re.compile(r"(?:\([2-9]\d{2}\) ?|[2-9]\d{2}[.\-])[2-9]\d{2}[.\-]\d{4}")
_NANP_REGIONS = frozenset(phonenumbers.COUNTRY_CODE_TO_REGION_CODE[1])

_TYPE_MAP: dict[int, PhoneType] = {
    PhoneNumberType.MOBILE: "mobile",
    PhoneNumberType.FIXED_LINE: "landline",
}


def _cn_mobile_pattern() -> re.Pattern[str]:
    metadata = phonenumbers.PhoneMetadata.metadata_for_region("CN")
    assert metadata is not None and metadata.mobile is not None
    pattern = metadata.mobile.national_number_pattern
    assert pattern is not None
    return re.compile(pattern)


def _cn_metadata() -> phonenumbers.PhoneMetadata:
    metadata = phonenumbers.PhoneMetadata.metadata_for_region("CN")
    assert metadata is not None  # the library ships China's metadata
    return metadata


_CN_MOBILE = _cn_mobile_pattern()
_CN_METADATA = _cn_metadata()
# A number written in the Chinese national form (trunk 0) or with +86/0086, whose national number starts
# like a landline (10, 2x-9x): typed with the metadata's patterns instead of a full parse.
_CN_NATIONAL = re.compile(r"(?:\+86|0086|0)((?:10|[2-9]\d)\d{7,9})")
_TYPES_IN_ORDER = (
    (PhoneNumberType.PREMIUM_RATE, "premium_rate"),
    (PhoneNumberType.TOLL_FREE, "toll_free"),
    (PhoneNumberType.SHARED_COST, "shared_cost"),
    (PhoneNumberType.VOIP, "voip"),
    (PhoneNumberType.PERSONAL_NUMBER, "personal_number"),
    (PhoneNumberType.PAGER, "pager"),
    (PhoneNumberType.UAN, "uan"),
    (PhoneNumberType.VOICEMAIL, "voicemail"),
)


def _desc(name: str) -> tuple[frozenset[int], re.Pattern[str]] | None:
    desc = getattr(_CN_METADATA, name)
    if desc is None or desc.national_number_pattern is None:
        return None
    return frozenset(desc.possible_length or ()), re.compile(desc.national_number_pattern)


_CN_DESCS = {name: _desc(name) for name in ("general_desc", "fixed_line", "mobile", *(n for _, n in _TYPES_IN_ORDER))}


def _matches(nsn: str, name: str) -> bool:
    desc = _CN_DESCS[name]
    if desc is None:
        return False
    lengths, pattern = desc
    return (not lengths or len(nsn) in lengths) and pattern.fullmatch(nsn) is not None


def cn_number_type(nsn: str) -> int:
    """``phonenumbers.number_type`` of a Chinese national significant number, from precompiled patterns.

    The same rules, in the same order, as the library's ``_number_type_helper`` (``UNKNOWN``: not valid).
    """
    if not _matches(nsn, "general_desc"):
        return PhoneNumberType.UNKNOWN
    for number_type, name in _TYPES_IN_ORDER:
        if _matches(nsn, name):
            return number_type
    if _matches(nsn, "fixed_line"):
        if _CN_METADATA.same_mobile_and_fixed_line_pattern or _matches(nsn, "mobile"):
            return PhoneNumberType.FIXED_LINE_OR_MOBILE
        return PhoneNumberType.FIXED_LINE
    if _matches(nsn, "mobile"):
        return PhoneNumberType.MOBILE
    return PhoneNumberType.UNKNOWN


_AREA_LENGTHS: dict[tuple[str, int], int] = {}


def _cn_area_length(nsn: str) -> int:
    """Length of the area code of a Chinese landline, computed by phonenumbers once per (first 3 digits, length)."""
    key = (nsn[:3], len(nsn))
    length = _AREA_LENGTHS.get(key)
    if length is None:
        number = phonenumbers.PhoneNumber(country_code=86, national_number=int(nsn))
        length = _AREA_LENGTHS[key] = phonenumbers.length_of_geographical_area_code(number)
    return length


def _cn_landline(nsn: str) -> _Number | Literal["invalid"]:
    number_type = cn_number_type(nsn)
    if number_type == PhoneNumberType.UNKNOWN:
        return "invalid"
    kind = _TYPE_MAP.get(number_type, "other")
    area = None
    if kind == "landline":
        length = _cn_area_length(nsn)
        if length:
            area = "0" + nsn[:length]
    return _Number("+86" + nsn, kind, area)


@dataclass(slots=True)
class _Number:
    e164: str
    kind: PhoneType
    area: str | None = None  # trunk-prefixed area code of a landline ("0635"), for "/8123457" follow-ups
    extension: str | None = None


def is_placeholder_digits(digits: str) -> bool:
    """Whether digits are an obvious stand-in: one repeated digit, a run like 12345678, 138 00000000."""
    if len(digits) >= 5 and len(set(digits)) == 1:
        return True
    stripped = digits.lstrip("0") or digits
    for candidate in {digits, stripped}:
        if len(candidate) >= 7 and (candidate in _ASCENDING or candidate in _DESCENDING):
            return True
    tail = digits[-11:]
    return len(tail) == 11 and tail[0] == "1" and len(set(tail[3:])) == 1


def _check(candidate: str, region: str) -> _Number | Literal["placeholder", "invalid"]:
    """One candidate number: validated, typed and formatted, or the reason it is not a number."""
    digits = _NON_DIGIT.sub("", candidate)
    if is_placeholder_digits(digits):
        return "placeholder"
    plain = _NUMBER_PUNCT.sub("", candidate)
    fast = _FAST_CN.fullmatch(plain)
    if fast and (region == "CN" or plain[0] in "+08") and _CN_MOBILE.fullmatch(fast.group(1)):
        return _Number("+86" + fast.group(1), "mobile")
    if region == "CN" or plain.startswith("+86"):
        national = _CN_NATIONAL.fullmatch(plain)
        if national:
            return _cn_landline(national.group(1))
    try:
        number = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException:
        return "invalid"
    if number.country_code == 86:
        number_type = cn_number_type(phonenumbers.national_significant_number(number))
    elif phonenumbers.is_valid_number(number):
        number_type = phonenumbers.number_type(number)
    else:
        number_type = PhoneNumberType.UNKNOWN
    if number_type == PhoneNumberType.UNKNOWN:
        return "invalid"
    kind = _TYPE_MAP.get(number_type, "other")
    area = None
    if kind == "landline":
        nsn = phonenumbers.national_significant_number(number)
        length = phonenumbers.length_of_geographical_area_code(number)
        if length:
            home = phonenumbers.region_code_for_number(number)
            prefix = phonenumbers.ndd_prefix_for_region(home, True) if home is not None else None
            area = (prefix or "") + nsn[:length]
    return _Number(phonenumbers.format_number(number, PhoneNumberFormat.E164), kind, area, number.extension or None)


def _undo_excel(text: str, issues: list[str]) -> str | None:
    """Undo Excel's number formats (``13800138000.0``, ``1.3800138e+10``); ``None`` if digits were lost."""
    match = _EXCEL_INT.fullmatch(text)
    if match:
        issues.append("excel_float")
        return match.group(1)
    match = _EXCEL_SCI.fullmatch(text)
    if match:
        issues.append("excel_float")
        mantissa = match.group(1) + (match.group(2) or "")
        exponent = int(match.group(3))
        if len(mantissa) - 1 > exponent:
            return text  # a fraction: not a phone number; left to fail validation
        if len(mantissa) <= 6 and exponent >= 9:
            issues.append("truncated")  # Excel's "General" format keeps 6 significant digits
            return None
        return mantissa.ljust(exponent + 1, "0")
    return text


class _Cell:
    """Accumulates the numbers and failures found in one cell."""

    __slots__ = ("failures", "foreign", "found", "region")

    def __init__(self, region: str) -> None:
        self.region = region
        self.found: list[_Number] = []
        self.failures: list[str] = []
        self.foreign = False  # a number was read in another region's format

    def read_span(self, span: str, extension: str | None) -> None:
        nanp = self.region not in _NANP_REGIONS and _NANP_SHAPE.fullmatch(span.strip())
        if nanp and not (self.region == "CN" and _NON_DIGIT.sub("", span)[-10:-7] in ("400", "800")):
            # written the North American way, "(212) 517-1640" or "212-517-1640": a Chinese number never
            # looks like that (its area code starts with 0 or it has 11 digits; 400/800 service numbers aside),
            # so read it as one from there
            number = _check(span, "US")
            if isinstance(number, _Number):
                number.extension = extension
                self.found.append(number)
                self.foreign = True
                return
        tokens = [t for t in _TOKEN_SPLIT.split(span) if t]
        start = len(self.found)
        i = 0
        while i < len(tokens):
            for j in range(min(len(tokens), i + _MAX_GROUP), i, -1):
                result = _check("".join(tokens[i:j]), self.region)
                if isinstance(result, _Number):
                    self.found.append(result)
                    i = j
                    break
                if j == i + 1:
                    self._leftover(tokens[i], result, start)
                    i += 1
        if extension is not None:
            if len(self.found) > start and self.found[-1].kind != "mobile":
                self.found[-1].extension = extension
            else:
                self.failures.append("invalid")

    def _leftover(self, token: str, result: str, start: int) -> None:
        digits = _NON_DIGIT.sub("", token)
        last = self.found[-1] if self.found else None
        in_span = len(self.found) > start
        if in_span and last is not None and last.kind != "mobile" and not last.extension and 0 < len(digits) <= 6:
            last.extension = digits  # a short run right after a landline in the same span
            return
        if last is not None and last.area and 7 <= len(digits) <= 8 and not token.startswith(("0", "+")):
            follow = _check(last.area + digits, self.region)
            if isinstance(follow, _Number):
                self.found.append(follow)
                return
            result = follow
        if len(digits) >= 5 or result == "placeholder":
            self.failures.append(result)


def _one(raw: str, region: str) -> tuple[object, ...]:
    issues: list[str] = []
    if _FULLWIDTH_NUMBER.search(raw):
        issues.append("fullwidth")
    text = clean_text(raw)
    undone = _undo_excel(text, issues)
    if undone is None:
        return None, [*issues, "invalid"], None, None, None
    cell = _Cell(region)
    pos = 0
    while True:
        match = _SPAN.search(undone, pos)
        if match is None:
            break
        pos = match.end()
        ext = _EXT.match(undone, pos)
        if ext is not None:
            pos = ext.end()
        cell.read_span(match.group(0), ext.group(1) if ext else None)
    if not cell.found:
        issues.append("placeholder" if "placeholder" in cell.failures else "invalid")
        return None, issues, None, None, None
    phones = list(dict.fromkeys(n.e164 for n in cell.found))
    chosen = next((n for n in cell.found if n.kind == "mobile"), cell.found[0])
    if len(phones) > 1:
        issues.append("multiple")
    if chosen.extension:
        issues.append("extension")
    if cell.failures:
        issues.append("partial")
    if cell.foreign:
        issues.append("north_american")
    return chosen.e164, issues, chosen.kind, phones, chosen.extension


@register_normaliser(
    "phone",
    params=PhoneParams,
    frame=FrameSpec(parts=("phone_type", "phones", "phone_extension"), value_lists=("phones",)),
)
def normalise_phone(values: pl.Series, **params: object) -> pl.DataFrame:
    """Normalise phone numbers to E.164.

    Args:
        values: raw phone cells (any dtype; Excel floats such as ``1.3800138e+10`` are undone).
        region: ISO region for numbers without a country code (default ``"CN"``).

    Returns:
        A frame of the same height with ``value`` (E.164 of the first valid number, a mobile preferred),
        ``issues``, ``phone_type`` (``mobile``/``landline``/``other``), ``phones`` (every valid number in the
        cell, E.164) and ``phone_extension``. Issue codes: ``empty``, ``invalid``, ``placeholder``,
        ``multiple``, ``extension``, ``excel_float``, ``truncated`` (Excel kept too few digits),
        ``fullwidth``, ``partial`` (a valid number plus a digit run that is not one), ``north_american``
        (written the North American way, ``(212) 517-1640``, in a project of another region: read as +1).
    """
    region = check_params(PhoneParams, params).region
    return map_distinct(
        values,
        lambda raw: _one(raw, region),
        _SCHEMA,
        placeholder="placeholder",
        fast=_fast_cn if region == "CN" else None,
        memo=memo_for("phone", region),
    )


# Cells made only of ASCII digits, +, brackets, spaces and dashes (at least one digit). For them, spaces and
# dashes only separate tokens, so every run of them is one separator: "138-0013-8000" reads as
# "138 0013 8000". Dots (Excel's "13800138000.0"), letters and full-width forms change the reading.
_PUNCT_ONLY = r"^[0-9+() \-]*[0-9][0-9+() \-]*$"
_SEPARATOR_RUN = r"[ \-]+"
# Exactly one Chinese mobile with an optional country prefix, in the groupings people write.
_ONE_MOBILE = r"^(?:(?:\+|00)?86|\(\+?86\))? ?(1\d\d) ?(\d{4}) ?(\d{4})$"
# Two bare mobiles separated by a space or one separator.
_TWO_MOBILES = r"^(1\d{10})(?: *[/,;、，；] *| )(1\d{10})$"
# Exactly one number in the national form 0<area><local> (area in brackets or not), or +86 / 0086 <area> <local>.
_ONE_NATIONAL = r"^(?:(0)(\d{2,3})|\((0)(\d{2,3})\)|(\+86|0086) ?(\d{2,3})) ?(\d{7,8})$"
_CN_NSN = r"^(?:10|[2-9]\d)\d{7,9}$"
_SAME_DIGITS = "^(?:" + "|".join(d + "{5,}" for d in "0123456789") + ")$"
_SAME_TAIL = "1\\d\\d(?:" + "|".join(d * 8 for d in "0123456789") + ")$"
_CN_MOBILE_ANCHORED = f"^(?:{_CN_MOBILE.pattern})$"


def _placeholder_expr(digits: pl.Expr) -> pl.Expr:
    """:func:`is_placeholder_digits` as a polars expression."""
    stripped = digits.str.strip_chars_start("0")
    stripped = pl.when(stripped == "").then(digits).otherwise(stripped)
    run = pl.lit(False)
    for candidate in (digits, stripped):
        inside = pl.lit(_ASCENDING).str.contains(candidate, literal=True) | pl.lit(_DESCENDING).str.contains(
            candidate, literal=True
        )
        run = run | ((candidate.str.len_chars() >= 7) & inside)
    return digits.str.contains(_SAME_DIGITS) | run | digits.str.contains(_SAME_TAIL)


def _desc_expr(nsn: pl.Expr, desc: phonenumbers.PhoneNumberDesc | None) -> pl.Expr:
    """phonenumbers' ``_is_number_matching_desc`` as an expression: the length is possible and the pattern matches."""
    if desc is None or not desc.national_number_pattern:
        return pl.lit(False)
    matches = nsn.str.contains(f"^(?:{desc.national_number_pattern})$")
    lengths = sorted(desc.possible_length or ())
    return (nsn.str.len_chars().is_in(lengths) & matches) if lengths else matches


_UNKNOWN = int(PhoneNumberType.UNKNOWN)


def _type_expr(nsn: pl.Expr, metadata: phonenumbers.PhoneMetadata) -> pl.Expr:
    """phonenumbers' ``_number_type_helper`` as an expression: the ``PhoneNumberType`` of a national significant
    number by one region's metadata, the same rules in the same order."""
    kind: Then | ChainedThen = pl.when(~_desc_expr(nsn, metadata.general_desc)).then(pl.lit(_UNKNOWN))
    for number_type, name in _TYPES_IN_ORDER:
        kind = kind.when(_desc_expr(nsn, getattr(metadata, name))).then(pl.lit(int(number_type)))
    same = bool(metadata.same_mobile_and_fixed_line_pattern)
    fixed = _desc_expr(nsn, metadata.fixed_line)
    mobile = _desc_expr(nsn, metadata.mobile)
    return (
        kind.when(fixed & (pl.lit(same) | mobile))
        .then(pl.lit(int(PhoneNumberType.FIXED_LINE_OR_MOBILE)))
        .when(fixed)
        .then(pl.lit(int(PhoneNumberType.FIXED_LINE)))
        .when(pl.lit(not same) & mobile)
        .then(pl.lit(int(PhoneNumberType.MOBILE)))
        .otherwise(pl.lit(_UNKNOWN))
    )


def _cn_kind_expr(nsn: pl.Expr) -> pl.Expr:
    """The phone_type of a valid Chinese national number (null: not valid), like :func:`cn_number_type`."""
    number_type = _type_expr(nsn, _CN_METADATA)
    kinds = {int(k): v for k, v in _TYPE_MAP.items()}
    return (
        pl.when(number_type == _UNKNOWN)
        .then(pl.lit(None, dtype=pl.String))
        .otherwise(number_type.replace_strict(kinds, default="other", return_dtype=pl.String))
    )


def _is_cn_mobile(digits: pl.Expr) -> pl.Expr:
    return digits.str.contains(_CN_MOBILE_ANCHORED) & ~_placeholder_expr(digits)


def canonical_phone(text: pl.Expr) -> pl.Expr:
    """One spelling for cells that only differ in spaces and dashes (:func:`_one` reads them the same)."""
    return (
        pl.when(text.str.contains(_PUNCT_ONLY))
        .then(text.str.replace_all(_SEPARATOR_RUN, " ").str.strip_chars(" "))
        .otherwise(text)
    )


def _fast_cn(keys: pl.Series) -> pl.DataFrame:
    """Distinct cells answered in polars: one Chinese mobile, one national-form number, two bare mobiles, one
    number of another country in international form (``+44 7988 110638``, ``0049 152 60837510``) or written the
    North American way, two such numbers on either side of a separator, each also in full-width digits
    (``１３６１３３１０１８６``: issue ``fullwidth``).

    Every other cell (extensions, words, numbers in another country's national form, anything invalid) is left
    to :func:`_one`; a test checks this path gives exactly what :func:`_one` gives.
    """
    answered = _fast_ascii(keys)
    wide = keys.filter(keys.str.contains(_FULLWIDTH_ONLY))
    if not wide.len():
        return answered
    translated = pl.DataFrame({"__key": wide, "__ascii": wide.str.replace_many(_FULLWIDTH, _HALFWIDTH)})
    halfwidth = _fast_ascii(translated.get_column("__ascii").unique()).rename({"__key": "__ascii"})
    full = translated.join(halfwidth, on="__ascii").with_columns(
        pl.concat_list(pl.lit(["fullwidth"], dtype=ISSUES_DTYPE), "issues").alias("issues")
    )
    return pl.concat([answered, full.select(answered.columns)])


#: Cells written only in full-width digits and plus signs (and ASCII digits, spaces, dashes): what
#: :func:`clean_text` turns into ASCII, with nothing else changed.
_FULLWIDTH_ONLY = r"^[０-９＋0-9+ \-]*[０-９＋][０-９＋0-9+ \-]*$"
_FULLWIDTH = [*"０１２３４５６７８９＋"]
_HALFWIDTH = [to_halfwidth(c) for c in _FULLWIDTH]  # as clean_text reads them
#: One number in international form: + or 00 (China's international prefix), then at most _MAX_GROUP groups of
#: digits, one of them maybe in brackets (``+1 (312) 853-2475``; dots only after +: ``13800138000.0`` is Excel's).
_GROUP = r"(?:\d+|\(\d+\)\d*)"
_ONE_INTERNATIONAL = (
    rf"^(?:\+[1-9]\d*(?:[ .\-]+{_GROUP}){{0,{_MAX_GROUP - 1}}}|00[1-9]\d*(?:[ \-]+{_GROUP}){{0,{_MAX_GROUP - 1}}})$"
)


def _fast_international(keys: pl.Series) -> pl.DataFrame:
    """Distinct cells that are one valid number of a country other than China in international form, or one
    North American number written without its +1, typed by that country's metadata as phonenumbers types it
    (:func:`_library_types`); placeholders, +86 and whatever the library might read otherwise are left to
    :func:`_one`."""
    digits = pl.col("__key").str.replace_all(r"\D", "")
    international_shape = pl.col("__key").str.contains(_ONE_INTERNATIONAL)
    nanp_shape = pl.col("__key").str.contains(f"^(?:{_NANP_SHAPE.pattern})$")
    international = international_shape & ~pl.col("__key").str.contains(r"^\+?\d+\.0+$")  # not Excel's float
    # written the North American way without +1 ("(212) 517-1640"): read as +1 (issue north_american), unless it
    # is a Chinese 400/800 service number
    nanp = nanp_shape & ~digits.str.slice(0, 3).is_in(["400", "800"])
    frame = (
        keys.to_frame("__key")
        .filter(international_shape | nanp_shape)  # the shapes first: the other checks read only these cells
        .filter((international | nanp) & ~_placeholder_expr(digits))
        .with_columns(
            pl.when(nanp)
            .then("+1" + digits)
            .when(pl.col("__key").str.starts_with("00"))
            .then("+" + digits.str.slice(2))
            .otherwise("+" + digits)
            .alias("value"),
            pl.when(nanp).then(pl.lit(["north_american"], dtype=ISSUES_DTYPE)).alias("issues"),
        )
        .filter(~pl.col("value").str.starts_with("+86"))
    )
    typed = _library_types(frame.get_column("value").unique()).filter(pl.col("type") != _UNKNOWN)
    kind = (
        pl.when(pl.col("type") == int(PhoneNumberType.MOBILE))
        .then(pl.lit("mobile"))
        .when(pl.col("type") == int(PhoneNumberType.FIXED_LINE))
        .then(pl.lit("landline"))
        .otherwise(pl.lit("other"))
    )
    return frame.join(typed.rename({"n": "value"}), on="value").select(
        "__key",
        "value",
        pl.col("issues").fill_null(pl.lit([], dtype=ISSUES_DTYPE)),
        kind.alias("phone_type"),
        pl.concat_list("value").alias("phones"),
    )


def _fast_ascii(keys: pl.Series) -> pl.DataFrame:
    """:func:`_fast_cn` for cells in ASCII: one number, or two numbers on either side of a separator
    (``17743698792 / 022-38328666``, ``13800138000, +44 7988 110638``), each one the one-number path answers."""
    one = _fast_one(keys)
    parts = (
        keys.to_frame("__key")
        .filter(~keys.is_in(one.get_column("__key").implode()))
        .with_columns(pl.col("__key").str.extract_groups(_TWO_PARTS).alias("__p"))
        .unnest("__p")
        .drop_nulls(["1", "2"])
    )
    if not parts.height:
        return one
    single = _fast_one(pl.concat([parts.get_column("1"), parts.get_column("2")]).unique()).filter(
        pl.col("phones").list.len() == 1
    )
    a = single.rename(lambda c: f"a_{c}" if c != "__key" else "1")
    b = single.rename(lambda c: f"b_{c}" if c != "__key" else "2")
    # as _one reads such a cell: the first mobile is the value, every distinct number is listed
    a_first = (pl.col("a_phone_type") == "mobile") | (pl.col("b_phone_type") != "mobile")
    two = pl.col("a_value") != pl.col("b_value")
    foreign = pl.col("a_issues").list.contains("north_american") | pl.col("b_issues").list.contains("north_american")
    issues = pl.concat_list(
        pl.when(two).then(pl.lit(["multiple"], dtype=ISSUES_DTYPE)).otherwise(pl.lit([], dtype=ISSUES_DTYPE)),
        pl.when(foreign).then(pl.lit(["north_american"], dtype=ISSUES_DTYPE)).otherwise(pl.lit([], dtype=ISSUES_DTYPE)),
    )
    both = (
        parts.join(a, on="1")
        .join(b, on="2")
        .select(
            "__key",
            pl.when(a_first).then("a_value").otherwise("b_value").alias("value"),
            issues.alias("issues"),
            pl.when(a_first).then("a_phone_type").otherwise("b_phone_type").alias("phone_type"),
            pl.when(two)
            .then(pl.concat_list("a_value", "b_value"))
            .otherwise(pl.concat_list("a_value"))
            .alias("phones"),
            pl.lit(None, dtype=pl.String).alias("phone_extension"),
        )
    )
    return pl.concat([one, both])


#: Two numbers on either side of one hard separator (what ends a span in :func:`_one`).
_TWO_PARTS = r"^([^/,;、，；]*[0-9)]) *[/,;、，；] *([+(0-9][^/,;、，；]*)$"


def _fast_one(keys: pl.Series) -> pl.DataFrame:
    """:func:`_fast_ascii` for cells of one number (or two bare mobiles)."""
    frame = (
        keys.to_frame("__key")
        .filter(pl.col("__key").str.contains(r"^[0-9+() /,;、，；\-]+$"))
        .with_columns(canonical_phone(pl.col("__key")).alias("__c"))
    )
    mobile = pl.col("__c").str.extract_groups(_ONE_MOBILE)
    one_mobile = frame.select(
        "__key", (mobile.struct.field("1") + mobile.struct.field("2") + mobile.struct.field("3")).alias("d")
    ).filter(_is_cn_mobile(pl.col("d")))
    first = pl.lit("+86") + pl.col("d")
    answered = [
        one_mobile.select(
            "__key",
            first.alias("value"),
            pl.lit([], dtype=ISSUES_DTYPE).alias("issues"),
            pl.lit("mobile").alias("phone_type"),
            pl.concat_list(first).alias("phones"),
        )
    ]

    two = pl.col("__c").str.extract_groups(_TWO_MOBILES)
    two_mobiles = frame.select("__key", two.struct.field("1").alias("d"), two.struct.field("2").alias("d2")).filter(
        _is_cn_mobile(pl.col("d")) & _is_cn_mobile(pl.col("d2"))
    )
    second = pl.lit("+86") + pl.col("d2")
    answered.append(
        two_mobiles.select(
            "__key",
            first.alias("value"),
            pl.when(pl.col("d") == pl.col("d2"))
            .then(pl.lit([], dtype=ISSUES_DTYPE))
            .otherwise(pl.lit(["multiple"], dtype=ISSUES_DTYPE))
            .alias("issues"),
            pl.lit("mobile").alias("phone_type"),
            pl.when(pl.col("d") == pl.col("d2"))
            .then(pl.concat_list(first))
            .otherwise(pl.concat_list(first, second))
            .alias("phones"),
        )
    )

    national = pl.col("__c").str.extract_groups(_ONE_NATIONAL)
    prefix = pl.coalesce(national.struct.field(str(i)) for i in (1, 3, 5))
    area = pl.coalesce(national.struct.field(str(i)) for i in (2, 4, 6))
    nsn = area + national.struct.field("7")
    digits = pl.col("prefix").str.replace("+", "", literal=True) + pl.col("nsn")
    landlines = (
        frame.select("__key", prefix.alias("prefix"), nsn.alias("nsn"))
        .filter(pl.col("nsn").str.contains(_CN_NSN) & ~_placeholder_expr(digits))
        .with_columns(_cn_kind_expr(pl.col("nsn")).alias("phone_type"))
        .filter(pl.col("phone_type").is_not_null())
    )
    value = pl.lit("+86") + pl.col("nsn")
    answered.append(
        landlines.select(
            "__key",
            value.alias("value"),
            pl.lit([], dtype=ISSUES_DTYPE).alias("issues"),
            "phone_type",
            pl.concat_list(value).alias("phones"),
        )
    )
    answered.append(_fast_international(keys))
    return pl.concat(answered).with_columns(pl.lit(None, dtype=pl.String).alias("phone_extension"))


_CN_MOBILE_E164 = r"^\+861[3-9]\d{9}$"
_PERSONAL_TYPES = (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE, PhoneNumberType.PERSONAL_NUMBER)


@functools.lru_cache(maxsize=65536)
def _is_personal(number: str) -> bool:
    """True when an E.164 number is a mobile (or a type that belongs to one person, e.g. a personal number)."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.number_type(parsed) in _PERSONAL_TYPES


def _metadata(country_code: int, region: str) -> phonenumbers.PhoneMetadata | None:
    return phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)


def _country_code_expr(number: pl.Expr) -> pl.Expr:
    """The calling code of an E.164 text: its first 1, 2 or 3 digits that are one, as phonenumbers reads it."""
    known = pl.lit(pl.Series([str(c) for c in phonenumbers.COUNTRY_CODE_TO_REGION_CODE])).implode()
    heads = [number.str.slice(1, size) for size in (1, 2, 3)]
    return pl.coalesce(pl.when(head.is_in(known)).then(head) for head in heads)


def _typed_by_region(nsn: pl.Expr, country_code: int) -> pl.Expr:
    """phonenumbers' ``number_type`` of the numbers of one calling code: with several regions (+44: GB, GG, IM,
    JE), by the first region whose leading digits start the number, or that types it, as
    ``region_code_for_number`` picks it."""
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE[country_code]
    if len(regions) == 1:
        metadata = _metadata(country_code, regions[0])
        return _type_expr(nsn, metadata) if metadata is not None else pl.lit(_UNKNOWN)
    typed: pl.Expr = pl.lit(_UNKNOWN)
    for region in reversed(regions):  # the first region that fits decides: built from the last
        metadata = _metadata(country_code, region)
        if metadata is None:
            continue
        of_region = _type_expr(nsn, metadata)
        leading = metadata.leading_digits
        found = nsn.str.contains(f"^(?:{leading})") if leading else of_region != _UNKNOWN
        typed = pl.when(found).then(of_region).otherwise(typed)
    return typed


#: Numbers of one calling code typed by polars expressions (:func:`_library_types`) from this many on.
VECTORISED_FROM = 32


def _library_types(numbers: pl.Series) -> pl.DataFrame:
    """phonenumbers' ``number_type`` (``type``) of the distinct E.164 numbers ``n`` it reads as written, by the
    library's metadata as polars expressions (a parse and a typing per number cost 27 µs). Numbers the library
    might read otherwise are left out, for the caller to give to the library itself: a national prefix after the
    calling code (parsing may strip it), a leading 0, odd lengths, patterns polars' regex cannot take; and the
    numbers of a calling code that has fewer than :data:`VECTORISED_FROM` of them (its expressions cost about 4
    ms: the library types so few sooner)."""
    frame = pl.DataFrame({"n": numbers}, schema={"n": pl.String}).with_columns(
        _country_code_expr(pl.col("n")).alias("cc")
    )
    frame = frame.with_columns(pl.col("n").str.slice(pl.col("cc").str.len_chars() + 1).alias("nsn"))
    plain = (
        pl.col("n").str.contains(r"^\+[1-9][0-9]+$")
        & pl.col("cc").is_not_null()
        & pl.col("nsn").str.len_chars().is_between(2, 17)
        & ~pl.col("nsn").str.starts_with("0")
    )
    answered = [pl.DataFrame(schema={"n": pl.String, "type": pl.Int32})]
    counts = frame.filter(plain).get_column("cc").value_counts()
    for code in counts.filter(pl.col("count") >= VECTORISED_FROM).get_column("cc").to_list():
        country_code = int(code)
        main = _metadata(country_code, phonenumbers.COUNTRY_CODE_TO_REGION_CODE[country_code][0])
        ours = frame.filter(plain & (pl.col("cc") == code))
        if main is not None and main.national_prefix_for_parsing:  # parse may strip it: the library reads these
            ours = ours.filter(~pl.col("nsn").str.contains(f"^(?:{main.national_prefix_for_parsing})"))
        try:
            typed = ours.select("n", _typed_by_region(pl.col("nsn"), country_code).cast(pl.Int32).alias("type"))
        except pl.exceptions.PolarsError:  # a pattern the regex engine cannot compile
            continue
        answered.append(typed)
    return pl.concat(answered)


def _personal(numbers: pl.Series) -> pl.Series:
    """:func:`_is_personal` of each distinct E.164 number: typed in polars where :func:`_library_types` can (1.3 s
    for the 48k British and German numbers of a million records, 0.16 s so), by the library otherwise."""
    frame = pl.DataFrame({"n": numbers}, schema={"n": pl.String})
    known = _library_types(numbers).select("n", pl.col("type").is_in(_PERSONAL_TYPES).alias("p"))
    rest = frame.join(known, on="n", how="anti").get_column("n")
    slow = pl.DataFrame({"n": rest, "p": [_is_personal(n) for n in rest.to_list()]}, schema=known.schema)
    return frame.join(pl.concat([known, slow]), on="n", how="left", maintain_order="left").get_column("p")


def is_mobile_number(numbers: pl.Series) -> pl.Expr:
    """A ``pl.element()`` predicate (for ``list.filter``/``list.eval``) that is true for the mobiles among
    ``numbers`` (E.164 text), told by the number itself, whatever column it came in.

    +86 mobiles by pattern; North American numbers count as personal lines (their plan has no mobile/landline
    split); every other number by phonenumbers' type rules, once per distinct number (:func:`_personal`).
    """
    distinct = numbers.drop_nulls().unique()
    other = distinct.filter(~distinct.str.contains(r"^\+(86|1)"))
    personal = other.filter(_personal(other)).append(distinct.filter(distinct.str.starts_with("+1")))
    return pl.element().str.contains(_CN_MOBILE_E164) | pl.element().is_in(pl.lit(personal).implode())


def landline_of(phones: pl.Series) -> pl.Series:
    """The first number of each row's ``phones`` list that is not a mobile (see :func:`is_mobile_number`), or
    null: the row's landline or switchboard."""
    mobile = is_mobile_number(phones.explode())
    return (
        pl.DataFrame({"p": phones}).select(pl.col("p").list.filter(~mobile).list.first().alias("landline")).to_series()
    )

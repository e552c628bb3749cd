"""Phone normaliser: every valid number in a cell, in E.164, with its type.

A cell is read left to right as "spans" of digits and number punctuation; words (手机, Tel, 或, and) and
hard separators (``/ , ; 、 ，``) end a span. Inside a span, whitespace, dots and dashes split tokens, and
tokens are grouped greedily (longest valid group first), so ``+86 138 0013 8000`` is one number while
``13800138000 13900139000`` is two. A short token right after a landline is its extension
(``0635-8123456-801``); a 7-8 digit token after a landline is another number in the same area
(``0635-8123456/8123457``). Every number is gated on ``phonenumbers.is_valid_number``; the only shortcut is
for plain 11-digit Chinese mobiles, matched against the mobile pattern of phonenumbers' own metadata (a test
checks the shortcut agrees with the library on every mobile prefix).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import phonenumbers
import polars as pl
from phonenumbers import PhoneNumberFormat, PhoneNumberType
from pydantic import BaseModel, ConfigDict, field_validator

from ._base import ISSUES_DTYPE, clean_text, is_null_marker, map_distinct
from ._registry import check_params, register_normaliser

PhoneType = Literal["mobile", "landline", "other"]

_SCHEMA = {
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

_TYPE_MAP: dict[int, PhoneType] = {
    PhoneNumberType.MOBILE: "mobile",
    PhoneNumberType.FIXED_LINE: "landline",
}


def _cn_mobile_pattern() -> re.Pattern[str]:
    metadata = phonenumbers.PhoneMetadata.metadata_for_region("CN")
    assert metadata is not None and metadata.mobile is not None
    return re.compile(metadata.mobile.national_number_pattern)


_CN_MOBILE = _cn_mobile_pattern()


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
    try:
        number = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException:
        return "invalid"
    if not phonenumbers.is_valid_number(number):
        return "invalid"
    kind = _TYPE_MAP.get(phonenumbers.number_type(number), "other")
    area = None
    if kind == "landline":
        nsn = phonenumbers.national_significant_number(number)
        length = phonenumbers.length_of_geographical_area_code(number)
        if length:
            prefix = phonenumbers.ndd_prefix_for_region(phonenumbers.region_code_for_number(number), True)
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

    __slots__ = ("failures", "found", "region")

    def __init__(self, region: str) -> None:
        self.region = region
        self.found: list[_Number] = []
        self.failures: list[str] = []

    def read_span(self, span: str, extension: str | None) -> None:
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


def _one(raw: str | None, region: str) -> tuple[object, ...]:
    if raw is None:
        return None, ["empty"], None, None, None
    issues: list[str] = []
    if _FULLWIDTH_NUMBER.search(raw):
        issues.append("fullwidth")
    text = clean_text(raw)
    if not text:
        return None, ["empty"], None, None, None
    if is_null_marker(text):
        return None, [*issues, "placeholder"], None, None, None
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
    return chosen.e164, issues, chosen.kind, phones, chosen.extension


@register_normaliser("phone")
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
        ``fullwidth``, ``partial`` (a valid number plus a digit run that is not one).
    """
    region = check_params(PhoneParams, params).region
    return map_distinct(values, lambda raw: _one(raw, region), _SCHEMA)

from __future__ import annotations

import random

import phonenumbers
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

import rules.normalise._phone as phone_module
from rules.normalise import is_mobile_number, is_placeholder_digits, normalise_phone
from rules.normalise._phone import _check, _one, cn_number_type  # the fast paths against the reference

from ._helpers import (
    batches,
    check_contract,
    check_table,
    check_table_idempotent,
    idempotent,
    run_one,
    table,
    text_series,
)

M = "+8613800138000"
L = "+866358123456"

PHONE_TABLE = table("phone")


def test_phone_table() -> None:
    """Every line of the table, the whole table normalised as one column (fast paths and the Python path mixed)."""
    check_table("phone.jsonl", PHONE_TABLE)


def test_phone_table_is_idempotent() -> None:
    check_table_idempotent("phone.jsonl", PHONE_TABLE)


def test_extension_part() -> None:
    row = run_one(normalise_phone, "0635-8123456转801")
    assert row["phone_extension"] == "801"
    assert run_one(normalise_phone, "13800138000")["phone_extension"] is None


def test_region_parameter() -> None:
    assert run_one(normalise_phone, "(415) 555-0100", region="US")["value"] == "+14155550100"
    assert run_one(normalise_phone, "020 7946 0958", region="gb")["value"] == "+442079460958"
    assert run_one(normalise_phone, "13800138000", region="US")["value"] is None
    assert run_one(normalise_phone, "+86 13800138000", region="US")["value"] == M


def test_bad_parameters_raise() -> None:
    with pytest.raises(ValidationError, match="unknown phone region"):
        normalise_phone(pl.Series(["1"]), region="XX")
    with pytest.raises(ValidationError):
        normalise_phone(pl.Series(["1"]), country="CN")


def test_output_contract_and_row_order() -> None:
    values = pl.Series(["13800138000", None, "abc", "13800138000", "0635-8123456"])
    out = normalise_phone(values)
    check_contract(out, 5, {"phone_type": pl.String, "phones": pl.List(pl.String), "phone_extension": pl.String})
    assert out.get_column("value").to_list() == [M, None, None, M, L]


def test_excel_float_column() -> None:
    out = normalise_phone(pl.Series([13800138000.0, None]))
    assert out.get_column("value").to_list() == [M, None]


@pytest.mark.parametrize(
    ("digits", "expected"),
    [
        ("11111111111", True),
        ("00000", True),
        ("1234567", True),
        ("9876543210", True),
        ("13900000000", True),
        ("13800138000", False),
        ("6358123456", False),
        ("1234", False),
    ],
)
def test_is_placeholder_digits(digits: str, expected: bool) -> None:
    assert is_placeholder_digits(digits) is expected


def test_cn_mobile_shortcut_agrees_with_phonenumbers() -> None:
    """The fast path for 11-digit CN mobiles must say exactly what is_valid_number/number_type say."""
    rng = random.Random(7)
    for prefix in range(10000, 20000):  # every 5-digit prefix starting with 1
        for _ in range(2):
            nsn = f"{prefix}{rng.randrange(10**6):06d}"
            if is_placeholder_digits(nsn):
                continue
            try:
                number = phonenumbers.parse(nsn, "CN")
            except phonenumbers.NumberParseException:
                assert _check(nsn, "CN") == "invalid", nsn
                continue
            valid = phonenumbers.is_valid_number(number)
            mobile = valid and phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.MOBILE
            result = _check(nsn, "CN")
            if mobile:
                assert not isinstance(result, str) and result.kind == "mobile", nsn
                assert result.e164 == "+86" + nsn
            elif valid:
                assert not isinstance(result, str) and result.kind != "mobile", nsn
            else:
                assert result == "invalid", nsn


@settings(max_examples=60, deadline=None)
@given(batches(st.text()))
def test_never_raises_on_arbitrary_text(raws: list[str]) -> None:
    check_contract(normalise_phone(text_series(*raws, None)), len(raws) + 1)


phone_like = st.text(alphabet="0123456789+-() ./、或转ext１３８", max_size=40)


@settings(max_examples=60, deadline=None)
@given(batches(phone_like))
def test_idempotent(raws: list[str]) -> None:
    idempotent(normalise_phone, raws)


def test_vectorised_path_agrees_with_python_path() -> None:
    """Every spelling the polars fast path answers gives exactly what ``_one`` gives."""
    rng = random.Random(11)
    values: list[str] = []
    for prefix in [*range(100, 200), *range(10, 100), *range(200, 1000, 7)]:
        for _ in range(2):
            n = f"{prefix}{rng.randrange(10**8):08d}"[:11]
            local = f"{rng.randrange(10**8):08d}"[: rng.choice([7, 8])]
            values += [
                n,
                f"{n[:3]} {n[3:7]} {n[7:]}",
                f"{n[:3]}-{n[3:7]}--{n[7:]}",
                f"+86 {n}",
                f"(+86) {n}",
                f"{n}/{n}",
                f"{n} {n}",
                f"{n} 、 13800138000",
                f"0{prefix} {local}",
                f"(0{prefix}){local}",
                f"+86 {prefix} {local}",
                f"0086{prefix}{local}",
                f"0{prefix}-{local}",
                f"{prefix}" + str(rng.randint(0, 9)) * 8,
                f"0{prefix}" + "12345678"[: rng.choice([7, 8])],
            ]
    out = normalise_phone(pl.Series(values))
    for raw, row in zip(values, out.iter_rows(), strict=True):
        assert row == tuple(_one(raw, "CN")), raw


def _international_spellings() -> list[str]:
    """Every region's example number of every type in international form, spelled as people write them (also the
    North American way without a calling code), with near misses of each (a digit dropped, added, changed; a
    trunk 0 kept) and full-width forms."""
    rng = random.Random(5)
    values = ["+49 1555 5555555", "0049 170 33333333", "+1 234 567 8901", "(400) 800-8888", "(800) 810-1234"]
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in range(12):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            cc, nsn = str(example.country_code), phonenumbers.national_significant_number(example)
            cut = max(1, len(nsn) // 2)
            values += [f"+{cc} {nsn[:cut]} {nsn[cut:]}", f"+{cc}-{nsn[:3]}.{nsn[3:]}", f"00{cc} {nsn}"]
            values += [f"+{cc} ({nsn[:3]}) {nsn[3:]}", f"({nsn[:3]}) {nsn[3:6]}-{nsn[6:]}"]
            values.append(f"{nsn[:3]}.{nsn[3:6]}.{nsn[6:]}")
            for digits in (nsn[:-1], nsn + str(rng.randrange(10)), str(rng.randrange(10)) + nsn[1:], "0" + nsn):
                values.append(f"+{cc}{digits}")
            values.append(f"＋{cc} {nsn}".translate(str.maketrans("0123456789", "０１２３４５６７８９")))
    return values


def test_vectorised_path_agrees_with_python_path_on_every_country(monkeypatch: pytest.MonkeyPatch) -> None:
    """Numbers of every country in international form, two numbers in one cell, and full-width cells, answered in
    polars: exactly what ``_one`` gives (type, E.164 and issues), valid or not."""
    monkeypatch.setattr(phone_module, "VECTORISED_FROM", 1)  # every calling code's few numbers read in polars
    single = _international_spellings()
    rng = random.Random(8)
    local = ["13800138001", "139-0013-9000", "0635-7890001", "(021)22475000", "+86 25 72533000", "06352906666"]
    examples = [s for s in single if s.startswith("+") and s.count(" ") == 2 and "(" not in s]  # "+cc nsn nsn"
    pool = [*examples, *local * 50]
    separators = ["/", " / ", ",", "，", "、", ";", "；"]
    pairs = [rng.choice(pool) + rng.choice(separators) + rng.choice(pool) for _ in range(400)]
    values = list(dict.fromkeys([*single, *pairs]))
    out = normalise_phone(pl.Series(values))
    assert len(values) > 5000
    mismatched = [(raw, row) for raw, row in zip(values, out.iter_rows(), strict=True) if row != tuple(_one(raw, "CN"))]
    assert not mismatched, mismatched[:20]


def test_cn_national_shortcut_agrees_with_phonenumbers() -> None:
    """Numbers in the national form skip phonenumbers.parse: type, E.164 and area code must agree with it."""
    rng = random.Random(3)
    for prefix in range(10, 1000):
        for length in (7, 8):
            nsn = f"{prefix}{rng.randrange(10**length):0{length}d}"
            for candidate in ("0" + nsn, "+86" + nsn, "0086" + nsn):
                fast = _check(candidate, "CN")
                try:
                    number = phonenumbers.parse(candidate, "CN")
                except phonenumbers.NumberParseException:
                    assert fast in ("invalid", "placeholder"), candidate
                    continue
                if is_placeholder_digits("".join(c for c in candidate if c.isdigit())):
                    assert fast == "placeholder"
                elif not phonenumbers.is_valid_number(number):
                    assert fast == "invalid", candidate
                else:
                    assert not isinstance(fast, str), candidate
                    assert fast.e164 == phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
                    assert cn_number_type(nsn) == phonenumbers.number_type(number), candidate
                    if fast.kind == "landline":
                        length_of_area = phonenumbers.length_of_geographical_area_code(number)
                        assert fast.area == "0" + nsn[:length_of_area], candidate


def _variants_of_examples() -> list[str]:
    """Every region's example number of every type in E.164, and each one a digit short, long, changed, or with a
    0 after its calling code: valid numbers of each kind and near misses, in every region's metadata."""
    types = [t for name, t in vars(phonenumbers.PhoneNumberType).items() if name.isupper() and name != "UNKNOWN"]
    examples = [phonenumbers.example_number_for_type(r, t) for r in phonenumbers.SUPPORTED_REGIONS for t in types]
    non_geographic = phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS
    examples += [phonenumbers.example_number_for_non_geo_entity(c) for c in non_geographic]
    out: set[str] = set()
    for example in filter(None, examples):
        e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
        out |= {e164, e164[:-1], e164 + "7", e164[:-1] + str((int(e164[-1]) + 3) % 10), e164[:4] + "0" + e164[4:]}
    return sorted(n for n in out if not n.startswith(("+86", "+1")))


def test_mobile_numbers_told_as_phonenumbers_types_them(monkeypatch: pytest.MonkeyPatch) -> None:
    # outside +86 and +1, a number is a mobile when phonenumbers types it as one (or fixed-or-mobile, or personal);
    # the vectorised reading of its metadata must agree on every region's numbers and near misses
    monkeypatch.setattr(phone_module, "VECTORISED_FROM", 1)  # every calling code's few numbers read in polars
    numbers = [*_variants_of_examples(), "+", "+0123", "+44", "+44 20 7946 0958", "phone"]
    series = pl.Series(numbers)
    told = series.to_frame("n").select(pl.concat_list("n").list.filter(is_mobile_number(series)).list.len() > 0)

    def personal(number: str) -> bool:
        try:
            parsed = phonenumbers.parse(number, None)
        except phonenumbers.NumberParseException:
            return False
        return phonenumbers.number_type(parsed) in (
            phonenumbers.PhoneNumberType.MOBILE,
            phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
            phonenumbers.PhoneNumberType.PERSONAL_NUMBER,
        )

    expected = [personal(n) for n in numbers]
    wrong = [n for n, got, want in zip(numbers, told.to_series().to_list(), expected, strict=True) if got != want]
    assert not wrong
    assert 500 < sum(expected) < len(numbers) - 500  # both kinds, many of each

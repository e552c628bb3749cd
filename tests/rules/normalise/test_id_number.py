from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_store.schema import ISSUES_COL
from rules.normalise import (
    ID_HASH_SALT,
    get_normaliser,
    hash_id_number,
    mask_id_number,
    normalise_frame,
    normalise_id_number,
)

from ._helpers import Line, check_contract, check_table, check_table_idempotent, csv_table, run_one

PARTS = ("id_birth_date", "id_gender", "id_region_code", "id_province")
_PART_TYPES = dict.fromkeys((*PARTS, "id_hash"), pl.String)
VALID = "11010519491231002X"  # the example number of GB 11643


ID_TABLE = csv_table("id_number", ("value", *PARTS))


def _digits(raw: str) -> str:
    fullwidth = str.maketrans("０１２３４５６７８９Ｘ", "0123456789X")
    return "".join(c for c in raw.translate(fullwidth) if c.isalnum()).upper()


def _hash_and_mask(line: Line, row: dict[str, Any]) -> str | None:
    """The hash is the salted SHA-256 of the 18-character number; the raw number is never the value, and the mask
    hides 13 characters."""
    digits = _digits(line.input or "")
    if line.expected["id_birth_date"] is None:
        if row["id_hash"] is not None:
            return f"id_hash: expected None, got {row['id_hash']!r}"
    elif len(digits) == 18:
        if row["id_hash"] != hashlib.sha256(f"crmkit-id:{digits}".encode()).hexdigest():
            return f"id_hash: not the salted SHA-256 of {digits}: {row['id_hash']!r}"
    elif row["id_hash"] is None or len(row["id_hash"]) != 64:
        return f"id_hash: expected a SHA-256, got {row['id_hash']!r}"
    if row["value"] is not None and (row["value"] == digits or row["value"].count("*") != 13):
        return f"value: {row['value']!r} is not a mask of 13 characters"
    return None


def test_id_number_table() -> None:
    """The whole table normalised in one call: value (the mask), issues, parts, hash."""
    check_table("id_number.csv", ID_TABLE, parts=_PART_TYPES, extra=_hash_and_mask)


def test_table_is_large_and_varied() -> None:
    cases = [line.expected for line in ID_TABLE]
    issues = [code for c in cases for code in c["issues"]]
    assert len(cases) >= 300
    for code in ("legacy", "invalid_checksum", "invalid_date", "placeholder", "invalid_length", "fullwidth"):
        assert issues.count(code) >= 5 or code == "fullwidth", code
    assert sum(1 for c in cases if not c["issues"]) >= 150


def test_standard_example() -> None:
    row = run_one(normalise_id_number, VALID.lower())
    assert row["value"] == "110*************2X"
    assert row["issues"] == []
    assert (row["id_birth_date"], row["id_gender"], row["id_region_code"], row["id_province"]) == (
        "1949-12-31",
        "female",
        "110105",
        "北京市",
    )
    assert row["id_hash"] == hashlib.sha256(b"crmkit-id:" + VALID.encode()).hexdigest() == hash_id_number(VALID)
    assert ID_HASH_SALT == "crmkit-id:"
    assert mask_id_number(VALID) == "110*************2X"


def test_legacy_number_hashes_like_its_18_digit_form() -> None:
    old = "370102850305123"
    out = normalise_id_number(pl.Series([old, "370102198503051239"]))
    assert out.get_column("id_hash").n_unique() == 1
    assert out.get_column("issues").to_list() == [["legacy"], []]


def test_cross_checks_with_birth_dates_and_genders() -> None:
    values = pl.Series([VALID, VALID, VALID, VALID, "bad", None])
    births = pl.Series(["1949-12-31", "1950-01-01", None, "1949-12-31", "1949-12-31", "1949-12-31"])
    genders = pl.Series(["female", "male", "male", None, "male", "female"])
    out = normalise_id_number(values, birth_dates=births, genders=genders)
    assert out.get_column("issues").to_list() == [
        [],
        ["birth_date_mismatch", "gender_mismatch"],
        ["gender_mismatch"],
        [],
        ["invalid_length"],
        ["empty"],
    ]
    assert out.columns == ["value", "issues", "id_birth_date", "id_gender", "id_region_code", "id_province", "id_hash"]


def test_mismatched_heights_raise() -> None:
    with pytest.raises(ValueError, match="birth_dates"):
        normalise_id_number(pl.Series([VALID]), birth_dates=pl.Series(["a", "b"]))


def test_registered_and_contract() -> None:
    assert get_normaliser("id_number") is normalise_id_number
    check_contract(normalise_id_number(pl.Series([VALID, None])), 2, _PART_TYPES)
    check_contract(normalise_id_number(pl.Series([370102850305123, None])), 2, _PART_TYPES)


def test_repeated_values_get_the_answer_of_their_distinct_value() -> None:
    # speed is measured in benchmarks/normalise.py, not here
    distinct = [line.input for line in ID_TABLE]
    values = pl.Series(distinct * 20, dtype=pl.String)
    out = normalise_id_number(values)
    assert out.get_column("value").to_list() == [line.expected["value"] for line in ID_TABLE] * 20


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), st.text(alphabet="0123456789Xx ０１２３-", min_size=14, max_size=20)))
def test_never_raises_and_never_echoes_the_number(raw: str) -> None:
    out = normalise_id_number(pl.Series([raw, None]), birth_dates=pl.Series(["1985-03-05", None]))
    check_contract(out, 2, _PART_TYPES)
    value = out.get_column("value")[0]
    digits = _digits(raw)
    assert value is None or value == raw.strip() or (digits not in value and "*" * 13 in value)


def test_masked_value_is_stable() -> None:
    check_table_idempotent("id_number.csv", ID_TABLE)


def _frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "_source_key": ["1", "2", "3", "4"],
            "id_number": [VALID, "370102850305123", "11010519491231002X", "junk"],
            "birth_date": ["1949-12-31", "1985/3/5", "1950-01-01", None],
            "gender": ["女", "男", "male", None],
            "_payload": ['{"id": "raw"}'] * 4,
        }
    )


def test_frame_masks_the_number_and_cross_checks() -> None:
    out = normalise_frame(_frame(), today=dt.date(2026, 11, 23))
    assert out.get_column("id_number").to_list() == [
        "110*************2X",
        "370*************39",
        "110*************2X",
        None,
    ]
    assert out.get_column("id_birth_date").to_list() == ["1949-12-31", "1985-03-05", "1949-12-31", None]
    assert out.get_column("id_gender").to_list() == ["female", "male", "female", None]
    assert out.get_column("id_province").to_list() == ["北京市", "山东省", "北京市", None]
    hashes = out.get_column("id_hash").to_list()
    assert hashes[0] == hashes[2] == hash_id_number(VALID) and hashes[3] is None
    issues = out.get_column(ISSUES_COL).to_list()
    assert issues[0] == []
    assert issues[1] == ["id_number.legacy"]
    assert set(issues[2]) == {"id_number.birth_date_mismatch", "id_number.gender_mismatch"}
    assert issues[3] == ["id_number.invalid_length"]
    # the raw number survives nowhere but in the raw payload
    for column in out.columns:
        if column == "_payload":
            continue
        text = out.get_column(column).cast(pl.String, strict=False).to_list() if column != ISSUES_COL else []
        assert VALID not in text and "370102850305123" not in text, column


def test_frame_rerun_keeps_mask_and_parts() -> None:
    once = normalise_frame(_frame(), today=dt.date(2026, 11, 23))
    twice = normalise_frame(once, today=dt.date(2026, 11, 23))
    for column in ("id_number", "id_hash", "id_birth_date", "id_gender", "id_region_code", "id_province"):
        assert twice.get_column(column).to_list() == once.get_column(column).to_list(), column


def test_the_vectorised_path_agrees_with_the_python_path() -> None:
    import datetime as dt
    import random

    from rules.normalise._id_number import _fast, _one, check_character

    rng = random.Random(5)
    numbers = []
    for _ in range(3000):
        region = rng.choice(["110101", "370102", "371502", "440305", "999999", "110101"])
        birth = dt.date(1930, 1, 1) + dt.timedelta(days=rng.randrange(0, 33000))
        body = f"{region}{birth:%Y%m%d}{rng.randrange(1000):03d}"
        check = check_character(body) if rng.random() < 0.9 else rng.choice("0123456789X")
        numbers.append(body + check)
    numbers += ["111111111111111111", "123456789012345678", "110101202999990012", "11010119900101123"]
    today = dt.date.today()
    fast = _fast(pl.Series(numbers, dtype=pl.String), today)
    assert fast.height > 2000  # most of them take the fast path
    for row in fast.iter_rows(named=True):
        expected = _one(row["__key"], today)
        got = tuple(
            row[c]
            for c in ("value", "issues", "id_birth_date", "id_gender", "id_region_code", "id_province", "id_hash")
        )
        assert got == tuple(expected), row["__key"]

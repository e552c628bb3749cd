from __future__ import annotations

import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from rules.normalise import normalise_gender

from ._helpers import check_contract, check_table, check_table_idempotent, table

GENDER_TABLE = table("gender")


def test_gender_table() -> None:
    check_table("gender.jsonl", GENDER_TABLE)


def test_gender_table_is_idempotent() -> None:
    check_table_idempotent("gender.jsonl", GENDER_TABLE)


def test_integer_codes_column() -> None:
    out = normalise_gender(pl.Series([1, 2, 0, 9, None]))
    assert out.get_column("value").to_list() == ["male", "female", None, None, None]


@given(st.text())
def test_never_raises(raw: str) -> None:
    out = normalise_gender(pl.Series([raw]))
    check_contract(out, 1)
    assert out.get_column("value").to_list()[0] in ("male", "female", None)

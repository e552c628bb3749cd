from __future__ import annotations

from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rules.normalise import normalise_gender

from ._helpers import check_case, check_contract, idempotent, load_table, run_one

CASES: list[tuple[str | None, str | None, list[str]]] = [
    ("男", "male", []),
    ("女", "female", []),
    (" 男 ", "male", []),
    ("男性", "male", []),
    ("女性", "female", []),
    ("男士", "male", []),
    ("女士", "female", []),
    ("先生", "male", []),
    ("小姐", "female", []),
    ("M", "male", []),
    ("m", "male", []),
    ("F", "female", []),
    ("f.", "female", []),
    ("male", "male", []),
    ("Male", "male", []),
    ("FEMALE", "female", []),
    ("man", "male", []),
    ("woman", "female", []),
    ("Mr", "male", []),
    ("Mrs", "female", []),
    ("Ms", "female", []),
    ("1", "male", []),
    ("2", "female", []),
    ("1.0", "male", []),
    ("２", "female", []),
    ("0", None, ["not_stated"]),
    ("9", None, ["not_stated"]),
    ("未知", None, ["not_stated"]),
    ("保密", None, ["not_stated"]),
    ("unknown", None, ["not_stated"]),
    ("N/A", None, ["placeholder"]),
    ("3", None, ["unknown"]),
    ("other", None, ["unknown"]),
    ("男女", None, ["unknown"]),
    ("", None, ["empty"]),
    (None, None, ["empty"]),
]


@pytest.mark.parametrize(("raw", "value", "issues"), CASES)
def test_gender_cases(raw: str | None, value: str | None, issues: list[str]) -> None:
    row = run_one(normalise_gender, raw)
    assert (row["value"], row["issues"]) == (value, issues)


def test_integer_codes_column() -> None:
    out = normalise_gender(pl.Series([1, 2, 0, 9, None]))
    assert out.get_column("value").to_list() == ["male", "female", None, None, None]


@given(st.text())
def test_never_raises(raw: str) -> None:
    out = normalise_gender(pl.Series([raw]))
    check_contract(out, 1)
    assert out.get_column("value").to_list()[0] in ("male", "female", None)


GENDER_TABLE = load_table("gender")


@pytest.mark.parametrize("case", GENDER_TABLE)
def test_gender_table(case: dict[str, Any]) -> None:
    check_case(normalise_gender, case)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([p.values[0]["input"] for p in GENDER_TABLE if p.values[0]["input"]]))
def test_gender_table_idempotent(raw: str) -> None:
    idempotent(normalise_gender, raw)

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from rules.normalise import normalise_date, normalise_datetime

from ._helpers import check_case, check_contract, idempotent, load_table, run_one

TODAY = dt.date(2026, 11, 23)

# raw, value (order ymd), issues
DATE_CASES: list[tuple[str | None, str | None, list[str]]] = [
    ("1985-03-05", "1985-03-05", []),
    ("1985-3-5", "1985-03-05", []),
    ("1985年3月5日", "1985-03-05", []),
    ("1985 年 3 月 5 号", "1985-03-05", []),
    ("1985/3/5", "1985-03-05", []),
    ("1985/03/05", "1985-03-05", []),
    ("1985.3.5", "1985-03-05", []),
    ("１９８５－０３－０５", "1985-03-05", []),
    ("85.3.5", "1985-03-05", ["two_digit_year"]),
    ("85年3月5日", "1985-03-05", ["two_digit_year"]),
    ("05.03.85", "1985-05-03", ["ambiguous", "two_digit_year"]),
    ("19850305", "1985-03-05", []),
    ("31111", "1985-03-05", ["excel_serial"]),
    ("31111.0", "1985-03-05", ["excel_serial"]),
    ("61", None, ["excel_serial", "implausible"]),
    ("60", None, ["unparseable"]),
    ("3/5/1985", "1985-03-05", ["ambiguous"]),
    ("25/3/1985", "1985-03-25", []),
    ("3/25/1985", "1985-03-25", []),
    ("5/5/1985", "1985-05-05", []),
    ("1985-03-05T10:20:30", "1985-03-05", []),
    ("1985-03-05 00:00:00", "1985-03-05", []),
    ("1985-03-05T10:20:30+08:00", "1985-03-05", []),
    ("5 Mar 1985", "1985-03-05", []),
    ("05-MAR-85", "1985-03-05", ["two_digit_year"]),
    ("March 5, 1985", "1985-03-05", []),
    ("Mar 5th, 1985", "1985-03-05", []),
    ("2030-01-01", None, ["future"]),
    ("1800-01-01", None, ["implausible"]),
    ("1900-01-01", None, ["placeholder"]),
    ("0000-00-00", None, ["placeholder"]),
    ("1985-02-30", None, ["unparseable"]),
    ("1985-13-01", None, ["unparseable"]),
    ("1985", None, ["incomplete"]),
    ("1985年3月", None, ["incomplete"]),
    ("abc", None, ["unparseable"]),
    ("1985-03-05 garbage", None, ["unparseable"]),
    ("N/A", None, ["placeholder"]),
    ("", None, ["empty"]),
    (None, None, ["empty"]),
]


@pytest.mark.parametrize(("raw", "value", "issues"), DATE_CASES)
def test_date_cases(raw: str | None, value: str | None, issues: list[str]) -> None:
    row = run_one(normalise_date, raw, today=TODAY)
    assert (row["value"], row["issues"]) == (value, issues)


@pytest.mark.parametrize(
    ("raw", "order", "value"),
    [
        ("3/5/1985", "dmy", "1985-05-03"),
        ("3/5/1985", "mdy", "1985-03-05"),
        ("3/5/1985", "ymd", "1985-03-05"),
        ("05.03.85", "dmy", "1985-03-05"),
        ("03/05/85", "mdy", "1985-03-05"),
        ("25/3/1985", "mdy", "1985-03-25"),
        ("1985-03-05", "dmy", "1985-03-05"),
    ],
)
def test_date_order(raw: str, order: str, value: str) -> None:
    assert run_one(normalise_date, raw, today=TODAY, order=order)["value"] == value


def test_date_params() -> None:
    assert run_one(normalise_date, "2030-01-01", today=TODAY, allow_future=True)["value"] == "2030-01-01"
    assert run_one(normalise_date, "1800-01-01", today=TODAY, max_age=None)["value"] == "1800-01-01"
    assert run_one(normalise_date, "26.1.1", today=TODAY)["value"] == "2026-01-01"
    assert run_one(normalise_date, "27.1.1", today=TODAY)["value"] == "1927-01-01"
    with pytest.raises(ValidationError):
        normalise_date(pl.Series(["x"]), order="ydm")
    with pytest.raises(ValidationError):
        normalise_date(pl.Series(["x"]), tz="UTC")


def test_date_column_of_dates() -> None:
    out = normalise_date(pl.Series([dt.date(1985, 3, 5), None]), today=TODAY)
    assert out.get_column("value").to_list() == ["1985-03-05", None]


DATETIME_CASES: list[tuple[str | None, str | None, list[str]]] = [
    ("2024-03-05 10:20", "2024-03-05T10:20:00", []),
    ("2024-03-05 10:20:30", "2024-03-05T10:20:30", []),
    ("2024-03-05T10:20:30", "2024-03-05T10:20:30", []),
    ("2024-03-05T10:20:30.123456", "2024-03-05T10:20:30", []),
    ("2024/3/5 10:20:30", "2024-03-05T10:20:30", []),
    ("2024.3.5 10:20", "2024-03-05T10:20:00", []),
    ("2024年3月5日 10:20", "2024-03-05T10:20:00", []),
    ("2024年3月5日 10时20分30秒", "2024-03-05T10:20:30", []),
    ("2024年3月5日 下午3点20分", "2024-03-05T15:20:00", []),
    ("2024年3月5日 上午12:05", "2024-03-05T00:05:00", []),
    ("3/5/2024 10:20 PM", "2024-03-05T22:20:00", ["ambiguous"]),
    ("2024-03-05T10:20:30Z", "2024-03-05T18:20:30", []),
    ("2024-03-05T10:20:30+08:00", "2024-03-05T10:20:30", []),
    ("2024-03-05T10:20:30+0800", "2024-03-05T10:20:30", []),
    ("2024-03-05T10:20:30-05:00", "2024-03-05T23:20:30", []),
    ("2024-03-05 10:20:30 UTC", "2024-03-05T18:20:30", []),
    ("1709605230", "2024-03-05T10:20:30", ["epoch"]),
    ("1709605230123", "2024-03-05T10:20:30", ["epoch"]),
    ("45356.4305555556", "2024-03-05T10:20:00", ["excel_serial"]),
    ("45356", "2024-03-05T00:00:00", ["excel_serial"]),
    ("20240305102030", "2024-03-05T10:20:30", []),
    ("2024-03-05", "2024-03-05T00:00:00", ["date_only"]),
    ("20240305", "2024-03-05T00:00:00", ["date_only"]),
    ("0000-00-00 00:00:00", None, ["placeholder"]),
    ("1970-01-01 00:00:00", None, ["placeholder"]),
    ("1970-01-01 00:00:00.000001", None, ["placeholder"]),  # whole seconds are kept: the epoch itself
    ("1900-01-01 00:00:00", None, ["placeholder"]),
    ("2024-03-05 25:00", None, ["unparseable"]),
    ("2024-03-05 10:61", None, ["unparseable"]),
    ("garbage", None, ["unparseable"]),
    ("", None, ["empty"]),
    (None, None, ["empty"]),
]


@pytest.mark.parametrize(("raw", "value", "issues"), DATETIME_CASES)
def test_datetime_cases(raw: str | None, value: str | None, issues: list[str]) -> None:
    row = run_one(normalise_datetime, raw, today=TODAY)
    assert (row["value"], row["issues"]) == (value, issues)


def test_datetime_zone_parameter() -> None:
    assert run_one(normalise_datetime, "2024-03-05T10:20:30Z", tz="UTC")["value"] == "2024-03-05T10:20:30"
    assert run_one(normalise_datetime, "2024-03-05 10:20", tz="Europe/London")["value"] == "2024-03-05T10:20:00"
    with pytest.raises(ValidationError, match="unknown time zone"):
        normalise_datetime(pl.Series(["x"]), tz="Mars/Olympus")


def test_datetime_column_of_datetimes() -> None:
    out = normalise_datetime(pl.Series([dt.datetime(2024, 3, 5, 10, 20, 30), None]))
    assert out.get_column("value").to_list() == ["2024-03-05T10:20:30", None]


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_never_raises_on_arbitrary_text(raw: str) -> None:
    check_contract(normalise_date(pl.Series([raw, None]), today=TODAY), 2)
    check_contract(normalise_datetime(pl.Series([raw, None]), today=TODAY), 2)


date_like = st.text(alphabet="0123456789-/.年月日 :T+Z", max_size=25)


@settings(max_examples=300, deadline=None)
@given(st.one_of(date_like, st.dates().map(str), st.sampled_from([c[0] for c in DATE_CASES if c[0]])))
def test_date_idempotent(raw: str) -> None:
    idempotent(normalise_date, raw, today=TODAY)


@settings(max_examples=300, deadline=None)
@given(st.one_of(date_like, st.datetimes().map(str), st.sampled_from([c[0] for c in DATETIME_CASES if c[0]])))
def test_datetime_idempotent(raw: str) -> None:
    idempotent(normalise_datetime, raw, today=TODAY)


DATE_TABLE = load_table("date")


@pytest.mark.parametrize("case", DATE_TABLE)
def test_date_table(case: dict[str, Any]) -> None:
    normaliser = normalise_datetime if case["kind"] == "datetime" else normalise_date
    check_case(normaliser, case, today=TODAY)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([p.values[0] for p in DATE_TABLE if p.values[0]["input"]]))
def test_date_table_idempotent(case: dict[str, Any]) -> None:
    normaliser = normalise_datetime if case["kind"] == "datetime" else normalise_date
    idempotent(normaliser, case["input"], today=TODAY, **case.get("params", {}))


def test_vectorised_iso_path_agrees_with_python_path() -> None:
    """Values answered by the polars ISO path give exactly what the per-value Python path gives."""
    values = [
        f"{y}{sep}{m}{sep}{d}{time}"
        for y in (1901, 1950, 1970, 1999, 2024, 2026, 2027, 2199, 2200)
        for m in ("1", "02", "12", "13")
        for d in ("1", "29", "30", "31")
        for sep in ("-", "/", ".")
        for time in ("", " 00:00", " 00:00:00", "T10:20:30", " 7:05", " 24:00", " 10:61")
    ]
    for normaliser in (normalise_date, normalise_datetime):
        together = normaliser(pl.Series(values), today=TODAY).rows()
        for raw, row in zip(values, together, strict=True):
            assert row == tuple(run_one(normaliser, f" {raw} ", today=TODAY).values()), raw

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from rules.normalise import normalise_date, normalise_datetime

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

TODAY = dt.date(2026, 11, 23)

DATE_TABLE = table("date")


def test_date_table() -> None:
    """Dates and datetimes, with the order and limits some lines configure."""
    check_table("date.jsonl", DATE_TABLE, today=TODAY)


def test_date_table_is_idempotent() -> None:
    check_table_idempotent("date.jsonl", DATE_TABLE, today=TODAY)


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


def test_datetime_zone_parameter() -> None:
    assert run_one(normalise_datetime, "2024-03-05T10:20:30Z", tz="UTC")["value"] == "2024-03-05T10:20:30"
    assert run_one(normalise_datetime, "2024-03-05 10:20", tz="Europe/London")["value"] == "2024-03-05T10:20:00"
    with pytest.raises(ValidationError, match="unknown time zone"):
        normalise_datetime(pl.Series(["x"]), tz="Mars/Olympus")


def test_datetime_column_of_datetimes() -> None:
    out = normalise_datetime(pl.Series([dt.datetime(2024, 3, 5, 10, 20, 30), None]))
    assert out.get_column("value").to_list() == ["2024-03-05T10:20:30", None]


@settings(max_examples=60, deadline=None)
@given(batches(st.text()))
def test_never_raises_on_arbitrary_text(raws: list[str]) -> None:
    check_contract(normalise_date(text_series(*raws, None), today=TODAY), len(raws) + 1)
    check_contract(normalise_datetime(text_series(*raws, None), today=TODAY), len(raws) + 1)


date_like = st.text(alphabet="0123456789-/.年月日 :T+Z", max_size=25)


@settings(max_examples=60, deadline=None)
@given(batches(st.one_of(date_like, st.dates().map(str))))
def test_date_idempotent(raws: list[str]) -> None:
    idempotent(normalise_date, raws, today=TODAY)


@settings(max_examples=60, deadline=None)
@given(batches(st.one_of(date_like, st.datetimes().map(str))))
def test_datetime_idempotent(raws: list[str]) -> None:
    idempotent(normalise_datetime, raws, today=TODAY)


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
    padded = [f" {raw} " for raw in values]  # the ISO pattern is anchored: a padded cell takes the Python path
    for normaliser in (normalise_date, normalise_datetime):
        together = normaliser(pl.Series(values), today=TODAY).rows()
        one_by_one = normaliser(pl.Series(padded), today=TODAY).rows()  # the path is chosen per distinct value
        wrong = [(raw, a, b) for raw, a, b in zip(values, together, one_by_one, strict=True) if a != b]
        assert not wrong, f"{len(wrong)} values differ (raw, polars path, Python path): {wrong[:20]}"


@pytest.mark.parametrize("tz", ["Asia/Shanghai", "UTC", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu"])
def test_vectorised_zoned_iso_path_agrees_with_python_path(tz: str) -> None:
    """ISO 8601 with a zone answered in polars (the wall time by zoneinfo) gives what the Python path gives: across
    daylight-saving changes, fractions of a second, the edges of the years and of the offsets, invalid days."""
    days = ["1901-01-01", "1902-06-30", "1969-12-31", "1970-01-01", "1970-01-02", "2023-03-12", "2023-04-02"]
    days += ["2023-10-01", "2023-11-05", "2024-02-29", "2023-02-29", "2023-06-31", "2198-12-31", "2199-12-31"]
    times = ["00:00:00", "01:59:59", "02:30:00", "07:45:00.5", "13:15:15,250", "23:59:59.999999", "24:00:00"]
    zones = ["Z", "+08:00", "-05:00", "+05:45", "+14:00", "-14:00", "+14:01", "-00:00"]
    values = [f"{d}{sep}{time}{zone}" for d in days for sep in "T " for time in times for zone in zones]
    padded = [f" {raw} " for raw in values]  # the pattern is anchored: a padded cell takes the Python path
    together = normalise_datetime(pl.Series(values), today=TODAY, tz=tz).rows()
    one_by_one = normalise_datetime(pl.Series(padded), today=TODAY, tz=tz).rows()
    wrong = [(raw, a, b) for raw, a, b in zip(values, together, one_by_one, strict=True) if a != b]
    assert not wrong, f"{len(wrong)} values differ (raw, polars path, Python path): {wrong[:20]}"
    assert sum(row[0] is not None for row in together) > len(values) // 2


@pytest.mark.parametrize("order", ["dmy", "mdy", "ymd"])
@pytest.mark.parametrize("max_age", [120, None])
def test_vectorised_year_last_path_agrees_with_python_path(order: str, max_age: int | None) -> None:
    """``D/M/YYYY``, ``M/D/YYYY`` and ``YYYYMMDD`` answered in polars give what the Python path gives, ``ambiguous``
    and the order included."""
    parts = ("0", "1", "01", "5", "12", "13", "29", "31", "32")
    years = ("0000", "1899", "1900", "1901", "1926", "1985", "2026", "2027")
    values = [f"{a}{sep}{b}{sep}{y}" for a in parts for b in parts for y in years for sep in ("-", "/", ".")]
    values += [f"{y}{m}{d}" for y in years for m in ("00", "01", "02", "12", "13") for d in ("00", "01", "29", "31")]
    padded = [f" {raw} " for raw in values]  # the patterns are anchored: a padded cell takes the Python path
    params = {"today": TODAY, "order": order, "max_age": max_age}
    together = normalise_date(pl.Series(values), **params).rows()
    one_by_one = normalise_date(pl.Series(padded), **params).rows()
    wrong = [(raw, a, b) for raw, a, b in zip(values, together, one_by_one, strict=True) if a != b]
    assert not wrong, f"{len(wrong)} values differ (raw, polars path, Python path): {wrong[:20]}"
    assert normalise_date(pl.Series(["2/3/1985"]), **params).row(0) == (
        "1985-03-02" if order == "dmy" else "1985-02-03",
        ["ambiguous"],
    )


@pytest.mark.parametrize("max_age", [120, None])
def test_vectorised_month_name_path_agrees_with_python_path(max_age: int | None) -> None:
    """``5 Mar 1985`` and ``05-MAR-1985`` answered in polars give what the Python path gives."""
    days = ("0", "1", "01", "5", "29", "30", "31", "32")
    months = ("jan", "Feb", "MAR", "sept", "Sep.", "June", "DECEMBER", "mai", "ma")
    years = ("0000", "1899", "1900", "1901", "1985", "2000", "2026", "2027")
    values = [f"{d}{sep}{m}{sep}{y}" for d in days for m in months for y in years for sep in (" ", "-")]
    values += ["5 Mar85", "5-Mar 1985", "5  Mar 1985", "5th Mar 1985", "Mar 5 1985"]
    padded = [f" {raw} " for raw in values]  # the pattern is anchored: a padded cell takes the Python path
    params = {"today": TODAY, "max_age": max_age}
    together = normalise_date(pl.Series(values), **params).rows()
    one_by_one = normalise_date(pl.Series(padded), **params).rows()
    wrong = [(raw, a, b) for raw, a, b in zip(values, together, one_by_one, strict=True) if a != b]
    assert not wrong, f"{len(wrong)} values differ (raw, polars path, Python path): {wrong[:20]}"
    assert normalise_date(pl.Series(["29-FEB-2000"]), **params).row(0) == ("2000-02-29", [])

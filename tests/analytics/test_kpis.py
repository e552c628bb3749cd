from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

import analytics

D = dt.date
#: a: Jan, Jan, Mar (an order); b: Jan, Feb; c: Mar.
EVENTS = pl.DataFrame(
    {
        "customer_id": ["a", "a", "a", "b", "b", "c"],
        "kind": ["follow_up", "follow_up", "order", "follow_up", "follow_up", "follow_up"],
        "occurred_on": [D(2024, 1, 5), D(2024, 1, 20), D(2024, 3, 2), D(2024, 1, 10), D(2024, 2, 10), D(2024, 3, 15)],
        "amount": [None, None, 500.0, None, None, None],
    }
)


def test_active_customers_per_month_and_quarter() -> None:
    assert analytics.active_customers(EVENTS).rows() == [
        (D(2024, 1, 1), 2, 3),
        (D(2024, 2, 1), 1, 1),
        (D(2024, 3, 1), 2, 2),
    ]
    assert analytics.active_customers(EVENTS, period="quarter").rows() == [(D(2024, 1, 1), 3, 6)]


def test_quiet_months_show_as_zero() -> None:
    gap = EVENTS.filter(pl.col("occurred_on").dt.month() != 2)
    assert analytics.active_customers(gap)["active_customers"].to_list() == [2, 0, 2]


def test_new_customers_by_month_of_first_activity() -> None:
    assert analytics.new_customers(EVENTS).rows() == [
        (D(2024, 1, 1), 2, 2),
        (D(2024, 2, 1), 0, 2),
        (D(2024, 3, 1), 1, 3),
    ]


def test_retention_by_cohort_by_hand() -> None:
    assert analytics.retention_by_cohort(EVENTS).rows() == [
        (D(2024, 1, 1), 0, 2, 2, 1.0),
        (D(2024, 1, 1), 1, 2, 1, 0.5),  # b in February
        (D(2024, 1, 1), 2, 2, 1, 0.5),  # a in March
        (D(2024, 3, 1), 0, 1, 1, 1.0),
    ]


def test_kpis_of_no_events_are_empty_typed_frames() -> None:
    empty = EVENTS.clear()
    assert analytics.active_customers(empty).schema == pl.Schema(
        {"period": pl.Date, "active_customers": pl.Int64, "activities": pl.Int64}
    )
    assert analytics.new_customers(empty).is_empty()
    assert analytics.retention_by_cohort(empty).columns == [
        "cohort",
        "periods_since",
        "cohort_size",
        "retained",
        "retention",
    ]


def test_conversion_from_lead_to_customer_by_cohort() -> None:
    customers = pl.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d", "e", "f"],
            # a: a lead that ordered; b: a lead still open; c: a customer by status; d: lost; e: unknown; f: a lead
            # with no activity at all
            "stage": ["lead", "lead", "customer", "lost", None, "lead"],
        }
    )
    assert analytics.conversion(customers, EVENTS).rows() == [
        (D(2024, 1, 1), 2, 1, 1, 0.5, 57.0),  # a converted 57 days after its first activity (5 Jan → 2 Mar)
        (D(2024, 3, 1), 1, 1, 0, 1.0, None),
        (None, 1, 0, 1, 0.0, None),
    ]


def test_an_unknown_period_is_refused() -> None:
    with pytest.raises(ValueError, match="period must be one of"):
        analytics.active_customers(EVENTS, period="week")  # type: ignore[arg-type]

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

import analytics

UTC = pl.Datetime("us", "UTC")


def test_activities_become_local_dated_events_with_amounts() -> None:
    activities = pl.DataFrame(
        {
            "customer_id": ["a", "a", "b", None, "c", "d"],
            "kind": ["order", "order", "follow_up", "order", "order", "order"],
            "occurred_at": [
                dt.datetime(2024, 2, 29, 16, 30),  # 00:30 on 1 March in Shanghai
                dt.datetime(2024, 1, 2, 3, 0),
                dt.datetime(2024, 1, 3, 3, 0),
                dt.datetime(2024, 1, 4, 3, 0),  # no customer (retired): left out
                None,  # no time: left out
                dt.datetime(2024, 1, 5, 3, 0),
            ],
            "details": ['{"JE": "¥1,200.50"}', '{"amount": 3}', '{"note": "x"}', None, None, '{"金额": "abc"}'],
        },
        schema_overrides={"occurred_at": UTC},
    )
    out = analytics.events(activities)
    assert out.schema == pl.Schema(
        {"customer_id": pl.String, "kind": pl.String, "occurred_at": UTC, "occurred_on": pl.Date, "amount": pl.Float64}
    )
    assert out.select("customer_id", "occurred_on", "amount").rows() == [
        ("a", dt.date(2024, 1, 2), 3.0),
        ("a", dt.date(2024, 3, 1), 1200.5),
        ("b", dt.date(2024, 1, 3), None),
        ("d", dt.date(2024, 1, 5), None),
    ]


@pytest.mark.parametrize(
    ("written", "amount"),
    [
        *[("1200", 1200.0), ("1,200.50", 1200.5), ("¥ 1200", 1200.0), ("1200元", 1200.0), ("-5", -5.0), (7, 7.0)],
        *[("abc", None), ("", None), (True, None), (None, None), ("1.2.3", None)],
    ],
)
def test_amounts_are_read_as_written(written: object, amount: float | None) -> None:
    assert analytics.parse_amount(written) == amount


def test_customer_metrics_by_hand() -> None:
    events = pl.DataFrame(
        {
            "customer_id": ["a", "a", "a", "a", "b"],
            "occurred_on": [
                *(dt.date(2023, 6, 30), dt.date(2024, 1, 10), dt.date(2024, 6, 1), dt.date(2024, 7, 1)),
                dt.date(2024, 6, 30),
            ],
            "amount": [100.0, 50.0, None, 999.0, 10.0],
        }
    )
    customers = pl.DataFrame(
        {
            "customer_id": ["a", "b", "c"],
            "segment": ["A", None, "C"],
            # c: 23:00 UTC on 31 March is 1 April in Shanghai; a: older than its activities
            "last_contact_at": [dt.datetime(2024, 1, 1), None, dt.datetime(2024, 3, 31, 23, 0)],
        },
        schema_overrides={"last_contact_at": UTC},
    )
    out = analytics.customer_metrics(customers, events, as_of=dt.date(2024, 6, 30))
    picked = out.select(
        "customer_id",
        "segment",
        "first_activity",
        "last_contact",
        "recency_days",
        "activities",
        "frequency_12m",
        "monetary_12m",
        "monetary_total",
    )
    assert picked.rows() == [
        # 2023-06-30 is exactly 12 months back: outside the window; 2024-07-01 is after as_of: ignored
        ("a", "A", dt.date(2023, 6, 30), dt.date(2024, 6, 1), 29, 3, 2, 50.0, 150.0),
        ("b", None, dt.date(2024, 6, 30), dt.date(2024, 6, 30), 0, 1, 1, 10.0, 10.0),
        ("c", "C", None, dt.date(2024, 4, 1), 90, 0, 0, 0.0, 0.0),
    ]


def test_without_any_amount_the_monetary_columns_are_null() -> None:
    events = pl.DataFrame(
        {"customer_id": ["a"], "occurred_on": [dt.date(2024, 1, 1)], "amount": [None]},
        schema_overrides={"amount": pl.Float64},
    )
    out = analytics.customer_metrics(pl.DataFrame({"customer_id": ["a"]}), events, as_of=dt.date(2024, 2, 1))
    assert out.select("activities", "monetary_12m", "monetary_total").row(0) == (1, None, None)


def test_events_accept_a_duckdb_relation_and_a_lazy_frame() -> None:
    import duckdb

    activities = pl.DataFrame(
        {"customer_id": ["a"], "kind": ["order"], "occurred_at": [dt.datetime(2024, 1, 1, 4)], "details": [None]},
        schema_overrides={"occurred_at": UTC, "details": pl.String},
    )
    relation = duckdb.sql("select * from activities")
    assert analytics.events(relation)["occurred_on"].to_list() == [dt.date(2024, 1, 1)]
    assert analytics.events(activities.lazy()).height == 1
    with pytest.raises(TypeError, match="expected a polars DataFrame/LazyFrame or a DuckDB relation"):
        analytics.events([1, 2, 3])

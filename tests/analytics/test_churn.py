from __future__ import annotations

import datetime as dt

import polars as pl

import analytics

D = dt.date


def test_churn_risk_by_hand() -> None:
    as_of = D(2024, 7, 1)  # default rules: high from 6 months (on or before 1 Jan), medium from 3 (1 Apr)
    events = pl.DataFrame(
        {
            "customer_id": ["high", "edge", "medium", "weekly", "weekly", "weekly", "pair", "pair", "lost"],
            "occurred_on": [
                *(D(2023, 12, 31), D(2024, 1, 1), D(2024, 3, 15)),
                *(D(2024, 6, 1), D(2024, 6, 8), D(2024, 6, 15), D(2024, 6, 20), D(2024, 6, 27), D(2024, 6, 30)),
            ],
            "amount": [None] * 9,
        },
        schema_overrides={"amount": pl.Float64},
    )
    customers = pl.DataFrame(
        {
            "customer_id": ["high", "edge", "medium", "weekly", "pair", "lost", "unknown", "record"],
            "stage": ["customer", "customer", None, "customer", "lead", "lost", None, "customer"],
            # record: no activity, but 23:00 UTC on 30 June is 1 July in Shanghai
            "last_contact_at": [None] * 7 + [dt.datetime(2024, 6, 30, 23)],
        },
        schema_overrides={"last_contact_at": pl.Datetime("us", "UTC")},
    )
    out = analytics.churn_risk(customers, events, as_of=as_of)
    assert out.select("customer_id", "days_since_contact", "usual_gap_days", "churn_risk").rows() == [
        ("high", 183, None, "high"),
        ("edge", 182, None, "high"),  # exactly 6 months
        ("medium", 108, None, "medium"),
        ("weekly", 16, 7.0, "medium"),  # silent for more than twice its usual week
        ("pair", 4, None, "low"),  # one gap only: no usual gap yet
        ("lost", 1, None, "lost"),
        ("unknown", None, None, "unknown"),
        ("record", 0, None, "low"),
    ]
    reasons = dict(out.select("customer_id", "churn_reason").iter_rows())
    assert reasons["high"] == "no contact for 183 days (≥ 6 months)"
    assert reasons["weekly"] == "silent 16 days, usually every 7 days"
    assert reasons["unknown"] == "no contact on record"
    assert set(out["churn_risk"]) <= set(analytics.RISK_LEVELS)


def test_thresholds_come_from_the_rules() -> None:
    rules = analytics.load_rules()
    strict = rules.model_copy(
        update={"churn": rules.churn.model_copy(update={"high_after_months": 2, "medium_after_months": 1})}
    )
    events = pl.DataFrame(
        {"customer_id": ["a"], "occurred_on": [D(2024, 4, 15)], "amount": [None]},
        schema_overrides={"amount": pl.Float64},
    )
    out = analytics.churn_risk(pl.DataFrame({"customer_id": ["a"]}), events, rules=strict, as_of=D(2024, 7, 1))
    assert out["churn_risk"].to_list() == ["high"]

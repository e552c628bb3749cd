from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

import analytics

D = dt.date


def _rules() -> analytics.AnalyticsRules:
    return analytics.load_rules(
        {
            "classifications": {
                "tier": {
                    "default": "C",
                    "rules": [
                        {"class": "A", "when": {"monetary_12m": {"min": 1000}}},
                        {"class": "A", "when": {"segment": ["A"]}},
                        {"class": "B", "when": {"frequency_12m": {"min": 2}, "recency_days": {"max": 30}}},
                    ],
                },
                "contact": {"rules": [{"class": "never", "when": {"recency_days": {"null": True}}}]},
            }
        }
    )


def test_the_first_rule_that_holds_gives_the_class() -> None:
    metrics = pl.DataFrame(
        {
            "customer_id": ["x", "y", "z", "w", "v"],
            "segment": [None, "A", None, "B", None],
            "monetary_12m": [5000.0, 0.0, 10.0, 10.0, None],
            "frequency_12m": [0, 0, 3, 3, None],
            "recency_days": [None, 400, 10, 30, None],
        }
    )
    out = analytics.classify(metrics, rules=_rules())
    assert out.select("customer_id", "tier", "contact").rows() == [
        ("x", "A", "never"),  # value alone
        ("y", "A", None),  # the segment
        ("z", "B", None),  # frequent and recent
        ("w", "C", None),  # max is exclusive: 30 days is not under 30
        ("v", "C", "never"),  # a null value meets no bound
    ]


def test_a_classification_is_skipped_unless_named_when_the_frame_lacks_its_columns() -> None:
    metrics = pl.DataFrame({"customer_id": ["x"], "recency_days": [5]})
    assert analytics.classify(metrics, rules=_rules()).columns == ["customer_id", "recency_days", "contact"]
    with pytest.raises(ValueError, match=r"classifications\.tier\.rules\[0\]\.when\.monetary_12m"):
        analytics.classify(metrics, rules=_rules(), names=["tier"])
    with pytest.raises(ValueError, match=r"unknown classifications \['nope'\]"):
        analytics.classify(metrics, rules=_rules(), names=["nope"])


def test_rfm_scores_by_hand() -> None:
    events = pl.DataFrame(
        {
            "customer_id": ["p", "p", "q", "r", "r", "s"],
            "occurred_on": [D(2024, 3, 31), D(2024, 3, 1), D(2024, 1, 1), D(2023, 1, 1), D(2024, 2, 1), D(2022, 1, 1)],
            "amount": [100.0, 100.0, 1000.0, 5.0, None, 50.0],
        }
    )
    out = analytics.rfm(events, as_of=D(2024, 4, 1), bins=4)
    # 4 customers in 4 bins: a score is ⌈r − ½⌉, r the rank from worst (1) to best (4). Recency p 1 < r 60 <
    # q 91 < s 821 days; frequency in the 12 months p 2 > q = r 1 > s 0 (q and r share the ranks 2 and 3:
    # 2.5 → ⌈2⌉ = 2); monetary q 1000 > p 200 > r = s 0 (ranks 1 and 2: 1.5 → ⌈1⌉ = 1)
    assert out.rows() == [
        ("p", 1, 2, 200.0, 4, 4, 3, "443"),
        ("q", 91, 1, 1000.0, 2, 2, 4, "224"),
        ("r", 60, 1, 0.0, 3, 2, 1, "321"),
        ("s", 821, 0, 0.0, 1, 1, 1, "111"),
    ]


def test_rfm_without_amounts_is_rf_and_ties_score_the_middle() -> None:
    events = pl.DataFrame(
        {"customer_id": ["a", "b", "c"], "occurred_on": [D(2024, 1, 1)] * 3, "amount": [None, None, None]},
        schema_overrides={"amount": pl.Float64},
    )
    out = analytics.rfm(events, as_of=D(2024, 2, 1))
    assert out.select("r_score", "f_score", "m_score", "rfm").unique().rows() == [(3, 3, None, "33")]
    with pytest.raises(ValueError, match="bins must be 2 to 9"):
        analytics.rfm(events, bins=10)


def test_the_default_rules_classify_customer_metrics_with_rfm_scores() -> None:
    events = pl.DataFrame(
        {"customer_id": ["big", "small"], "occurred_on": [D(2024, 3, 1)] * 2, "amount": [200_000.0, 10.0]}
    )
    customers = pl.DataFrame({"customer_id": ["big", "small", "vip"], "segment": [None, None, "A"]})
    metrics = analytics.customer_metrics(customers, events, as_of=D(2024, 4, 1))
    scored = metrics.join(analytics.rfm(events, as_of=D(2024, 4, 1)), on="customer_id", how="left")
    out = analytics.classify(scored)
    assert out.select("customer_id", "value_class").rows() == [("big", "A"), ("small", "C"), ("vip", "A")]
    assert "rfm_segment" in out.columns

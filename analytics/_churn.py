"""Churn risk: recency/frequency rules with stated limits (not a fitted model)."""

from __future__ import annotations

import datetime as dt
from typing import Final

import polars as pl

from analytics._events import customer_metrics
from analytics._frames import Frame, months_before, require, to_polars, today
from analytics._rules import AnalyticsRules, load_rules

__all__ = ["RISK_LEVELS", "churn_risk"]

#: Risk levels, from most to least urgent (``lost``: already lost by status; ``unknown``: never contacted).
RISK_LEVELS: Final = ("high", "medium", "low", "lost", "unknown")


def churn_risk(
    customers: Frame,
    events_: Frame,
    *,
    rules: AnalyticsRules | None = None,
    as_of: dt.date | None = None,
) -> pl.DataFrame:
    """How likely each customer is to have been lost, by how long it has been silent.

    The model (thresholds in ``rules.churn``; ``as_of`` defaults to today in ``rules.timezone``):

    - ``last_contact`` is the later of the latest activity and the golden record's ``last_contact_at``
      (:func:`analytics.customer_metrics`); ``usual_gap_days`` is the median number of days between the
      customer's consecutive activity dates, once it has at least ``min_gaps`` such gaps;
    - ``lost``: the customer's ``stage`` is ``lost`` (a closed or deleted status);
    - ``unknown``: no contact on record, so nothing can be said;
    - ``high``: no contact for ``high_after_months`` calendar months or more;
    - ``medium``: no contact for ``medium_after_months`` months or more, or silent for more than
      ``overdue_factor`` × its usual gap (a weekly buyer silent for three weeks);
    - ``low``: everything else.

    Limits: it sees only what the store records, so a customer served through an unlogged channel looks silent;
    it knows no seasonality (a yearly buyer is ``high`` in month 7 unless its usual gap says otherwise, and the
    gap needs ``min_gaps`` gaps); it does not weigh value (join :func:`analytics.rfm` or a classification for
    that); it is a ranking for follow-up, not a calibrated probability (for one, fit a BG/NBD model on the
    events).

    Args:
        customers: ``customer_id``; optionally ``stage`` and ``last_contact_at``; other columns are kept.
        events_: :func:`analytics.events`.

    Returns:
        ``customers`` with ``last_contact`` (Date), ``days_since_contact``, ``activities_12m`` (Int64),
        ``usual_gap_days`` (Float64), ``churn_risk`` (one of ``RISK_LEVELS``) and ``churn_reason`` (words).
    """
    rules = rules or load_rules()
    as_of = as_of or today(rules.timezone)
    churn = rules.churn
    people = to_polars(customers, "customers")
    require(people, ("customer_id",), "customers")
    ev = to_polars(events_, "events")
    require(ev, ("customer_id", "occurred_on", "amount"), "events")
    metrics = customer_metrics(
        people.select("customer_id", *(c for c in ("last_contact_at",) if c in people.columns)),
        ev,
        rules=rules,
        as_of=as_of,
    )
    gaps = (
        ev.filter(pl.col("occurred_on") <= as_of)
        .select("customer_id", "occurred_on")
        .unique()
        .sort("customer_id", "occurred_on")
        .with_columns(pl.col("occurred_on").diff().over("customer_id").dt.total_days().alias("gap"))
        .group_by("customer_id")
        .agg(
            pl.when(pl.col("gap").count() >= churn.min_gaps)
            .then(pl.col("gap").median())
            .cast(pl.Float64)
            .alias("usual_gap_days")
        )
    )
    high_before = months_before(as_of, churn.high_after_months)
    medium_before = months_before(as_of, churn.medium_after_months)
    stage = pl.col("stage") if "stage" in people.columns else pl.lit(None, pl.String)
    days = pl.col("days_since_contact")
    overdue = (
        pl.col("usual_gap_days").is_not_null() & (days > churn.overdue_factor * pl.col("usual_gap_days"))
    ).fill_null(False)
    risk = (
        pl.when(stage == "lost")
        .then(pl.lit("lost"))
        .when(pl.col("last_contact").is_null())
        .then(pl.lit("unknown"))
        .when(pl.col("last_contact") <= high_before)
        .then(pl.lit("high"))
        .when((pl.col("last_contact") <= medium_before) | overdue)
        .then(pl.lit("medium"))
        .otherwise(pl.lit("low"))
    )
    reason = (
        pl.when(stage == "lost")
        .then(pl.lit("status says lost"))
        .when(pl.col("last_contact").is_null())
        .then(pl.lit("no contact on record"))
        .when(pl.col("last_contact") <= high_before)
        .then(pl.format("no contact for {} days (≥ {} months)", days, pl.lit(churn.high_after_months)))
        .when(pl.col("last_contact") <= medium_before)
        .then(pl.format("no contact for {} days (≥ {} months)", days, pl.lit(churn.medium_after_months)))
        .when(overdue)
        .then(
            pl.format("silent {} days, usually every {} days", days, pl.col("usual_gap_days").round(0).cast(pl.Int64))
        )
        .otherwise(pl.format("last contact {} days ago", days))
    )
    facts = metrics.select(
        "customer_id",
        "last_contact",
        pl.col("recency_days").alias("days_since_contact"),
        pl.col("frequency_12m").alias("activities_12m"),
    ).join(gaps, on="customer_id", how="left", maintain_order="left")
    out = people.join(facts, on="customer_id", how="left", maintain_order="left")
    return out.with_columns(risk.alias("churn_risk"), reason.alias("churn_reason"))

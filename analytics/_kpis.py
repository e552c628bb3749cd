"""KPIs from activities: active and new customers per period, retention by cohort, lead-to-customer conversion."""

from __future__ import annotations

import datetime as dt
from typing import Final, Literal

import polars as pl

from analytics._frames import Frame, require, to_polars
from analytics._rules import AnalyticsRules, load_rules

__all__ = ["Period", "active_customers", "conversion", "new_customers", "retention_by_cohort"]

Period = Literal["month", "quarter", "year"]
_EVERY: Final[dict[str, str]] = {"month": "1mo", "quarter": "3mo", "year": "1y"}


def _events(events_: Frame) -> pl.DataFrame:
    ev = to_polars(events_, "events")
    require(ev, ("customer_id", "occurred_on"), "events")
    return ev


def _check(period: str) -> str:
    if period not in _EVERY:
        raise ValueError(f"period must be one of {sorted(_EVERY)}, not {period!r}")
    return _EVERY[period]


def _periods(first: dt.date | None, last: dt.date | None, every: str) -> pl.DataFrame:
    """Every period start from ``first`` to ``last`` (both period starts), so that quiet periods show as 0."""
    if first is None or last is None:
        return pl.DataFrame(schema={"period": pl.Date})
    return pl.DataFrame({"period": pl.date_range(first, last, every, eager=True)})


def active_customers(events_: Frame, *, period: Period = "month") -> pl.DataFrame:
    """Active customers per period.

    Definition: a customer is active in a period when it has at least one activity (any kind) dated in it
    (local dates: :func:`analytics.events`). Periods between the first and the last activity with none show 0.

    Returns:
        ``period`` (Date: first day of the month, quarter or year), ``active_customers`` (Int64: distinct
        customers), ``activities`` (Int64: events in the period).
    """
    every = _check(period)
    ev = _events(events_).with_columns(pl.col("occurred_on").dt.truncate(every).alias("period"))
    counts = ev.group_by("period").agg(
        pl.col("customer_id").n_unique().cast(pl.Int64).alias("active_customers"),
        pl.len().cast(pl.Int64).alias("activities"),
    )
    frame = _periods(ev["period"].min(), ev["period"].max(), every)  # type: ignore[arg-type]
    return (
        frame.join(counts, on="period", how="left")
        .with_columns(pl.col("active_customers", "activities").fill_null(0))
        .sort("period")
    )


def new_customers(events_: Frame, *, period: Period = "month") -> pl.DataFrame:
    """New customers per period.

    Definition: a customer is new in the period of its first activity of any kind (the store's own
    ``created_at`` is when crmkit loaded the record, not when the customer arrived, so it is not used).

    Returns:
        ``period`` (Date), ``new_customers`` (Int64), ``cumulative_customers`` (Int64: customers with a first
        activity up to the end of the period).
    """
    every = _check(period)
    first = _events(events_).group_by("customer_id").agg(pl.col("occurred_on").min().dt.truncate(every).alias("period"))
    counts = first.group_by("period").agg(pl.len().cast(pl.Int64).alias("new_customers"))
    frame = _periods(first["period"].min(), first["period"].max(), every)  # type: ignore[arg-type]
    return (
        frame.join(counts, on="period", how="left")
        .with_columns(pl.col("new_customers").fill_null(0))
        .sort("period")
        .with_columns(pl.col("new_customers").cum_sum().alias("cumulative_customers"))
    )


def retention_by_cohort(events_: Frame, *, period: Period = "month") -> pl.DataFrame:
    """Retention of each cohort of customers, period by period.

    Definition: a customer's cohort is the period of its first activity. For a cohort and ``periods_since`` =
    k ≥ 0, ``retained`` counts the cohort's customers with at least one activity in the k-th period after the
    cohort's (k = 0 is the cohort's own period, so its retention is 1.0); ``retention`` = ``retained`` /
    ``cohort_size``. Rows run from k = 0 to the last period with any activity in the data; a cohort member
    quiet in a period and back later counts again then (not a survival curve).

    Returns:
        ``cohort`` (Date), ``periods_since`` (Int64), ``cohort_size`` (Int64), ``retained`` (Int64),
        ``retention`` (Float64); sorted by ``cohort``, ``periods_since``.
    """
    every = _check(period)
    step = {"1mo": 1, "3mo": 3, "1y": 12}[every]
    ev = _events(events_).with_columns(pl.col("occurred_on").dt.truncate(every).alias("period"))
    schema = {"cohort": pl.Date, "periods_since": pl.Int64, "cohort_size": pl.Int64, "retained": pl.Int64}
    if ev.is_empty():
        return pl.DataFrame(schema={**schema, "retention": pl.Float64})
    last = ev["period"].max()
    cohorts = ev.group_by("customer_id").agg(pl.col("period").min().alias("cohort"))
    sizes = cohorts.group_by("cohort").agg(pl.len().cast(pl.Int64).alias("cohort_size"))

    def index(column: str) -> pl.Expr:
        return pl.col(column).dt.year() * 12 + pl.col(column).dt.month()

    active = (
        ev.select("customer_id", "period")
        .unique()
        .join(cohorts, on="customer_id")
        .with_columns(((index("period") - index("cohort")) // step).cast(pl.Int64).alias("periods_since"))
        .group_by("cohort", "periods_since")
        .agg(pl.len().cast(pl.Int64).alias("retained"))
    )
    last_index = last.year * 12 + last.month  # type: ignore[union-attr]
    grid = sizes.with_columns(
        pl.int_ranges(0, (pl.lit(last_index) - index("cohort")) // step + 1, dtype=pl.Int64).alias("periods_since")
    ).explode("periods_since")
    return (
        grid.join(active, on=["cohort", "periods_since"], how="left")
        .with_columns(pl.col("retained").fill_null(0))
        .with_columns((pl.col("retained") / pl.col("cohort_size")).alias("retention"))
        .select("cohort", "periods_since", "cohort_size", "retained", "retention")
        .sort("cohort", "periods_since")
    )


def conversion(
    customers: Frame,
    events_: Frame | None = None,
    *,
    rules: AnalyticsRules | None = None,
    period: Period = "month",
) -> pl.DataFrame:
    """Conversion from lead to customer, by cohort.

    Definition (a snapshot: the store keeps each customer's current status, not its history):

    - a customer is **converted** when its ``stage`` (the status through the code table, see
      :func:`analytics.standardise_codes`) is ``customer``, or when it has an activity of one of
      ``rules.converting_kinds`` (an order, a contract) whatever its status says;
    - it is an **open lead** when its stage is ``lead`` and it is not converted;
    - ``leads`` = converted + open leads (everyone who entered the funnel); lost customers without a converting
      activity and customers with no known stage are left out;
    - the cohort is the period of the customer's first activity (null: no activity), so the rate of recent
      cohorts is still rising;
    - ``median_days_to_convert``: days from the first activity to the first converting activity, over converted
      customers that have both (null when none has).

    Args:
        customers: ``customer_id`` and ``stage`` (:func:`analytics.dimensions` gives it).
        events_: :func:`analytics.events` (optional: without it, stages only and one null cohort).

    Returns:
        ``cohort`` (Date, null last), ``leads``, ``converted``, ``open_leads`` (Int64), ``conversion_rate``
        (Float64), ``median_days_to_convert`` (Float64).
    """
    rules = rules or load_rules()
    every = _check(period)
    people = to_polars(customers, "customers")
    require(people, ("customer_id", "stage"), "customers")
    ev = (
        _events(events_)
        if events_ is not None
        else pl.DataFrame(schema={"customer_id": pl.String, "kind": pl.String, "occurred_on": pl.Date})
    )
    require(ev, ("kind",), "events")
    converting = pl.col("kind").is_in(rules.converting_kinds)
    firsts = ev.group_by("customer_id").agg(
        pl.col("occurred_on").min().alias("first_activity"),
        pl.col("occurred_on").filter(converting).min().alias("first_converting"),
    )
    funnel = (
        people.select("customer_id", "stage")
        .join(firsts, on="customer_id", how="left")
        .with_columns(
            ((pl.col("stage") == "customer") | pl.col("first_converting").is_not_null()).fill_null(False).alias("conv"),
            pl.col("first_activity").dt.truncate(every).alias("cohort"),
        )
        .filter(pl.col("conv") | (pl.col("stage") == "lead"))
        .with_columns((pl.col("first_converting") - pl.col("first_activity")).dt.total_days().alias("days"))
    )
    return (
        funnel.group_by("cohort")
        .agg(
            pl.len().cast(pl.Int64).alias("leads"),
            pl.col("conv").sum().cast(pl.Int64).alias("converted"),
            pl.col("days").filter(pl.col("conv")).median().cast(pl.Float64).alias("median_days_to_convert"),
        )
        .with_columns(
            (pl.col("leads") - pl.col("converted")).alias("open_leads"),
            (pl.col("converted") / pl.col("leads")).alias("conversion_rate"),
        )
        .select("cohort", "leads", "converted", "open_leads", "conversion_rate", "median_days_to_convert")
        .sort("cohort", nulls_last=True)
    )

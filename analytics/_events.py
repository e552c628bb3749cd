"""Activities as dated events, and the per-customer metrics the KPIs, RFM and classifications are built on."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any, Final

import polars as pl

from analytics._frames import Frame, months_before, require, to_polars, today
from analytics._rules import AnalyticsRules, load_rules

__all__ = ["EVENT_SCHEMA", "customer_metrics", "events", "parse_amount"]

#: Columns and types of :func:`events`.
EVENT_SCHEMA: Final[dict[str, pl.DataType]] = {
    "customer_id": pl.String(),
    "kind": pl.String(),
    "occurred_at": pl.Datetime("us", "UTC"),
    "occurred_on": pl.Date(),
    "amount": pl.Float64(),
}
_NUMBER = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$")
_NOISE = re.compile(r"[\s,，¥￥$元RMBCNY人民币]")


def parse_amount(value: Any) -> float | None:
    """An amount as written (``1200``, ``"1,200.50"``, ``"¥1200"``, ``"1200元"``) as a number; None if it is not
    one."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str):
        return None
    text = _NOISE.sub("", value.strip().upper())
    return float(text) if _NUMBER.match(text) else None


def _amounts(details: pl.Series, keys: list[str]) -> pl.Series:
    out: list[float | None] = []
    for text in details.to_list():
        found = None
        if text:
            parsed = json.loads(text)
            if isinstance(parsed, dict):
                found = next((parse_amount(parsed[k]) for k in keys if parsed.get(k) not in (None, "")), None)
        out.append(found)
    return pl.Series("amount", out, dtype=pl.Float64)


def events(activities: Frame, *, rules: AnalyticsRules | None = None) -> pl.DataFrame:
    """The store's activities as dated events of a customer.

    An activity without a customer (its customer was retired) or without a time is left out. ``occurred_on`` is
    the local date in ``rules.timezone`` (a follow-up at 00:30 in Shanghai on 1 April counts for April, although
    it is still 31 March in UTC). ``amount`` is the first of ``rules.amount_keys`` found in the activity's
    ``details`` (read as a number: ``"¥1,200"`` → 1200.0), else null.

    Args:
        activities: ``crm_store.read_activities`` (``customer_id``, ``kind``, ``occurred_at``; ``details``
            optional), or a frame with an ``amount`` column already.

    Returns:
        ``customer_id``, ``kind``, ``occurred_at`` (UTC), ``occurred_on`` (Date), ``amount`` (Float64); sorted by
        ``customer_id``, ``occurred_at``.
    """
    rules = rules or load_rules()
    df = to_polars(activities, "activities")
    require(df, ("customer_id", "kind", "occurred_at"), "activities")
    df = df.filter(pl.col("customer_id").is_not_null() & pl.col("occurred_at").is_not_null())
    if "amount" in df.columns:
        amount = df["amount"].cast(pl.Float64)
    elif "details" in df.columns:
        amount = _amounts(df["details"].cast(pl.String), rules.amount_keys)
    else:
        amount = pl.Series("amount", [None] * df.height, dtype=pl.Float64)
    stamp = pl.col("occurred_at")
    if df.schema["occurred_at"] == pl.Datetime("us") or df.schema["occurred_at"] == pl.Datetime("ns"):
        stamp = stamp.dt.replace_time_zone("UTC")  # a naive time is UTC, as the store keeps it
    elif df.schema["occurred_at"] == pl.Date:
        stamp = stamp.cast(pl.Datetime("us")).dt.replace_time_zone(rules.timezone).dt.convert_time_zone("UTC")
    out = df.with_columns(amount.alias("amount")).select(
        pl.col("customer_id").cast(pl.String),
        pl.col("kind").cast(pl.String),
        stamp.dt.convert_time_zone("UTC").dt.cast_time_unit("us").alias("occurred_at"),
        stamp.dt.convert_time_zone(rules.timezone).dt.date().alias("occurred_on"),
        pl.col("amount"),
    )
    return out.sort("customer_id", "occurred_at").cast(EVENT_SCHEMA)  # type: ignore[arg-type]


def _contact_dates(customers: pl.DataFrame, timezone: str) -> pl.DataFrame:
    """``customer_id`` and the golden record's ``last_contact_at`` as a local date (null when absent)."""
    if "last_contact_at" not in customers.columns:
        return customers.select("customer_id", pl.lit(None, pl.Date).alias("record_contact"))
    column = pl.col("last_contact_at")
    if customers.schema["last_contact_at"] == pl.Date:
        return customers.select("customer_id", column.alias("record_contact"))
    if getattr(customers.schema["last_contact_at"], "time_zone", None) is None:
        column = column.dt.replace_time_zone("UTC")
    return customers.select("customer_id", column.dt.convert_time_zone(timezone).dt.date().alias("record_contact"))


def customer_metrics(
    customers: Frame,
    events_: Frame,
    *,
    rules: AnalyticsRules | None = None,
    as_of: dt.date | None = None,
) -> pl.DataFrame:
    """One row per customer with what classifications and churn rules are written against.

    Definitions (``as_of`` is the day the metrics describe, default today in ``rules.timezone``; events after it
    are ignored; the window is the ``rules.window_months`` calendar months up to and including ``as_of``):

    - ``first_activity``, ``last_activity``: dates of the customer's first and latest event;
    - ``last_contact``: the later of ``last_activity`` and the golden record's ``last_contact_at``;
    - ``recency_days``: days from ``last_contact`` to ``as_of`` (null when never contacted);
    - ``activities``: events up to ``as_of``; ``frequency_12m``: events inside the window;
    - ``monetary_12m``, ``monetary_total``: sums of the events' amounts (0.0 for a customer without amounts; null
      for everyone when no event of the input carries an amount).

    Args:
        customers: ``customer_id`` and any columns to carry along (``segment``, ``status``, ``stage``,
            ``last_contact_at``, ``owner`` …): all are kept.
        events_: :func:`events`.
    """
    rules = rules or load_rules()
    as_of = as_of or today(rules.timezone)
    people = to_polars(customers, "customers")
    require(people, ("customer_id",), "customers")
    ev = to_polars(events_, "events")
    require(ev, ("customer_id", "occurred_on", "amount"), "events")
    ev = ev.filter(pl.col("occurred_on") <= as_of)
    has_amounts = ev["amount"].null_count() < ev.height
    window_start = months_before(as_of, rules.window_months)
    in_window = pl.col("occurred_on") > window_start
    per_customer = ev.group_by("customer_id").agg(
        pl.col("occurred_on").min().alias("first_activity"),
        pl.col("occurred_on").max().alias("last_activity"),
        pl.len().cast(pl.Int64).alias("activities"),
        in_window.sum().cast(pl.Int64).alias("frequency_12m"),
        pl.col("amount").filter(in_window).sum().alias("monetary_12m"),
        pl.col("amount").sum().alias("monetary_total"),
    )
    if not has_amounts:
        per_customer = per_customer.with_columns(
            pl.lit(None, pl.Float64).alias("monetary_12m"), pl.lit(None, pl.Float64).alias("monetary_total")
        )
    record = _contact_dates(people, rules.timezone).with_columns(
        pl.when(pl.col("record_contact") <= as_of).then(pl.col("record_contact"))
    )
    out = (
        people.join(per_customer, on="customer_id", how="left", maintain_order="left")
        .join(record, on="customer_id", how="left", maintain_order="left")
        .with_columns(
            pl.max_horizontal("last_activity", "record_contact").alias("last_contact"),
            pl.col("activities", "frequency_12m").fill_null(0),
        )
        .with_columns((pl.lit(as_of) - pl.col("last_contact")).dt.total_days().cast(pl.Int64).alias("recency_days"))
        .drop("record_contact")
    )
    if has_amounts:
        out = out.with_columns(pl.col("monetary_12m", "monetary_total").fill_null(0.0))
    return out

"""Customer classification by YAML rules, and RFM scores."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import polars as pl

from analytics._frames import Frame, require, to_polars
from analytics._rules import AnalyticsRules, Classification, Range, load_rules

if TYPE_CHECKING:
    from polars.expr.whenthen import ChainedThen, Then

__all__ = ["classify", "rfm"]


def _condition(column: str, test: Range | list[str | int | float | bool]) -> pl.Expr:
    col = pl.col(column)
    if isinstance(test, list):
        return col.is_in(test).fill_null(False)
    parts: list[pl.Expr] = []
    if test.null is not None:
        parts.append(col.is_null() if test.null else col.is_not_null())
    if test.min is not None:
        parts.append((col >= test.min).fill_null(False))
    if test.max is not None:
        parts.append((col < test.max).fill_null(False))
    out = parts[0]
    for part in parts[1:]:
        out = out & part
    return out


def _classification_expr(name: str, spec: Classification, columns: list[str]) -> pl.Expr:
    missing = sorted(
        f"classifications.{name}.rules[{i}].when.{column}"
        for i, rule in enumerate(spec.rules)
        for column in rule.when
        if column not in columns
    )
    if missing:
        raise ValueError(f"classification {name!r} tests columns the frame lacks: {missing}; it has {columns}")
    if not spec.rules:
        return pl.lit(spec.default, pl.String).alias(name)
    chain: Then | ChainedThen | None = None
    for rule in spec.rules:
        conditions = [_condition(column, test) for column, test in rule.when.items()]
        holds = conditions[0]
        for condition in conditions[1:]:
            holds = holds & condition
        chain = (
            pl.when(holds).then(pl.lit(rule.class_, pl.String))
            if chain is None
            else chain.when(holds).then(pl.lit(rule.class_, pl.String))
        )
    assert chain is not None
    return chain.otherwise(pl.lit(spec.default, pl.String)).alias(name)


def classify(metrics: Frame, *, rules: AnalyticsRules | None = None, names: list[str] | None = None) -> pl.DataFrame:
    """Add one column per classification of the rule set (``value_class``, ``rfm_segment`` …).

    Each classification is an ordered list of rules: the first rule whose conditions all hold gives the class,
    else the classification's ``default``. A condition on a null value does not hold (unless it is
    ``{null: true}``). A classification whose rules name a column the frame lacks raises, naming the rule.

    Args:
        metrics: a frame with the columns the rules test (:func:`analytics.customer_metrics`, joined with
            :func:`analytics.rfm` for ``r_score``/``f_score``/``m_score``).
        names: the classifications to apply (default: every classification whose columns the frame has).

    Returns:
        ``metrics`` with one String column per classification.
    """
    rules = rules or load_rules()
    df = to_polars(metrics, "metrics")
    unknown = sorted(set(names or ()) - set(rules.classifications))
    if unknown:
        raise ValueError(f"unknown classifications {unknown}; known: {sorted(rules.classifications)}")
    if names is None:
        names = [
            name
            for name, spec in rules.classifications.items()
            if all(column in df.columns for rule in spec.rules for column in rule.when)
        ]
    return df.with_columns(_classification_expr(name, rules.classifications[name], df.columns) for name in names)


def _score(values: pl.Expr, bins: int, *, higher_is_better: bool) -> pl.Expr:
    """``⌈bins × (r − ½) / n⌉``, r the rank from worst (1) to best (n), ties sharing their average rank; in
    integers (twice the average rank is whole), since in floats 0.6 × 5 rounds up to 4."""
    key = values if higher_is_better else -values
    twice_rank = (key.rank("average") * 2).round(0).cast(pl.Int64)
    twice_count = key.count().cast(pl.Int64) * 2
    return pl.when(values.is_not_null()).then((bins * (twice_rank - 1) + twice_count - 1) // twice_count)


def rfm(
    events_: Frame,
    *,
    rules: AnalyticsRules | None = None,
    as_of: dt.date | None = None,
    bins: int = 5,
) -> pl.DataFrame:
    """Recency, frequency and monetary value of every customer with an activity up to ``as_of``, scored 1..``bins``.

    Definitions: ``recency_days`` = days from the latest activity to ``as_of``; ``frequency`` = activities in
    the ``rules.window_months`` months up to ``as_of``; ``monetary`` = the sum of their amounts (null when no
    activity in the input carries an amount: RFM is then RF only, ``m_score`` null). Each score is
    ⌈``bins`` × (r − ½) / n⌉ over the n scored customers, r being the customer's rank from worst (1) to best
    (n; fewer days is better for recency), tied customers sharing their average rank: the bin of the middle of
    the customer's rank, so n distinct customers in n = ``bins`` bins score their rank, and customers who all
    tie score the middle bin. ``rfm`` joins the three scores (``"545"``; ``"54"`` without amounts).

    Returns:
        ``customer_id``, ``recency_days``, ``frequency``, ``monetary``, ``r_score``, ``f_score``, ``m_score``
        (Int64), ``rfm`` (String); sorted by ``customer_id``.
    """
    from analytics._events import customer_metrics
    from analytics._frames import today

    rules = rules or load_rules()
    if not 2 <= bins <= 9:
        raise ValueError(f"bins must be 2 to 9 (one digit per score in `rfm`), not {bins}")
    as_of = as_of or today(rules.timezone)
    ev = to_polars(events_, "events")
    require(ev, ("customer_id", "occurred_on", "amount"), "events")
    ev = ev.filter(pl.col("occurred_on") <= as_of)
    people = ev.select("customer_id").unique()
    metrics = customer_metrics(people, ev, rules=rules, as_of=as_of)
    out = metrics.select(
        "customer_id",
        pl.col("recency_days").cast(pl.Int64),
        pl.col("frequency_12m").cast(pl.Int64).alias("frequency"),
        pl.col("monetary_12m").alias("monetary"),
    ).with_columns(
        _score(pl.col("recency_days"), bins, higher_is_better=False).alias("r_score"),
        _score(pl.col("frequency"), bins, higher_is_better=True).alias("f_score"),
        _score(pl.col("monetary"), bins, higher_is_better=True).alias("m_score"),
    )
    return out.with_columns(
        pl.concat_str(
            [pl.col("r_score").cast(pl.String), pl.col("f_score").cast(pl.String), pl.col("m_score").cast(pl.String)],
            ignore_nulls=True,
        ).alias("rfm")
    ).sort("customer_id")

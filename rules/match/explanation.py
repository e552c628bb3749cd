"""Explanations: the waterfall of a pair's match weight (prior, then each comparison's level and weight)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import polars as pl

from .model import MatchModel, weight_to_prob

__all__ = ["explain", "explain_frame"]


def explain(pair_row: Mapping[str, Any], model: MatchModel) -> list[dict[str, Any]]:
    """The waterfall of one scored pair (a row of ``MatchResult.pairs`` as a dict).

    Returns:
        One dict per step: first ``prior``, then one per comparison, then ``related`` (the related-people
        adjustment, ≤ 0; absent for pairs scored without it), then ``final``. Each step has ``step``,
        ``level`` (label, None for prior/final), ``m``, ``u`` (None where not a level), ``weight`` (log2 Bayes
        factor of the step, tf-adjusted), ``tf_adjustment`` (the part of ``weight`` due to the value's
        frequency), ``cumulative`` (match weight so far) and ``probability`` (match probability so far).
    """
    steps: list[dict[str, Any]] = []
    total = model.prior_weight
    steps.append(
        {
            "step": "prior",
            "level": None,
            "m": None,
            "u": None,
            "weight": total,
            "tf_adjustment": 0.0,
            "cumulative": total,
            "probability": model.prior,
        }
    )
    for c in model.comparisons:
        label = pair_row.get(f"{c.name}_level")
        weight = pair_row.get(f"{c.name}_weight")
        m = u = None
        base = 0.0
        if label is not None and label != "null" and label in c.levels:
            i = c.levels.index(label)
            m, u = c.m[i], c.u[i]
            base = math.log2(m / u)
        w = float(weight) if weight is not None else base
        total += w
        steps.append(
            {
                "step": c.name,
                "level": label,
                "m": m,
                "u": u,
                "weight": w,
                "tf_adjustment": w - base,
                "cumulative": total,
                "probability": weight_to_prob(total),
            }
        )
    related = pair_row.get("related_weight")
    if related is not None:
        # how much of the agreement colleagues or relatives would explain (see rules.match.model)
        total += float(related)
        steps.append(
            {
                "step": "related",
                "level": None,
                "m": None,
                "u": None,
                "weight": float(related),
                "tf_adjustment": 0.0,
                "cumulative": total,
                "probability": weight_to_prob(total),
            }
        )
    steps.append(
        {
            "step": "final",
            "level": None,
            "m": None,
            "u": None,
            "weight": total,
            "tf_adjustment": 0.0,
            "cumulative": total,
            "probability": weight_to_prob(total),
        }
    )
    return steps


def explain_frame(pairs: pl.DataFrame, model: MatchModel) -> pl.DataFrame:
    """Waterfalls of many pairs in long form, for the report.

    Returns:
        ``left, right, order, step, level, m, u, weight, tf_adjustment, cumulative, probability``: one row per
        step of :func:`explain` per pair, in the order of ``pairs``.
    """
    rows = []
    for row in pairs.iter_rows(named=True):
        for order, step in enumerate(explain(row, model)):
            rows.append({"left": row["left"], "right": row["right"], "order": order, **step})
    schema = {
        "left": pairs.schema.get("left", pl.Int64),
        "right": pairs.schema.get("right", pl.Int64),
        "order": pl.Int64,
        "step": pl.String,
        "level": pl.String,
        "m": pl.Float64,
        "u": pl.Float64,
        "weight": pl.Float64,
        "tf_adjustment": pl.Float64,
        "cumulative": pl.Float64,
        "probability": pl.Float64,
    }
    return pl.DataFrame(rows, schema=schema)

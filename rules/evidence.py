"""Merge evidence: the scored pairs that hold each customer's rows together, as the store keeps them.

The crosswalk gives every row its strongest pair inside its customer (``match_probability`` and ``evidence``);
a merge event lists every scored pair inside the customer. A row of a customer of its own has neither.
"""

from __future__ import annotations

import polars as pl

from crm_store.schema import SOURCE_COL, SOURCE_KEY_COL

__all__ = ["best_pairs", "cluster_evidence", "pairs_within"]

#: Digits a probability keeps in the evidence.
DIGITS = 4


def pairs_within(records: pl.DataFrame, pairs: pl.DataFrame) -> pl.DataFrame:
    """Each scored pair inside one customer, seen from both of its rows.

    Args:
        records: ``_rid`` and ``customer_id`` of every row.
        pairs: scored pairs (``left``, ``right``: ``_rid``; ``match_probability``).

    Returns:
        ``_rid``, ``other`` (the row it was paired with), ``probability``.
    """
    if pairs.is_empty():
        return pl.DataFrame(schema={"_rid": pl.Int64, "other": pl.Int64, "probability": pl.Float64})
    customer = records.select("_rid", "customer_id")
    inside = (
        pairs.select(
            pl.col("left").cast(pl.Int64),
            pl.col("right").cast(pl.Int64),
            pl.col("match_probability").cast(pl.Float64).alias("probability"),
        )
        .join(customer.rename({"_rid": "left", "customer_id": "c1"}), on="left")
        .join(customer.rename({"_rid": "right", "customer_id": "c2"}), on="right")
        .filter(pl.col("c1") == pl.col("c2"))
    )
    return pl.concat(
        [
            inside.select(pl.col("left").alias("_rid"), pl.col("right").alias("other"), "probability"),
            inside.select(pl.col("right").alias("_rid"), pl.col("left").alias("other"), "probability"),
        ]
    )


def best_pairs(records: pl.DataFrame, pairs: pl.DataFrame) -> pl.DataFrame:
    """Each row's strongest pair inside its customer (ties: the row paired with first).

    Args:
        records: ``_rid``, ``customer_id`` and lineage (``_source``, ``_source_key``) of every row.
        pairs: scored pairs (``left``, ``right``, ``match_probability``).

    Returns:
        ``_rid``, ``match_probability``, ``evidence`` (JSON: ``{"with": "source:key", "score": p}``), for the
        rows that have a pair.
    """
    keys = records.select(pl.col("_rid").alias("other"), _row_key().alias("with"))
    return (
        pairs_within(records, pairs)
        .sort(["_rid", "probability", "other"], descending=[False, True, False])
        .unique("_rid", keep="first", maintain_order=True)
        .join(keys, on="other", how="left")
        .select(
            "_rid",
            pl.col("probability").round(DIGITS).alias("match_probability"),
            pl.struct(pl.col("with"), pl.col("probability").round(DIGITS).alias("score"))
            .struct.json_encode()
            .alias("evidence"),
        )
    )


def cluster_evidence(records: pl.DataFrame, pairs: pl.DataFrame) -> pl.DataFrame:
    """Every scored pair inside each customer, once.

    Args:
        records: ``_rid``, ``customer_id`` and lineage of every row.
        pairs: scored pairs (``left``, ``right``, ``match_probability``).

    Returns:
        ``customer_id``, ``evidence``: a list of ``{a, b, score}`` (``a``, ``b``: ``source:key`` of the two rows),
        for the customers that have a pair.
    """
    keys = records.select("_rid", _row_key().alias("a"))
    once = pairs_within(records, pairs).filter(pl.col("_rid") < pl.col("other"))
    return (
        once.join(keys, on="_rid")
        .join(keys.rename({"_rid": "other", "a": "b"}), on="other")
        .join(records.select("_rid", "customer_id"), on="_rid")
        .group_by("customer_id")
        .agg(pl.struct("a", "b", pl.col("probability").round(DIGITS).alias("score")).alias("evidence"))
    )


def _row_key() -> pl.Expr:
    """A row's ``source:source_key``."""
    return pl.concat_str([SOURCE_COL, SOURCE_KEY_COL], separator=":")

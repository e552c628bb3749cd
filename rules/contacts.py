"""Contact points: the phones, e-mail addresses and WeChat ids a customer's rows give, and whether each is valid.

A golden record keeps one primary phone and e-mail (survivorship); every other way to reach the customer that any
of its rows gave is a contact point, kept once per customer, kind and value.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from crm_store.schema import SOURCE_COL, SOURCE_KEY_COL

__all__ = ["CONTACT_FIELDS", "contact_points"]

#: The normalised column each kind of contact point comes from (``phones``: every phone of a row, as a list).
CONTACT_FIELDS: Final[dict[str, str]] = {"phone": "phones", "email": "email", "wechat": "wechat"}

_SCHEMA: Final = {
    "customer_id": pl.String,
    "kind": pl.String,
    "value": pl.String,
    "source": pl.String,
    "source_key": pl.String,
    "valid": pl.Boolean,
}


def contact_points(records: pl.DataFrame) -> pl.DataFrame:
    """The contact points of customers, from their normalised rows.

    A point is valid when it is there at all: a normaliser leaves no value it cannot use (a placeholder phone, a
    malformed e-mail address become null), and the rows were validated before they were matched. Each point names
    the first row (by source, then source key) that gave it.

    Args:
        records: rows with ``customer_id``, lineage (``_source``, ``_source_key``) and any of the columns of
            :data:`CONTACT_FIELDS`.

    Returns:
        ``customer_id``, ``kind``, ``value``, ``source``, ``source_key``, ``valid``: one row per customer, kind
        and value, sorted by them.
    """
    parts = [_points(records, kind, column) for kind, column in CONTACT_FIELDS.items() if column in records.columns]
    if not parts:
        return pl.DataFrame(schema=_SCHEMA)
    return (
        pl.concat(parts)
        .filter(pl.col("value").is_not_null())
        .sort("customer_id", "kind", "value", "source", "source_key")
        .unique(["customer_id", "kind", "value"], keep="first", maintain_order=True)
        .with_columns(pl.lit(True).alias("valid"))
    )


def _points(records: pl.DataFrame, kind: str, column: str) -> pl.DataFrame:
    """Every value of ``column`` (each element of a list column) as a point of ``kind``, with its row."""
    points = records.select(
        "customer_id",
        pl.lit(kind).alias("kind"),
        pl.col(column).alias("value"),
        pl.col(SOURCE_COL).alias("source"),
        pl.col(SOURCE_KEY_COL).alias("source_key"),
    )
    return points.explode("value") if isinstance(records.schema[column], pl.List) else points

"""Child rows of a legacy CRM (follow-ups, orders, visits) as activities linked to their customer.

A child table refers to its customer by the legacy key (``GJJL.KHBH`` → ``KHXX.KHBH``). The child source names its
parent source and the column holding that key; an activity is attached to the golden customer that the parent row
became. A child whose parent row was skipped (a deleted customer's follow-ups) is skipped with the parent's reason;
one whose parent row did not load otherwise (absent, quarantined) is an orphan and is quarantined with the reason
``orphan_activity`` — never silently dropped.
"""

from __future__ import annotations

import polars as pl
from pydantic import BaseModel, ConfigDict

from crm_store.schema import ATTRIBUTES_COL, LINEAGE_COLS, PAYLOAD_COL, SKIP_REASON_COL, SOURCE_COL, SOURCE_KEY_COL
from rules.failures import FAILURE_COLUMNS, empty_failures
from rules.mapping import apply_mapping

__all__ = ["ActivitySpec", "link_activities", "prepare_activities", "skip_children_of_skipped"]

PARENT_KEY_COL = "_parent_key"


class ActivitySpec(BaseModel):
    """How a child source becomes activities (the ``activity:`` block of a source in the project file)."""

    model_config = ConfigDict(extra="forbid")

    #: Name of the source whose rows these are children of.
    parent: str
    #: Column of this source holding the parent row's key (its ``source_key``, e.g. the legacy customer number).
    parent_key: str
    #: Activity kind stored with each row (follow_up, order, visit, sign_up, …).
    kind: str = "follow_up"
    #: Column with the date or time of the activity.
    occurred_at: str | None = None
    #: Column with the activity's text.
    summary: str | None = None


def prepare_activities(raw: pl.DataFrame, spec: ActivitySpec, *, tz: str = "Asia/Shanghai") -> pl.DataFrame:
    """Shape a RAW child batch into activity rows.

    Returns:
        Lineage columns, ``_parent_key``, ``kind``, ``occurred_at`` (ISO local time or null), ``summary``,
        ``attributes`` (JSON of the other non-empty columns) and ``_payload`` (the row as read).
    """
    from rules.normalise import normalise_datetime, normalise_text  # the project file's ActivitySpec loads without them

    base = apply_mapping(raw, {})
    lineage = [c for c in base.columns if c in LINEAGE_COLS]

    def column(name: str | None) -> pl.Series:
        if name is None or name not in raw.columns:
            return pl.Series([None] * raw.height, dtype=pl.String)
        return raw[name]

    summary = column(spec.summary).str.strip_chars()  # prose: kept as written, only trimmed

    occurred = (
        normalise_datetime(raw[spec.occurred_at], tz=tz)["value"]
        if spec.occurred_at and spec.occurred_at in raw.columns
        else pl.Series([None] * raw.height, dtype=pl.String)
    )
    return base.select(
        *lineage,
        normalise_text(column(spec.parent_key))["value"].alias(PARENT_KEY_COL),
        pl.lit(spec.kind).alias("kind"),
        occurred.alias("occurred_at"),
        pl.when(summary.str.len_chars() > 0).then(summary).alias("summary"),
        ATTRIBUTES_COL,
        PAYLOAD_COL,
    )


def skip_children_of_skipped(activities: pl.DataFrame, skipped: pl.DataFrame, *, parent_source: str) -> pl.DataFrame:
    """The activity rows of one child source, those whose parent row was skipped marked skipped with its reason.

    Args:
        activities: rows from :func:`prepare_activities`.
        skipped: skipped customer rows (``_source``, ``_source_key``, ``_skip_reason``) of this run.
        parent_source: the parent source's name.
    """
    reasons = (
        skipped.filter(pl.col(SOURCE_COL) == parent_source)
        .select(pl.col(SOURCE_KEY_COL).alias(PARENT_KEY_COL), pl.col(SKIP_REASON_COL).alias("_parent_reason"))
        .unique(PARENT_KEY_COL)
    )
    if not reasons.height:
        return activities
    joined = activities.join(reasons, on=PARENT_KEY_COL, how="left", maintain_order="left")
    own = pl.col(SKIP_REASON_COL) if SKIP_REASON_COL in activities.columns else pl.lit(None, pl.String)
    return joined.with_columns(pl.coalesce(own, pl.col("_parent_reason")).alias(SKIP_REASON_COL)).drop("_parent_reason")


def link_activities(
    activities: pl.DataFrame, parents: pl.DataFrame, *, parent_source: str, parent_key_column: str
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Attach activities to the customers their parent rows became.

    Args:
        activities: rows from :func:`prepare_activities` of one child source.
        parents: ``_source, _source_key, customer_id`` of every loaded customer row known (this run and the store).
        parent_source: the parent source's name.
        parent_key_column: the child column holding the parent key (for messages).

    Returns:
        ``(linked, orphans)``: the activities with ``customer_id``, and a failure table (fixed columns) with one
        ``orphan_activity`` row per activity whose parent row did not load.
    """
    lookup = parents.filter(pl.col(SOURCE_COL) == parent_source).select(
        pl.col(SOURCE_KEY_COL).alias(PARENT_KEY_COL), "customer_id"
    )
    joined = activities.join(lookup.unique(PARENT_KEY_COL), on=PARENT_KEY_COL, how="left", maintain_order="left")
    linked = joined.filter(pl.col("customer_id").is_not_null())
    orphans = joined.filter(pl.col("customer_id").is_null())
    if not orphans.height:
        return linked, empty_failures()
    failures = orphans.select(
        pl.lit("activity_parent").alias("rule"),
        pl.lit("orphan_activity").alias("code"),
        pl.lit("error").alias("severity"),
        pl.lit(parent_key_column).alias("column"),
        pl.col(SOURCE_COL).alias("source"),
        pl.col(SOURCE_KEY_COL).alias("source_key"),
        pl.col(PARENT_KEY_COL).alias("value_masked"),
        pl.when(pl.col(PARENT_KEY_COL).is_null())
        .then(pl.lit(f"{parent_key_column} is empty: the row belongs to no {parent_source} row"))
        .otherwise(pl.lit(f"no loaded {parent_source} row has this {parent_key_column}"))
        .alias("message"),
    )
    return linked, failures.select(FAILURE_COLUMNS)

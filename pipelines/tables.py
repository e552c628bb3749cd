"""The run's frames shaped as the store's tables: renames and joins only.

What a table holds is decided in ``rules`` (a customer's kind in :mod:`rules.entities`, its contact points in
:mod:`rules.contacts`, the merge evidence in :mod:`rules.evidence`); here the columns get the store's names.
:func:`store_frames` gives every table a run loads, :func:`customer_frames` those of golden records (a steward's
merge or unmerge rebuilds them too).
"""

from __future__ import annotations

import polars as pl

from crm_store.schema import PAYLOAD_COL, ROW_HASH_COL, SKIP_REASON_COL, SOURCE_COL, SOURCE_KEY_COL, STORE_NAMES
from pipelines._review import review_items, review_scope
from pipelines.ledger import REHYDRATED_COL, read_this_run
from pipelines.stages import Golden, Stage, Validated
from rules.contacts import contact_points
from rules.entities import with_kind
from rules.evidence import best_pairs, cluster_evidence
from rules.survive import id_lineage

__all__ = ["customer_frames", "store_frames"]

_KEY = [SOURCE_COL, SOURCE_KEY_COL]
#: Lineage columns under their store names.
_STORE_KEY = [pl.col(SOURCE_COL).alias("source"), pl.col(SOURCE_KEY_COL).alias("source_key")]
#: Store address columns, from the address normaliser's parts (``address`` is the normalised whole address).
_ADDRESS_FIELDS = ("province", "city", "district", "street", "admin_code", "postcode", "country")


def store_frames(
    run_id: str,
    stage: Stage,
    validated: Validated,
    golden: Golden,
    activities: pl.DataFrame,
    existing: pl.DataFrame | None = None,
    followed: pl.DataFrame | None = None,
) -> dict[str, pl.DataFrame]:
    """Every table a run loads, by store table name (``lineage`` and ``review_scope`` tell the store which
    customers retire and which review items this run judged).

    Args:
        run_id: the run.
        stage: the mapped rows (for the skipped ones).
        validated: the validation outcome, orphans included (``pipelines.steps.link``).
        golden: clusters, golden records and provenance.
        activities: linked activities.
        existing: the crosswalk before this run (``_source``, ``_source_key``, ``customer_id``).
        followed: activities of earlier runs that follow their parent rows into another customer
            (``pipelines.steps.followed_activities``): written, and counted in ``last_contact_at``, not read.
    """
    records = golden.records
    reasons = _reasons(validated.failures)
    scope = review_scope(records, golden.incremental)
    linked = _activities(activities)
    if followed is not None:
        linked = pl.concat([linked, followed.select(linked.columns)], how="vertical_relaxed")
    source_records = _source_records(run_id, stage, validated, records, activities, reasons)
    crosswalk = _crosswalk(run_id, golden, existing)
    customers = customer_frames(records, golden.customers, golden.provenance, linked)
    merges = _merge_events(records, golden.pairs)
    if golden.incremental:  # the customers its rows do not touch keep their stored records: not compared again
        touched = _touched(crosswalk, source_records, linked, existing).implode()
        customers = {name: frame.filter(pl.col("customer_id").is_in(touched)) for name, frame in customers.items()}
        merges = merges.filter(pl.col("customer_id").is_in(touched))
    return {
        "activity": linked,
        "source_record": source_records,
        **customers,
        "crosswalk": crosswalk,
        "quarantine": _quarantine(run_id, validated.quarantined, reasons),
        "merge_event": merges,
        "lineage": id_lineage(existing, records.select(*_KEY, "customer_id")),
        "review_item": review_items(golden.review, golden.pairs, records, golden.model, golden.decided),
        **({"review_scope": scope} if scope is not None else {}),
    }


def _touched(
    crosswalk: pl.DataFrame, source_records: pl.DataFrame, activities: pl.DataFrame, existing: pl.DataFrame | None
) -> pl.Series:
    """The customers whose records an incremental run changes: those of the rows it links (read, or moved into
    another customer) and of the activities it links, and those that held a row it read or moved (a row leaving a
    customer, loaded elsewhere or quarantined now, changes what is left of it). Any other customer keeps its rows,
    so its golden record, details and merge event are what the store holds."""
    ids = [crosswalk["customer_id"], activities["customer_id"]]
    if existing is not None:
        keys = pl.concat([crosswalk.select("source", "source_key"), source_records.select("source", "source_key")])
        keys = keys.select(pl.col("source").alias(SOURCE_COL), pl.col("source_key").alias(SOURCE_KEY_COL))
        ids.append(existing.join(keys.unique(), on=_KEY, how="semi")["customer_id"])
    return pl.concat([i.cast(pl.String) for i in ids]).drop_nulls().unique()


def _reasons(failures: pl.DataFrame) -> pl.DataFrame:
    """Per quarantined row (lineage columns): its reason codes and their details."""
    return (
        failures.filter(pl.col("severity") == "error")
        .group_by(["source", "source_key"], maintain_order=True)
        .agg(
            pl.col("code").unique(maintain_order=True).alias("reasons"),
            pl.struct("rule", "code", "column", "value_masked", "message").alias("details"),
        )
        .rename({"source": SOURCE_COL, "source_key": SOURCE_KEY_COL})
    )


def _source_records(
    run_id: str,
    stage: Stage,
    validated: Validated,
    records: pl.DataFrame,
    activities: pl.DataFrame,
    reasons: pl.DataFrame,
) -> pl.DataFrame:
    """Every row this run read, raw, with where it ended: ``loaded``, ``quarantined`` (its reason codes) or
    ``skipped`` (its skip reason)."""
    outcome_cols = [*_KEY, ROW_HASH_COL, PAYLOAD_COL]
    loaded = pl.concat([read_this_run(records).select(*outcome_cols), activities.select(*outcome_cols)])
    quarantined = (
        validated.quarantined.select(*outcome_cols)
        .join(reasons.select(*_KEY, "reasons"), on=_KEY, how="left")
        .select(*outcome_cols, pl.lit("quarantined").alias("status"), pl.col("reasons").list.join(",").alias("reason"))
    )
    skipped = stage.skipped.select(
        *outcome_cols, pl.lit("skipped").alias("status"), pl.col(SKIP_REASON_COL).alias("reason")
    )
    rows = pl.concat(
        [
            loaded.with_columns(pl.lit("loaded").alias("status"), pl.lit(None, pl.String).alias("reason")),
            quarantined,
            skipped,
        ],
        how="vertical_relaxed",
    )
    names = {SOURCE_COL: "source", SOURCE_KEY_COL: "source_key", ROW_HASH_COL: "row_hash", PAYLOAD_COL: "payload"}
    return rows.rename(names).with_columns(pl.lit(run_id).alias("run_id"))


def _crosswalk(run_id: str, golden: Golden, existing: pl.DataFrame | None) -> pl.DataFrame:
    """Each row's customer with its strongest pair inside it; an incremental match leaves stored rows with their
    customer and evidence, so it rewrites only the rows it read and those whose customer changed."""
    records = golden.records
    linked = _relinked(records, existing) if golden.incremental else records
    return (
        linked.select("_rid", *_KEY, "customer_id")
        .join(best_pairs(records, golden.pairs), on="_rid", how="left")
        .select(*_STORE_KEY, "customer_id", "match_probability", "evidence", pl.lit(run_id).alias("run_id"))
    )


def _relinked(records: pl.DataFrame, existing: pl.DataFrame | None) -> pl.DataFrame:
    """The rows an incremental run links: those it read, and rebuilt rows whose customer changed (a re-read row or
    a steward's decision merged their customer into another)."""
    read = read_this_run(records)
    if existing is None or REHYDRATED_COL not in records.columns:
        return read
    moved = (
        records.filter(pl.col(REHYDRATED_COL).is_not_null())
        .join(existing.rename({"customer_id": "_was"}), on=_KEY, how="left")
        .filter(pl.col("_was").is_null() | (pl.col("_was") != pl.col("customer_id")))
        .drop("_was")
    )
    return pl.concat([read, moved], how="diagonal_relaxed") if moved.height else read


def _quarantine(run_id: str, quarantined: pl.DataFrame, reasons: pl.DataFrame) -> pl.DataFrame:
    return (
        quarantined.select(*_KEY)
        .join(reasons, on=_KEY, how="left")
        .select(*_STORE_KEY, "reasons", "details", pl.lit(run_id).alias("run_id"))
    )


def _merge_events(records: pl.DataFrame, pairs: pl.DataFrame) -> pl.DataFrame:
    """One merge per customer of several rows: its members (``source:key``, sorted) and the pairs inside it."""
    members = records.group_by("customer_id").agg(
        pl.len().alias("size"),
        pl.concat_str([pl.col(SOURCE_COL), pl.col(SOURCE_KEY_COL)], separator=":").sort().alias("members"),
        pl.col("_rid"),
    )
    return (
        members.filter(pl.col("size") > 1)
        .join(cluster_evidence(records, pairs), on="customer_id", how="left")
        .select("customer_id", "members", "evidence")
    )


def _activities(activities: pl.DataFrame) -> pl.DataFrame:
    return activities.select(
        *_STORE_KEY,
        "customer_id",
        "kind",
        "occurred_at",
        "summary",
        pl.col("attributes").alias("details"),
    )


def customer_frames(
    records: pl.DataFrame, customers: pl.DataFrame, provenance: pl.DataFrame, activities: pl.DataFrame
) -> dict[str, pl.DataFrame]:
    """The store's ``customer``, ``contact_point``, ``address`` and ``field_provenance`` rows of golden records.

    Args:
        records: the customers' rows (lineage, normalised fields, ``customer_id``).
        customers: ``cluster``, ``customer_id`` and the golden fields (see ``pipelines.steps.survivors``).
        provenance: the golden fields' provenance with ``customer_id``.
        activities: linked activities (``customer_id``, ``occurred_at``): the latest raises ``last_contact_at``.
    """
    customer = with_kind(customers.rename({k: v for k, v in STORE_NAMES.items() if k in customers.columns}))
    return {
        "customer": _with_last_contact(customer.drop("cluster"), activities),
        "contact_point": contact_points(records),
        "address": _addresses(records),
        "field_provenance": _field_provenance(provenance),
    }


def _with_last_contact(customer: pl.DataFrame, activities: pl.DataFrame) -> pl.DataFrame:
    """``last_contact_at``: the latest of the golden value (a 最后联系 column) and the run's activities of the
    customer (the store adds those of earlier runs)."""
    latest = (
        activities.filter(pl.col("customer_id").is_not_null() & pl.col("occurred_at").is_not_null())
        .group_by("customer_id")
        .agg(pl.col("occurred_at").cast(pl.String).max().alias("_act"))
    )
    own = (
        pl.col("last_contact_at").cast(pl.String) if "last_contact_at" in customer.columns else pl.lit(None, pl.String)
    )
    return (
        customer.join(latest, on="customer_id", how="left", maintain_order="left")
        .with_columns(pl.max_horizontal(own, pl.col("_act")).alias("last_contact_at"))
        .drop("_act")
    )


def _addresses(records: pl.DataFrame) -> pl.DataFrame:
    """Each row's address parts (rows that have none left out); ``raw`` is the normalised whole address."""
    present = [c for c in (*_ADDRESS_FIELDS, "address") if c in records.columns]
    columns = [pl.col(c) if c in records.columns else pl.lit(None, pl.String).alias(c) for c in _ADDRESS_FIELDS]
    raw = pl.col("address") if "address" in records.columns else pl.lit(None, pl.String)
    frame = records.select("customer_id", *_STORE_KEY, *columns, raw.alias("raw"))
    return frame.filter(
        pl.any_horizontal(pl.lit(False), *(pl.col(c).is_not_null() for c in present if c in frame.columns))
    )


def _field_provenance(provenance: pl.DataFrame) -> pl.DataFrame:
    return provenance.select("customer_id", "field", "value", *_STORE_KEY, "rule").with_columns(
        pl.col("field").replace(STORE_NAMES)
    )

"""The ``migrate`` flow: extract → map → normalise → validate → match → survive → load → report.

Each step is a plain function (tested directly); ``migrate_flow`` wires them as Prefect tasks. The flow owns I/O,
sessions and the ledger check; every business rule lives in ``rules``.
"""

from __future__ import annotations

import hashlib
import logging
import platform
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Literal, TypeVar

import polars as pl
import sqlalchemy as sa
from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from sqlalchemy.orm import Session

import crm_store
from connectors import SourceError, get_connector, next_cursor
from crm_store.schema import (
    ATTRIBUTES_COL,
    CANONICAL_FIELDS,
    ERROR_CODE_COL,
    ERROR_DETAIL_COL,
    GOLDEN_FIELDS,
    LINEAGE_COLS,
    PAYLOAD_COL,
    ROW_HASH_COL,
    SKIP_REASON_COL,
    SOURCE_COL,
    SOURCE_KEY_COL,
    STORE_NAMES,
)
from crm_store.subject import ERASED_PAYLOAD, ERASED_REASON, read_erased_keys
from pipelines._logging import redacting
from pipelines._review import Decided, decided_pairs, read_decisions, review_items, review_scope, unsatisfied
from pipelines.ledger import (
    REHYDRATED_COL,
    RunStatus,
    build_ledger,
    ledger_totals,
    read_this_run,
    run_status,
    unplaced_ledger,
)
from pipelines.progress import StepEvent, emit
from pipelines.report import build_report, build_stopped_report, write_report
from pipelines.settings import ProjectSettings, load_settings
from rules.activity import link_activities, prepare_activities, skip_children_of_skipped
from rules.drift import Drift, detect_drift
from rules.mapping import apply_codes, apply_mapping, mark_skipped
from rules.mask import mask_text, redact_secrets
from rules.match import MatchModel, MatchResult, match, match_incremental
from rules.normalise import landline_of, normalise_frame, wall_time_to_utc
from rules.survive import SurvivorResult, customer_ids, id_lineage, survive
from rules.validate import LengthBetweenExpectation, ValidationSettings, connector_failures, validate

__all__ = ["MigrateResult", "RunFailedError", "RunStatus", "migrate", "migrate_flow"]

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass
class Extracted:
    """What one source gave: its raw rows, or the reason the whole source failed."""

    source: str
    kind: str
    raw: pl.DataFrame | None = None
    error: str | None = None
    #: Source columns as read (union over batches, in order), for schema-drift checks.
    columns: list[str] = field(default_factory=list)
    drift: Drift | None = None
    #: Incremental sources: the cursor to save once the run is loaded, and whether this read was partial
    #: (only what is new since the saved cursor), so earlier rows must come from the store.
    cursor: str | None = None
    partial: bool = False


@dataclass
class Stage:
    """The rows of a run, partitioned as they move through the flow."""

    candidates: pl.DataFrame  # mapped customer rows that are neither skipped nor structurally broken
    skipped: pl.DataFrame
    broken: pl.DataFrame
    activities: pl.DataFrame  # child rows (follow-ups, orders) that are neither skipped nor broken


@dataclass
class MigrateResult:
    """What a run did: the CLI prints it, tests assert on it."""

    run_id: str
    #: ``succeeded``; ``partial``: loaded, but a source failed or too many rows were quarantined; ``failed``
    status: RunStatus
    dry_run: bool
    ledger: list[dict[str, Any]]
    #: the HTML report (``None`` only when even the report of a failed run could not be written)
    report_path: Path | None
    totals: dict[str, Any]
    timings: list[dict[str, Any]] = field(default_factory=list)
    #: the report's matching section: ``blocking`` (rule, estimated_pairs, pairs, recall), ``blocking_recall`` …
    matching: dict[str, Any] = field(default_factory=dict)
    #: why the run is ``partial`` or ``failed`` (masked: no raw phone or e-mail)
    error: str | None = None


# --------------------------------------------------------------------------------------------------- steps


def extract(settings: ProjectSettings, cursors: dict[str, str | None]) -> list[Extracted]:
    """Read every source; a source that cannot be read fails alone, with a message naming file and row.

    Args:
        settings: the project.
        cursors: the saved cursor of each incremental source (empty for a full refresh).
    """
    results: list[Extracted] = []
    for source in settings.sources:
        connector = get_connector(source.kind)
        params = source.connector_params()
        saved = cursors.get(source.name) if source.incremental else None
        try:
            if source.incremental and source.kind != "sql":
                cursor = file_fingerprint(Path(params.path))  # type: ignore[attr-defined]
                if cursor == saved:  # unchanged since the last run: nothing new to read
                    results.append(Extracted(source.name, source.kind, raw=pl.DataFrame(), cursor=cursor, partial=True))
                    continue
                batches = list(connector(params, source=source.name))
            else:
                batches, cursor = [], saved
                for batch in connector(params, source=source.name, cursor=saved):
                    batches.append(batch)
                    cursor = next_cursor(batch, params, cursor) if source.kind == "sql" else None  # type: ignore[arg-type]
        except SourceError as exc:
            log.warning("source %s failed: %s", source.name, exc)
            results.append(Extracted(source.name, source.kind, error=str(exc)))
            continue
        raw = pl.concat(batches, how="diagonal_relaxed") if batches else pl.DataFrame()
        columns = list(dict.fromkeys(c for b in batches for c in b.columns if not c.startswith("_")))
        partial = source.incremental and source.kind == "sql" and saved is not None
        results.append(Extracted(source.name, source.kind, raw=raw, columns=columns, cursor=cursor, partial=partial))
    return results


def file_fingerprint(path: Path) -> str:
    """A file's cursor: size and sha256 of its bytes (a touched but unchanged file is still unchanged)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return f"{path.stat().st_size}:{digest.hexdigest()}"


def check_drift(settings: ProjectSettings, extracted: list[Extracted], engine: sa.Engine | None) -> list[Extracted]:
    """Compare each source's columns with its last successful run; a ``strict`` source with changes fails the run.

    Raises:
        SchemaDriftError: a strict source's columns changed.
    """
    if engine is None:
        return extracted
    with Session(engine) as session:
        for item in extracted:
            if item.raw is not None and item.raw.height:
                previous = crm_store.read_source_columns(session, item.source)
                item.drift = detect_drift(previous, item.columns, settings.source(item.source).mapping)
    strict = [i for i in extracted if i.drift and i.drift.changed and settings.source(i.source).strict]
    if strict:
        raise SchemaDriftError(
            "schema drift in strict source(s), nothing was loaded: "
            + " | ".join(f"{i.source}: {i.drift.describe()}" for i in strict if i.drift)
        )
    return extracted


class SchemaDriftError(RuntimeError):
    """A source marked ``strict`` changed its columns since the last successful run."""


def map_rows(settings: ProjectSettings, extracted: list[Extracted], erased: pl.DataFrame | None = None) -> Stage:
    """Map each source onto canonical fields and split off skipped and structurally broken rows.

    ``erased`` (``source``, ``source_key``: rows erased on a data subject's request) are skipped as ``erased``
    with no content: the source still holds the person, the store must not take them back.
    """
    customers, children = [], []
    for item in extracted:
        if item.raw is None or not item.raw.height:
            continue
        source = settings.source(item.source)
        raw = _without_erased(item.raw, erased)
        if source.activity is not None:
            tz = settings.defaults_of(source.name).timezone
            rows = prepare_activities(raw, source.activity, tz=tz)
            children.append((source.activity.parent, rows.with_columns(wall_time_to_utc(pl.col("occurred_at"), tz))))
            continue
        frame = apply_codes(apply_mapping(raw, source.mapping), source.codes)
        customers.append(mark_skipped(frame, source.skip) if source.skip else frame)
    candidates, skipped, broken = _split(customers)
    # a deleted customer's follow-ups are skipped with its reason, not quarantined as orphans
    activities, child_skipped, child_broken = _split(
        [skip_children_of_skipped(rows, skipped, parent_source=parent) for parent, rows in children]
    )
    gone = pl.col(SKIP_REASON_COL) == ERASED_REASON  # an erased row (or the child of one) keeps no content
    skipped = pl.concat([skipped, child_skipped], how="diagonal_relaxed").with_columns(
        pl.when(gone).then(pl.lit(ERASED_PAYLOAD)).otherwise(pl.col(PAYLOAD_COL)).alias(PAYLOAD_COL),
        pl.when(gone).then(pl.lit(_ERASED_HASH)).otherwise(pl.col(ROW_HASH_COL)).alias(ROW_HASH_COL),
    )
    return Stage(candidates, skipped, pl.concat([broken, child_broken], how="diagonal_relaxed"), activities)


_ERASED_HASH = hashlib.sha256(ERASED_PAYLOAD.encode()).hexdigest()


def _without_erased(raw: pl.DataFrame, erased: pl.DataFrame | None) -> pl.DataFrame:
    """``raw`` with its erased rows emptied and skipped as ``erased``."""
    if erased is None or not erased.height:
        return raw
    source = raw[SOURCE_COL][0]
    keys = erased.filter(pl.col("source") == source)["source_key"]
    if not keys.len():
        return raw
    gone = pl.col(SOURCE_KEY_COL).is_in(keys.implode())
    values = [c for c in raw.columns if c not in LINEAGE_COLS]
    return raw.with_columns(
        *(pl.when(gone).then(None).otherwise(pl.col(c)).alias(c) for c in values),
        pl.when(gone).then(pl.lit(ERASED_REASON)).otherwise(pl.col(SKIP_REASON_COL)).alias(SKIP_REASON_COL),
        pl.when(gone).then(None).otherwise(pl.col(ERROR_CODE_COL)).alias(ERROR_CODE_COL),
    )


def _split(frames: list[pl.DataFrame]) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(rows to process, skipped rows, structurally broken rows)."""
    if not frames:
        columns = (*LINEAGE_COLS, PAYLOAD_COL, ATTRIBUTES_COL)
        empty = pl.DataFrame(schema=dict.fromkeys(columns, pl.String))
        return empty, empty, empty
    frame = pl.concat(frames, how="diagonal_relaxed")
    rest = frame.filter(pl.col(SKIP_REASON_COL).is_null())
    return (
        rest.filter(pl.col(ERROR_CODE_COL).is_null()),
        frame.filter(pl.col(SKIP_REASON_COL).is_not_null()),
        rest.filter(pl.col(ERROR_CODE_COL).is_not_null()),
    )


def _erased_keys(engine: sa.Engine | None) -> pl.DataFrame | None:
    """The source rows erased on a data subject's request (none without a store)."""
    if engine is None:
        return None
    with Session(engine) as session:
        return read_erased_keys(session)


def rehydrate(settings: ProjectSettings, extracted: list[Extracted], engine: sa.Engine | None) -> pl.DataFrame:
    """Rows that earlier runs loaded from sources read only partially now, rebuilt as MAPPED rows from their raw
    payloads, so new rows are matched against the customers already in the store.

    The rows are marked ``_rehydrated``: they are matched and survive into golden records, but they were not read
    by this run, so the ledger does not count them and their source records are not rewritten.
    """
    partial = [x for x in extracted if x.partial and settings.source(x.source).activity is None]
    if engine is None or not partial:
        return pl.DataFrame()
    with Session(engine) as session:
        stored = crm_store.read_source_records(session, [x.source for x in partial], status="loaded")
    stored = stored.filter(pl.col("reason").ne_missing(ERASED_REASON))
    frames = []
    for item in partial:
        rows = stored.filter(pl.col("source") == item.source)
        if item.raw is not None and item.raw.height:
            rows = rows.join(item.raw.select(pl.col(SOURCE_KEY_COL).alias("source_key")), on="source_key", how="anti")
        if rows.height:
            frames.append(remap(settings, rows))
    if not frames:
        return pl.DataFrame()
    return pl.concat(frames, how="diagonal_relaxed").with_columns(pl.lit(True).alias(REHYDRATED_COL))


def stored_raw(rows: pl.DataFrame) -> pl.DataFrame:
    """Stored source rows of one source (``source``, ``source_key``, ``row_hash``, ``payload``) as the RAW rows its
    connector gave (all text, lineage columns)."""
    values = rows["payload"].str.json_decode(infer_schema_length=None).struct.unnest()
    return values.select(pl.all().cast(pl.String)).with_columns(
        pl.Series(SOURCE_COL, rows["source"]),
        pl.Series(SOURCE_KEY_COL, rows["source_key"]),
        pl.Series(ROW_HASH_COL, rows["row_hash"]),
        *(pl.lit(None, pl.String).alias(c) for c in (SKIP_REASON_COL, ERROR_CODE_COL, ERROR_DETAIL_COL)),
    )


def remap(settings: ProjectSettings, rows: pl.DataFrame) -> pl.DataFrame:
    """Stored customer rows of one source (``source``, ``source_key``, ``row_hash``, ``payload``) mapped again with
    the project's mapping and codes, as MAPPED rows: what :func:`rehydrate` and a steward's merge or unmerge
    rebuild golden records from."""
    source = settings.source(rows["source"][0])
    return apply_codes(apply_mapping(stored_raw(rows), source.mapping), source.codes)


def normalise(settings: ProjectSettings, candidates: pl.DataFrame) -> pl.DataFrame:
    """Normalise every canonical field of the candidate rows, each source with its own defaults."""
    groups: dict[tuple[str, str, str], list[str]] = {}
    for source in candidates[SOURCE_COL].unique(maintain_order=True).to_list() if candidates.height else []:
        d = settings.defaults_of(source)
        groups.setdefault((d.region, d.date_order, d.timezone), []).append(source)
    if len(groups) <= 1:
        d = settings.defaults if not groups else settings.defaults_of(next(iter(groups.values()))[0])
        return normalise_frame(candidates, region=d.region, date_order=d.date_order, tz=d.timezone)
    candidates = candidates.with_row_index("_order")
    parts = [
        normalise_frame(
            candidates.filter(pl.col(SOURCE_COL).is_in(sources)), region=region, date_order=order, tz=timezone
        )
        for (region, order, timezone), sources in groups.items()
    ]
    return pl.concat(parts, how="diagonal_relaxed").sort("_order").drop("_order")


@dataclass
class Validated:
    """Rows that passed validation, and every failure (connector and rule failures in one table)."""

    records: pl.DataFrame
    quarantined: pl.DataFrame
    failures: pl.DataFrame
    rule_results: list[Any]


def store_lengths() -> dict[str, int]:
    """Longest value each canonical field can keep in the store (phones and e-mails are contact points too)."""
    limits = crm_store.models.value_lengths()
    field_of = {store: field for field, store in STORE_NAMES.items()}
    out = {field_of.get(col, col): n for col, n in limits.items() if field_of.get(col, col) in CANONICAL_FIELDS}
    for kind in ("phone", "email"):
        out[kind] = min(out.get(kind, limits["contact_value"]), limits["contact_value"])
    return out


def with_store_lengths(rules: ValidationSettings, columns: list[str]) -> ValidationSettings:
    """The project's rules plus a length check for every mapped field the store keeps in a column of bounded
    length (unless the project bounds it itself): an overlong value quarantines its row with
    ``length_out_of_range`` instead of failing the whole load."""
    own = {e.column for e in rules.expectations if isinstance(e, LengthBetweenExpectation)} | set(rules.max_lengths)
    extra = {name: n for name, n in store_lengths().items() if name in columns and name not in own}
    return rules.model_copy(update={"max_lengths": {**rules.max_lengths, **extra}}) if extra else rules


def check(
    settings: ProjectSettings, stage: Stage, normalised: pl.DataFrame, previous: pl.DataFrame | None = None
) -> Validated:
    """Run the validation suite; rows with an error-severity failure go to quarantine.

    ``previous`` (normalised rehydrated rows, see :func:`rehydrate`) passed validation when they were loaded;
    they join the records to match without being validated again.
    """
    broken = stage.broken
    result = validate(normalised, with_store_lengths(settings.rules, normalised.columns), raw=stage.candidates)
    failures = pl.concat([connector_failures(broken), result.failures], how="diagonal_relaxed")
    mask = result.quarantined
    records = normalised.filter(~mask)
    if previous is not None and previous.height:
        records = pl.concat([records, previous], how="diagonal_relaxed")
    records = records.with_row_index("_rid").with_columns(pl.col("_rid").cast(pl.Int64))
    quarantined = pl.concat([broken, normalised.filter(mask)], how="diagonal_relaxed")
    return Validated(records, quarantined, failures, result.rule_results)


@dataclass
class Golden:
    """Clusters, golden records and where each golden field came from."""

    records: pl.DataFrame  # loaded rows with ``cluster`` and ``customer_id``
    pairs: pl.DataFrame
    customers: pl.DataFrame
    provenance: pl.DataFrame
    review: pl.DataFrame  # possible matches: scored between the review threshold and the threshold, or refused
    model: MatchModel
    incremental: bool = False  # only new records were matched; stored ones kept their customers
    blocking: pl.DataFrame = field(default_factory=pl.DataFrame)  # rule, estimated_pairs, pairs, recall
    blocking_recall: float | None = None
    decided: Decided | None = None  # stewards' decisions on this run's pairs (see pipelines._review)


def resolve(
    settings: ProjectSettings,
    records: pl.DataFrame,
    existing: pl.DataFrame | None,
    model_json: str | None = None,
    decisions: pl.DataFrame | None = None,
) -> Golden:
    """Match the records into clusters and build one golden record per cluster.

    In an incremental run (records rebuilt from the store are present) with the model of an earlier run, only
    pairs involving a new record are scored and the stored customers keep their members; otherwise every record
    is matched and a model is trained on them.

    ``decisions`` (the store's, ``crm_store.read_decisions``) that still bind are honoured as must-link /
    cannot-link constraints and, in a full run, used as labelled pairs when training.
    """
    decided = decided_pairs(decisions, records)
    result = _match_incremental(settings, records, existing, model_json, decided)
    incremental = result is not None
    if result is None:
        if decided is None:
            result = match(records, settings.match)
        else:
            result = match(records, settings.match, labels=decided.labels, constraints=decided.constraints)
    survived = survivors(settings, records, result.clusters)
    ids = customer_ids(result.clusters, records, existing)
    records = records.join(result.clusters, on="_rid").join(ids, on="cluster")
    customers = survived.golden.join(ids, on="cluster")
    provenance = survived.provenance.join(ids, on="cluster")
    return Golden(
        records,
        result.pairs,
        customers,
        provenance,
        result.review,
        result.model,
        incremental,
        result.blocking,
        result.blocking_recall,
        decided,
    )


def survivors(settings: ProjectSettings, records: pl.DataFrame, clusters: pl.DataFrame) -> SurvivorResult:
    """One golden record per cluster of normalised ``records`` (``_rid`` -> ``cluster``), with the project's source
    facts (``as_of``, ``priority``), landlines, UTC contact times and survivorship order; a run and a steward's
    merge or unmerge build golden records alike through it."""
    prepared = records.with_columns(
        pl.when(pl.col("attributes") == "{}").then(None).otherwise(pl.col("attributes")).alias("attributes"),
        *_source_facts(settings),
    )
    if "phones" in prepared.columns:
        prepared = prepared.with_columns(landline_of(prepared["phones"]))
    if "last_contact_at" in prepared.columns:  # the store keeps UTC: each source's wall time from its own zone
        prepared = prepared.with_columns(_in_utc(settings, "last_contact_at"))
    fields = [f for f in GOLDEN_FIELDS if f in prepared.columns]
    return survive(prepared, clusters, fields, settings.survivorship)


def _in_utc(settings: ProjectSettings, column: str) -> pl.Expr:
    """``column`` (wall time in each row's source's time zone) as UTC text."""
    zones = {s.name: settings.defaults_of(s.name).timezone for s in settings.sources}
    source = pl.col(SOURCE_COL).cast(pl.String)
    converted = pl.lit(None, pl.String)
    for tz in sorted(set(zones.values())):
        names = [name for name, zone in zones.items() if zone == tz]
        converted = pl.when(source.is_in(names)).then(wall_time_to_utc(pl.col(column), tz)).otherwise(converted)
    return converted.alias(column)


def _source_facts(settings: ProjectSettings) -> list[pl.Expr]:
    """``_as_of`` and ``_priority`` of each row from its source's settings, for survivorship."""
    as_of = {s.name: s.as_of.isoformat() for s in settings.sources if s.as_of is not None}
    priority = {s.name: s.priority for s in settings.sources if s.priority}
    source = pl.col(SOURCE_COL).cast(pl.String)
    return [
        source.replace_strict(as_of, default=None, return_dtype=pl.String).alias("_as_of"),
        source.replace_strict(priority, default=0, return_dtype=pl.Int64).alias("_priority"),
    ]


def _match_incremental(
    settings: ProjectSettings,
    records: pl.DataFrame,
    existing: pl.DataFrame | None,
    model_json: str | None,
    decided: Decided | None = None,
) -> MatchResult | None:
    """``match_incremental`` of the new records against the rebuilt ones, or None when a full match is needed."""
    if model_json is None or existing is None or REHYDRATED_COL not in records.columns:
        return None
    if unsatisfied(decided, records, existing):
        log.info("steward decisions change stored customers; matching every record again")
        return None
    old = records.filter(pl.col(REHYDRATED_COL).is_not_null())
    new = records.filter(pl.col(REHYDRATED_COL).is_null())
    if not old.height:
        return None
    try:
        model = MatchModel.from_json(model_json)
    except (ValueError, KeyError, TypeError):
        log.warning("the saved match model cannot be read; matching every record again")
        return None
    clusters = (
        old.select("_rid", SOURCE_COL, SOURCE_KEY_COL)
        .join(existing, on=[SOURCE_COL, SOURCE_KEY_COL], how="left")
        .select(
            "_rid",
            pl.when(pl.col("customer_id").is_null())
            .then(pl.col("_rid"))
            .otherwise(pl.col("_rid").min().over("customer_id"))
            .alias("cluster"),
        )
    )
    try:
        constraints = decided.constraints if decided is not None else None
        return match_incremental(new, old, clusters, settings.match, model, constraints=constraints)
    except ValueError as exc:  # e.g. the comparisons changed since the model was trained
        log.warning("incremental matching is not possible (%s); matching every record again", exc)
        return None


#: Columns of linked activity rows (prepare_activities + customer_id), for runs without child sources.
_ACTIVITY_SCHEMA = {
    **dict.fromkeys((SOURCE_COL, SOURCE_KEY_COL, ROW_HASH_COL, PAYLOAD_COL, "attributes"), pl.String),
    **dict.fromkeys(("_parent_key", "kind", "occurred_at", "summary", "customer_id"), pl.String),
}


def link(
    settings: ProjectSettings,
    stage: Stage,
    validated: Validated,
    golden: Golden,
    existing: pl.DataFrame | None,
) -> tuple[pl.DataFrame, Validated]:
    """Attach child rows to the customers their parent rows became; orphans join the quarantine.

    Returns:
        The linked activities and the validation outcome with the orphans added to it.
    """
    if not stage.activities.height:
        return pl.DataFrame(schema=_ACTIVITY_SCHEMA), validated
    parents = pl.concat(
        [
            golden.records.select(SOURCE_COL, SOURCE_KEY_COL, "customer_id"),
            *([existing] if existing is not None else []),
        ]
    ).unique([SOURCE_COL, SOURCE_KEY_COL], keep="first")
    linked, failures, orphans = [], [validated.failures], [validated.quarantined]
    for (name,), rows in stage.activities.group_by(SOURCE_COL, maintain_order=True):
        spec = settings.source(str(name)).activity
        assert spec is not None  # only activity sources produce activity rows
        ok, orphan_failures = link_activities(
            rows, parents, parent_source=spec.parent, parent_key_column=spec.parent_key
        )
        linked.append(ok)
        failures.append(orphan_failures)
        orphans.append(rows.join(ok.select(SOURCE_COL, SOURCE_KEY_COL), on=[SOURCE_COL, SOURCE_KEY_COL], how="anti"))
    validated = Validated(
        validated.records,
        pl.concat(orphans, how="diagonal_relaxed"),
        pl.concat(failures, how="diagonal_relaxed"),
        validated.rule_results,
    )
    return pl.concat(linked, how="diagonal_relaxed"), validated


def load(
    engine: sa.Engine,
    run_id: str,
    tables: dict[str, pl.DataFrame],
    baselines: dict[str, list[str]],
    cursors: dict[str, str],
    model_json: str,
) -> dict[str, Any]:
    """Write the run's tables into the store in one transaction: keyed upserts, so a re-run changes nothing.

    ``baselines`` (source → columns read) become the schema-drift baselines of the next run; ``cursors``
    (incremental sources) are saved in the same transaction, so a run killed half way moves no cursor;
    ``model_json`` is the match model, kept with the run for later incremental runs.
    """
    now = datetime.now(UTC).replace(tzinfo=None)
    customers = tables["customer"]
    with Session(engine) as session, session.begin():
        counts = {
            "source_record": crm_store.upsert_source_records(session, tables["source_record"]),
            "customer": crm_store.upsert_customers(session, customers, now=now),
        }
        crm_store.replace_customer_details(
            session,
            customers["customer_id"].to_list(),
            tables["contact_point"],
            tables["address"],
            tables["field_provenance"],
        )
        crm_store.upsert_crosswalk(session, tables["crosswalk"])
        crm_store.upsert_activities(session, tables["activity"])
        crm_store.upsert_quarantine(session, tables["quarantine"])
        lifecycle = crm_store.retire_customers(session, tables["lineage"], now=now)
        merges = crm_store.record_merge_events(session, run_id, tables["merge_event"])
        for source, columns in baselines.items():
            crm_store.save_source_columns(session, source, columns, run_id)
        for source, cursor in cursors.items():
            if crm_store.read_cursor(session, source) != cursor:
                crm_store.save_cursor(session, source, cursor)
        crm_store.save_match_model(session, run_id, model_json)
        if "review_item" in tables:
            crm_store.upsert_review_items(
                session, tables["review_item"], run_id=run_id, now=now, scope=tables.get("review_scope")
            )
        # last in the transaction: the audit chain's head stays locked until the commit
        crm_store.record_run_merges(session, run_id, merges.inserted, lifecycle, now=now)
    return counts


def store_frames(
    run_id: str,
    stage: Stage,
    validated: Validated,
    golden: Golden,
    activities: pl.DataFrame,
    existing: pl.DataFrame | None = None,
) -> dict[str, pl.DataFrame]:
    """Shape the run's frames into the store's tables (no business rule here: only renames and joins)."""
    records = golden.records
    key = [SOURCE_COL, SOURCE_KEY_COL]

    reasons = (
        validated.failures.filter(pl.col("severity") == "error")
        .group_by(["source", "source_key"], maintain_order=True)
        .agg(
            pl.col("code").unique(maintain_order=True).alias("reasons"),
            pl.struct("rule", "code", "column", "value_masked", "message").alias("details"),
        )
        .rename({"source": SOURCE_COL, "source_key": SOURCE_KEY_COL})
    )
    outcome_cols = [*key, ROW_HASH_COL, PAYLOAD_COL]
    source_record = pl.concat(
        [
            pl.concat([read_this_run(records).select(*outcome_cols), activities.select(*outcome_cols)]).with_columns(
                pl.lit("loaded").alias("status"), pl.lit(None, pl.String).alias("reason")
            ),
            validated.quarantined.select(*outcome_cols)
            .join(reasons.select(*key, "reasons"), on=key, how="left")
            .select(
                *outcome_cols,
                pl.lit("quarantined").alias("status"),
                pl.col("reasons").list.join(",").alias("reason"),
            ),
            stage.skipped.select(
                *outcome_cols, pl.lit("skipped").alias("status"), pl.col(SKIP_REASON_COL).alias("reason")
            ),
        ],
        how="vertical_relaxed",
    ).rename({SOURCE_COL: "source", SOURCE_KEY_COL: "source_key", ROW_HASH_COL: "row_hash", PAYLOAD_COL: "payload"})
    source_record = source_record.with_columns(pl.lit(run_id).alias("run_id"))

    golden_tables = customer_frames(records, golden.customers, golden.provenance, activities)

    best = _best_pair_per_row(records, golden.pairs)
    # an incremental match leaves stored rows with their customer and evidence: rewrite only this run's rows
    linked_rows = _relinked(records, existing) if golden.incremental else records
    crosswalk = (
        linked_rows.select("_rid", *key, "customer_id")
        .join(best, on="_rid", how="left")
        .select(
            pl.col(SOURCE_COL).alias("source"),
            pl.col(SOURCE_KEY_COL).alias("source_key"),
            "customer_id",
            "match_probability",
            "evidence",
            pl.lit(run_id).alias("run_id"),
        )
    )
    quarantine = (
        validated.quarantined.select(*key)
        .join(reasons, on=key, how="left")
        .select(
            pl.col(SOURCE_COL).alias("source"),
            pl.col(SOURCE_KEY_COL).alias("source_key"),
            "reasons",
            "details",
            pl.lit(run_id).alias("run_id"),
        )
    )
    members = records.group_by("customer_id").agg(
        pl.len().alias("size"),
        pl.concat_str([pl.col(SOURCE_COL), pl.col(SOURCE_KEY_COL)], separator=":").sort().alias("members"),
        pl.col("_rid"),
    )
    merge_event = (
        members.filter(pl.col("size") > 1)
        .join(_cluster_evidence(records, golden.pairs), on="customer_id", how="left")
        .select("customer_id", "members", "evidence")
    )
    activity = activities.select(
        pl.col(SOURCE_COL).alias("source"),
        pl.col(SOURCE_KEY_COL).alias("source_key"),
        "customer_id",
        "kind",
        "occurred_at",
        "summary",
        pl.col("attributes").alias("details"),
    )
    return {
        "activity": activity,
        "source_record": source_record,
        **golden_tables,
        "crosswalk": crosswalk,
        "quarantine": quarantine,
        "merge_event": merge_event,
        "lineage": id_lineage(existing, records.select(*key, "customer_id")),
        "review_item": review_items(golden.review, golden.pairs, records, golden.model, golden.decided),
        **({"review_scope": scope} if (scope := review_scope(records, golden.incremental)) is not None else {}),
    }


def customer_frames(
    records: pl.DataFrame, customers: pl.DataFrame, provenance: pl.DataFrame, activities: pl.DataFrame
) -> dict[str, pl.DataFrame]:
    """The store's ``customer``, ``contact_point``, ``address`` and ``field_provenance`` rows of golden records.

    Args:
        records: the customers' rows (lineage, normalised fields, ``customer_id``).
        customers: ``cluster``, ``customer_id`` and the golden fields (see :func:`survivors`).
        provenance: the golden fields' provenance with ``customer_id``.
        activities: linked activities (``customer_id``, ``occurred_at``): the latest raises ``last_contact_at``.
    """
    customer = customers.rename({k: v for k, v in STORE_NAMES.items() if k in customers.columns})
    customer = customer.with_columns(
        pl.when(pl.col("full_name").is_not_null() if "full_name" in customer.columns else pl.lit(False))
        .then(pl.lit("person"))
        .otherwise(pl.lit("organisation"))
        .alias("kind")
    ).drop("cluster")
    field_provenance = provenance.select(
        "customer_id",
        "field",
        "value",
        pl.col(SOURCE_COL).alias("source"),
        pl.col(SOURCE_KEY_COL).alias("source_key"),
        "rule",
    ).with_columns(pl.col("field").replace(STORE_NAMES))
    return {
        "customer": _with_last_contact(customer, activities),
        "contact_point": _contact_points(records),
        "address": _addresses(records),
        "field_provenance": field_provenance,
    }


def _relinked(records: pl.DataFrame, existing: pl.DataFrame | None) -> pl.DataFrame:
    """The rows an incremental run links: those it read, and rebuilt rows whose customer changed (a re-read row or
    a steward's decision merged their customer into another)."""
    key = [SOURCE_COL, SOURCE_KEY_COL]
    read = read_this_run(records)
    if existing is None or REHYDRATED_COL not in records.columns:
        return read
    moved = (
        records.filter(pl.col(REHYDRATED_COL).is_not_null())
        .join(existing.rename({"customer_id": "_was"}), on=key, how="left")
        .filter(pl.col("_was").is_null() | (pl.col("_was") != pl.col("customer_id")))
        .drop("_was")
    )
    return pl.concat([read, moved], how="diagonal_relaxed") if moved.height else read


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


def _contact_points(records: pl.DataFrame) -> pl.DataFrame:
    parts = []
    base = [
        pl.col("customer_id"),
        pl.col(SOURCE_COL).alias("source"),
        pl.col(SOURCE_KEY_COL).alias("source_key"),
    ]
    if "phones" in records.columns:
        parts.append(
            records.select(*base, pl.col("phones").alias("value"))
            .explode("value")
            .with_columns(pl.lit("phone").alias("kind"))
        )
    for column in ("email", "wechat"):
        if column in records.columns:
            parts.append(records.select(*base, pl.col(column).alias("value"), pl.lit(column).alias("kind")))
    if not parts:
        return pl.DataFrame(schema={"customer_id": pl.String, "kind": pl.String, "value": pl.String})
    return (
        pl.concat([p.select("customer_id", "kind", "value", "source", "source_key") for p in parts])
        .filter(pl.col("value").is_not_null())
        .sort("customer_id", "kind", "value", "source", "source_key")
        .unique(["customer_id", "kind", "value"], keep="first", maintain_order=True)
        .with_columns(pl.lit(True).alias("valid"))
    )


#: Store address columns, from the address normaliser's parts (``address`` is the normalised whole address).
_ADDRESS_FIELDS = ("province", "city", "district", "street", "admin_code", "postcode", "country")


def _addresses(records: pl.DataFrame) -> pl.DataFrame:
    present = [c for c in (*_ADDRESS_FIELDS, "address") if c in records.columns]
    columns = [pl.col(c) if c in records.columns else pl.lit(None, pl.String).alias(c) for c in _ADDRESS_FIELDS]
    raw = pl.col("address") if "address" in records.columns else pl.lit(None, pl.String)
    frame = records.select(
        "customer_id",
        pl.col(SOURCE_COL).alias("source"),
        pl.col(SOURCE_KEY_COL).alias("source_key"),
        *columns,
        raw.alias("raw"),
    )
    return frame.filter(
        pl.any_horizontal(pl.lit(False), *(pl.col(c).is_not_null() for c in present if c in frame.columns))
    )


def _pair_rows(records: pl.DataFrame, pairs: pl.DataFrame) -> pl.DataFrame:
    """Each scored pair inside one cluster, seen from both of its rows."""
    if pairs.is_empty():
        return pl.DataFrame(schema={"_rid": pl.Int64, "other": pl.Int64, "score": pl.Float64})
    cluster = records.select("_rid", "customer_id")
    inside = (
        pairs.select(pl.col("left").cast(pl.Int64), pl.col("right").cast(pl.Int64), pl.col("score").cast(pl.Float64))
        .join(cluster.rename({"_rid": "left", "customer_id": "c1"}), on="left")
        .join(cluster.rename({"_rid": "right", "customer_id": "c2"}), on="right")
        .filter(pl.col("c1") == pl.col("c2"))
    )
    return pl.concat(
        [
            inside.select(pl.col("left").alias("_rid"), pl.col("right").alias("other"), "score"),
            inside.select(pl.col("right").alias("_rid"), pl.col("left").alias("other"), "score"),
        ]
    )


def _best_pair_per_row(records: pl.DataFrame, pairs: pl.DataFrame) -> pl.DataFrame:
    keys = records.select(
        pl.col("_rid").alias("other"),
        pl.concat_str([SOURCE_COL, SOURCE_KEY_COL], separator=":").alias("with"),
    )
    return (
        _pair_rows(records, pairs)
        .sort(["_rid", "score", "other"], descending=[False, True, False])
        .unique("_rid", keep="first", maintain_order=True)
        .join(keys, on="other", how="left")
        .select(
            "_rid",
            pl.col("score").round(4).alias("match_probability"),
            pl.struct(pl.col("with"), pl.col("score").round(4)).struct.json_encode().alias("evidence"),
        )
    )


def _cluster_evidence(records: pl.DataFrame, pairs: pl.DataFrame) -> pl.DataFrame:
    keys = records.select("_rid", pl.concat_str([SOURCE_COL, SOURCE_KEY_COL], separator=":").alias("k"))
    rows = _pair_rows(records, pairs).filter(pl.col("_rid") < pl.col("other"))
    return (
        rows.join(keys, on="_rid")
        .join(keys.rename({"_rid": "other", "k": "k2"}), on="other")
        .join(records.select("_rid", "customer_id"), on="_rid")
        .group_by("customer_id")
        .agg(pl.struct(pl.col("k").alias("a"), pl.col("k2").alias("b"), pl.col("score").round(4)).alias("evidence"))
    )


# --------------------------------------------------------------------------------------------------- the flow


class _Steps:
    """Runs each step, as a Prefect task inside a flow run (plainly otherwise), timing it and emitting events."""

    def __init__(self) -> None:
        self.timings: list[dict[str, Any]] = []
        #: the step that raised, if one did
        self.failed: str | None = None

    def __call__(self, name: str, fn: Callable[..., T], *args: Any, rows: Callable[[T], int] | None = None) -> T:
        from prefect.context import FlowRunContext

        emit(StepEvent(name, "start"))
        started = time.perf_counter()
        try:
            if FlowRunContext.get() is not None:
                result = task(redacting(fn), name=name, cache_policy=NO_CACHE)(*args)
            else:
                result = fn(*args)
        except Exception as exc:
            self.failed = name
            emit(StepEvent(name, "failed", time.perf_counter() - started, detail=redact_secrets(str(exc)) or ""))
            raise
        seconds = time.perf_counter() - started
        count = rows(result) if rows else None
        self.timings.append({"step": name, "seconds": round(seconds, 4), "rows": count})
        emit(StepEvent(name, "done", seconds, count))
        return result


def _versions() -> dict[str, str]:
    names = [
        "crmkit",
        "polars",
        "pandas",
        "great-expectations",
        "prefect",
        "sqlalchemy",
        "rapidfuzz",
        "phonenumbers",
    ]
    found = {"python": platform.python_version()}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def _saved_model(engine: sa.Engine | None) -> str | None:
    if engine is None:
        return None
    with Session(engine) as session:
        return crm_store.read_match_model(session)


def _saved_cursors(engine: sa.Engine, settings: ProjectSettings) -> dict[str, str | None]:
    with Session(engine) as session:
        return {s.name: crm_store.read_cursor(session, s.name) for s in settings.sources if s.incremental}


def _existing_ids(engine: sa.Engine | None) -> pl.DataFrame | None:
    if engine is None:
        return None
    with Session(engine) as session:
        return crm_store.read_crosswalk(session).select(
            pl.col("source").alias(SOURCE_COL), pl.col("source_key").alias(SOURCE_KEY_COL), "customer_id"
        )


@dataclass
class _Run:
    """One run as it goes: what it has produced so far, so that whatever way it ends, its status, ledger and
    report say how far it got."""

    settings: ProjectSettings
    run_id: str
    dry_run: bool
    engine: sa.Engine | None
    lock: crm_store.HeldLock | None
    steps: _Steps = field(default_factory=_Steps)
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    recorded: bool = False  # its pipeline_run row exists
    extracted: list[Extracted] | None = None
    ledger: list[dict[str, Any]] | None = None
    report: dict[str, Any] | None = None
    report_path: Path | None = None
    matching: dict[str, Any] = field(default_factory=dict)
    status: RunStatus | Literal["running"] = "running"
    error: str | None = None

    def info(self) -> dict[str, Any]:
        """The report's ``run`` section."""
        return {
            "run_id": self.run_id,
            "project": self.settings.project,
            "started_at": self.started_at.isoformat(timespec="seconds"),
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "dry_run": self.dry_run,
            "status": self.status,
            "error": self.error,
            "config_hash": self.settings.config_hash,
            "store": sa.make_url(self.settings.store_url).render_as_string(hide_password=True),
            "versions": _versions(),
            "timings": self.steps.timings,
        }

    def result(self) -> MigrateResult:
        ledger = self.ledger or []
        totals = self.report["totals"] if self.report else {**ledger_totals(ledger), "customers": 0}
        status = "failed" if self.status == "running" else self.status
        return MigrateResult(
            self.run_id,
            status,
            self.dry_run,
            ledger,
            self.report_path,
            totals,
            self.steps.timings,
            self.matching,
            self.error,
        )


def run_steps(settings: ProjectSettings, run_id: str, dry_run: bool, full_refresh: bool = False) -> MigrateResult:
    """The whole run as a sequence of steps (Prefect tasks when called inside ``migrate_flow``).

    A run that writes the store holds the store's run lock from start to end (a dry run never opens the store, so
    it needs none); taking it closes out runs whose process is gone. Whatever way the run ends it has a status
    (``succeeded``, ``partial``: a source failed or too many rows were quarantined, ``failed``), recorded in
    ``pipeline_run`` with its error, and the ledger and report of as far as it got.

    Raises:
        crm_store.RunLockedError: another run holds the store; nothing was run or recorded.
    """
    engine = None if dry_run else crm_store.init_store(settings.store_url)
    try:
        lock = lock_store(settings, engine, run_id)
    except BaseException:
        if engine is not None:
            engine.dispose()
        raise
    run = _Run(settings, run_id, dry_run, engine, lock)
    try:
        if engine is not None:
            with Session(engine) as session, session.begin():
                crm_store.start_run(session, run_id, settings.project, settings.config_hash, dry_run, _versions())
            run.recorded = True
        try:
            _run_all(run, full_refresh)
        except Exception as exc:
            log.debug("run %s failed", run_id, exc_info=True)
            _stop(run, _failure(run.steps.failed, exc))
        except BaseException as exc:  # Ctrl-C, or SIGTERM (Prefect's TerminationSignal inside a flow)
            _stop(run, f"interrupted ({type(exc).__name__}) before it finished")
            raise
    finally:
        _finish(run)
    return run.result()


def lock_store(settings: ProjectSettings, engine: sa.Engine | None, run_id: str) -> crm_store.HeldLock | None:
    """Take the store's run lock (no lock without a store), logging the runs it closed out as abandoned; the
    clean flow takes it the same way."""
    if engine is None:
        return None
    lock = crm_store.acquire_run_lock(
        engine,
        run_id,
        wait_seconds=settings.run.lock_wait_seconds,
        stale_after_seconds=settings.run.stale_lock_seconds,
    )
    for closed, reason in lock.closed:
        log.warning("run %s was still marked running and is now failed: %s", closed, reason)
    return lock


def _run_all(run: _Run, full_refresh: bool) -> None:
    """Every step, then the ledger, the run's status and the report."""
    settings, engine, step = run.settings, run.engine, run.steps
    cursors = {} if full_refresh or engine is None else _saved_cursors(engine, settings)
    run.extracted = extracted = step(
        "extract", extract, settings, cursors, rows=lambda r: sum(x.raw.height for x in r if x.raw is not None)
    )
    if extracted and all(item.error for item in extracted):  # nothing to match or load: say so, not a crash
        _stop(run, f"every source failed: {', '.join(item.source for item in extracted)} (the ledger says why)")
        return
    extracted = check_drift(settings, extracted, engine)
    stage = step("map", map_rows, settings, extracted, _erased_keys(engine), rows=lambda s: s.candidates.height)
    previous = rehydrate(settings, extracted, engine)
    normalised = step("normalise", normalise, settings, stage.candidates, rows=len)
    previous = normalise(settings, previous) if previous.height else None
    validated = step("validate", check, settings, stage, normalised, previous, rows=lambda v: v.records.height)
    existing = _existing_ids(engine)
    golden = step(
        "match+survive",
        resolve,
        settings,
        validated.records,
        existing,
        _saved_model(engine),
        read_decisions(engine),
        rows=lambda g: g.customers.height,
    )
    activities, validated = step("link", link, settings, stage, validated, golden, existing, rows=lambda r: r[0].height)
    tables = store_frames(run.run_id, stage, validated, golden, activities, existing)
    if engine is not None:
        if run.lock is not None:
            run.lock.check()  # never load without the lock
        baselines = {x.source: x.columns for x in extracted if x.raw is not None and x.raw.height}
        saved = {x.source: x.cursor for x in extracted if x.cursor is not None}
        step(
            "load",
            load,
            engine,
            run.run_id,
            tables,
            baselines,
            saved,
            golden.model.to_json(),
            rows=lambda _: tables["source_record"].height,
        )
    run.ledger = build_ledger(settings, extracted, stage, validated, golden, activities)
    run.status, error = run_status(run.ledger, settings.run.max_quarantine_share)
    run.error = mask_text(error)
    run.report = build_report(
        run=run.info(),
        ledger=run.ledger,
        stage=stage,
        normalised=normalised,
        validated=validated,
        golden=golden,
        crosswalk=tables["crosswalk"],
        extracted=extracted,
        activities=activities,
        mappings={source.name: source.mapping for source in settings.sources},
        match_settings=settings.match,
    )
    run.matching = run.report.get("matching") or {}
    run.report_path = step(
        "report", write_report, run.report, settings.reports_path, golden.model.to_json(), rows=lambda _: 1
    )


def _failure(step: str | None, exc: Exception) -> str:
    """One line saying where and why a run stopped (the error's own message when it names its problem)."""
    if isinstance(exc, SchemaDriftError | crm_store.RunLockLostError):
        return str(exc)
    where = f"step {step}" if step else "the run"
    # a database error's text would repeat the statement and its parameters (row values): keep the driver's message
    message = str(exc.orig) if isinstance(exc, sa.exc.DBAPIError) and exc.orig is not None else str(exc)
    return f"{where} failed: {type(exc).__name__}: {message}"


def _stop(run: _Run, error: str) -> None:
    """Mark the run failed and write the ledger and report of as far as it got (a report already written stays)."""
    run.status, run.error = "failed", mask_text(error)
    if run.ledger is None:
        run.ledger = unplaced_ledger(run.settings, run.extracted)
    if run.report is not None:
        run.report["run"].update(status=run.status, error=run.error)
    else:
        run.report = build_stopped_report(
            run=run.info(),
            ledger=run.ledger,
            extracted=run.extracted,
            mappings={source.name: source.mapping for source in run.settings.sources},
        )
    try:
        run.report_path = write_report(run.report, run.settings.reports_path)
    except Exception as exc:  # the last resort of a failed run: its status is still recorded
        log.warning("the report of failed run %s could not be written: %s", run.run_id, exc)


def _finish(run: _Run) -> None:
    """Record the run's end in ``pipeline_run`` (an interrupted run is ``failed``), release the lock and the store."""
    try:
        if run.engine is not None and run.recorded:
            status = "failed" if run.status == "running" else run.status
            error = run.error if run.status != "running" else "interrupted before it finished"
            with Session(run.engine) as session, session.begin():
                crm_store.finish_run(
                    session,
                    run.run_id,
                    status,
                    run.ledger,
                    str(run.report_path) if run.report_path else None,
                    error=error,
                )
    finally:
        if run.lock is not None:
            run.lock.release()
        if run.engine is not None:
            run.engine.dispose()


class RunFailedError(RuntimeError):
    """Raised inside ``migrate_flow`` so that Prefect records a failed run as failed; carries the run's result."""

    def __init__(self, result: MigrateResult) -> None:
        self.result = result
        super().__init__(f"run {result.run_id} failed: {result.error}")


@flow(name="migrate", validate_parameters=False)
def migrate_flow(
    config_path: str, dry_run: bool = False, run_id: str | None = None, full_refresh: bool = False
) -> MigrateResult:
    """Prefect flow: migrate every source of a project file into the canonical store and write the report.

    Raises:
        RunFailedError: the run failed (its ledger and report are written; ``migrate`` returns its result).
    """
    settings = load_settings(config_path)
    result = run_steps(settings, run_id or new_run_id(), dry_run, full_refresh)
    if result.status == "failed":
        raise RunFailedError(result)
    return result


def migrate(
    config_path: str | Path, *, dry_run: bool = False, run_id: str | None = None, full_refresh: bool = False
) -> MigrateResult:
    """Run the ``migrate`` flow (the Python API behind ``crmkit migrate``).

    Args:
        config_path: the YAML project file.
        dry_run: run every step and write the report, but not the store.
        run_id: an explicit run id (default: UTC time plus a random suffix).
        full_refresh: ignore the saved cursors of incremental sources and read everything again.

    Returns:
        The run's result, whatever its status (``succeeded``, ``partial`` or ``failed``).

    Raises:
        crm_store.RunLockedError: another run holds the store.
    """
    try:
        return migrate_flow(str(config_path), dry_run=dry_run, run_id=run_id, full_refresh=full_refresh)
    except RunFailedError as exc:
        return exc.result


def new_run_id() -> str:
    """A sortable, unique run id: UTC time plus a short random suffix."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]

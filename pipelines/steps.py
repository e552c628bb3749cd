"""The steps of a run: extract → map → normalise → validate → match+survive → link → load.

Each step is a plain function of the project settings and the previous steps' values (``pipelines.stages``), so it
is tested directly; ``pipelines.migrate`` runs them in order, as Prefect tasks inside its flow. A step never opens a
database session: the runner reads what the store holds in one session (:func:`saved_cursors`,
:func:`read_stored`) and hands :func:`load` the session of its transaction. Business rules live in ``rules``; a
step wires them to the project's settings.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import polars as pl
from sqlalchemy.orm import Session

import crm_store
from connectors import Capabilities, Connector, SourceError, capabilities, get_connector
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
from pipelines._review import decided_pairs, unsatisfied
from pipelines.errors import PipelineError
from pipelines.ledger import REHYDRATED_COL
from pipelines.progress import advance
from pipelines.settings import ProjectSettings, SourceSettings
from pipelines.stages import Decided, Extracted, Golden, Stage, Stored, Validated
from rules.activity import link_activities, prepare_activities, skip_children_of_skipped
from rules.custom_fields import CustomFieldResult, apply_custom_fields
from rules.drift import detect_drift
from rules.mapping import apply_codes, apply_mapping, mark_skipped
from rules.match import Engine, LocalEngine, MatchModel, MatchResult, match, match_incremental
from rules.normalise import landline_of, normalise_frame, wall_time_to_utc
from rules.survive import SurvivorResult, customer_ids, survive
from rules.validate import LengthBetweenExpectation, ValidationSettings, connector_failures, validate_in_chunks

__all__ = [
    "SchemaDriftError",
    "SourceRead",
    "check",
    "check_drift",
    "custom_fields",
    "extract",
    "file_fingerprint",
    "followed_activities",
    "keyed_id_hash",
    "link",
    "load",
    "map_rows",
    "normalise",
    "read_source",
    "read_stored",
    "rehydrate",
    "relink_activities",
    "remap",
    "resolve",
    "saved_cursors",
    "store_lengths",
    "stored_raw",
    "survivors",
    "with_store_lengths",
]

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------------- extract


def extract(settings: ProjectSettings, cursors: dict[str, str | None], engine: Engine | None = None) -> list[Extracted]:
    """Read every source; a source that cannot be read fails alone, with a message naming file and row.

    In this process (no ``engine``) the sources are read one after the other, with an ``extract`` progress event
    (:func:`pipelines.progress.advance`: rows read so far in all sources, total unknown) per batch a connector
    yields (a file connector yields a batch per block of rows or sheet). On an engine (a Dask cluster, unless the
    project file's ``engine.extract_on`` is ``driver``) every source is read by a task of its own, all at once,
    with a progress event per source read.

    Args:
        settings: the project.
        cursors: the saved cursor of each incremental source (empty for a full refresh).
        engine: where to read them (None: here).
    """
    started, read = time.perf_counter(), 0

    def batch_read(rows: int) -> None:
        nonlocal read
        read += rows
        advance("extract", read, seconds=time.perf_counter() - started)

    reads = [
        SourceRead(source, get_connector(source.kind), capabilities(source.kind), cursors.get(source.name))
        for source in settings.sources
    ]
    if engine is None or settings.engine.extract_on == "driver":
        results = [read_source(item, batch_read) for item in reads]
    else:
        results = engine.each(read_source, reads, done=lambda x: batch_read(x.raw.height if x.raw is not None else 0))
    for failed in (x for x in results if x.error):  # logged here, wherever it was read
        log.warning("source %s failed: %s", failed.source, failed.error)
    return results


@dataclass(frozen=True)
class SourceRead:
    """What reading one source takes, whichever process reads it: its settings, its connector and what the
    connector declared (handed over, not looked up, so that a connector registered at run time reads on a worker
    too), and its saved cursor."""

    source: SourceSettings
    connector: Connector
    can: Capabilities
    saved: str | None


def read_source(item: SourceRead, on_batch: Callable[[int], None] | None = None) -> Extracted:
    """One source's rows (an :class:`Extracted` with its error when it cannot be read); ``on_batch`` hears the
    rows of each batch as it comes."""
    source, can = item.source, item.can
    params = source.connector_params()
    saved = item.saved if source.incremental else None
    fingerprinted = source.incremental and can.incremental == "fingerprint"
    batches: list[pl.DataFrame] = []
    cursor: str | None
    try:
        if fingerprinted:
            cursor = file_fingerprint(Path(params.path))  # type: ignore[attr-defined]
            if cursor == saved:  # unchanged since the last run: nothing new to read
                return Extracted(source.name, source.kind, raw=pl.DataFrame(), cursor=cursor, partial=True)
            reader = item.connector(params, source=source.name)
        else:
            cursor = saved
            reader = item.connector(params, source=source.name, cursor=saved)
        for batch in reader:
            batches.append(batch)
            if on_batch is not None:
                on_batch(batch.height)
            if not fingerprinted:
                cursor = can.next_cursor(batch, params, cursor) if can.next_cursor else None
    except SourceError as exc:
        return Extracted(source.name, source.kind, error=str(exc))
    raw = pl.concat(batches, how="diagonal_relaxed") if batches else pl.DataFrame()
    columns = list(dict.fromkeys(c for b in batches for c in b.columns if not c.startswith("_")))
    partial = source.incremental and can.incremental == "cursor" and saved is not None
    return Extracted(source.name, source.kind, raw=raw, columns=columns, cursor=cursor, partial=partial)


def file_fingerprint(path: Path) -> str:
    """A file's cursor: size and sha256 of its bytes (a touched but unchanged file is still unchanged)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return f"{path.stat().st_size}:{digest.hexdigest()}"


class SchemaDriftError(PipelineError, RuntimeError):
    """A source marked ``strict`` changed its columns since the last successful run."""


def check_drift(
    settings: ProjectSettings, extracted: list[Extracted], baselines: dict[str, list[str] | None]
) -> list[Extracted]:
    """Compare the columns of each source in ``baselines`` (see :attr:`Stored.columns`; none in a dry run) with
    its last successful run, setting each one's ``drift``; a ``strict`` source with changes fails the run.

    Raises:
        SchemaDriftError: a strict source's columns changed.
    """
    for item in extracted:
        if item.source in baselines and item.raw is not None and item.raw.height:
            item.drift = detect_drift(baselines[item.source], item.columns, settings.source(item.source).mapping)
    strict = [i for i in extracted if i.drift and i.drift.changed and settings.source(i.source).strict]
    if strict:
        raise SchemaDriftError(
            "schema drift in strict source(s), nothing was loaded: "
            + " | ".join(f"{i.source}: {i.drift.describe()}" for i in strict if i.drift)
        )
    return extracted


# --------------------------------------------------------------------------------------------------- store reads


def saved_cursors(session: Session, settings: ProjectSettings) -> dict[str, str | None]:
    """The saved cursor of each incremental source (what :func:`extract` reads from)."""
    return {s.name: crm_store.read_cursor(session, s.name) for s in settings.sources if s.incremental}


def read_stored(session: Session, settings: ProjectSettings, extracted: list[Extracted]) -> Stored:
    """Everything the steps after :func:`extract` need from the store, read in the caller's session."""
    partial = [x.source for x in _partial(settings, extracted)]
    existing = crm_store.read_crosswalk(session).select(
        pl.col("source").alias(SOURCE_COL), pl.col("source_key").alias(SOURCE_KEY_COL), "customer_id"
    )
    return Stored(
        columns={x.source: crm_store.read_source_columns(session, x.source) for x in extracted if _read_rows(x)},
        erased=read_erased_keys(session),
        loaded=crm_store.read_source_records(session, partial, status="loaded") if partial else None,
        existing=existing,
        model_json=crm_store.read_match_model(session),
        decisions=crm_store.read_decisions(session),
    )


def _read_rows(item: Extracted) -> bool:
    return item.raw is not None and item.raw.height > 0


def _partial(settings: ProjectSettings, extracted: list[Extracted]) -> list[Extracted]:
    """The customer sources read only partially (what is new since their cursor): :func:`rehydrate` rebuilds the
    rest of their rows from the store."""
    return [x for x in extracted if x.partial and settings.source(x.source).activity is None]


# --------------------------------------------------------------------------------------------------- map


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


def rehydrate(settings: ProjectSettings, extracted: list[Extracted], loaded: pl.DataFrame | None) -> pl.DataFrame:
    """Rows that earlier runs loaded from sources read only partially now, rebuilt as MAPPED rows from their raw
    payloads (``loaded``: :attr:`Stored.loaded`), so new rows are matched against the customers already in the
    store.

    The rows are marked ``_rehydrated``: they are matched and survive into golden records, but they were not read
    by this run, so the ledger does not count them and their source records are not rewritten.
    """
    partial = _partial(settings, extracted)
    if loaded is None or not partial:
        return pl.DataFrame()
    stored = loaded.filter(pl.col("reason").ne_missing(ERASED_REASON))
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


# --------------------------------------------------------------------------------------------------- normalise


def normalise(settings: ProjectSettings, candidates: pl.DataFrame, engine: Engine | None = None) -> pl.DataFrame:
    """Normalise every canonical field of the candidate rows, each source with its own defaults (by slices of rows
    on ``engine``'s workers when given); with a key configured, ``id_hash`` becomes a keyed HMAC (see
    :func:`keyed_id_hash`)."""
    normalised = (engine or LocalEngine()).by_rows(partial(_normalise, settings), candidates)
    return keyed_id_hash(settings, normalised)


def keyed_id_hash(settings: ProjectSettings, frame: pl.DataFrame) -> pl.DataFrame:
    """``id_hash`` as an HMAC under the project's key (``crm_store.crypto``) instead of the rules' salted
    SHA-256, whose salt is public: without the key, nobody can test a guessed ID number against it. Equal
    numbers still give equal hashes, so exact matching works as before. No key: the frame as it is."""
    keyring = settings.keyring() if "id_hash" in frame.columns else None
    if keyring is None:
        return frame
    hashes = frame["id_hash"].unique().drop_nulls().to_list()
    keyed = {h: keyring.hmac(h, "id_hash") for h in hashes}
    return frame.with_columns(pl.col("id_hash").replace_strict(keyed, default=None, return_dtype=pl.String))


def _normalise(settings: ProjectSettings, candidates: pl.DataFrame) -> pl.DataFrame:
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


# --------------------------------------------------------------------------------------------------- validate


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


#: Rows validated at a time: the validate step reports its progress per chunk.
VALIDATE_CHUNK_ROWS = 50_000


def check(
    settings: ProjectSettings,
    stage: Stage,
    normalised: pl.DataFrame,
    previous: pl.DataFrame | None = None,
    *,
    chunk_rows: int = VALIDATE_CHUNK_ROWS,
) -> Validated:
    """Run the validation suite; rows with an error-severity failure go to quarantine.

    ``previous`` (normalised rehydrated rows, see :func:`rehydrate`) passed validation when they were loaded;
    they join the records to match without being validated again. The rows are validated ``chunk_rows`` at a time
    (the same result as all at once), with a ``validate`` progress event per chunk.
    """
    broken = stage.broken
    started = time.perf_counter()

    def chunk_done(done: int, total: int) -> None:
        advance("validate", done, total, seconds=time.perf_counter() - started)

    rules = with_store_lengths(settings.rules, normalised.columns)
    result = validate_in_chunks(normalised, rules, raw=stage.candidates, chunk_rows=chunk_rows, progress=chunk_done)
    custom = custom_fields(settings, normalised)  # its typed attributes are made again by survivors()
    failures = pl.concat([connector_failures(broken), result.failures, custom.failures], how="diagonal_relaxed")
    mask = result.quarantined.cast(pl.Boolean) | custom.quarantined.cast(pl.Boolean)  # an empty batch: no dtype
    records = normalised.filter(~mask)
    if previous is not None and previous.height:
        records = pl.concat([records, previous], how="diagonal_relaxed")
    records = records.with_row_index("_rid").with_columns(pl.col("_rid").cast(pl.Int64))
    quarantined = pl.concat([broken, normalised.filter(mask)], how="diagonal_relaxed")
    return Validated(records, quarantined, failures, [*result.rule_results, *custom.rule_results])


def custom_fields(settings: ProjectSettings, rows: pl.DataFrame) -> CustomFieldResult:
    """The project's custom fields of ``rows`` (``rules.custom_fields``): typed ``attributes``, failures and the
    rows to quarantine; dates read in each source's own ``date_order``."""
    orders = {s.name: settings.defaults_of(s.name).date_order for s in settings.sources}
    return apply_custom_fields(rows, settings.custom_fields, date_order=orders)


# --------------------------------------------------------------------------------------------------- match+survive


def resolve(
    settings: ProjectSettings,
    records: pl.DataFrame,
    existing: pl.DataFrame | None,
    model_json: str | None = None,
    decisions: pl.DataFrame | None = None,
    engine: Engine | None = None,
) -> Golden:
    """Match the records into clusters and build one golden record per cluster.

    In an incremental run (records rebuilt from the store are present) with the model of an earlier run, only
    pairs involving a new record are scored and the stored customers keep their members; otherwise every record
    is matched and a model is trained on them.

    ``engine``: where a full run's pairs are found and compared (default this process; see
    ``pipelines.dask_engine``).

    ``decisions`` (the store's, ``crm_store.read_decisions``) that still bind are honoured as must-link /
    cannot-link constraints and, in a full run, used as labelled pairs when training.
    """
    decided = decided_pairs(decisions, records)
    result = _match_incremental(settings, records, existing, model_json, decided)
    incremental = result is not None
    if result is None:
        if decided is None:
            result = match(records, settings.match, engine=engine)
        else:
            result = match(
                records, settings.match, labels=decided.labels, constraints=decided.constraints, engine=engine
            )
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
        result.candidates,
    )


def survivors(settings: ProjectSettings, records: pl.DataFrame, clusters: pl.DataFrame) -> SurvivorResult:
    """One golden record per cluster of normalised ``records`` (``_rid`` -> ``cluster``), with the project's source
    facts (``as_of``, ``priority``), landlines, UTC contact times and survivorship order; a run and a steward's
    merge or unmerge build golden records alike through it."""
    typed = custom_fields(settings, records).attributes if settings.custom_fields else pl.col("attributes")
    prepared = records.with_columns(typed.alias("attributes")).with_columns(
        pl.when(pl.col("attributes") == "{}").then(None).otherwise(pl.col("attributes")).alias("attributes"),
        *_source_facts(settings),
    )
    if "phones" in prepared.columns:
        prepared = prepared.with_columns(landline_of(prepared["phones"]))
    if "last_contact_at" in prepared.columns:  # the store keeps UTC: each source's wall time from its own zone
        prepared = prepared.with_columns(_in_utc(settings, "last_contact_at"))
    fields: list[str] = [f for f in GOLDEN_FIELDS if f in prepared.columns]
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


# --------------------------------------------------------------------------------------------------- link


def relink_activities(settings: ProjectSettings, rows: pl.DataFrame, parents: pl.DataFrame) -> pl.DataFrame:
    """Stored activities (``rows``: ``source``, ``source_key``, ``payload``) linked as a run links them, to the
    customers their parent rows are in now (``parents``: ``_source``, ``_source_key``, ``customer_id``), as the
    store's ``activity`` rows (``occurred_at`` in UTC); an activity whose parent row is not among them is left out
    (it stays as it is)."""
    schema = {
        "source": pl.String,
        "source_key": pl.String,
        "customer_id": pl.String,
        "kind": pl.String,
        "occurred_at": pl.String,
        "summary": pl.String,
        "details": pl.String,
    }
    frames = []
    stored = rows.select("source", "source_key", "payload").with_columns(pl.lit(None, pl.String).alias("row_hash"))
    for (source,), group in stored.group_by("source", maintain_order=True):
        try:
            spec = settings.source(str(source)).activity
        except KeyError:
            continue
        if spec is None:
            continue
        tz = settings.defaults_of(str(source)).timezone
        prepared = prepare_activities(stored_raw(group), spec, tz=tz)
        prepared = prepared.with_columns(wall_time_to_utc(pl.col("occurred_at"), tz))
        linked, _ = link_activities(prepared, parents, parent_source=spec.parent, parent_key_column=spec.parent_key)
        frames.append(
            linked.select(
                pl.col(SOURCE_COL).alias("source"),
                pl.col(SOURCE_KEY_COL).alias("source_key"),
                "customer_id",
                "kind",
                "occurred_at",
                "summary",
                pl.col("attributes").alias("details"),
            )
        )
    if not frames:
        return pl.DataFrame(schema=schema)
    return pl.concat(frames, how="vertical_relaxed")


def _moved_customers(records: pl.DataFrame, existing: pl.DataFrame) -> list[str]:
    """The customers some of whose stored rows this run puts into another customer."""
    now = records.select(SOURCE_COL, SOURCE_KEY_COL, pl.col("customer_id").alias("_now"))
    moved = existing.join(now, on=[SOURCE_COL, SOURCE_KEY_COL]).filter(pl.col("customer_id") != pl.col("_now"))
    return sorted(moved["customer_id"].drop_nulls().unique().to_list())


def followed_activities(
    session: Session, settings: ProjectSettings, golden: Golden, existing: pl.DataFrame, read: pl.DataFrame
) -> pl.DataFrame | None:
    """Activities read in earlier runs whose parent rows this run puts into another customer, linked to the
    customers of their parents now, as the store's ``activity`` rows; None when none moves. An incremental activity
    source does not read them again: they follow their parent rows, as a full run would link them, instead of
    staying with a customer the rows left (``read``: the activities this run read and linked itself)."""
    moved = _moved_customers(golden.records, existing)
    if not moved:
        return None
    rows = crm_store.read_activity_rows(session, moved)
    if read.height:
        again = read.select(pl.col(SOURCE_COL).alias("source"), pl.col(SOURCE_KEY_COL).alias("source_key"))
        rows = rows.join(again, on=["source", "source_key"], how="anti")
    if not rows.height:
        return None
    parents = pl.concat([golden.records.select(SOURCE_COL, SOURCE_KEY_COL, "customer_id"), existing]).unique(
        [SOURCE_COL, SOURCE_KEY_COL], keep="first"
    )
    linked = relink_activities(settings, rows, parents)
    was = rows.select("source", "source_key", pl.col("customer_id").alias("_was"))
    followed = linked.join(was, on=["source", "source_key"]).filter(pl.col("customer_id").ne_missing(pl.col("_was")))
    return followed.drop("_was") if followed.height else None


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


# --------------------------------------------------------------------------------------------------- load


def load(
    session: Session,
    run_id: str,
    tables: dict[str, pl.DataFrame],
    baselines: dict[str, list[str]],
    cursors: dict[str, str],
    model_json: str,
) -> dict[str, crm_store.UpsertCounts]:
    """Write the run's tables (``pipelines.tables.store_frames``) into the store: keyed upserts, so a re-run
    changes nothing. The caller commits: one transaction for the whole load.

    ``baselines`` (source → columns read) become the schema-drift baselines of the next run; ``cursors``
    (incremental sources) are saved in the same transaction, so a run killed half way moves no cursor;
    ``model_json`` is the match model, kept with the run for later incremental runs.

    Sends a ``load`` progress event (:func:`pipelines.progress.advance`) after each batch a writer handles: rows of
    the run's tables handled so far, of all the rows to write.
    """
    now = datetime.now(UTC).replace(tzinfo=None)
    customers = tables["customer"]
    batched = ("source_record", "customer", "contact_point", "address", "field_provenance", "crosswalk", "activity")
    total = sum(tables[name].height for name in (*batched, "quarantine"))
    started, done = time.perf_counter(), 0

    def batch_done(rows: int) -> None:
        nonlocal done
        done += rows
        advance("load", done, total, seconds=time.perf_counter() - started)

    with crm_store.foreign_keys_checked_once(session):
        counts = {
            "source_record": crm_store.upsert_source_records(session, tables["source_record"], progress=batch_done),
            "customer": crm_store.upsert_customers(session, customers, now=now, progress=batch_done),
        }
        crm_store.replace_customer_details(
            session,
            customers["customer_id"].to_list(),
            tables["contact_point"],
            tables["address"],
            tables["field_provenance"],
            progress=batch_done,
        )
        crm_store.upsert_crosswalk(session, tables["crosswalk"], progress=batch_done)
        crm_store.upsert_activities(session, tables["activity"], progress=batch_done)
        crm_store.upsert_quarantine(session, tables["quarantine"], progress=batch_done)
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

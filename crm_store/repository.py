"""Reading and writing the store: polars DataFrames in and out, bulk and idempotent.

Every function takes a ``Session`` and never commits: the caller owns the transaction (one per load batch).
Writers first read the current rows for the incoming keys, compare, and write only what differs, with one bulk
statement per table (a dialect-aware upsert: ``ON CONFLICT DO UPDATE`` on SQLite/PostgreSQL,
``ON DUPLICATE KEY UPDATE`` on MySQL/MariaDB). So a re-run of the same input changes no row at all.

JSON columns accept JSON text, dicts/lists or polars structs/lists; readers return JSON text (sorted keys).
Timestamps come back as ``Datetime("us", "UTC")``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar, cast, get_args

import polars as pl
import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.orm import Session

from crm_store.models import (
    Address,
    Base,
    ContactPoint,
    Crosswalk,
    Customer,
    ExtractCursor,
    FieldProvenance,
    MergeEvent,
    PipelineRun,
    Quarantine,
    SourceRecord,
)
from crm_store.schema import RowStatus

__all__ = [
    "GOLDEN_FIELDS",
    "RunStatus",
    "UpsertCounts",
    "finish_run",
    "ledger_counts",
    "read_crosswalk",
    "read_cursor",
    "read_customers",
    "read_outcomes",
    "read_provenance",
    "read_quarantine",
    "record_merge_events",
    "replace_customer_details",
    "save_cursor",
    "start_run",
    "table_counts",
    "upsert_crosswalk",
    "upsert_customers",
    "upsert_quarantine",
    "upsert_source_records",
]

logger = logging.getLogger(__name__)

RunStatus = Literal["running", "succeeded", "failed"]

#: Columns of ``customer`` that make up the golden record (and its ``content_hash``), in hash order.
GOLDEN_FIELDS: tuple[str, ...] = (
    "kind",
    "full_name",
    "family_name",
    "given_name",
    "name_pinyin",
    "primary_phone",
    "primary_email",
    "company",
    "job_title",
    "gender",
    "birth_date",
    "province",
    "city",
    "district",
    "owner",
    "segment",
    "status",
    "attributes",
)

_IN_CHUNK = 500  # keys per ``IN (...)`` read; far below every backend's bind-parameter limit
_JSON_COLS = frozenset({"attributes", "evidence", "reasons", "details", "members", "ledger", "versions"})

K = TypeVar("K")


@dataclass(frozen=True, slots=True)
class UpsertCounts:
    """What a writer did: rows inserted, updated, left unchanged and deleted.

    ``deleted`` counts rows removed: stale child rows for ``replace_customer_details``, and keys moved out of
    the other table for ``upsert_crosswalk`` / ``upsert_quarantine``.
    """

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0


# --------------------------------------------------------------------------------------------------- helpers


def _table(model: type[Base]) -> sa.Table:
    return cast(sa.Table, model.__table__)


def _chunks(values: Sequence[K], size: int) -> Iterator[Sequence[K]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _canonical_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def _json_text(value: Any) -> str | None:
    return None if value is None else _canonical_json(value)


def _comparable(value: Any) -> Any:
    """A value as compared between the store and the input (JSON documents by their canonical text)."""
    return _canonical_json(value) if isinstance(value, dict | list) else value


def _json_values(series: pl.Series) -> list[Any]:
    """A column of JSON documents as Python values: JSON text is parsed, structs/lists are taken as is."""
    if series.dtype == pl.String:
        return [None if v is None else json.loads(v) for v in series.to_list()]
    return series.to_list()


def _frame(df: pl.DataFrame, what: str, required: Sequence[str], optional: Sequence[str] = ()) -> pl.DataFrame:
    """Check the columns of an input frame and add the missing optional ones as nulls, in a fixed order."""
    if df.width == 0 and df.height == 0:
        df = pl.DataFrame({c: pl.Series(c, [], dtype=pl.String) for c in required})
    missing = [c for c in required if c not in df.columns]
    unknown = [c for c in df.columns if c not in required and c not in optional]
    if missing or unknown:
        raise ValueError(
            f"{what}: missing columns {missing}, unknown columns {unknown}; "
            f"expected {list(required)} and optionally {list(optional)}"
        )
    nulls = [c for c in required if df[c].null_count() and c not in _JSON_COLS]
    if nulls:
        raise ValueError(f"{what}: columns {nulls} must not contain nulls")
    return df.with_columns(pl.lit(None).alias(c) for c in optional if c not in df.columns).select(*required, *optional)


def _check_unique(df: pl.DataFrame, keys: Sequence[str], what: str) -> None:
    duplicated = df.select(keys).is_duplicated()
    if duplicated.any():
        example = df.filter(duplicated).row(0)
        raise ValueError(f"{what}: {int(duplicated.sum())} rows share a key {list(keys)}, e.g. {example[: len(keys)]}")


def _check_lengths(table: sa.Table, df: pl.DataFrame, key: str) -> None:
    """Fail on text longer than its column, naming the column and a row key (never the value: PII)."""
    for name in df.columns:
        if name not in table.c or df[name].dtype != pl.String:
            continue
        length = getattr(table.c[name].type, "length", None)
        if not length:
            continue
        too_long = df[name].str.len_chars() > length
        if too_long.any():
            raise ValueError(
                f"{table.name}.{name}: {int(too_long.sum())} value(s) longer than {length} characters, "
                f"e.g. at {key}={df.filter(too_long)[key][0]!r}"
            )


def _check_values(df: pl.DataFrame, column: str, allowed: Iterable[str], what: str) -> None:
    bad = sorted(set(df[column].drop_nulls().unique().to_list()) - set(allowed))
    if bad:
        raise ValueError(f"{what}: {column} must be one of {sorted(allowed)}, got {bad}")


def _key_of(row: Mapping[str, Any], key_cols: Sequence[str]) -> tuple[Any, ...]:
    return tuple(row[k] for k in key_cols)


def _select_where_in(
    session: Session,
    table: sa.Table,
    cols: Sequence[str],
    column: str,
    values: Collection[Any],
    equal: Mapping[str, Any] | None = None,
) -> Iterator[sa.Row[Any]]:
    """Rows of ``table`` whose ``column`` is in ``values`` (and whose ``equal`` columns match).

    When the values cover a good part of the candidate rows (a re-load of a whole source, a first load), the
    candidates are read in one pass and filtered here: many ``IN`` lookups would cost more, and right after a
    bulk load PostgreSQL has no statistics yet and answers each ``IN`` chunk with a scan of the whole source.
    Otherwise the rows are looked up in ``IN`` chunks through the index.
    """
    conditions = [table.c[k] == v for k, v in (equal or {}).items()]
    base = sa.select(*(table.c[c] for c in cols)).where(*conditions)
    if not values:
        return
    candidates = session.execute(sa.select(sa.func.count()).select_from(table).where(*conditions)).scalar_one()
    if candidates <= 2 * len(values):
        wanted = set(values)
        position = list(cols).index(column)
        yield from (row for row in session.execute(base) if row[position] in wanted)
        return
    for chunk in _chunks(sorted(values), _IN_CHUNK):
        yield from session.execute(base.where(table.c[column].in_(chunk)))


def _fetch(
    session: Session,
    table: sa.Table,
    key_cols: Sequence[str],
    keys: Iterable[tuple[Any, ...]],
    cols: Sequence[str],
) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    """Current values of ``cols`` for the given keys (grouped by their leading key columns: per source)."""
    groups: dict[tuple[Any, ...], set[Any]] = {}
    for key in keys:
        groups.setdefault(key[:-1], set()).add(key[-1])
    n = len(key_cols)
    found: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    for prefix, last_values in groups.items():
        equal = dict(zip(key_cols[:-1], prefix, strict=True))
        for row in _select_where_in(session, table, (*key_cols, *cols), key_cols[-1], last_values, equal):
            found[tuple(row[:n])] = tuple(row[n:])
    return found


def _upsert(
    session: Session,
    table: sa.Table,
    rows: list[dict[str, Any]],
    update_cols: Sequence[str],
    extra_set: Mapping[str, Any] | None = None,
) -> None:
    """Insert ``rows``; where the primary key exists, set ``update_cols`` (plus ``extra_set``) instead."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    stmt: Any
    if dialect in ("postgresql", "sqlite"):
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stmt = insert(table)
        set_ = {c: stmt.excluded[c] for c in update_cols} | dict(extra_set or {})
        stmt = stmt.on_conflict_do_update(index_elements=list(table.primary_key.columns), set_=set_)
    elif dialect in ("mysql", "mariadb"):
        stmt = mysql.insert(table)
        set_ = {c: stmt.inserted[c] for c in update_cols} | dict(extra_set or {})
        stmt = stmt.on_duplicate_key_update(set_)
    else:
        raise NotImplementedError(f"crm_store has no upsert for the {dialect!r} dialect (sqlite, postgresql, mysql)")
    session.execute(stmt, rows)


def _delete_keys(session: Session, table: sa.Table, key_cols: Sequence[str], keys: Sequence[tuple[Any, ...]]) -> None:
    if not keys:
        return
    stmt = sa.delete(table).where(*(table.c[k] == sa.bindparam(f"key_{k}") for k in key_cols))
    session.execute(stmt, [{f"key_{k}": v for k, v in zip(key_cols, key, strict=True)} for key in keys])


def _diff(
    rows: Sequence[dict[str, Any]],
    existing: Mapping[tuple[Any, ...], tuple[Any, ...]],
    key_cols: Sequence[str],
    compare_cols: Sequence[str],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
    """Split ``rows`` into (new, changed, number unchanged) against the stored ``compare_cols`` values."""
    new: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    unchanged = 0
    has_json = any(c in _JSON_COLS for c in compare_cols)
    for row in rows:
        current = existing.get(_key_of(row, key_cols))
        if current is None:
            new.append(row)
            continue
        wanted = tuple(row[c] for c in compare_cols)
        if has_json:
            wanted, current = tuple(map(_comparable, wanted)), tuple(map(_comparable, current))
        if wanted != current:
            changed.append(row)
        else:
            unchanged += 1
    return new, changed, unchanged


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# --------------------------------------------------------------------------------------------------- writers


def upsert_source_records(session: Session, rows: pl.DataFrame) -> UpsertCounts:
    """Store raw source rows with their outcome, keyed by ``(source, source_key)``.

    A new key is inserted with ``first_run_id = run_id``; a known key is updated only when its ``row_hash``,
    ``payload``, ``status`` or ``reason`` differs (``first_run_id`` is kept), so a re-run changes nothing.

    Args:
        session: the caller's session (not committed here).
        rows: columns ``source``, ``source_key``, ``row_hash``, ``payload`` (JSON text of the raw row, or a
            struct), ``status`` (loaded|quarantined|skipped), ``run_id``; optional ``reason``.
    """
    table = _table(SourceRecord)
    what = "upsert_source_records"
    df = _frame(rows, what, ("source", "source_key", "row_hash", "payload", "status", "run_id"), ("reason",))
    _check_unique(df, ("source", "source_key"), what)
    _check_values(df, "status", get_args(RowStatus), what)
    if df["payload"].dtype != pl.String:
        df = df.with_columns(payload=pl.Series([_json_text(v) for v in df["payload"].to_list()], dtype=pl.String))
    df = df.rename({"run_id": "first_run_id"}).with_columns(pl.col("reason").cast(pl.String))
    _check_lengths(table, df, "source_key")
    key_cols = ("source", "source_key")
    compare = ("row_hash", "payload", "status", "reason")
    records = df.to_dicts()
    existing = _fetch(session, table, key_cols, (_key_of(r, key_cols) for r in records), compare)
    new, changed, unchanged = _diff(records, existing, key_cols, compare)
    _upsert(session, table, new + changed, compare)
    counts = UpsertCounts(inserted=len(new), updated=len(changed), unchanged=unchanged)
    logger.debug("source_record: %s", counts)
    return counts


def _content_hash(customers: pl.DataFrame) -> pl.Series:
    """The ``content_hash`` of each golden record: sha256 of its ``GOLDEN_FIELDS`` as canonical JSON.

    Expects the frame as prepared by ``upsert_customers`` (every golden field present, ``attributes`` parsed).
    """
    values = customers.select(GOLDEN_FIELDS).rows()
    return pl.Series(
        "content_hash",
        [hashlib.sha256(_canonical_json(list(v)).encode()).hexdigest() for v in values],
        dtype=pl.String,
    )


def _prepare_customers(customers: pl.DataFrame) -> pl.DataFrame:
    what = "upsert_customers"
    df = _frame(customers, what, ("customer_id", "kind"), GOLDEN_FIELDS[1:])
    _check_unique(df, ("customer_id",), what)
    _check_values(df, "kind", ("person", "organisation"), what)
    birth = df["birth_date"]
    if birth.dtype == pl.String:
        try:
            birth = birth.str.to_date("%Y-%m-%d", strict=True)
        except pl.exceptions.PolarsError as exc:
            raise ValueError(f"{what}: birth_date must be an ISO date (YYYY-MM-DD): {exc}") from exc
    elif birth.dtype != pl.Date:
        birth = birth.cast(pl.Date)
    text_cols = [c for c in GOLDEN_FIELDS if c not in ("birth_date", "attributes")]
    df = df.with_columns(pl.col(text_cols).cast(pl.String), birth_date=birth)
    attributes = pl.Series("attributes", _json_values(df["attributes"]), dtype=pl.Object)
    return df.with_columns(attributes)


def upsert_customers(session: Session, customers: pl.DataFrame, *, now: dt.datetime) -> UpsertCounts:
    """Write golden records; each becomes exactly the given fields.

    A new ``customer_id`` is inserted with version 1 and ``created_at = updated_at = now``; a record whose
    ``content_hash`` over ``GOLDEN_FIELDS`` changed is updated with ``version + 1`` and ``updated_at = now``;
    an unchanged one is not touched. A golden field missing from the frame is written as null.

    Args:
        session: the caller's session (not committed here).
        customers: columns ``customer_id``, ``kind`` (person|organisation) and any of ``GOLDEN_FIELDS``
            (``birth_date`` as ``pl.Date`` or ISO text; ``attributes`` as JSON text, dicts or structs).
        now: the timestamp recorded as created/updated (naive means UTC).
    """
    table = _table(Customer)
    df = _prepare_customers(customers)
    _check_lengths(table, df.drop("attributes"), "customer_id")
    hashes = _content_hash(df)
    records = df.with_columns(hashes).to_dicts()
    existing = _fetch(session, table, ("customer_id",), ((r["customer_id"],) for r in records), ("content_hash",))
    new, changed, unchanged = _diff(records, existing, ("customer_id",), ("content_hash",))
    rows = [r | {"created_at": now, "updated_at": now, "version": 1} for r in new + changed]
    _upsert(session, table, rows, (*GOLDEN_FIELDS, "content_hash", "updated_at"), {"version": table.c.version + 1})
    counts = UpsertCounts(inserted=len(new), updated=len(changed), unchanged=unchanged)
    logger.debug("customer: %s", counts)
    return counts


@dataclass(frozen=True, slots=True)
class _Child:
    model: type[Base]
    key: tuple[str, ...]
    values: tuple[str, ...]
    required: tuple[str, ...]


_CHILDREN: dict[str, _Child] = {
    "contact_point": _Child(
        ContactPoint, ("customer_id", "kind", "value"), ("valid", "source", "source_key"), ("valid",)
    ),
    "address": _Child(
        Address,
        ("customer_id", "source", "source_key"),
        ("province", "city", "district", "street", "admin_code", "postcode", "country", "raw"),
        (),
    ),
    "field_provenance": _Child(
        FieldProvenance, ("customer_id", "field"), ("source", "source_key", "value"), ("source", "source_key")
    ),
}


def _sync_children(session: Session, name: str, customer_ids: Sequence[str], rows: pl.DataFrame) -> UpsertCounts:
    child = _CHILDREN[name]
    table = _table(child.model)
    what = f"replace_customer_details({name})"
    optional = tuple(c for c in child.values if c not in child.required)
    df = _frame(rows, what, (*child.key, *child.required), optional)
    _check_unique(df, child.key, what)
    outside = set(df["customer_id"].unique().to_list()) - set(customer_ids)
    if outside:
        raise ValueError(f"{what}: rows for customers not in customer_ids, e.g. {sorted(outside)[:3]}")
    if name == "contact_point":
        _check_values(df, "kind", ("phone", "email", "wechat"), what)
        df = df.with_columns(pl.col("valid").cast(pl.Boolean))
    text_cols = [c for c in (*child.key, *child.values) if c != "valid"]
    df = df.with_columns(pl.col(text_cols).cast(pl.String))
    _check_lengths(table, df, "customer_id")
    records = df.to_dicts()
    n = len(child.key)
    existing = {
        tuple(row[:n]): tuple(row[n:])
        for row in _select_where_in(session, table, (*child.key, *child.values), "customer_id", customer_ids)
    }
    new, changed, unchanged = _diff(records, existing, child.key, child.values)
    wanted = {_key_of(r, child.key) for r in records}
    stale = [key for key in existing if key not in wanted]
    _delete_keys(session, table, child.key, stale)
    _upsert(session, table, new + changed, child.values)
    return UpsertCounts(inserted=len(new), updated=len(changed), unchanged=unchanged, deleted=len(stale))


def replace_customer_details(
    session: Session,
    customer_ids: Iterable[str],
    contact_points: pl.DataFrame,
    addresses: pl.DataFrame,
    provenance: pl.DataFrame,
) -> dict[str, UpsertCounts]:
    """Make the contact points, addresses and field provenance of these customers equal to the given rows.

    Only differences are written: missing rows inserted, differing rows updated, rows no longer given deleted.
    Customers not in ``customer_ids`` are not touched. An empty frame (even without columns) means "no rows".

    Args:
        session: the caller's session (not committed here).
        customer_ids: the golden records whose details are replaced (they must exist in ``customer``).
        contact_points: ``customer_id``, ``kind`` (phone|email|wechat), ``value``, ``valid``; optional
            ``source``, ``source_key``.
        addresses: ``customer_id``, ``source``, ``source_key``; optional ``province``, ``city``, ``district``,
            ``street``, ``admin_code``, ``postcode``, ``country``, ``raw``.
        provenance: ``customer_id``, ``field``, ``source``, ``source_key``; optional ``value`` (cast to text).

    Returns:
        Counts per table name (``contact_point``, ``address``, ``field_provenance``).
    """
    ids = sorted(set(customer_ids))
    frames = {"contact_point": contact_points, "address": addresses, "field_provenance": provenance}
    counts = {name: _sync_children(session, name, ids, frame) for name, frame in frames.items()}
    logger.debug("customer details: %s", counts)
    return counts


def _place(
    session: Session,
    model: type[Base],
    other: type[Base],
    df: pl.DataFrame,
    compare: Sequence[str],
) -> UpsertCounts:
    """Upsert ``df`` into ``model`` by ``(source, source_key)`` and remove the same keys from ``other``."""
    table, other_table = _table(model), _table(other)
    key_cols = ("source", "source_key")
    _check_lengths(table, df, "source_key")
    json_cols = [c for c in compare if c in _JSON_COLS]
    records = df.drop(json_cols).rename({"run_id": "first_run_id"}).to_dicts()
    for col in json_cols:
        for record, value in zip(records, _json_values(df[col]), strict=True):
            record[col] = value
    keys = [_key_of(r, key_cols) for r in records]
    existing = _fetch(session, table, key_cols, keys, compare)
    new, changed, unchanged = _diff(records, existing, key_cols, compare)
    elsewhere = list(_fetch(session, other_table, key_cols, keys, ()))
    _delete_keys(session, other_table, key_cols, elsewhere)
    _upsert(session, table, new + changed, compare)
    counts = UpsertCounts(inserted=len(new), updated=len(changed), unchanged=unchanged, deleted=len(elsewhere))
    logger.debug("%s: %s", table.name, counts)
    return counts


def upsert_crosswalk(session: Session, rows: pl.DataFrame) -> UpsertCounts:
    """Link loaded source rows to their golden record; the same keys leave ``quarantine``.

    Unchanged links are not rewritten; ``first_run_id`` is set on insert only.

    Args:
        session: the caller's session (not committed here).
        rows: ``source``, ``source_key``, ``customer_id``, ``run_id``; optional ``match_probability`` (float),
            ``evidence`` (JSON text, dict or struct).

    Returns:
        Counts; ``deleted`` is the number of keys removed from ``quarantine``.
    """
    what = "upsert_crosswalk"
    df = _frame(
        rows, what, ("source", "source_key", "customer_id", "run_id"), ("match_probability", "evidence")
    ).with_columns(pl.col("match_probability").cast(pl.Float64))
    _check_unique(df, ("source", "source_key"), what)
    return _place(session, Crosswalk, Quarantine, df, ("customer_id", "match_probability", "evidence"))


def upsert_quarantine(session: Session, rows: pl.DataFrame) -> UpsertCounts:
    """Record source rows that were not loaded, with reason codes; the same keys leave ``crosswalk``.

    Args:
        session: the caller's session (not committed here).
        rows: ``source``, ``source_key``, ``reasons`` (list of codes, or JSON text of one), ``run_id``;
            optional ``details`` (list of ``{rule, code, column, value_masked, message}``, or JSON text).

    Returns:
        Counts; ``deleted`` is the number of keys removed from ``crosswalk``.
    """
    what = "upsert_quarantine"
    df = _frame(rows, what, ("source", "source_key", "reasons", "run_id"), ("details",))
    _check_unique(df, ("source", "source_key"), what)
    if df["reasons"].null_count():
        raise ValueError(f"{what}: every row needs reasons (a list of codes)")
    return _place(session, Quarantine, Crosswalk, df, ("reasons", "details"))


def _members_hash(members: Any) -> str:
    ordered = sorted(_canonical_json(m) for m in members)
    return hashlib.sha256(_canonical_json(ordered).encode()).hexdigest()


def record_merge_events(
    session: Session, run_id: str, events: pl.DataFrame, *, now: dt.datetime | None = None
) -> UpsertCounts:
    """Record merges; an event whose ``(customer_id, members)`` is already recorded is skipped.

    The members are compared as a set (order does not matter) through ``members_hash``.

    Args:
        session: the caller's session (not committed here).
        run_id: the run recording the events.
        events: ``customer_id``, ``members`` (list, or JSON text of one); optional ``evidence`` (scores per
            comparison: JSON text, dict or struct).
        now: ``created_at`` of new events (default: the current UTC time).
    """
    table = _table(MergeEvent)
    what = "record_merge_events"
    df = _frame(events, what, ("customer_id", "members"), ("evidence",))
    members = _json_values(df["members"])
    if any(not isinstance(m, list) or not m for m in members):
        raise ValueError(f"{what}: members must be a non-empty list per event")
    evidence = _json_values(df["evidence"])
    created = now or _utcnow()
    seen: set[tuple[str, str]] = set()
    records: list[dict[str, Any]] = []
    for customer_id, member_list, event_evidence in zip(df["customer_id"].to_list(), members, evidence, strict=True):
        key = (customer_id, _members_hash(member_list))
        if key in seen:
            continue
        seen.add(key)
        ordered = sorted(member_list, key=_canonical_json)
        records.append(
            {
                "run_id": run_id,
                "customer_id": customer_id,
                "members": ordered,
                "evidence": event_evidence,
                "members_hash": key[1],
                "created_at": created,
                "undone_at": None,
            }
        )
    customer_ids = {customer_id for customer_id, _ in seen}
    cols = ("customer_id", "members_hash")
    existing = {tuple(row) for row in _select_where_in(session, table, cols, "customer_id", customer_ids)}
    new = [r for r in records if (r["customer_id"], r["members_hash"]) not in existing]
    if new:
        session.execute(sa.insert(table), new)
    return UpsertCounts(inserted=len(new), unchanged=df.height - len(new))


def start_run(
    session: Session,
    run_id: str,
    project: str,
    config_hash: str,
    dry_run: bool,
    versions: Mapping[str, Any] | None,
    *,
    now: dt.datetime | None = None,
) -> None:
    """Record the start of a run (status ``running``). A run id can be started once.

    Args:
        versions: package versions (or any JSON object) the run used.
        now: ``started_at`` (default: the current UTC time).
    """
    table = _table(PipelineRun)
    if session.execute(sa.select(table.c.run_id).where(table.c.run_id == run_id)).first() is not None:
        raise ValueError(f"start_run: run {run_id!r} was already started")
    session.execute(
        sa.insert(table),
        [
            {
                "run_id": run_id,
                "project": project,
                "started_at": now or _utcnow(),
                "finished_at": None,
                "status": "running",
                "dry_run": dry_run,
                "config_hash": config_hash,
                "ledger": None,
                "versions": dict(versions) if versions is not None else None,
                "report_path": None,
            }
        ],
    )


def finish_run(
    session: Session,
    run_id: str,
    status: RunStatus,
    ledger: Any,
    report_path: str | Path | None,
    *,
    now: dt.datetime | None = None,
) -> None:
    """Record the end of a run: its final status, ledger (any JSON document) and report path.

    Args:
        status: ``succeeded`` or ``failed`` (``running`` is accepted for a checkpoint).
        now: ``finished_at`` (default: the current UTC time).
    """
    if status not in get_args(RunStatus):
        raise ValueError(f"finish_run: status must be one of {get_args(RunStatus)}, got {status!r}")
    if isinstance(ledger, pl.DataFrame):
        ledger = ledger.to_dicts()
    table = _table(PipelineRun)
    result = session.execute(
        sa.update(table)
        .where(table.c.run_id == run_id)
        .values(
            status=status,
            finished_at=now or _utcnow(),
            ledger=ledger,
            report_path=None if report_path is None else str(report_path),
        )
    )
    if cast(sa.CursorResult[Any], result).rowcount == 0:
        raise ValueError(f"finish_run: no run {run_id!r} (call start_run first)")


def save_cursor(session: Session, source: str, value: str | None, *, now: dt.datetime | None = None) -> None:
    """Persist the incremental-extraction cursor of ``source``."""
    table = _table(ExtractCursor)
    _upsert(
        session,
        table,
        [{"source": source, "value": value, "updated_at": now or _utcnow()}],
        ("value", "updated_at"),
    )


def read_cursor(session: Session, source: str) -> str | None:
    """The saved incremental-extraction cursor of ``source`` (``None`` if never saved)."""
    table = _table(ExtractCursor)
    return session.execute(sa.select(table.c.value).where(table.c.source == source)).scalar_one_or_none()


# --------------------------------------------------------------------------------------------------- readers

_UTC = pl.Datetime("us", "UTC")


def _read(session: Session, stmt: sa.Select[Any], schema: Mapping[str, pl.DataType]) -> pl.DataFrame:
    rows = [
        tuple(_json_text(v) if name in _JSON_COLS else v for name, v in zip(schema, row, strict=True))
        for row in session.execute(stmt)
    ]
    return pl.DataFrame(rows, schema=dict(schema), orient="row")


def read_customers(session: Session) -> pl.DataFrame:
    """All golden records, ordered by ``customer_id``.

    Columns: ``customer_id``, the ``GOLDEN_FIELDS`` (``birth_date`` ``Date``, ``attributes`` JSON text),
    ``content_hash``, ``created_at``, ``updated_at`` (UTC), ``version`` (Int64).
    """
    table = _table(Customer)
    schema: dict[str, pl.DataType] = {name: pl.String() for name in ("customer_id", *GOLDEN_FIELDS, "content_hash")}
    schema |= {"birth_date": pl.Date(), "created_at": _UTC, "updated_at": _UTC, "version": pl.Int64()}
    stmt = sa.select(*(table.c[c] for c in schema)).order_by(table.c.customer_id)
    return _read(session, stmt, schema)


def read_outcomes(session: Session, sources: list[str] | None = None) -> pl.DataFrame:
    """One row per source record: what became of it (for the audit crosswalk export).

    Columns: ``source``, ``source_key``, ``status``, ``customer_id`` (null unless loaded), ``reason`` (the
    source record's reason; for a quarantined row without one, its quarantine reason codes joined by ``;``).
    Ordered by ``source``, ``source_key``.
    """
    sr, cw, q = _table(SourceRecord), _table(Crosswalk), _table(Quarantine)
    stmt = (
        sa.select(
            sr.c.source,
            sr.c.source_key,
            sr.c.status,
            sa.case((sr.c.status == "loaded", cw.c.customer_id), else_=None),
            sr.c.reason,
            q.c.reasons,
        )
        .select_from(
            sr.outerjoin(cw, sa.and_(cw.c.source == sr.c.source, cw.c.source_key == sr.c.source_key)).outerjoin(
                q, sa.and_(q.c.source == sr.c.source, q.c.source_key == sr.c.source_key)
            )
        )
        .order_by(sr.c.source, sr.c.source_key)
    )
    if sources is not None:
        stmt = stmt.where(sr.c.source.in_(sources))
    rows = [
        (source, key, status, customer_id, reason if reason is not None or not reasons else ";".join(reasons))
        for source, key, status, customer_id, reason, reasons in session.execute(stmt)
    ]
    schema = {name: pl.String() for name in ("source", "source_key", "status", "customer_id", "reason")}
    return pl.DataFrame(rows, schema=schema, orient="row")


def read_provenance(session: Session) -> pl.DataFrame:
    """Field provenance: ``customer_id``, ``field``, ``source``, ``source_key``, ``value``."""
    table = _table(FieldProvenance)
    schema = {name: pl.String() for name in ("customer_id", "field", "source", "source_key", "value")}
    stmt = sa.select(*(table.c[c] for c in schema)).order_by(table.c.customer_id, table.c.field)
    return _read(session, stmt, schema)


def read_crosswalk(session: Session) -> pl.DataFrame:
    """The crosswalk: ``source``, ``source_key``, ``customer_id``, ``match_probability`` (Float64),
    ``evidence`` (JSON text), ``first_run_id``; ordered by ``source``, ``source_key``."""
    table = _table(Crosswalk)
    schema: dict[str, pl.DataType] = {
        "source": pl.String(),
        "source_key": pl.String(),
        "customer_id": pl.String(),
        "match_probability": pl.Float64(),
        "evidence": pl.String(),
        "first_run_id": pl.String(),
    }
    stmt = sa.select(*(table.c[c] for c in schema)).order_by(table.c.source, table.c.source_key)
    return _read(session, stmt, schema)


def read_quarantine(session: Session) -> pl.DataFrame:
    """The quarantine: ``source``, ``source_key``, ``reasons`` (List[String]), ``details`` (JSON text),
    ``first_run_id``; ordered by ``source``, ``source_key``."""
    table = _table(Quarantine)
    stmt = sa.select(
        table.c.source, table.c.source_key, table.c.reasons, table.c.details, table.c.first_run_id
    ).order_by(table.c.source, table.c.source_key)
    rows = [(s, k, reasons, _json_text(details), run) for s, k, reasons, details, run in session.execute(stmt)]
    schema = {
        "source": pl.String(),
        "source_key": pl.String(),
        "reasons": pl.List(pl.String()),
        "details": pl.String(),
        "first_run_id": pl.String(),
    }
    return pl.DataFrame(rows, schema=schema, orient="row")


def ledger_counts(session: Session, sources: list[str] | None = None) -> pl.DataFrame:
    """Source records per source and status: ``source``, ``loaded``, ``quarantined``, ``skipped`` (Int64).

    With ``sources``, exactly those sources in that order (zeros for a source with no rows); otherwise every
    stored source, sorted.
    """
    table = _table(SourceRecord)
    stmt = sa.select(table.c.source, table.c.status, sa.func.count()).group_by(table.c.source, table.c.status)
    if sources is not None:
        stmt = stmt.where(table.c.source.in_(sources))
    statuses = get_args(RowStatus)
    counts: dict[str, dict[str, int]] = {}
    for source, status, n in session.execute(stmt):
        counts.setdefault(source, dict.fromkeys(statuses, 0))[status] = int(n)
    order = sources if sources is not None else sorted(counts)
    rows = [(s, *counts.get(s, dict.fromkeys(statuses, 0)).values()) for s in order]
    schema: dict[str, pl.DataType] = {"source": pl.String(), **{s: pl.Int64() for s in statuses}}
    return pl.DataFrame(rows, schema=schema, orient="row")


def table_counts(session: Session) -> dict[str, int]:
    """Number of rows in every crm_store table, by table name."""
    return {
        name: int(session.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
        for name, table in sorted(Base.metadata.tables.items())
    }

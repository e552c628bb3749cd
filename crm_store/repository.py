"""Reading and writing the store: polars DataFrames in and out, bulk and idempotent.

Every function takes a ``Session`` and never commits: the caller owns the transaction (one per load batch).
Writers first read the current rows for the incoming keys, compare (a polars join), and write only what differs,
with one prepared bulk statement per table (a dialect-aware upsert: ``ON CONFLICT DO UPDATE`` on
SQLite/PostgreSQL, ``ON DUPLICATE KEY UPDATE`` on MySQL/MariaDB). So a re-run of the same input changes no row
at all.

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

from crm_store.access import Principal, scoped, shape
from crm_store.audit import append_event, os_user
from crm_store.models import (
    Activity,
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
    SourceSchema,
)
from crm_store.overrides import apply_overrides, apply_provenance_overrides
from crm_store.schema import GOLDEN_FIELDS, STORE_NAMES, RowStatus

__all__ = [
    "GOLDEN_COLUMNS",
    "Retirements",
    "RunStatus",
    "UpsertCounts",
    "close_abandoned_runs",
    "finish_run",
    "ledger_counts",
    "read_activities",
    "read_contact_points",
    "read_crosswalk",
    "read_cursor",
    "read_customers",
    "read_match_model",
    "read_merge_events",
    "read_merged_into",
    "read_outcomes",
    "read_provenance",
    "read_quarantine",
    "read_run",
    "read_runs",
    "read_source_columns",
    "read_source_records",
    "record_merge_events",
    "replace_customer_details",
    "retire_customers",
    "save_cursor",
    "save_match_model",
    "save_source_columns",
    "set_merge_events_undone",
    "start_run",
    "table_counts",
    "upsert_activities",
    "upsert_crosswalk",
    "upsert_customers",
    "upsert_quarantine",
    "upsert_source_records",
]

logger = logging.getLogger(__name__)

#: ``running`` until the run ends; ``partial``: loaded, but a source failed or too many rows were quarantined.
RunStatus = Literal["running", "succeeded", "partial", "failed"]
#: Runs that loaded what they read (their match model can be reused).
LOADED_STATUSES = ("succeeded", "partial")
#: The longest ``pipeline_run.error`` kept (a longer one ends with "…").
ERROR_CHARS = 4000

#: Columns of ``customer`` that make up the golden record (and its ``content_hash``), in hash order: ``kind``
#: and the survived fields by their store names (``attributes`` last).
GOLDEN_COLUMNS: tuple[str, ...] = ("kind", *(STORE_NAMES.get(f, f) for f in GOLDEN_FIELDS))

_IN_CHUNK = 500  # keys per ``IN (...)`` read; far below every backend's bind-parameter limit
_WRITE_CHUNK = 50_000  # rows per ``executemany`` call
_READ_CHUNK = 50_000  # rows per fetch
_JSON_COLS = frozenset({"attributes", "evidence", "reasons", "details", "members", "ledger", "versions"})
_ROW = "_row"  # position of a row in the input frame, to find its parsed JSON values
_STORED = "__stored"  # suffix of the stored values joined onto the input frame
_UTC = pl.Datetime("us", "UTC")

K = TypeVar("K")


@dataclass(frozen=True, slots=True)
class UpsertCounts:
    """What a writer did: rows inserted, updated, left unchanged and deleted.

    ``deleted`` counts rows removed: stale child rows for ``replace_customer_details``, and keys moved out of
    the other tables for ``upsert_crosswalk`` / ``upsert_activities`` / ``upsert_quarantine``.
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


def _json_values(series: pl.Series) -> list[Any]:
    """A column of JSON documents as Python values: JSON text is parsed, structs/lists are taken as is."""
    if series.dtype == pl.String:
        return [None if v is None else json.loads(v) for v in series.to_list()]
    return series.to_list()


def _frame(
    df: pl.DataFrame,
    what: str,
    required: Sequence[str],
    optional: Sequence[str] = (),
    nullable: Collection[str] = (),
) -> pl.DataFrame:
    """Check the columns of an input frame and add the missing optional ones as nulls, in a fixed order.

    Required columns must not hold nulls, except JSON columns and those named in ``nullable``.
    """
    if df.width == 0 and df.height == 0:
        df = pl.DataFrame({c: pl.Series(c, [], dtype=pl.String) for c in required})
    missing = [c for c in required if c not in df.columns]
    unknown = [c for c in df.columns if c not in required and c not in optional]
    if missing or unknown:
        raise ValueError(
            f"{what}: missing columns {missing}, unknown columns {unknown}; "
            f"expected {list(required)} and optionally {list(optional)}"
        )
    nulls = [c for c in required if df[c].null_count() and c not in _JSON_COLS and c not in nullable]
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


def _select_where_in(
    session: Session,
    table: sa.Table,
    cols: Sequence[str],
    column: str,
    values: Collection[Any],
    equal: Mapping[str, Any] | None = None,
    expected: int = 0,
) -> Iterator[sa.Row[Any]]:
    """Rows of ``table`` whose ``column`` is in ``values`` (and whose ``equal`` columns match).

    ``expected`` is the number of rows the caller expects back when that is more than ``len(values)`` (child
    rows looked up by their customer ids).

    When the values cover a good part of the candidate rows (a re-load of a whole source, a first load), the
    candidates are read in one pass and filtered here: many ``IN`` lookups would cost more, and right after a
    bulk load PostgreSQL has no statistics yet and answers each ``IN`` chunk with a scan of the whole source.
    Otherwise the rows are looked up in ``IN`` chunks through the index. No candidate at all (a first load)
    costs one count.
    """
    conditions = [table.c[k] == v for k, v in (equal or {}).items()]
    base = sa.select(*(table.c[c] for c in cols)).where(*conditions)
    if not values:
        return
    candidates = session.execute(sa.select(sa.func.count()).select_from(table).where(*conditions)).scalar_one()
    if not candidates:
        return
    if candidates <= 2 * max(len(values), expected):
        wanted = set(values)
        position = list(cols).index(column)
        for part in session.execute(base).partitions(_READ_CHUNK):
            yield from (row for row in part if row[position] in wanted)
        return
    for chunk in _chunks(sorted(values), _IN_CHUNK):
        yield from session.execute(base.where(table.c[column].in_(chunk))).all()


def _compared(column: str) -> str:
    """The column that stands for ``column`` in comparisons: JSON documents are compared by canonical text."""
    return f"_cmp_{column}" if column in _JSON_COLS else column


def _parse_json(
    df: pl.DataFrame, columns: Iterable[str], compared: bool = True
) -> tuple[pl.DataFrame, dict[str, list[Any]]]:
    """Parse the JSON ``columns`` once: their Python values (to write) and, if ``compared``, canonical text
    columns (to compare).

    Adds ``_row`` (the row's position, to find its parsed values again after joins and filters).
    """
    parsed = {c: _json_values(df[c]) for c in columns}
    texts = [
        pl.Series(_compared(c), [_json_text(v) for v in values], dtype=pl.String)
        for c, values in parsed.items()
        if compared
    ]
    return df.with_row_index(_ROW).with_columns(texts), parsed


def _stored_frame(
    rows: Iterable[Sequence[Any]], key_cols: Sequence[str], cols: Sequence[str], schema: Mapping[str, pl.DataType]
) -> pl.DataFrame:
    """Stored ``(*key_cols, *cols)`` rows as a frame: compared columns named ``<col>__stored``, JSON as text."""
    names = [*key_cols, *(_compared(c) + _STORED for c in cols)]
    dtypes = [*(pl.String() for _ in key_cols), *(schema[_compared(c)] for c in cols)]
    columns = [list(values) for values in zip(*rows, strict=True)] or [[] for _ in names]
    for i, name in enumerate((*key_cols, *cols)):
        if name in _JSON_COLS and i >= len(key_cols):
            columns[i] = [_json_text(v) for v in columns[i]]
    return pl.DataFrame([pl.Series(n, c, dtype=t) for n, c, t in zip(names, columns, dtypes, strict=True)])


def _stored(
    session: Session, table: sa.Table, key_cols: Sequence[str], cols: Sequence[str], df: pl.DataFrame
) -> pl.DataFrame:
    """The stored ``cols`` of the rows whose keys are in ``df`` (looked up per value of the leading keys)."""
    lead, last = list(key_cols[:-1]), key_cols[-1]
    groups = df.group_by(lead, maintain_order=True).agg(pl.col(last).unique()).rows() if lead else [(df[last],)]
    rows: list[sa.Row[Any]] = []
    for *prefix, values in groups:
        equal = dict(zip(lead, prefix, strict=True))
        rows.extend(_select_where_in(session, table, (*key_cols, *cols), last, set(values), equal))
    return _stored_frame(rows, key_cols, cols, df.schema)


def _split(
    df: pl.DataFrame, stored: pl.DataFrame, key_cols: Sequence[str], compare: Sequence[str]
) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """Split ``df`` into (new rows, changed rows, number unchanged) against the ``stored`` frame of its keys."""
    if stored.is_empty():
        return df, df.clear(), 0
    new = df.join(stored.select(key_cols), on=key_cols, how="anti", maintain_order="left")
    both = df.join(stored, on=key_cols, how="inner", maintain_order="left")
    differs = [pl.col(_compared(c)).ne_missing(pl.col(_compared(c) + _STORED)) for c in compare]
    changed = both.filter(pl.any_horizontal(differs)).select(df.columns) if differs else df.clear()
    return new, changed, both.height - changed.height


def _write_statement(
    dialect: str,
    table: sa.Table,
    update_cols: Sequence[str] | None,
    extra_set: Mapping[str, Any] | None,
    conflict: Sequence[str] | None,
) -> Any:
    """``INSERT``, or (with ``update_cols``) an upsert on the primary key (or the ``conflict`` columns)."""
    if update_cols is None:
        return sa.insert(table)
    if dialect in ("postgresql", "sqlite"):
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stmt = insert(table)
        set_ = {c: stmt.excluded[c] for c in update_cols} | dict(extra_set or {})
        index = list(conflict) if conflict else list(table.primary_key.columns)
        return stmt.on_conflict_do_update(index_elements=index, set_=set_)
    if dialect in ("mysql", "mariadb"):
        stmt_my = mysql.insert(table)
        set_ = {c: stmt_my.inserted[c] for c in update_cols} | dict(extra_set or {})
        return stmt_my.on_duplicate_key_update(set_)
    raise NotImplementedError(f"crm_store has no upsert for the {dialect!r} dialect (sqlite, postgresql, mysql)")


def _write(
    session: Session,
    table: sa.Table,
    values: Mapping[str, Sequence[Any]],
    update_cols: Sequence[str] | None,
    *,
    extra_set: Mapping[str, Any] | None = None,
    conflict: Sequence[str] | None = None,
) -> None:
    """Insert (or upsert, see ``_write_statement``) rows given column by column, in bulk.

    The statement is compiled once and run through the driver's ``executemany`` on the session's connection,
    each value going through its column type's bind processor: what ``session.execute(stmt, dicts)`` does,
    without SQLAlchemy's per-row parameter bookkeeping, which cost more than the database's own work.
    ``extra_set`` must not carry bound parameters (use ``sa.literal_column``).
    """
    names = list(values)
    n = len(values[names[0]]) if names else 0
    if not n:
        return
    dialect = session.get_bind().dialect
    compiled = _write_statement(dialect.name, table, update_cols, extra_set, conflict).compile(
        dialect=dialect, column_keys=names
    )
    binds = list(compiled.positiontup or ()) if compiled.positional else list(compiled.bind_names.values())
    if sorted(binds) != sorted(names):
        raise RuntimeError(f"{table.name}: statement binds {binds}, rows give {names}")
    columns: list[Sequence[Any]] = []
    for name in binds:
        processor = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        column = values[name]
        if len(column) != n:
            raise ValueError(f"{table.name}: column {name} has {len(column)} values, expected {n}")
        columns.append(column if processor is None else [processor(v) for v in column])
    connection = session.connection()
    for start in range(0, n, _WRITE_CHUNK):
        rows = zip(*(c[start : start + _WRITE_CHUNK] for c in columns), strict=True)
        params: list[Any] = list(rows) if compiled.positional else [dict(zip(binds, r, strict=True)) for r in rows]
        connection.exec_driver_sql(compiled.string, params)


def _write_frame(
    session: Session,
    table: sa.Table,
    df: pl.DataFrame,
    columns: Sequence[str],
    update_cols: Sequence[str] | None,
    *,
    parsed: Mapping[str, list[Any]] | None = None,
    constants: Mapping[str, Any] | None = None,
    extra_set: Mapping[str, Any] | None = None,
    conflict: Sequence[str] | None = None,
) -> None:
    """Write the ``columns`` of ``df`` (JSON columns from ``parsed``, by ``_row``), plus ``constants``."""
    if df.is_empty():
        return
    rows = df[_ROW].to_list() if parsed else []
    values: dict[str, Sequence[Any]] = {}
    for c in columns:
        if parsed and c in parsed:
            values[c] = [parsed[c][i] for i in rows]
        else:
            values[c] = df[c].to_list()
    for c, value in (constants or {}).items():
        values[c] = [value] * df.height
    _write(session, table, values, update_cols, extra_set=extra_set, conflict=conflict)


def _delete_keys(session: Session, table: sa.Table, key_cols: Sequence[str], keys: Sequence[tuple[Any, ...]]) -> None:
    if not keys:
        return
    stmt = sa.delete(table).where(*(table.c[k] == sa.bindparam(f"key_{k}") for k in key_cols))
    session.execute(stmt, [{f"key_{k}": v for k, v in zip(key_cols, key, strict=True)} for key in keys])


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
    df = df.rename({"run_id": "first_run_id"}).with_columns(pl.all().cast(pl.String))
    _check_lengths(table, df, "source_key")
    key_cols = ("source", "source_key")
    compare = ("row_hash", "payload", "status", "reason")
    new, changed, unchanged = _split(df, _stored(session, table, key_cols, compare, df), key_cols, compare)
    _write_frame(session, table, pl.concat([new, changed]).sort(key_cols), df.columns, compare)
    counts = UpsertCounts(inserted=new.height, updated=changed.height, unchanged=unchanged)
    logger.debug("source_record: %s", counts)
    return counts


def _content_hash(customers: pl.DataFrame, attributes: Sequence[Any]) -> pl.Series:
    """The ``content_hash`` of each golden record: sha256 of its ``GOLDEN_COLUMNS`` as canonical JSON.

    Expects the frame as prepared by ``upsert_customers`` (every golden field present) and the parsed
    ``attributes`` (the last golden field) of each row.
    """
    values = customers.select(GOLDEN_COLUMNS[:-1]).rows()
    return pl.Series(
        "content_hash",
        [
            hashlib.sha256(_canonical_json([*v, a]).encode()).hexdigest()
            for v, a in zip(values, attributes, strict=True)
        ],
        dtype=pl.String,
    )


def _prepare_customers(customers: pl.DataFrame) -> pl.DataFrame:
    what = "upsert_customers"
    df = _frame(customers, what, ("customer_id", "kind"), GOLDEN_COLUMNS[1:])
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
    typed = ("birth_date", "last_contact_at", "attributes")
    text_cols = ["customer_id", *(c for c in GOLDEN_COLUMNS if c not in typed)]
    return df.with_columns(
        pl.col(text_cols).cast(pl.String),
        birth_date=birth,
        last_contact_at=_timestamps(df, "last_contact_at", what, key="customer_id"),
    )


def _with_stored_contacts(session: Session, df: pl.DataFrame) -> pl.DataFrame:
    """``last_contact_at`` raised to the latest stored activity of each customer (activities of earlier runs
    count, not only the frame's)."""
    act = _table(Activity)
    stmt = (
        sa.select(act.c.customer_id, sa.func.max(act.c.occurred_at))
        .where(act.c.customer_id.is_not(None), act.c.occurred_at.is_not(None))
        .group_by(act.c.customer_id)
    )
    stored = _read(session, stmt, {"customer_id": pl.String(), "_stored_contact": _UTC})
    if not stored.height:
        return df
    return (
        df.join(stored, on="customer_id", how="left", maintain_order="left")
        .with_columns(pl.max_horizontal("last_contact_at", "_stored_contact").alias("last_contact_at"))
        .drop("_stored_contact")
    )


def upsert_customers(session: Session, customers: pl.DataFrame, *, now: dt.datetime) -> UpsertCounts:
    """Write golden records; each becomes exactly the given fields.

    A new ``customer_id`` is inserted with version 1 and ``created_at = updated_at = now``; a record whose
    ``content_hash`` over ``GOLDEN_COLUMNS`` changed is updated with ``version + 1`` and ``updated_at = now``;
    an unchanged one is not touched. A golden field missing from the frame is written as null. A field with a
    ``customer_override`` is written with the override's value (``crm_store.overrides``).

    Args:
        session: the caller's session (not committed here).
        customers: columns ``customer_id``, ``kind`` (person|organisation) and any of ``GOLDEN_COLUMNS``
            (``birth_date`` as ``pl.Date`` or ISO text; ``attributes`` as JSON text, dicts or structs).
        now: the timestamp recorded as created/updated (naive means UTC).
    """
    table = _table(Customer)
    df = _with_stored_contacts(session, apply_overrides(session, _prepare_customers(customers)))
    _check_lengths(table, df.drop("attributes"), "customer_id")
    df, parsed = _parse_json(df, ("attributes",), compared=False)  # compared through content_hash
    df = df.with_columns(_content_hash(df, parsed["attributes"]))
    key_cols, compare = ("customer_id",), ("content_hash",)
    new, changed, unchanged = _split(df, _stored(session, table, key_cols, compare, df), key_cols, compare)
    _write_frame(
        session,
        table,
        pl.concat([new, changed]).sort(key_cols),
        ("customer_id", *GOLDEN_COLUMNS, "content_hash"),
        (*GOLDEN_COLUMNS, "content_hash", "updated_at"),
        parsed=parsed,
        constants={"created_at": now, "updated_at": now, "version": 1},
        extra_set={"version": table.c.version + sa.literal_column("1")},
    )
    counts = UpsertCounts(inserted=new.height, updated=changed.height, unchanged=unchanged)
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
        FieldProvenance, ("customer_id", "field"), ("source", "source_key", "value", "rule"), ("source", "source_key")
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
    df = df.with_columns(pl.col(text_cols).cast(pl.String)).select(*child.key, *child.values)
    _check_lengths(table, df, "customer_id")
    cols = (*child.key, *child.values)
    rows_read = _select_where_in(session, table, cols, "customer_id", customer_ids, expected=df.height)
    stored = _stored_frame(rows_read, child.key, child.values, df.schema)
    new, changed, unchanged = _split(df, stored, child.key, child.values)
    stale = stored.join(df.select(child.key), on=child.key, how="anti").select(child.key).rows()
    _delete_keys(session, table, child.key, stale)
    _write_frame(session, table, pl.concat([new, changed]).sort(child.key), df.columns, child.values)
    return UpsertCounts(inserted=new.height, updated=changed.height, unchanged=unchanged, deleted=len(stale))


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
    The provenance of a field with a ``customer_override`` gets the override's value and ``rule = override``.

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
    provenance = apply_provenance_overrides(session, provenance)
    frames = {"contact_point": contact_points, "address": addresses, "field_provenance": provenance}
    counts = {name: _sync_children(session, name, ids, frame) for name, frame in frames.items()}
    logger.debug("customer details: %s", counts)
    return counts


#: A source row is in exactly one of these places once it is placed: loaded as a customer row (``crosswalk``)
#: and/or as a child row (``activity``), or ``quarantine``d. Placing a key removes it from the tables named here.
_LEAVES: dict[str, tuple[type[Base], ...]] = {
    "crosswalk": (Quarantine,),
    "activity": (Quarantine,),
    "quarantine": (Crosswalk, Activity),
}


def _place(
    session: Session,
    model: type[Base],
    df: pl.DataFrame,
    compare: Sequence[str],
    *,
    conflict: Sequence[str] | None = None,
) -> UpsertCounts:
    """Upsert ``df`` into ``model`` by ``(source, source_key)`` and remove the same keys from the other places."""
    table = _table(model)
    key_cols = ("source", "source_key")
    _check_lengths(table, df, "source_key")
    if "run_id" in df.columns:
        df = df.rename({"run_id": "first_run_id"})
    columns = df.columns
    df, parsed = _parse_json(df, [c for c in compare if c in _JSON_COLS])
    new, changed, unchanged = _split(df, _stored(session, table, key_cols, compare, df), key_cols, compare)
    deleted = 0
    for other in _LEAVES[table.name]:
        other_table = _table(other)
        elsewhere = _stored(session, other_table, key_cols, (), df).rows()
        _delete_keys(session, other_table, key_cols, elsewhere)
        deleted += len(elsewhere)
    rows = pl.concat([new, changed]).sort(key_cols)
    _write_frame(session, table, rows, columns, compare, parsed=parsed, conflict=conflict)
    counts = UpsertCounts(inserted=new.height, updated=changed.height, unchanged=unchanged, deleted=deleted)
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
    ).with_columns(pl.col("source", "source_key", "customer_id", "run_id").cast(pl.String))
    df = df.with_columns(pl.col("match_probability").cast(pl.Float64))
    _check_unique(df, ("source", "source_key"), what)
    return _place(session, Crosswalk, df, ("customer_id", "match_probability", "evidence"))


def _timestamps(df: pl.DataFrame, column: str, what: str, key: str = "source_key") -> pl.Series:
    """``column`` as ``Datetime("us", "UTC")``: ISO text (``YYYY-MM-DDTHH:MM:SS[.ffffff]`` or ``YYYY-MM-DD``),
    dates or datetimes; naive values are taken to be UTC. Text that is neither fails, naming a row key."""
    values = df[column]
    if values.dtype == pl.Null:
        return values.cast(_UTC)
    if isinstance(values.dtype, pl.Datetime):
        zoned = values.dt.replace_time_zone("UTC") if values.dtype.time_zone is None else values
        return zoned.dt.convert_time_zone("UTC").dt.cast_time_unit("us")
    if values.dtype == pl.Date:
        return values.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    if values.dtype != pl.String:
        raise ValueError(f"{what}: {column} must be ISO text, a date or a datetime, got {values.dtype}")
    text = pl.col(column)
    parsed = df.select(
        pl.coalesce(
            text.str.strptime(pl.Datetime("us"), "%Y-%m-%dT%H:%M:%S%.f", strict=False),
            text.str.strptime(pl.Date, "%Y-%m-%d", strict=False).cast(pl.Datetime("us")),
        ).dt.replace_time_zone("UTC")
    ).to_series()
    bad = parsed.is_null() & values.is_not_null()
    if bad.any():
        raise ValueError(
            f"{what}: {int(bad.sum())} {column} value(s) are not ISO timestamps (YYYY-MM-DDTHH:MM:SS or "
            f"YYYY-MM-DD), e.g. at {key}={df.filter(bad)[key][0]!r}"
        )
    return parsed.alias(column)


def upsert_activities(session: Session, rows: pl.DataFrame) -> UpsertCounts:
    """Store activities (follow-ups, orders, sign-ups) keyed by their source row; the same keys leave ``quarantine``.

    An activity row is a loaded source row, so its ``(source, source_key)`` must be in ``source_record``. A new
    key is inserted; a known key is updated only when one of its values differs, so a re-run changes nothing.

    Args:
        session: the caller's session (not committed here).
        rows: ``source``, ``source_key``, ``customer_id`` (may be null), ``kind``, ``occurred_at`` (ISO text
            ``YYYY-MM-DDTHH:MM:SS`` or ``YYYY-MM-DD``, a date or a datetime, or null; naive means UTC);
            optional ``summary`` (text), ``details`` (JSON text, dict or struct: the row's other columns).

    Returns:
        Counts; ``deleted`` is the number of keys removed from ``quarantine``.
    """
    what = "upsert_activities"
    df = _frame(
        rows,
        what,
        ("source", "source_key", "customer_id", "kind", "occurred_at"),
        ("summary", "details"),
        nullable=("customer_id", "occurred_at"),
    )
    df = df.with_columns(pl.col("source", "source_key", "customer_id", "kind", "summary").cast(pl.String))
    _check_unique(df, ("source", "source_key"), what)
    df = df.with_columns(_timestamps(df, "occurred_at", what))
    compare = ("customer_id", "kind", "occurred_at", "summary", "details")
    return _place(session, Activity, df, compare, conflict=("source", "source_key"))


def upsert_quarantine(session: Session, rows: pl.DataFrame) -> UpsertCounts:
    """Record source rows that were not loaded, with reason codes; the same keys leave ``crosswalk`` and ``activity``.

    Args:
        session: the caller's session (not committed here).
        rows: ``source``, ``source_key``, ``reasons`` (list of codes, or JSON text of one), ``run_id``;
            optional ``details`` (list of ``{rule, code, column, value_masked, message}``, or JSON text).

    Returns:
        Counts; ``deleted`` is the number of keys removed from ``crosswalk`` and ``activity``.
    """
    what = "upsert_quarantine"
    df = _frame(rows, what, ("source", "source_key", "reasons", "run_id"), ("details",))
    df = df.with_columns(pl.col("source", "source_key", "run_id").cast(pl.String))
    _check_unique(df, ("source", "source_key"), what)
    if df["reasons"].null_count():
        raise ValueError(f"{what}: every row needs reasons (a list of codes)")
    return _place(session, Quarantine, df, ("reasons", "details"))


@dataclass(frozen=True, slots=True)
class Retirements:
    """What :func:`retire_customers` did: customers retired, brought back, and marked as split off."""

    retired: int = 0
    revived: int = 0
    split: int = 0


def retire_customers(session: Session, lineage: pl.DataFrame, *, now: dt.datetime) -> Retirements:
    """Retire the customers no source row belongs to any more, and bring back retired ones that have rows again.

    Run after the crosswalk and quarantine are written. A retired customer keeps its record (its id still
    resolves; exports and ``trace`` show it) with ``retired_at`` and ``merged_into`` (the customer that took
    most of its rows, if any); ``split_from`` is set once on a customer split off an earlier one.

    Args:
        session: the caller's session (not committed here).
        lineage: ``customer_id``, ``merged_into``, ``split_from`` (see ``rules.survive.id_lineage``).
        now: the retirement time (naive means UTC).
    """
    cust, cw = _table(Customer), _table(Crosswalk)
    has_rows = sa.exists().where(cw.c.customer_id == cust.c.customer_id)
    orphans = (
        session.execute(sa.select(cust.c.customer_id).where(cust.c.retired_at.is_(None), ~has_rows)).scalars().all()
    )
    merged = dict(lineage.select("customer_id", "merged_into").drop_nulls().iter_rows())
    if orphans:
        stmt = (
            sa.update(cust)
            .where(cust.c.customer_id == sa.bindparam("cid"))
            .values(retired_at=sa.bindparam("at", type_=cust.c.retired_at.type), merged_into=sa.bindparam("into"))
        )
        session.execute(stmt, [{"cid": c, "at": now, "into": merged.get(c)} for c in orphans])
    revived = session.execute(
        sa.update(cust)
        .where(cust.c.retired_at.is_not(None), has_rows)
        .values(retired_at=None, merged_into=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    split = lineage.select("customer_id", "split_from").drop_nulls()
    if split.height:
        stmt = (
            sa.update(cust)
            .where(cust.c.customer_id == sa.bindparam("cid"), cust.c.split_from.is_(None))
            .values(split_from=sa.bindparam("origin"))
        )
        session.execute(stmt, [{"cid": c, "origin": o} for c, o in split.iter_rows()])
    done = Retirements(retired=len(orphans), revived=revived or 0, split=split.height)
    logger.debug("customer lifecycle: %s", done)
    return done


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
    seen: set[tuple[str, str]] = set()
    columns: dict[str, list[Any]] = {"customer_id": [], "members": [], "evidence": [], "members_hash": []}
    for customer_id, member_list, event_evidence in zip(df["customer_id"].to_list(), members, evidence, strict=True):
        key = (customer_id, _members_hash(member_list))
        if key in seen:
            continue
        seen.add(key)
        columns["customer_id"].append(customer_id)
        columns["members"].append(sorted(member_list, key=_canonical_json))
        columns["evidence"].append(event_evidence)
        columns["members_hash"].append(key[1])
    cols = ("customer_id", "members_hash")
    customer_ids = {customer_id for customer_id, _ in seen}
    existing = {tuple(row) for row in _select_where_in(session, table, cols, "customer_id", customer_ids)}
    keep = [k not in existing for k in zip(columns["customer_id"], columns["members_hash"], strict=True)]
    new = {name: [v for v, k in zip(values, keep, strict=True) if k] for name, values in columns.items()}
    inserted = sum(keep)
    created = now or _utcnow()
    _write(session, table, new | {"run_id": [run_id] * inserted, "created_at": [created] * inserted}, None)
    return UpsertCounts(inserted=inserted, unchanged=df.height - inserted)


def read_merge_events(
    session: Session, *, customer_ids: Collection[str] | None = None, principal: Principal | None = None
) -> pl.DataFrame:
    """Merge events in the order they were recorded (by ``id``); only those of ``customer_ids`` when given.

    Columns: ``id`` (Int64), ``run_id``, ``customer_id``, ``members`` (JSON text: the sorted list of
    ``"source:source_key"``), ``evidence`` (JSON text), ``members_hash``, ``created_at``, ``undone_at`` (UTC; set
    while an unmerge has undone the event). ``principal``: only the events of the customers that user sees.
    """
    table = _table(MergeEvent)
    schema: dict[str, pl.DataType] = {"id": pl.Int64(), "run_id": pl.String(), "customer_id": pl.String()}
    schema |= {"members": pl.String(), "evidence": pl.String(), "members_hash": pl.String()}
    schema |= {"created_at": _UTC, "undone_at": _UTC}
    stmt = scoped(session, principal, sa.select(*(table.c[c] for c in schema)).order_by(table.c.id), table)
    if customer_ids is None:
        return _read(session, stmt, schema)
    frames = [
        _read(session, stmt.where(table.c.customer_id.in_(chunk)), schema)
        for chunk in _chunks(sorted(set(customer_ids)), _IN_CHUNK)
    ]
    return pl.concat(frames).sort("id") if frames else pl.DataFrame(schema=schema)


def read_merged_into(session: Session, customer_id: str) -> list[str]:
    """The ids of the retired customers whose rows went to ``customer_id`` (their ``merged_into``), sorted."""
    table = _table(Customer)
    stmt = (
        sa.select(table.c.customer_id)
        .where(table.c.merged_into == customer_id, table.c.retired_at.is_not(None))
        .order_by(table.c.customer_id)
    )
    return [str(v) for v in session.execute(stmt).scalars()]


def set_merge_events_undone(session: Session, event_ids: Collection[int], *, undone_at: dt.datetime | None) -> int:
    """Mark merge events undone (an unmerge: ``undone_at`` its time) or current again (``None``: a merge that undoes
    that unmerge); returns the number of events changed."""
    table = _table(MergeEvent)
    changed = 0
    for chunk in _chunks(sorted(set(event_ids)), _IN_CHUNK):
        stmt = sa.update(table).where(table.c.id.in_(chunk))
        stmt = stmt.where(table.c.undone_at.is_(None) if undone_at is not None else table.c.undone_at.is_not(None))
        changed += (
            session.execute(stmt.values(undone_at=undone_at).execution_options(synchronize_session=False)).rowcount or 0
        )
    return changed


def start_run(
    session: Session,
    run_id: str,
    project: str,
    config_hash: str,
    dry_run: bool,
    versions: Mapping[str, Any] | None,
    *,
    now: dt.datetime | None = None,
    actor: str | None = None,
) -> None:
    """Record the start of a run (status ``running``), with its ``run.start`` audit event. A run id can be started
    once.

    Args:
        versions: package versions (or any JSON object) the run used.
        now: ``started_at`` (default: the current UTC time).
        actor: who started the run, for the audit trail (default: the operating-system user).
    """
    table = _table(PipelineRun)
    if session.execute(sa.select(table.c.run_id).where(table.c.run_id == run_id)).first() is not None:
        raise ValueError(f"start_run: run {run_id!r} was already started")
    now = now or _utcnow()
    session.execute(
        sa.insert(table),
        [
            {
                "run_id": run_id,
                "project": project,
                "started_at": now,
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
    details = {"project": project, "config_hash": config_hash, "dry_run": dry_run}
    append_event(
        session, actor=actor or os_user(), action="run.start", target={"run_id": run_id}, details=details, now=now
    )


def finish_run(
    session: Session,
    run_id: str,
    status: RunStatus,
    ledger: Any,
    report_path: str | Path | None,
    *,
    error: str | None = None,
    now: dt.datetime | None = None,
    actor: str | None = None,
) -> None:
    """Record the end of a run: its final status, ledger (any JSON document), report path and error, with its
    ``run.finish`` audit event (status, ledger totals and the sha256 of the ledger).

    Args:
        status: ``succeeded``, ``partial`` or ``failed`` (``running`` is accepted for a checkpoint).
        error: why the run is ``partial`` or ``failed`` (kept up to ``ERROR_CHARS`` characters).
        now: ``finished_at`` (default: the current UTC time).
        actor: for the audit trail (default: the operating-system user).
    """
    if status not in get_args(RunStatus):
        raise ValueError(f"finish_run: status must be one of {get_args(RunStatus)}, got {status!r}")
    if isinstance(ledger, pl.DataFrame):
        ledger = ledger.to_dicts()
    table = _table(PipelineRun)
    now = now or _utcnow()
    result = session.execute(
        sa.update(table)
        .where(table.c.run_id == run_id)
        .values(
            status=status,
            finished_at=now,
            ledger=ledger,
            report_path=None if report_path is None else str(report_path),
            error=_clip(error),
        )
    )
    if cast(sa.CursorResult[Any], result).rowcount == 0:
        raise ValueError(f"finish_run: no run {run_id!r} (call start_run first)")
    details = {"status": status, **_ledger_summary(ledger)}
    append_event(
        session, actor=actor or os_user(), action="run.finish", target={"run_id": run_id}, details=details, now=now
    )


def _ledger_summary(ledger: Any) -> dict[str, Any]:
    """What a ``run.finish`` event says of a run's ledger: the rows read, loaded, quarantined and skipped (a
    migrate run's list of sources), or the ledger's numbers (another flow's object), and the ledger's sha256."""
    summary: dict[str, Any] = {}
    if isinstance(ledger, list):
        keys = ("read", "loaded", "quarantined", "skipped")
        rows = [row for row in ledger if isinstance(row, Mapping)]
        summary["sources"] = len(rows)
        summary |= {k: sum(int(row.get(k) or 0) for row in rows) for k in keys}
    elif isinstance(ledger, Mapping):
        summary |= {str(k): v for k, v in ledger.items() if isinstance(v, bool | int | float | str)}
    if ledger is not None:
        summary["ledger_sha256"] = hashlib.sha256(_canonical_json(ledger).encode()).hexdigest()
    return summary


def _clip(text: str | None) -> str | None:
    if text is None or len(text) <= ERROR_CHARS:
        return text
    return text[: ERROR_CHARS - 1] + "…"


def close_abandoned_runs(
    session: Session,
    reason: str,
    *,
    run_ids: Collection[str] | None = None,
    keep: str | None = None,
    now: dt.datetime | None = None,
) -> list[str]:
    """Mark runs still ``running`` as ``failed`` with ``reason`` as their error: their process is gone.

    Only the caller knows that (it holds the store's run lock, or found the lock of a dead process).

    Args:
        reason: the error to record, e.g. ``abandoned: process gone``.
        run_ids: only these runs (default: every run still ``running``).
        keep: a run not to close (the caller's own).
        now: ``finished_at`` (default: the current UTC time).

    Returns:
        The ids of the runs closed, sorted.
    """
    table = _table(PipelineRun)
    where = [table.c.status == "running"]
    if run_ids is not None:
        where.append(table.c.run_id.in_(list(run_ids)))
    if keep is not None:
        where.append(table.c.run_id != keep)
    ids = sorted(session.execute(sa.select(table.c.run_id).where(*where)).scalars())
    if ids:
        now = now or _utcnow()
        session.execute(
            sa.update(table)
            .where(table.c.run_id.in_(ids), table.c.status == "running")
            .values(status="failed", finished_at=now, error=_clip(reason))
        )
        logger.debug("closed abandoned run(s) %s: %s", ", ".join(ids), reason)
        for run_id in ids:
            target, details = {"run_id": run_id}, {"status": "failed", "reason": _clip(reason)}
            append_event(session, actor=os_user(), action="run.abandoned", target=target, details=details, now=now)
    return ids


def read_run(session: Session, run_id: str) -> dict[str, Any] | None:
    """One ``pipeline_run`` row as a dict (``ledger`` and ``versions`` decoded; no match model), or ``None``."""
    table = _table(PipelineRun)
    columns = [c for c in table.columns if c.name != "match_model"]
    row = session.execute(sa.select(*columns).where(table.c.run_id == run_id)).mappings().first()
    if row is None:
        return None
    out = dict(row)
    for name in ("ledger", "versions"):
        if isinstance(out[name], str):  # a JSON column read back as text
            out[name] = json.loads(out[name])
    return out


def save_cursor(session: Session, source: str, value: str | None, *, now: dt.datetime | None = None) -> None:
    """Persist the incremental-extraction cursor of ``source``."""
    table = _table(ExtractCursor)
    row = {"source": [source], "value": [value], "updated_at": [now or _utcnow()]}
    _write(session, table, row, ("value", "updated_at"))


def read_cursor(session: Session, source: str) -> str | None:
    """The saved incremental-extraction cursor of ``source`` (``None`` if never saved)."""
    table = _table(ExtractCursor)
    return session.execute(sa.select(table.c.value).where(table.c.source == source)).scalar_one_or_none()


def save_source_columns(
    session: Session, source: str, columns: Sequence[str], run_id: str, *, now: dt.datetime | None = None
) -> bool:
    """Keep ``columns`` (in order) as the schema baseline of ``source``, for schema-drift detection.

    An identical save (the same columns in the same order) writes nothing, not even ``run_id``.

    Args:
        session: the caller's session (not committed here).
        source: the source name.
        columns: the source's column names as read.
        run_id: the run that saw these columns.
        now: ``updated_at`` (default: the current UTC time).

    Returns:
        Whether the baseline changed (a first save counts as a change).
    """
    names = list(columns)
    if isinstance(columns, str) or not all(isinstance(c, str) for c in names):
        raise ValueError(f"save_source_columns: columns must be a list of strings, got {columns!r}")
    if read_source_columns(session, source) == names:
        return False
    row = {"source": [source], "columns": [names], "run_id": [run_id], "updated_at": [now or _utcnow()]}
    _write(session, _table(SourceSchema), row, ("columns", "run_id", "updated_at"))
    logger.debug("source_schema: %s now has %s columns", source, len(names))
    return True


def read_source_columns(session: Session, source: str) -> list[str] | None:
    """The schema baseline of ``source``: its column names, in order, as last saved (``None`` if never saved)."""
    table = _table(SourceSchema)
    value = session.execute(sa.select(table.c.columns).where(table.c.source == source)).scalar_one_or_none()
    return None if value is None else [str(c) for c in value]


# --------------------------------------------------------------------------------------------------- readers


def _read(session: Session, stmt: sa.Select[Any], schema: Mapping[str, pl.DataType]) -> pl.DataFrame:
    rows = [
        tuple(_json_text(v) if name in _JSON_COLS else v for name, v in zip(schema, row, strict=True))
        for row in session.execute(stmt)
    ]
    return pl.DataFrame(rows, schema=dict(schema), orient="row")


def read_customers(session: Session, *, retired: bool = False, principal: Principal | None = None) -> pl.DataFrame:
    """The current golden records (with ``retired=True`` also the retired ones), ordered by ``customer_id``.

    Columns: ``customer_id``, the ``GOLDEN_COLUMNS`` (``birth_date`` ``Date``, ``last_contact_at`` UTC,
    ``attributes`` JSON text), ``content_hash``, ``created_at``, ``updated_at`` (UTC), ``version`` (Int64),
    ``retired_at`` (UTC), ``merged_into``, ``split_from``.

    ``principal``: only the customers that user sees, their columns as they see them (``crm_store.access``; None:
    everything, as the store's owner).
    """
    table = _table(Customer)
    schema: dict[str, pl.DataType] = {name: pl.String() for name in ("customer_id", *GOLDEN_COLUMNS, "content_hash")}
    schema |= {"birth_date": pl.Date(), "last_contact_at": _UTC, "created_at": _UTC, "updated_at": _UTC}
    schema |= {"version": pl.Int64(), "retired_at": _UTC, "merged_into": pl.String(), "split_from": pl.String()}
    stmt = sa.select(*(table.c[c] for c in schema)).order_by(table.c.customer_id)
    if not retired:
        stmt = stmt.where(table.c.retired_at.is_(None))
    return shape(principal, "customer", _read(session, scoped(session, principal, stmt, table), schema))


def read_outcomes(
    session: Session, sources: list[str] | None = None, *, principal: Principal | None = None
) -> pl.DataFrame:
    """One row per source record: what became of it (for the audit crosswalk export).

    Columns: ``source``, ``source_key``, ``status``, ``customer_id`` (null unless loaded: the golden record of
    a customer row from ``crosswalk``, else the customer of an activity row from ``activity``), ``reason`` (the
    source record's reason; for a quarantined row without one, its quarantine reason codes joined by ``;``).
    Ordered by ``source``, ``source_key``. ``principal``: only the source rows that user sees.
    """
    sr, cw, act, q = _table(SourceRecord), _table(Crosswalk), _table(Activity), _table(Quarantine)

    def same_key(table: sa.Table) -> sa.ColumnElement[bool]:
        return sa.and_(table.c.source == sr.c.source, table.c.source_key == sr.c.source_key)

    stmt = (
        sa.select(
            sr.c.source,
            sr.c.source_key,
            sr.c.status,
            sa.case((sr.c.status == "loaded", sa.func.coalesce(cw.c.customer_id, act.c.customer_id)), else_=None),
            sr.c.reason,
            q.c.reasons,
        )
        .select_from(sr.outerjoin(cw, same_key(cw)).outerjoin(act, same_key(act)).outerjoin(q, same_key(q)))
        .order_by(sr.c.source, sr.c.source_key)
    )
    if sources is not None:
        stmt = stmt.where(sr.c.source.in_(sources))
    stmt = scoped(session, principal, stmt, sr)
    rows = [
        (source, key, status, customer_id, reason if reason is not None or not reasons else ";".join(reasons))
        for source, key, status, customer_id, reason, reasons in session.execute(stmt)
    ]
    schema = {name: pl.String() for name in ("source", "source_key", "status", "customer_id", "reason")}
    return pl.DataFrame(rows, schema=schema, orient="row")


def read_provenance(session: Session, *, principal: Principal | None = None) -> pl.DataFrame:
    """Field provenance: ``customer_id``, ``field``, ``source``, ``source_key``, ``value``, ``rule`` (what decided
    the choice). ``principal``: only what that user sees (``crm_store.access``)."""
    table = _table(FieldProvenance)
    schema = {name: pl.String() for name in ("customer_id", "field", "source", "source_key", "value", "rule")}
    stmt = sa.select(*(table.c[c] for c in schema)).order_by(table.c.customer_id, table.c.field)
    return shape(principal, "field_provenance", _read(session, scoped(session, principal, stmt, table), schema))


def read_crosswalk(session: Session, *, principal: Principal | None = None) -> pl.DataFrame:
    """The crosswalk: ``source``, ``source_key``, ``customer_id``, ``match_probability`` (Float64),
    ``evidence`` (JSON text), ``first_run_id``; ordered by ``source``, ``source_key``. ``principal``: only the
    rows of the customers that user sees (none for ``service``)."""
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
    return _read(session, scoped(session, principal, stmt, table), schema)


def read_activities(session: Session, *, principal: Principal | None = None) -> pl.DataFrame:
    """The activities: ``activity_id`` (Int64), ``source``, ``source_key``, ``customer_id``, ``kind``,
    ``occurred_at`` (UTC), ``summary``, ``details`` (JSON text); ordered by ``source``, ``source_key``.
    ``principal``: only what that user sees (``crm_store.access``)."""
    table = _table(Activity)
    schema: dict[str, pl.DataType] = {
        "activity_id": pl.Int64(),
        "source": pl.String(),
        "source_key": pl.String(),
        "customer_id": pl.String(),
        "kind": pl.String(),
        "occurred_at": _UTC,
        "summary": pl.String(),
        "details": pl.String(),
    }
    stmt = sa.select(*(table.c[c] for c in schema)).order_by(table.c.source, table.c.source_key)
    return shape(principal, "activity", _read(session, scoped(session, principal, stmt, table), schema))


def read_quarantine(session: Session, *, principal: Principal | None = None) -> pl.DataFrame:
    """The quarantine: ``source``, ``source_key``, ``reasons`` (List[String]), ``details`` (JSON text),
    ``first_run_id``; ordered by ``source``, ``source_key``. ``principal``: only what that user sees."""
    table = _table(Quarantine)
    stmt = sa.select(
        table.c.source, table.c.source_key, table.c.reasons, table.c.details, table.c.first_run_id
    ).order_by(table.c.source, table.c.source_key)
    stmt = scoped(session, principal, stmt, table)
    rows = [(s, k, reasons, _json_text(details), run) for s, k, reasons, details, run in session.execute(stmt)]
    schema = {
        "source": pl.String(),
        "source_key": pl.String(),
        "reasons": pl.List(pl.String()),
        "details": pl.String(),
        "first_run_id": pl.String(),
    }
    return shape(principal, "quarantine", pl.DataFrame(rows, schema=schema, orient="row"))


def read_contact_points(session: Session, *, principal: Principal | None = None) -> pl.DataFrame:
    """Every contact point: ``customer_id``, ``kind`` (phone|email|wechat), ``value``, ``valid`` (Boolean),
    ``source``, ``source_key``; ordered by ``customer_id``, ``kind``, ``value``. ``principal``: only what that user
    sees (``crm_store.access``)."""
    table = _table(ContactPoint)
    schema: dict[str, pl.DataType] = {name: pl.String() for name in ("customer_id", "kind", "value")}
    schema |= {"valid": pl.Boolean(), "source": pl.String(), "source_key": pl.String()}
    stmt = sa.select(*(table.c[c] for c in schema)).order_by(table.c.customer_id, table.c.kind, table.c.value)
    return shape(principal, "contact_point", _read(session, scoped(session, principal, stmt, table), schema))


def read_runs(session: Session, *, limit: int | None = None) -> pl.DataFrame:
    """Run history from ``pipeline_run``, newest first (by ``started_at``, then ``run_id``).

    Columns: ``run_id``, ``project``, ``started_at``, ``finished_at`` (UTC), ``status``, ``dry_run`` (Boolean),
    ``config_hash``, ``ledger`` (JSON text: a migrate run's list of per-source rows, or another flow's object),
    ``report_path``, ``error``. No match model.

    Args:
        limit: at most this many runs (default: all).
    """
    table = _table(PipelineRun)
    schema: dict[str, pl.DataType] = {"run_id": pl.String(), "project": pl.String()}
    schema |= {"started_at": _UTC, "finished_at": _UTC, "status": pl.String(), "dry_run": pl.Boolean()}
    schema |= {name: pl.String() for name in ("config_hash", "ledger", "report_path", "error")}
    stmt = sa.select(*(table.c[c] for c in schema)).order_by(table.c.started_at.desc(), table.c.run_id.desc())
    if limit is not None:
        stmt = stmt.limit(limit)
    return _read(session, stmt, schema)


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


def read_source_records(
    session: Session, sources: list[str], *, status: str | None = None, principal: Principal | None = None
) -> pl.DataFrame:
    """The stored source rows of ``sources`` (optionally only those with ``status``), raw payload included.

    Columns: ``source``, ``source_key``, ``row_hash``, ``payload`` (JSON text of the row as read), ``status``,
    ``reason``. Ordered by ``source``, ``source_key``. Incremental runs rebuild earlier rows from these.
    ``principal``: only the rows that user sees, masked for an auditor (``crm_store.access``).
    """
    sr = _table(SourceRecord)
    stmt = (
        sa.select(sr.c.source, sr.c.source_key, sr.c.row_hash, sr.c.payload, sr.c.status, sr.c.reason)
        .where(sr.c.source.in_(sources))
        .order_by(sr.c.source, sr.c.source_key)
    )
    if status is not None:
        stmt = stmt.where(sr.c.status == status)
    stmt = scoped(session, principal, stmt, sr)
    schema = {name: pl.String() for name in ("source", "source_key", "row_hash", "payload", "status", "reason")}
    frame = pl.DataFrame([tuple(row) for row in session.execute(stmt)], schema=schema, orient="row")
    return shape(principal, "source_record", frame)


def save_match_model(session: Session, run_id: str, model_json: str) -> None:
    """Keep the match model a run trained (JSON text), for later incremental runs."""
    table = _table(PipelineRun)
    session.execute(sa.update(table).where(table.c.run_id == run_id).values(match_model=model_json))


def read_match_model(session: Session) -> str | None:
    """The match model of the newest run that loaded its rows (``succeeded`` or ``partial``) and trained one
    (``None`` when no run did)."""
    table = _table(PipelineRun)
    stmt = (
        sa.select(table.c.match_model)
        .where(table.c.status.in_(LOADED_STATUSES), table.c.match_model.is_not(None))
        .order_by(table.c.finished_at.desc(), table.c.run_id.desc())
        .limit(1)
    )
    return session.execute(stmt).scalar_one_or_none()

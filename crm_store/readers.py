"""Readers: the store's tables as polars frames, and the golden record, source rows and field provenance of one
customer.

They take the caller's ``Session``, never write, and give JSON columns as JSON text with sorted keys; timestamps come
back as ``Datetime("us", "UTC")``. Readers that take ``principal=`` return only what that user sees, masked as they
see it (``crm_store.access``).

The readers by customer back ``crmkit trace``. They never hard-code a table's column list: every column the model
declares *and* the store holds is returned (so a column added by a later migration — ``retired_at``,
``merged_into``, a provenance ``rule`` — appears without a change here, and a store one migration behind still
reads).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, get_args

import polars as pl
import sqlalchemy as sa
from sqlalchemy.orm import Session

from crm_store._frames import UTC, canonical_json, json_text, read_frame, table_of
from crm_store.access import Principal, scoped, shape
from crm_store.models import (
    Activity,
    Base,
    ContactPoint,
    Crosswalk,
    Customer,
    FieldProvenance,
    Quarantine,
    SourceRecord,
    UtcDateTime,
)
from crm_store.schema import RowStatus
from crm_store.upsert import GOLDEN_COLUMNS

__all__ = [
    "find_customer_ids",
    "ledger_counts",
    "read_activities",
    "read_activity_rows",
    "read_contact_points",
    "read_crosswalk",
    "read_customer",
    "read_customer_provenance",
    "read_customer_rows",
    "read_customers",
    "read_outcomes",
    "read_provenance",
    "read_quarantine",
    "read_source_records",
    "table_counts",
]

#: Fewest characters of a customer id prefix that :func:`find_customer_ids` looks up.
MIN_PREFIX = 6


def _stored_columns(session: Session, table: sa.Table) -> list[sa.Column[Any]]:
    """The model's columns of ``table`` that the store holds, in the model's order."""
    present = {c["name"] for c in sa.inspect(session.connection()).get_columns(table.name)}
    return [c for c in table.columns if c.name in present]


def _dtype(column: sa.Column[Any]) -> pl.DataType:
    kind = column.type
    if isinstance(kind, UtcDateTime):
        return pl.Datetime("us", "UTC")
    if isinstance(kind, sa.JSON):
        return pl.String()
    if isinstance(kind, sa.DateTime):
        return pl.Datetime("us")
    if isinstance(kind, sa.Date):
        return pl.Date()
    if isinstance(kind, sa.Boolean):
        return pl.Boolean()
    if isinstance(kind, sa.Integer):
        return pl.Int64()
    if isinstance(kind, sa.Float | sa.Numeric):
        return pl.Float64()
    return pl.String()


def _cell(column: sa.Column[Any], value: Any) -> Any:
    if value is None:
        return None
    if isinstance(column.type, sa.JSON):
        return canonical_json(value)
    if isinstance(column.type, sa.Float | sa.Numeric):
        return float(value)
    if isinstance(value, dt.datetime) and value.tzinfo is not None and not isinstance(column.type, UtcDateTime):
        return value.replace(tzinfo=None)
    return value


def _frame(session: Session, columns: list[sa.Column[Any]], stmt: sa.Select[Any]) -> pl.DataFrame:
    rows = [tuple(_cell(c, v) for c, v in zip(columns, row, strict=True)) for row in session.execute(stmt)]
    schema = {c.name: _dtype(c) for c in columns}
    return pl.DataFrame(rows, schema=schema, orient="row")


# --------------------------------------------------------------------------------------------- one customer


def read_customer(session: Session, customer_id: str, *, principal: Principal | None = None) -> pl.DataFrame:
    """The golden record ``customer_id``, retired or not: one row (none if there is no such customer, or
    ``principal`` does not see it).

    Columns: every column of ``customer`` in the store (``attributes`` as JSON text), as ``principal`` sees them.
    """
    table = table_of(Customer)
    columns = _stored_columns(session, table)
    stmt = scoped(session, principal, sa.select(*columns).where(table.c.customer_id == customer_id), table)
    return shape(principal, "customer", _frame(session, columns, stmt))


def find_customer_ids(
    session: Session, prefix: str, *, limit: int = 10, principal: Principal | None = None
) -> list[str]:
    """Customer ids that start with ``prefix`` (at least ``MIN_PREFIX`` characters; else none), sorted, at most
    ``limit`` of them: lets a person type the start of a UUID, as with git commit ids. ``principal``: only the
    customers that user sees."""
    if len(prefix) < MIN_PREFIX:
        return []
    table = table_of(Customer)
    escaped = prefix.replace("/", "//").replace("%", "/%").replace("_", "/_")
    stmt = (
        sa.select(table.c.customer_id)
        .where(table.c.customer_id.like(f"{escaped}%", escape="/"))
        .order_by(table.c.customer_id)
        .limit(limit)
    )
    return [str(v) for v in session.execute(scoped(session, principal, stmt, table)).scalars()]


def read_customer_provenance(session: Session, customer_id: str, *, principal: Principal | None = None) -> pl.DataFrame:
    """Where each golden field of ``customer_id`` came from, ordered by ``field``.

    Columns: every column of ``field_provenance`` in the store (``customer_id``, ``field``, ``source``,
    ``source_key``, ``value``, and ``rule`` once the store has it). ``principal``: only what that user sees.
    """
    table = table_of(FieldProvenance)
    columns = _stored_columns(session, table)
    stmt = sa.select(*columns).where(table.c.customer_id == customer_id).order_by(table.c.field)
    return shape(principal, "field_provenance", _frame(session, columns, scoped(session, principal, stmt, table)))


#: Customer ids per statement of :func:`read_activity_rows` (well under every backend's limit on bound parameters).
_IDS_PER_QUERY = 500


def read_activity_rows(
    session: Session, customer_ids: list[str], *, principal: Principal | None = None
) -> pl.DataFrame:
    """The stored activities of these customers with their raw rows, for linking them again: ``source``,
    ``source_key``, ``customer_id`` (the customer they are linked to now), ``payload`` (JSON text of the row as
    read); ordered by ``source``, ``source_key``. ``principal``: only the rows that user sees, payloads masked for an
    auditor (``crm_store.access``)."""
    act, sr = table_of(Activity), table_of(SourceRecord)
    schema: dict[str, pl.DataType] = {
        "source": pl.String(),
        "source_key": pl.String(),
        "customer_id": pl.String(),
        "payload": pl.String(),
    }
    frames = [pl.DataFrame(schema=schema)]
    ids = sorted(set(customer_ids))
    for start in range(0, len(ids), _IDS_PER_QUERY):
        stmt = (
            sa.select(act.c.source, act.c.source_key, act.c.customer_id, sr.c.payload)
            .join(sr, (sr.c.source == act.c.source) & (sr.c.source_key == act.c.source_key))
            .where(act.c.customer_id.in_(ids[start : start + _IDS_PER_QUERY]))
        )
        frames.append(read_frame(session, scoped(session, principal, stmt, act, sr), schema))
    return shape(principal, "source_record", pl.concat(frames).sort("source", "source_key"))


def read_customer_rows(session: Session, customer_id: str, *, principal: Principal | None = None) -> pl.DataFrame:
    """Every source row behind ``customer_id``, raw payload included.

    A row is behind a customer when the crosswalk links it to the customer (``link`` = ``member``), when it is an
    activity of the customer (``activity``), or when one of the customer's golden fields came from it although
    the crosswalk now links it elsewhere (``provenance``: a retired customer whose rows moved to another one).

    Columns: ``source``, ``source_key``, ``link``, ``status``, ``reason`` (why it was not loaded), ``customer_id``
    (the customer the crosswalk links the row to now; null for an activity row), ``match_probability`` (Float64),
    ``evidence`` (JSON text), ``payload`` (JSON text of the row as read), ``first_run_id``. Ordered by ``link``
    (members first), ``source``, ``source_key``. ``principal``: only the rows that user sees (none for ``service``),
    payloads masked for an auditor (``crm_store.access``).
    """
    sr, cw, act, fp = table_of(SourceRecord), table_of(Crosswalk), table_of(Activity), table_of(FieldProvenance)

    def keys(table: sa.Table, where: sa.ColumnElement[bool], link: str) -> sa.Select[Any]:
        tag = sa.literal_column(f"'{link}'", sa.String()).label("link")  # a constant of ours, not input
        return sa.select(table.c.source, table.c.source_key, tag).where(where)

    linked = sa.union_all(
        keys(cw, cw.c.customer_id == customer_id, "member"),
        keys(act, act.c.customer_id == customer_id, "activity"),
        keys(fp, fp.c.customer_id == customer_id, "provenance"),
    ).subquery("linked")
    same = sa.and_(sr.c.source == linked.c.source, sr.c.source_key == linked.c.source_key)
    stmt = (
        sa.select(
            linked.c.source,
            linked.c.source_key,
            linked.c.link,
            sr.c.status,
            sr.c.reason,
            cw.c.customer_id,
            cw.c.match_probability,
            cw.c.evidence,
            sr.c.payload,
            sr.c.first_run_id,
        )
        .select_from(
            linked.join(sr, same).outerjoin(
                cw, sa.and_(cw.c.source == linked.c.source, cw.c.source_key == linked.c.source_key)
            )
        )
        .order_by(linked.c.source, linked.c.source_key)
    )
    stmt = scoped(session, principal, stmt, sr)
    order = {"member": 0, "activity": 1, "provenance": 2}
    seen: dict[tuple[str, str], tuple[Any, ...]] = {}
    for source, key, link, status, reason, owner, probability, evidence, payload, run in session.execute(stmt):
        earlier = seen.get((source, key))
        if earlier is not None and order[earlier[2]] <= order[link]:
            continue  # a row both a member and a field's origin is listed once, as a member
        evidence_text = None if evidence is None else canonical_json(evidence)
        probability = None if probability is None else float(probability)
        seen[(source, key)] = (source, key, link, status, reason, owner, probability, evidence_text, payload, run)
    rows = sorted(seen.values(), key=lambda r: (order[r[2]], r[0], r[1]))
    schema: dict[str, pl.DataType] = {name: pl.String() for name in ("source", "source_key", "link", "status")}
    schema |= {"reason": pl.String(), "customer_id": pl.String(), "match_probability": pl.Float64()}
    schema |= {"evidence": pl.String(), "payload": pl.String(), "first_run_id": pl.String()}
    return shape(principal, "source_record", pl.DataFrame(rows, schema=schema, orient="row"))


# --------------------------------------------------------------------------------------------- tables


def read_customers(session: Session, *, retired: bool = False, principal: Principal | None = None) -> pl.DataFrame:
    """The current golden records (with ``retired=True`` also the retired ones), ordered by ``customer_id``.

    Columns: ``customer_id``, the ``GOLDEN_COLUMNS`` (``birth_date`` ``Date``, ``last_contact_at`` UTC,
    ``attributes`` JSON text), ``content_hash``, ``created_at``, ``updated_at`` (UTC), ``version`` (Int64),
    ``retired_at`` (UTC), ``merged_into``, ``split_from``.

    ``principal``: only the customers that user sees, their columns as they see them (``crm_store.access``; None:
    everything, as the store's owner).
    """
    table = table_of(Customer)
    schema: dict[str, pl.DataType] = {name: pl.String() for name in ("customer_id", *GOLDEN_COLUMNS, "content_hash")}
    schema |= {"birth_date": pl.Date(), "last_contact_at": UTC, "created_at": UTC, "updated_at": UTC}
    schema |= {"version": pl.Int64(), "retired_at": UTC, "merged_into": pl.String(), "split_from": pl.String()}
    stmt = sa.select(*(table.c[c] for c in schema)).order_by(table.c.customer_id)
    if not retired:
        stmt = stmt.where(table.c.retired_at.is_(None))
    return shape(principal, "customer", read_frame(session, scoped(session, principal, stmt, table), schema))


def read_outcomes(
    session: Session, sources: list[str] | None = None, *, principal: Principal | None = None
) -> pl.DataFrame:
    """One row per source record: what became of it (for the audit crosswalk export).

    Columns: ``source``, ``source_key``, ``status``, ``customer_id`` (null unless loaded: the golden record of
    a customer row from ``crosswalk``, else the customer of an activity row from ``activity``), ``reason`` (the
    source record's reason; for a quarantined row without one, its quarantine reason codes joined by ``;``).
    Ordered by ``source``, ``source_key``. ``principal``: only the source rows that user sees.
    """
    sr, cw, act, q = table_of(SourceRecord), table_of(Crosswalk), table_of(Activity), table_of(Quarantine)

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
    table = table_of(FieldProvenance)
    schema = {name: pl.String() for name in ("customer_id", "field", "source", "source_key", "value", "rule")}
    stmt = sa.select(*(table.c[c] for c in schema)).order_by(table.c.customer_id, table.c.field)
    return shape(principal, "field_provenance", read_frame(session, scoped(session, principal, stmt, table), schema))


def read_crosswalk(session: Session, *, principal: Principal | None = None) -> pl.DataFrame:
    """The crosswalk: ``source``, ``source_key``, ``customer_id``, ``match_probability`` (Float64),
    ``evidence`` (JSON text), ``first_run_id``; ordered by ``source``, ``source_key``. ``principal``: only the
    rows of the customers that user sees (none for ``service``)."""
    table = table_of(Crosswalk)
    schema: dict[str, pl.DataType] = {
        "source": pl.String(),
        "source_key": pl.String(),
        "customer_id": pl.String(),
        "match_probability": pl.Float64(),
        "evidence": pl.String(),
        "first_run_id": pl.String(),
    }
    stmt = sa.select(*(table.c[c] for c in schema)).order_by(table.c.source, table.c.source_key)
    return read_frame(session, scoped(session, principal, stmt, table), schema)


def read_activities(session: Session, *, principal: Principal | None = None) -> pl.DataFrame:
    """The activities: ``activity_id`` (Int64), ``source``, ``source_key``, ``customer_id``, ``kind``,
    ``occurred_at`` (UTC), ``summary``, ``details`` (JSON text); ordered by ``source``, ``source_key``.
    ``principal``: only what that user sees (``crm_store.access``)."""
    table = table_of(Activity)
    schema: dict[str, pl.DataType] = {
        "activity_id": pl.Int64(),
        "source": pl.String(),
        "source_key": pl.String(),
        "customer_id": pl.String(),
        "kind": pl.String(),
        "occurred_at": UTC,
        "summary": pl.String(),
        "details": pl.String(),
    }
    stmt = sa.select(*(table.c[c] for c in schema)).order_by(table.c.source, table.c.source_key)
    return shape(principal, "activity", read_frame(session, scoped(session, principal, stmt, table), schema))


def read_quarantine(session: Session, *, principal: Principal | None = None) -> pl.DataFrame:
    """The quarantine: ``source``, ``source_key``, ``reasons`` (List[String]), ``details`` (JSON text),
    ``first_run_id``; ordered by ``source``, ``source_key``. ``principal``: only what that user sees."""
    table = table_of(Quarantine)
    stmt = sa.select(
        table.c.source, table.c.source_key, table.c.reasons, table.c.details, table.c.first_run_id
    ).order_by(table.c.source, table.c.source_key)
    stmt = scoped(session, principal, stmt, table)
    rows = [(s, k, reasons, json_text(details), run) for s, k, reasons, details, run in session.execute(stmt)]
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
    table = table_of(ContactPoint)
    schema: dict[str, pl.DataType] = {name: pl.String() for name in ("customer_id", "kind", "value")}
    schema |= {"valid": pl.Boolean(), "source": pl.String(), "source_key": pl.String()}
    stmt = sa.select(*(table.c[c] for c in schema)).order_by(table.c.customer_id, table.c.kind, table.c.value)
    return shape(principal, "contact_point", read_frame(session, scoped(session, principal, stmt, table), schema))


def ledger_counts(session: Session, sources: list[str] | None = None) -> pl.DataFrame:
    """Source records per source and status: ``source``, ``loaded``, ``quarantined``, ``skipped`` (Int64).

    With ``sources``, exactly those sources in that order (zeros for a source with no rows); otherwise every
    stored source, sorted.
    """
    table = table_of(SourceRecord)
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
    sr = table_of(SourceRecord)
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

"""Readers that select by customer: one golden record, the source rows behind it and its field provenance.

These back ``crmkit trace``. They never hard-code a table's column list: every column the model declares *and*
the store holds is returned (so a column added by a later migration — ``retired_at``, ``merged_into``, a
provenance ``rule`` — appears without a change here, and a store one migration behind still reads). Like the
repository functions they take the caller's ``Session``, return polars frames and give JSON columns as JSON text
with sorted keys; timestamps come back as ``Datetime("us", "UTC")``.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, cast

import polars as pl
import sqlalchemy as sa
from sqlalchemy.orm import Session

from crm_store.access import Principal, scoped, shape
from crm_store.models import Activity, Base, Crosswalk, Customer, FieldProvenance, SourceRecord, UtcDateTime

__all__ = ["find_customer_ids", "read_customer", "read_customer_provenance", "read_customer_rows"]

#: Fewest characters of a customer id prefix that :func:`find_customer_ids` looks up.
MIN_PREFIX = 6


def _table(model: type[Base]) -> sa.Table:
    return cast(sa.Table, model.__table__)


def _stored_columns(session: Session, table: sa.Table) -> list[sa.Column[Any]]:
    """The model's columns of ``table`` that the store holds, in the model's order."""
    present = {c["name"] for c in sa.inspect(session.connection()).get_columns(table.name)}
    return [c for c in table.columns if c.name in present]


def _json_text(value: Any) -> str:
    """JSON text with sorted keys, as the repository's readers give it."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


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
        return _json_text(value)
    if isinstance(column.type, sa.Float | sa.Numeric):
        return float(value)
    if isinstance(value, dt.datetime) and value.tzinfo is not None and not isinstance(column.type, UtcDateTime):
        return value.replace(tzinfo=None)
    return value


def _frame(session: Session, columns: list[sa.Column[Any]], stmt: sa.Select[Any]) -> pl.DataFrame:
    rows = [tuple(_cell(c, v) for c, v in zip(columns, row, strict=True)) for row in session.execute(stmt)]
    schema = {c.name: _dtype(c) for c in columns}
    return pl.DataFrame(rows, schema=schema, orient="row")


def read_customer(session: Session, customer_id: str, *, principal: Principal | None = None) -> pl.DataFrame:
    """The golden record ``customer_id``, retired or not: one row (none if there is no such customer, or
    ``principal`` does not see it).

    Columns: every column of ``customer`` in the store (``attributes`` as JSON text), as ``principal`` sees them.
    """
    table = _table(Customer)
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
    table = _table(Customer)
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
    table = _table(FieldProvenance)
    columns = _stored_columns(session, table)
    stmt = sa.select(*columns).where(table.c.customer_id == customer_id).order_by(table.c.field)
    return shape(principal, "field_provenance", _frame(session, columns, scoped(session, principal, stmt, table)))


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
    sr, cw, act, fp = _table(SourceRecord), _table(Crosswalk), _table(Activity), _table(FieldProvenance)

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
        evidence_text = None if evidence is None else _json_text(evidence)
        probability = None if probability is None else float(probability)
        seen[(source, key)] = (source, key, link, status, reason, owner, probability, evidence_text, payload, run)
    rows = sorted(seen.values(), key=lambda r: (order[r[2]], r[0], r[1]))
    schema: dict[str, pl.DataType] = {name: pl.String() for name in ("source", "source_key", "link", "status")}
    schema |= {"reason": pl.String(), "customer_id": pl.String(), "match_probability": pl.Float64()}
    schema |= {"evidence": pl.String(), "payload": pl.String(), "first_run_id": pl.String()}
    return shape(principal, "source_record", pl.DataFrame(rows, schema=schema, orient="row"))

"""Data-subject requests (PIPL, GDPR): find one person's data across the store, export it, or erase it.

A person is named by one phone number or e-mail address (a :class:`SubjectQuery`, built by the caller: the
normalised value as the store keeps it, a masked label for logs and the audit trail, and a vectorised test that
tells whether a raw source cell holds the value, so that ``138 0013 8000`` and ``+86 13800138000.0`` are found
too). Their data is:

- the golden records holding the value (primary phone, landline, primary e-mail, a contact point), and those of
  the source rows holding it (through the crosswalk);
- the source rows holding the value in any cell (loaded, quarantined or skipped), every source row linked to those
  golden records, and every activity of them (follow-ups, orders) or from those rows;
- what hangs off them: contact points, addresses, field provenance, quarantine details.

:func:`erase_subject` removes the personal data and keeps the bookkeeping, in the caller's transaction: golden
records keep their id, kind, owner and segment, lose every other field and are retired (``status = 'erased'``);
their contact points and addresses are deleted; field provenance keeps which row gave which field, not the value;
source rows keep their key and status (so the ledger still balances) and their payload becomes the tombstone
``{"erased": true}`` with ``reason = 'erased'`` and the tombstone's hash as ``row_hash``; quarantine rows lose
their details, activities their summary and details. An ``audit_event`` (``subject.erase``) records who erased
whom (the masked label) and how many rows of each table. Nothing here logs a raw value.

A source row marked ``reason = 'erased'`` must not be loaded again from its source: :func:`read_erased_keys` lists
them for the migrate flow to skip.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal, cast

import polars as pl
import sqlalchemy as sa
from sqlalchemy.orm import Session

from crm_store.access import Principal, row_filter, set_principal, shape_records
from crm_store.crypto import equals
from crm_store.lock import acquire_run_lock
from crm_store.models import (
    Activity,
    Address,
    Base,
    ContactPoint,
    Crosswalk,
    Customer,
    FieldProvenance,
    Quarantine,
    SourceRecord,
)

__all__ = [
    "ERASED_PAYLOAD",
    "ERASED_REASON",
    "Erasure",
    "SubjectFindings",
    "SubjectQuery",
    "erase_subject",
    "erase_subject_from_store",
    "export_subject",
    "find_subject",
    "read_erased_keys",
    "record_subject_export",
]

logger = logging.getLogger(__name__)

#: The payload an erased source row keeps, and the reason it is marked with.
ERASED_PAYLOAD: Final = '{"erased": true}'
ERASED_REASON: Final = "erased"
ERASED_STATUS: Final = "erased"
#: Columns of ``customer`` an erased golden record keeps (ids, bookkeeping, who owns it); every other nullable
#: column is set to NULL, so a personal-data column added later is erased too.
KEPT_CUSTOMER_COLUMNS: Final = frozenset(
    {
        "customer_id",
        "kind",
        "owner",
        "segment",
        "status",
        "content_hash",
        "created_at",
        "updated_at",
        "version",
        "retired_at",
        "merged_into",
        "split_from",
    }
)

_IN_CHUNK = 500
_SCAN_BATCH = 10_000

Key = tuple[str, str]


@dataclass(frozen=True)
class SubjectQuery:
    """Whom to look for.

    Attributes:
        kind: ``phone`` or ``email``.
        value: the value as the store keeps it (E.164 phone number, normalised e-mail address).
        label: the value masked (``138****8000``, ``z***@qq.com``): the only form logs and the audit trail see.
        cell_matches: raw cell texts (a ``pl.String`` Series) → Boolean Series: the cell holds the value (the
            caller normalises with ``rules.normalise``; the store does not know the rules).
    """

    kind: Literal["phone", "email"]
    value: str
    label: str
    cell_matches: Callable[[pl.Series], pl.Series]


@dataclass
class SubjectFindings:
    """Where a person's data is: golden records, source rows (those holding the value, and all rows linked to the
    golden records) and activities."""

    query: SubjectQuery
    customer_ids: list[str] = field(default_factory=list)
    #: Source rows whose payload holds the value.
    direct_keys: list[Key] = field(default_factory=list)
    #: Every source row to export or erase: the direct ones, the rows of the golden records, their activities' rows.
    source_keys: list[Key] = field(default_factory=list)
    activity_ids: list[int] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.customer_ids or self.source_keys or self.activity_ids)

    def summary(self) -> dict[str, int]:
        """Counts only (no value): golden records, source rows (direct), activities."""
        return {
            "customers": len(self.customer_ids),
            "source_records": len(self.source_keys),
            "source_records_holding_value": len(self.direct_keys),
            "activities": len(self.activity_ids),
        }


def _table(model: type[Base]) -> sa.Table:
    return cast(sa.Table, model.__table__)


def _chunks(values: Sequence[Any], size: int = _IN_CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _by_source(keys: Iterable[Key]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for source, key in keys:
        out.setdefault(source, []).append(key)
    return out


def _key_filters(table: sa.Table, keys: Iterable[Key]) -> Iterator[sa.ColumnElement[bool]]:
    """``source = s AND source_key IN (...)`` conditions covering ``keys``, a bounded number of keys each."""
    for source, source_keys in sorted(_by_source(keys).items()):
        for part in _chunks(sorted(source_keys)):
            yield sa.and_(table.c.source == source, table.c.source_key.in_(part))


def _id_filters(column: sa.ColumnElement[Any], ids: Sequence[Any]) -> Iterator[sa.ColumnElement[bool]]:
    for part in _chunks(sorted(ids)):
        yield column.in_(part)


# --------------------------------------------------------------------------------------------------- finding


def _cells(payload: str | None) -> list[str]:
    """The values of a raw row (JSON object of column → text) as texts; nested values as JSON."""
    if not payload:
        return []
    try:
        row = json.loads(payload)
    except ValueError:
        return [payload]
    values = row.values() if isinstance(row, dict) else row if isinstance(row, list) else [row]
    return [v if isinstance(v, str) else json.dumps(v, ensure_ascii=False) for v in values if v is not None]


def _payload_matches(session: Session, query: SubjectQuery) -> list[Key]:
    """Source rows with a cell that holds the value, scanned in batches (raw payloads never all in memory)."""
    sr = _table(SourceRecord)
    stmt = sa.select(sr.c.source, sr.c.source_key, sr.c.payload).where(
        sa.or_(sr.c.reason.is_(None), sr.c.reason != ERASED_REASON)
    )
    found: list[Key] = []
    result = session.execute(stmt.execution_options(yield_per=_SCAN_BATCH))
    for part in result.partitions(_SCAN_BATCH):
        owners: list[int] = []
        cells: list[str] = []
        for i, (_, _, payload) in enumerate(part):
            values = _cells(payload)
            cells += values
            owners += [i] * len(values)
        if not cells:
            continue
        hits = query.cell_matches(pl.Series("cell", cells, dtype=pl.String)).fill_null(False)
        rows = sorted({owners[j] for j in hits.arg_true().to_list()})
        found += [(part[i][0], part[i][1]) for i in rows]
    return found


def find_subject(session: Session, query: SubjectQuery, *, principal: Principal | None = None) -> SubjectFindings:
    """Find the person named by ``query`` across golden records, contact points, source rows and activities.

    Rows erased earlier are not scanned again. Reads only. ``principal``: only what that user sees (their
    customers, and the source rows and activities of them: ``crm_store.access``).
    """
    cust, cp, cw, act = _table(Customer), _table(ContactPoint), _table(Crosswalk), _table(Activity)
    value = query.value  # encrypted columns compare through crypto.equals: every key, and plain text
    if query.kind == "phone":
        holds = sa.or_(equals(session, cust.c.primary_phone, value), equals(session, cust.c.landline, value))
    else:
        holds = equals(session, cust.c.primary_email, value)
    customers = set(session.execute(sa.select(cust.c.customer_id).where(holds)).scalars())
    customers |= set(
        session.execute(
            sa.select(cp.c.customer_id).where(cp.c.kind == query.kind, equals(session, cp.c.value, value))
        ).scalars()
    )
    direct = _payload_matches(session, query)
    for condition in _key_filters(cw, direct):
        customers |= set(session.execute(sa.select(cw.c.customer_id).where(condition)).scalars())
    keys: set[Key] = set(direct)
    activities: set[int] = set()
    for condition in _id_filters(cw.c.customer_id, list(customers)):
        keys |= {(s, k) for s, k in session.execute(sa.select(cw.c.source, cw.c.source_key).where(condition))}
    for condition in _id_filters(act.c.customer_id, list(customers)):
        rows = session.execute(sa.select(act.c.activity_id, act.c.source, act.c.source_key).where(condition))
        for activity_id, source, key in rows:
            activities.add(int(activity_id))
            keys.add((source, key))
    for condition in _key_filters(act, direct):
        activities |= {int(i) for i in session.execute(sa.select(act.c.activity_id).where(condition)).scalars()}
    findings = SubjectFindings(query, sorted(customers), sorted(set(direct)), sorted(keys), sorted(activities))
    if principal is not None:
        findings = _visible(session, findings, principal)
    logger.info("subject %s %s: %s", query.kind, query.label, findings.summary())
    return findings


def _visible(session: Session, findings: SubjectFindings, principal: Principal) -> SubjectFindings:
    """The findings cut to what ``principal`` sees."""
    cust, sr, act = _table(Customer), _table(SourceRecord), _table(Activity)
    set_principal(session, principal)

    def kept(stmt: sa.Select[Any], table: sa.Table) -> sa.Select[Any]:
        condition = row_filter(principal, table)
        return stmt if condition is None else stmt.where(condition)

    customers: set[str] = set()
    for condition in _id_filters(cust.c.customer_id, findings.customer_ids):
        customers |= set(session.execute(kept(sa.select(cust.c.customer_id).where(condition), cust)).scalars())
    keys: set[Key] = set()
    for condition in _key_filters(sr, findings.source_keys):
        keys |= {(s, k) for s, k in session.execute(kept(sa.select(sr.c.source, sr.c.source_key).where(condition), sr))}
    activities: set[int] = set()
    for condition in _id_filters(act.c.activity_id, findings.activity_ids):
        stmt = kept(sa.select(act.c.activity_id).where(condition), act)
        activities |= {int(i) for i in session.execute(stmt).scalars()}
    direct = sorted(k for k in findings.direct_keys if k in keys)
    return SubjectFindings(findings.query, sorted(customers), direct, sorted(keys), sorted(activities))


# --------------------------------------------------------------------------------------------------- export


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return value


def _rows(
    session: Session,
    table: sa.Table,
    conditions: Iterable[sa.ColumnElement[bool]],
    principal: Principal | None = None,
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    order = list(table.primary_key.columns)
    scope = row_filter(principal, table)
    for condition in conditions:
        stmt = sa.select(table).where(condition).order_by(*order)
        if scope is not None:
            stmt = stmt.where(scope)
        out += [{k: _jsonable(v) for k, v in row._mapping.items()} for row in session.execute(stmt)]
    return shape_records(principal, table.name, out)


def export_subject(
    session: Session, findings: SubjectFindings, *, principal: Principal | None = None
) -> dict[str, Any]:
    """Everything the store holds about the person, as a JSON-ready document (raw values: for the person
    themselves; write it ``0600``).

    Sections: ``customers``, ``contact_points``, ``addresses``, ``field_provenance``, ``crosswalk``,
    ``source_records`` (``payload`` parsed), ``quarantine`` and ``activities``. ``principal``: only the rows that
    user sees, their values as they see them (an auditor's masked: ``crm_store.access``).
    """
    cust, cp, addr, fp = _table(Customer), _table(ContactPoint), _table(Address), _table(FieldProvenance)
    cw, sr, q, act = _table(Crosswalk), _table(SourceRecord), _table(Quarantine), _table(Activity)
    ids, keys = findings.customer_ids, findings.source_keys
    if principal is not None:
        set_principal(session, principal)
    p = principal
    records = _rows(session, sr, _key_filters(sr, keys), p)
    for record in records:
        with contextlib.suppress(TypeError, ValueError):
            record["payload"] = json.loads(record["payload"])
    addresses = {
        tuple(r.values()): r
        for r in _rows(session, addr, _id_filters(addr.c.customer_id, ids), p)
        + _rows(session, addr, _key_filters(addr, keys), p)
    }
    return {
        "query": {"kind": findings.query.kind, "value": findings.query.value},
        "exported_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "counts": findings.summary(),
        "customers": _rows(session, cust, _id_filters(cust.c.customer_id, ids), p),
        "contact_points": _rows(session, cp, _id_filters(cp.c.customer_id, ids), p),
        "addresses": list(addresses.values()),
        "field_provenance": _rows(session, fp, _id_filters(fp.c.customer_id, ids), p),
        "crosswalk": _rows(session, cw, _key_filters(cw, keys), p),
        "source_records": records,
        "quarantine": _rows(session, q, _key_filters(q, keys), p),
        "activities": _rows(session, act, _id_filters(act.c.activity_id, findings.activity_ids), p),
    }


# --------------------------------------------------------------------------------------------------- erasure


@dataclass(frozen=True)
class Erasure:
    """What an erasure changed, per table (counts only), and its audit event."""

    label: str
    counts: dict[str, int]
    audit_event_id: int | None


def _rowcount(result: sa.Result[Any]) -> int:
    return max(int(cast(sa.CursorResult[Any], result).rowcount or 0), 0)


def erase_subject(
    session: Session, findings: SubjectFindings, *, actor: str, now: dt.datetime | None = None
) -> Erasure:
    """Erase the person's data found by :func:`find_subject` (see the module docstring), in the caller's
    transaction, and record a ``subject.erase`` audit event. The caller commits (and should hold the store's run
    lock, so no run writes the same rows meanwhile: :func:`erase_subject_from_store` does both)."""
    now = now or dt.datetime.now(dt.UTC)
    if session.get_bind().dialect.name == "sqlite":
        session.execute(sa.text("PRAGMA secure_delete=ON"))  # freed space is zeroed, not left with the old values
    cust, cp, addr, fp = _table(Customer), _table(ContactPoint), _table(Address), _table(FieldProvenance)
    sr, q, act = _table(SourceRecord), _table(Quarantine), _table(Activity)
    ids, keys = findings.customer_ids, findings.source_keys
    counts = dict.fromkeys(
        ("customer", "contact_point", "address", "field_provenance", "source_record", "quarantine", "activity"), 0
    )
    blank = {
        c.name: None for c in cust.columns if c.name not in KEPT_CUSTOMER_COLUMNS and c.nullable and not c.primary_key
    }
    erased_hash = hashlib.sha256(ERASED_PAYLOAD.encode()).hexdigest()
    for part in _chunks(sorted(ids)):
        counts["customer"] += _rowcount(
            session.execute(
                sa.update(cust)
                .where(cust.c.customer_id.in_(part))
                .values(
                    **blank,
                    status=ERASED_STATUS,
                    content_hash=erased_hash,
                    retired_at=sa.func.coalesce(cust.c.retired_at, now),
                    updated_at=now,
                    version=cust.c.version + 1,
                )
            )
        )
        counts["contact_point"] += _rowcount(session.execute(sa.delete(cp).where(cp.c.customer_id.in_(part))))
        counts["address"] += _rowcount(session.execute(sa.delete(addr).where(addr.c.customer_id.in_(part))))
        counts["field_provenance"] += _rowcount(
            session.execute(sa.update(fp).where(fp.c.customer_id.in_(part), fp.c.value.is_not(None)).values(value=None))
        )
    for condition in _key_filters(addr, keys):
        counts["address"] += _rowcount(session.execute(sa.delete(addr).where(condition)))
    for condition in _key_filters(sr, keys):
        counts["source_record"] += _rowcount(
            session.execute(
                sa.update(sr)
                .where(condition)
                .values(payload=ERASED_PAYLOAD, reason=ERASED_REASON, row_hash=erased_hash)
            )
        )
    for condition in _key_filters(q, keys):
        counts["quarantine"] += _rowcount(session.execute(sa.update(q).where(condition).values(details=None)))
    for condition in _id_filters(act.c.activity_id, findings.activity_ids):
        counts["activity"] += _rowcount(
            session.execute(sa.update(act).where(condition).values(summary=None, details=None))
        )
    event_id = _audit(session, "subject.erase", findings, actor, {"changed": counts}, now)
    logger.info("erased subject %s %s: %s", findings.query.kind, findings.query.label, counts)
    return Erasure(findings.query.label, counts, event_id)


def _audit(
    session: Session,
    action: str,
    findings: SubjectFindings,
    actor: str,
    details: dict[str, Any],
    now: dt.datetime | None = None,
) -> int | None:
    """Append the request to the store's audit trail: the masked value and counts, never the value itself."""
    from crm_store.steward import record_audit_event

    if not sa.inspect(session.connection()).has_table("audit_event"):  # pragma: no cover - a store before 0007
        logger.warning(
            "the store has no audit_event table: %s of %s is not in an audit trail", action, findings.query.label
        )
        return None
    return record_audit_event(
        session,
        actor=actor[:128],
        action=action,
        target={"kind": findings.query.kind, "value": findings.query.label},
        details={"found": findings.summary(), **details},
        now=now,
    )


def record_subject_export(session: Session, findings: SubjectFindings, *, actor: str, file_name: str) -> int | None:
    """Record a ``subject.export`` audit event (masked value, counts, the file's name) in the caller's
    transaction; returns its id (``None`` for a store without an audit trail)."""
    return _audit(session, "subject.export", findings, actor, {"file": file_name})


def erase_subject_from_store(
    engine: sa.Engine,
    query: SubjectQuery,
    *,
    actor: str,
    confirm: Callable[[SubjectFindings], bool] | None = None,
    lock_wait_seconds: float = 0.0,
) -> tuple[SubjectFindings, Erasure | None]:
    """Find and erase the person in one transaction, holding the store's run lock, then clear what the backend
    keeps of the old values where it can (SQLite: a truncating WAL checkpoint; PostgreSQL: ``VACUUM`` of the
    tables changed).

    Args:
        engine: the store.
        query: whom to erase.
        actor: who erases (audit trail).
        confirm: called with what was found, before anything changes; ``False`` erases nothing.
        lock_wait_seconds: how long to wait for a run that holds the store's run lock.

    Returns:
        What was found, and the erasure (``None`` when nothing was found or ``confirm`` said no).

    Raises:
        RunLockedError: a run holds the store's run lock.
    """
    run_id = f"subject-erase-{dt.datetime.now(dt.UTC):%Y%m%d%H%M%S%f}"
    erasure = None
    lock = acquire_run_lock(engine, run_id, wait_seconds=lock_wait_seconds)
    with lock, Session(engine) as session, session.begin():
        findings = find_subject(session, query)
        if not findings.empty and (confirm is None or confirm(findings)):
            erasure = erase_subject(session, findings, actor=actor)
    if erasure is None:
        return findings, None
    _clear_old_versions(engine)
    return findings, erasure


def _clear_old_versions(engine: sa.Engine) -> None:
    name = engine.dialect.name
    tables = ("customer", "contact_point", "address", "field_provenance", "source_record", "quarantine", "activity")
    try:
        if name == "sqlite":
            with engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        elif name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM " + ", ".join(tables))
    except sa.exc.SQLAlchemyError as exc:  # the erasure is committed; this only shortens how long old bytes linger
        logger.warning("could not clear old row versions after the erasure: %s", type(exc).__name__)


# --------------------------------------------------------------------------------------------------- later runs


def read_erased_keys(session: Session, sources: Sequence[str] | None = None) -> pl.DataFrame:
    """Source rows erased on request (``source``, ``source_key``): a run must skip them when it reads them again
    (their source still holds the person), or the person comes back."""
    sr = _table(SourceRecord)
    stmt = sa.select(sr.c.source, sr.c.source_key).where(sr.c.reason == ERASED_REASON)
    if sources is not None:
        stmt = stmt.where(sr.c.source.in_(list(sources)))
    rows = [tuple(r) for r in session.execute(stmt.order_by(sr.c.source, sr.c.source_key))]
    return pl.DataFrame(rows, schema={"source": pl.String(), "source_key": pl.String()}, orient="row")

"""The tamper-evident audit trail: ``audit_event`` rows in a hash chain, appended one at a time and verified.

Every event carries ``seq`` (1, 2, 3 … without gaps), ``prev_hash`` (the hash of event ``seq - 1``; 64 zeros for
the first) and ``hash``: the sha256 of the canonical JSON (sorted keys, no spaces, UTF-8) of the object
``{seq, at, actor, action, target, details, prev_hash}``, ``at`` written ``YYYY-MM-DDTHH:MM:SS.ffffffZ``. Changing
any value of an event breaks its hash; deleting, inserting or reordering events breaks ``seq`` and ``prev_hash``;
deleting the last events leaves the chain short of ``audit_head``, the one-row table that holds the last ``seq``
and ``hash``.

**One chain, whoever writes.** :func:`append_event` first ``UPDATE``\\ s the ``audit_head`` row (``seq + 1``) and
only then reads it: the update takes the row's write lock, held to the end of the caller's transaction, so two
writers take turns and the second reads the head the first committed. That holds on PostgreSQL (an ``UPDATE``
waiting for a row lock re-reads the committed row: a plain ``SELECT … FOR UPDATE`` of "the last event" would
return the old last row, and lock nothing on an empty table), on MariaDB/InnoDB (an ``UPDATE`` reads the newest
committed row, whatever the isolation level) and on SQLite (the ``UPDATE`` takes the database's single write lock
before the read). The head row is inserted with a store's first event; on MariaDB in a transaction of its own,
before the writer's (two writers' updates of the missing row would each lock the other's insert). The unique
``seq`` is the backstop: a chain cannot fork, at worst a writer fails. The lock is held until the caller commits,
so record the event last in a transaction.

This hash chain proves the rows unchanged to anyone who trusts the last hash: someone with write access to the
database can rewrite the whole chain. :func:`verify_chain` takes *anchors* (``seq`` → ``hash`` noted earlier,
outside the store) to catch that too.
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, cast

import polars as pl
import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.orm import Session

from crm_store.models import AuditEvent, AuditHead

__all__ = [
    "GENESIS",
    "ChainProblem",
    "ChainReport",
    "append_event",
    "canonical_time",
    "event_hash",
    "os_user",
    "read_audit_trail",
    "record_run_merges",
    "verify_chain",
]

logger = logging.getLogger(__name__)

#: ``prev_hash`` of the first event.
GENESIS: Final = "0" * 64
#: The ``audit_head`` row of the store's one chain.
HEAD: Final = "audit"
#: Problems :func:`verify_chain` lists at most (the first one is what counts).
MAX_PROBLEMS: Final = 20
_UTC = pl.Datetime("us", "UTC")


def os_user() -> str:
    """The operating-system login name, the default actor of an event (``unknown`` when there is none)."""
    try:
        return getpass.getuser()
    except Exception:  # no login name (a container without a passwd entry)
        return "unknown"


def canonical_time(at: dt.datetime) -> str:
    """``at`` in UTC as the chain hashes it: ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (naive means UTC)."""
    at = at.replace(tzinfo=dt.UTC) if at.tzinfo is None else at.astimezone(dt.UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _canonical_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _numbers(value: Any) -> Any:
    """``value`` with every whole float as an int: PostgreSQL's ``jsonb`` gives ``1e16`` back as
    ``10000000000000000`` (and ``-0.0`` as ``0``), so the hash must not tell them apart."""
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, dict):
        return {k: _numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    return value


def event_hash(*, seq: int, at: dt.datetime, actor: str, action: str, target: Any, details: Any, prev_hash: str) -> str:
    """The sha256 (hex) of one event's canonical JSON (see the module's docstring; whole floats count as ints)."""
    document = {
        "seq": seq,
        "at": canonical_time(at),
        "actor": actor,
        "action": action,
        "target": _numbers(target),
        "details": _numbers(details),
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(_canonical_json(document).encode("utf-8")).hexdigest()


def _plain(value: Any) -> Any:
    """``value`` as the JSON the store keeps and gives back: dict keys text, tuples lists, a non-finite float or
    another non-JSON value its text (so the hash of what is written equals the hash of what is read)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value)


def _table(model: type[Any]) -> sa.Table:
    return cast(sa.Table, model.__table__)


def _lock_head(session: Session) -> tuple[int, str]:
    """Lock the chain's head for this transaction and return the next ``seq`` and the ``prev_hash`` it follows."""
    head = _table(AuditHead)
    if session.get_bind().dialect.name in ("mysql", "mariadb") and session.execute(_head_row()).first() is None:
        _create_first_head_apart(session)
    update = sa.update(head).where(head.c.name == HEAD).values(seq=head.c.seq + 1)
    if not cast(sa.CursorResult[Any], session.execute(update)).rowcount:  # a deleted head, or a first one left here
        _recreated(session, *_insert_head(session.connection()))
        session.execute(update)
    seq, prev = session.execute(_head_row()).one()
    return int(seq), str(prev)


def _head_row() -> sa.Select[tuple[int, str]]:
    head = _table(AuditHead)
    return sa.select(head.c.seq, head.c.hash).where(head.c.name == HEAD)


#: Seconds the separate insert of a store's first head waits for a lock before leaving the insert to the writer's
#: own transaction (which may hold the lock itself: a SERIALIZABLE read of the missing row locks its gap).
_APART_LOCK_WAIT_S = 5


def _create_first_head_apart(session: Session) -> None:
    """Insert a new store's head row in a transaction of its own (MySQL/MariaDB). InnoDB's ``UPDATE`` of a row that
    is not there locks the gap where it would be: two writers of a store's first event then each wait for the
    other's gap to insert it (a deadlock, one transaction rolled back). Inserted and committed apart, before the
    writer's transaction locks anything, the row is there for every writer's ``UPDATE``, which then take turns.

    The connection is a new one, not the writer's pool (whose connections may all be held by writers waiting here).
    A head deleted from a chain that has events is left to the writer's transaction, where the
    ``audit.head_recreated`` event commits or rolls back with it; so is a first head whose insert waits longer than
    `_APART_LOCK_WAIT_S` or whose connection fails (the writer's may have been made otherwise than from its URL).
    """
    engine = sa.create_engine(session.get_bind().engine.url, poolclass=sa.pool.NullPool)
    events = _table(AuditEvent)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"SET SESSION innodb_lock_wait_timeout = {_APART_LOCK_WAIT_S}")
            if conn.execute(sa.select(events.c.seq).limit(1)).first() is None:
                _insert_head(conn)
    except sa.exc.SQLAlchemyError as exc:  # a lock waited for too long, a URL this process cannot connect to again
        logger.debug("the audit chain's first head is left to the writer's transaction: %s", exc)
    finally:
        engine.dispose()


def _insert_head(conn: sa.Connection) -> tuple[bool, int, str]:
    """Insert the head row at the last event unless it is there (another writer inserted it meanwhile): whether
    this call inserted it, and the ``seq`` and hash it holds."""
    head, events = _table(AuditHead), _table(AuditEvent)
    last = conn.execute(sa.select(events.c.seq, events.c.hash).order_by(events.c.seq.desc()).limit(1)).first()
    seq, prev = (int(last[0]), str(last[1])) if last is not None else (0, GENESIS)
    values = {"name": HEAD, "seq": seq, "hash": prev, "updated_at": dt.datetime.now(dt.UTC)}
    if conn.dialect.name in ("postgresql", "sqlite"):  # psycopg reports no rowcount: RETURNING says if it inserted
        insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(head).values(values)
        stmt = insert.on_conflict_do_nothing(index_elements=[head.c.name]).returning(head.c.name)
        return conn.execute(stmt).first() is not None, seq, prev
    stmt_my = mysql.insert(head).values(values).prefix_with("IGNORE")  # MySQL/MariaDB
    return conn.execute(stmt_my).rowcount > 0, seq, prev


def _recreated(session: Session, inserted: bool, seq: int, prev: str) -> None:
    """A head inserted after events (the first event of a store has none) replaces a deleted one: the
    ``audit.head_recreated`` event says so."""
    if inserted and seq:
        logger.warning("the audit chain had no head row: recreated at seq %s", seq)
        details = {"last_seq": seq, "last_hash": prev}
        _append(session, os_user(), "audit.head_recreated", None, details, dt.datetime.now(dt.UTC))


def _append(session: Session, actor: str, action: str, target: Any, details: Any, at: dt.datetime) -> AuditEvent:
    seq, prev = _lock_head(session)
    digest = event_hash(seq=seq, at=at, actor=actor, action=action, target=target, details=details, prev_hash=prev)
    event = AuditEvent(
        at=at, actor=actor, action=action, target=target, details=details, seq=seq, prev_hash=prev, hash=digest
    )
    session.add(event)
    session.flush()
    head = _table(AuditHead)
    session.execute(sa.update(head).where(head.c.name == HEAD).values(hash=digest, updated_at=at))
    return event


def append_event(
    session: Session,
    *,
    actor: str,
    action: str,
    target: Any = None,
    details: Any = None,
    now: dt.datetime | None = None,
) -> AuditEvent:
    """Append one event to the chain in the caller's transaction (not committed here) and return it.

    The chain's head stays locked until the caller's transaction ends: other writers of events wait for it.

    Raises:
        ValueError: ``actor`` empty or longer than 128 characters, ``action`` empty or longer than 64.
    """
    if not actor or len(actor) > 128:
        raise ValueError("record_audit_event: actor must be 1 to 128 characters")
    if not action or len(action) > 64:
        raise ValueError("record_audit_event: action must be 1 to 64 characters")
    at = now or dt.datetime.now(dt.UTC)
    at = at.replace(tzinfo=dt.UTC) if at.tzinfo is None else at.astimezone(dt.UTC)
    return _append(session, actor, action, _plain(target), _plain(details), at)


def record_run_merges(
    session: Session,
    run_id: str,
    merge_events: int,
    lifecycle: Any = None,
    *,
    actor: str | None = None,
    now: dt.datetime | None = None,
) -> int | None:
    """The one ``run.merge`` event of a run that merged customers: how many merge events it recorded and, from
    ``lifecycle`` (``crm_store.Retirements``), how many customers it retired, brought back and split off. Nothing
    when the run changed none of that (an identical re-run); returns the event's id."""
    counts = {"merge_events": int(merge_events)}
    for name in ("retired", "revived", "split"):
        counts[f"customers_{name}"] = int(getattr(lifecycle, name, 0) or 0)
    if not any(counts.values()):
        return None
    target = {"run_id": run_id}
    event = append_event(session, actor=actor or os_user(), action="run.merge", target=target, details=counts, now=now)
    return int(event.id)


# ------------------------------------------------------------------------------------------------ verify


@dataclass(frozen=True, slots=True)
class ChainProblem:
    """One place where the chain is broken: the event (``seq``, ``id``, ``action``; None where none is) and why."""

    seq: int | None
    event_id: int | None
    action: str | None
    problem: str

    def describe(self) -> str:
        where = f"seq {self.seq}" if self.seq is not None else "the chain's head"
        if self.event_id is not None:
            where += f" (event #{self.event_id}, {self.action})"
        return f"{where}: {self.problem}"


@dataclass(frozen=True, slots=True)
class ChainReport:
    """What :func:`verify_chain` found: the events checked, the last ``seq`` and ``hash``, and the problems
    (at most ``MAX_PROBLEMS``, in chain order; ``problem_count`` counts them all)."""

    events: int
    last_seq: int
    last_hash: str
    problems: list[ChainProblem] = field(default_factory=list)
    problem_count: int = 0

    @property
    def intact(self) -> bool:
        return not self.problem_count

    @property
    def first(self) -> ChainProblem | None:
        return self.problems[0] if self.problems else None


def verify_chain(session: Session, *, anchors: Mapping[int, str] | None = None) -> ChainReport:
    """Recompute the chain from the first event to the head and report where it is broken.

    Checks, in ``seq`` order: ``seq`` follows the previous one (a gap: events deleted); ``prev_hash`` is the
    previous event's ``hash`` (events deleted, inserted or reordered); ``hash`` is the hash of the event's content
    (a value changed). Then the head: it names the last event (events deleted from the end). ``anchors``
    (``seq`` → ``hash`` noted outside the store) must still be in the chain (the chain was rewritten).
    """
    events = _table(AuditEvent)
    raw = {"target", "details"} | ({"at"} if session.get_bind().dialect.name == "sqlite" else set())
    columns = [
        sa.type_coerce(events.c[c], sa.String()).label(c) if c in raw else events.c[c]
        for c in ("id", "seq", "at", "actor", "action", "target", "details", "prev_hash", "hash")
    ]  # read as stored: a value that is not JSON (or, on SQLite, not a time) is a finding, not a crash
    problems: list[ChainProblem] = []
    count = 0

    def problem(seq: int | None, event_id: int | None, action: str | None, text: str) -> None:
        nonlocal count
        count += 1
        if len(problems) < MAX_PROBLEMS:
            problems.append(ChainProblem(seq, event_id, action, text))

    wanted = dict(anchors or {})
    checked = 0
    expected_seq, prev_hash = 1, GENESIS
    stmt = sa.select(*columns).order_by(events.c.seq, events.c.id).execution_options(yield_per=10_000)
    for event_id, seq, at, actor, action, target, details, stored_prev, stored_hash in session.execute(stmt):
        checked += 1
        if seq is None or stored_hash is None or stored_prev is None:
            problem(seq, event_id, action, "written without its place in the chain (seq or hash missing)")
            continue
        if seq != expected_seq:
            gap = (
                f"event{'s' if seq - expected_seq > 1 else ''} seq {expected_seq}"
                + (f"..{seq - 1}" if seq - expected_seq > 1 else "")
                + " missing (deleted?)"
            )
            problem(seq, event_id, action, gap if seq > expected_seq else f"seq out of order (expected {expected_seq})")
        if stored_prev != prev_hash:
            problem(
                seq,
                event_id,
                action,
                "does not follow the event before it (prev_hash differs: deleted, inserted or reordered events)",
            )
        try:
            content = {"at": _stored_time(at), "target": _stored_json(target), "details": _stored_json(details)}
            digest = event_hash(seq=seq, actor=actor, action=action, prev_hash=stored_prev, **content)
        except (ValueError, TypeError):
            digest = None
        if digest is None:
            problem(seq, event_id, action, "its content cannot be read as written (not JSON, or not a time)")
        elif digest != stored_hash:
            problem(seq, event_id, action, "its content does not match its hash (changed after it was written)")
        if seq in wanted and wanted.pop(seq) != stored_hash:
            problem(seq, event_id, action, "its hash is not the anchor noted for it (the chain was rewritten)")
        expected_seq, prev_hash = seq + 1, stored_hash
    last_seq = expected_seq - 1
    for seq in sorted(wanted):
        problem(seq, None, None, "an anchor names this event, which the chain does not have")
    head = _table(AuditHead)
    found = session.execute(sa.select(head.c.seq, head.c.hash).where(head.c.name == HEAD)).first()
    if found is None:
        if checked:
            problem(None, None, None, "no head row (audit_head) although the chain has events: it was deleted")
    elif int(found[0]) != last_seq:
        problem(
            None,
            None,
            None,
            f"the chain ends at seq {last_seq} but its head names seq {found[0]} (events deleted from the end, or "
            "the head changed)",
        )
    elif str(found[1]) != prev_hash:
        problem(None, None, None, f"the head's hash is not that of event seq {last_seq} (the last event replaced?)")
    report = ChainReport(checked, last_seq, prev_hash, problems, count)
    logger.debug("audit chain: %s events, %s problems", checked, count)
    return report


def _stored_json(value: Any) -> Any:
    """A JSON column's value as read without its type: text (SQLite, MariaDB) is parsed, a decoded ``jsonb``
    (PostgreSQL) taken as is."""
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    return json.loads(value) if isinstance(value, str) else value


def _stored_time(value: Any) -> dt.datetime:
    """``at`` as read: a datetime, or SQLite's text of one (UTC)."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if not isinstance(value, dt.datetime):
        raise TypeError(f"not a time: {type(value).__name__}")
    return value


# ------------------------------------------------------------------------------------------------ read


def read_audit_trail(
    session: Session, *, limit: int | None = None, actions: Iterable[str] | None = None
) -> pl.DataFrame:
    """The audit trail in chain order (the newest ``limit`` events when given; ``actions``: only those).

    Columns: ``seq``, ``id``, ``at`` (UTC), ``actor``, ``action``, ``target``, ``details`` (JSON text, sorted
    keys), ``prev_hash``, ``hash``.
    """
    events = _table(AuditEvent)
    schema: dict[str, pl.DataType] = {
        "seq": pl.Int64(),
        "id": pl.Int64(),
        "at": _UTC,
        "actor": pl.String(),
        "action": pl.String(),
        "target": pl.String(),
        "details": pl.String(),
        "prev_hash": pl.String(),
        "hash": pl.String(),
    }
    stmt = sa.select(*(events.c[c] for c in schema)).order_by(events.c.seq.desc())
    if actions is not None:
        stmt = stmt.where(events.c.action.in_(list(actions)))
    if limit is not None:
        stmt = stmt.limit(limit)
    rows = [
        tuple(
            None if v is None else _canonical_json(v) if name in ("target", "details") else v
            for name, v in zip(schema, row, strict=True)
        )
        for row in session.execute(stmt)
    ]
    rows.reverse()
    return pl.DataFrame(rows, schema=schema, orient="row")

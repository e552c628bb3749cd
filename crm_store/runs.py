"""Runs and what they keep between them: the ``pipeline_run`` rows (start, finish, abandoned runs, history), the
incremental-extraction cursors, the sources' column baselines, the match model and the merge events.

Every function takes a ``Session`` and never commits: the caller owns the transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, cast, get_args

import polars as pl
import sqlalchemy as sa
from sqlalchemy.orm import Session

from crm_store._frames import (
    IN_CHUNK,
    UTC,
    canonical_json,
    chunks,
    json_values,
    read_frame,
    table_of,
    utcnow,
)
from crm_store.access import Principal, scoped
from crm_store.audit import append_event, os_user
from crm_store.models import Customer, ExtractCursor, MergeEvent, PipelineRun, SourceSchema
from crm_store.upsert import (
    BATCH_ROWS,
    ROW_INDEX,
    UpsertCounts,
    checked_frame,
    select_where_in,
    write_columns,
    write_rows,
)

__all__ = [
    "ERROR_CHARS",
    "LOADED_STATUSES",
    "RunStatus",
    "close_abandoned_runs",
    "finish_run",
    "read_cursor",
    "read_match_model",
    "read_merge_events",
    "read_merged_into",
    "read_run",
    "read_runs",
    "read_source_columns",
    "record_merge_events",
    "save_cursor",
    "save_match_model",
    "save_source_columns",
    "set_merge_events_undone",
    "start_run",
]

logger = logging.getLogger(__name__)

#: ``running`` until the run ends; ``partial``: loaded, but a source failed or too many rows were quarantined.
RunStatus = Literal["running", "succeeded", "partial", "failed"]
#: Runs that loaded what they read (their match model can be reused).
LOADED_STATUSES = ("succeeded", "partial")
#: The longest ``pipeline_run.error`` kept (a longer one ends with "…").
ERROR_CHARS = 4000


# --------------------------------------------------------------------------------------------- runs


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
    table = table_of(PipelineRun)
    if session.execute(sa.select(table.c.run_id).where(table.c.run_id == run_id)).first() is not None:
        raise ValueError(f"start_run: run {run_id!r} was already started")
    now = now or utcnow()
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
    table = table_of(PipelineRun)
    now = now or utcnow()
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
        summary["ledger_sha256"] = hashlib.sha256(canonical_json(ledger).encode()).hexdigest()
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
    table = table_of(PipelineRun)
    where = [table.c.status == "running"]
    if run_ids is not None:
        where.append(table.c.run_id.in_(list(run_ids)))
    if keep is not None:
        where.append(table.c.run_id != keep)
    ids = sorted(session.execute(sa.select(table.c.run_id).where(*where)).scalars())
    if ids:
        now = now or utcnow()
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
    table = table_of(PipelineRun)
    columns = [c for c in table.columns if c.name != "match_model"]
    row = session.execute(sa.select(*columns).where(table.c.run_id == run_id)).mappings().first()
    if row is None:
        return None
    out = dict(row)
    for name in ("ledger", "versions"):
        if isinstance(out[name], str):  # a JSON column read back as text
            out[name] = json.loads(out[name])
    return out


def read_runs(session: Session, *, limit: int | None = None) -> pl.DataFrame:
    """Run history from ``pipeline_run``, newest first (by ``started_at``, then ``run_id``).

    Columns: ``run_id``, ``project``, ``started_at``, ``finished_at`` (UTC), ``status``, ``dry_run`` (Boolean),
    ``config_hash``, ``ledger`` (JSON text: a migrate run's list of per-source rows, or another flow's object),
    ``report_path``, ``error``. No match model.

    Args:
        limit: at most this many runs (default: all).
    """
    table = table_of(PipelineRun)
    schema: dict[str, pl.DataType] = {"run_id": pl.String(), "project": pl.String()}
    schema |= {"started_at": UTC, "finished_at": UTC, "status": pl.String(), "dry_run": pl.Boolean()}
    schema |= {name: pl.String() for name in ("config_hash", "ledger", "report_path", "error")}
    stmt = sa.select(*(table.c[c] for c in schema)).order_by(table.c.started_at.desc(), table.c.run_id.desc())
    if limit is not None:
        stmt = stmt.limit(limit)
    return read_frame(session, stmt, schema)


# --------------------------------------------------------------------------------------------- cursors and baselines


def save_cursor(session: Session, source: str, value: str | None, *, now: dt.datetime | None = None) -> None:
    """Persist the incremental-extraction cursor of ``source``."""
    table = table_of(ExtractCursor)
    row: dict[str, Sequence[Any]] = {"source": [source], "value": [value], "updated_at": [now or utcnow()]}
    write_columns(session, table, row, ("value", "updated_at"))


def read_cursor(session: Session, source: str) -> str | None:
    """The saved incremental-extraction cursor of ``source`` (``None`` if never saved)."""
    table = table_of(ExtractCursor)
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
    row: dict[str, Sequence[Any]] = {
        "source": [source],
        "columns": [names],
        "run_id": [run_id],
        "updated_at": [now or utcnow()],
    }
    write_columns(session, table_of(SourceSchema), row, ("columns", "run_id", "updated_at"))
    logger.debug("source_schema: %s now has %s columns", source, len(names))
    return True


def read_source_columns(session: Session, source: str) -> list[str] | None:
    """The schema baseline of ``source``: its column names, in order, as last saved (``None`` if never saved)."""
    table = table_of(SourceSchema)
    value = session.execute(sa.select(table.c.columns).where(table.c.source == source)).scalar_one_or_none()
    return None if value is None else [str(c) for c in value]


# --------------------------------------------------------------------------------------------- the match model


def save_match_model(session: Session, run_id: str, model_json: str) -> None:
    """Keep the match model a run trained (JSON text), for later incremental runs."""
    table = table_of(PipelineRun)
    session.execute(sa.update(table).where(table.c.run_id == run_id).values(match_model=model_json))


def read_match_model(session: Session) -> str | None:
    """The match model of the newest run that loaded its rows (``succeeded`` or ``partial``) and trained one
    (``None`` when no run did)."""
    table = table_of(PipelineRun)
    stmt = (
        sa.select(table.c.match_model)
        .where(table.c.status.in_(LOADED_STATUSES), table.c.match_model.is_not(None))
        .order_by(table.c.finished_at.desc(), table.c.run_id.desc())
        .limit(1)
    )
    return session.execute(stmt).scalar_one_or_none()


# --------------------------------------------------------------------------------------------- merge events


def _sorted_members(members: list[Any]) -> tuple[list[Any], str]:
    """The members in canonical order (by their JSON text) and their ``members_hash``."""
    texts = [canonical_json(m) for m in members]
    order = sorted(range(len(members)), key=texts.__getitem__)
    ordered = [texts[i] for i in order]
    return [members[i] for i in order], hashlib.sha256(canonical_json(ordered).encode()).hexdigest()


def record_merge_events(
    session: Session,
    run_id: str,
    events: pl.DataFrame,
    *,
    now: dt.datetime | None = None,
    batch_size: int = BATCH_ROWS,
) -> UpsertCounts:
    """Record merges; an event whose ``(customer_id, members)`` is already recorded is skipped.

    The members are compared as a set (order does not matter) through ``members_hash``.

    Args:
        session: the caller's session (not committed here).
        run_id: the run recording the events.
        events: ``customer_id``, ``members`` (list, or JSON text of one); optional ``evidence`` (scores per
            comparison: JSON text, dict or struct).
        now: ``created_at`` of new events (default: the current UTC time).
        batch_size: events parsed and written at a time (their members as Python lists are the memory this adds).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    table = table_of(MergeEvent)
    what = "record_merge_events"
    df = checked_frame(events, what, ("customer_id", "members"), ("evidence",))
    created = now or utcnow()
    seen: set[tuple[str, str]] = set()
    inserted = 0
    for start in range(0, df.height, batch_size):
        inserted += _record_batch(session, table, run_id, df.slice(start, batch_size), created, seen, what)
    return UpsertCounts(inserted=inserted, unchanged=df.height - inserted)


def _record_batch(
    session: Session,
    table: sa.Table,
    run_id: str,
    batch: pl.DataFrame,
    created: dt.datetime,
    seen: set[tuple[str, str]],
    what: str,
) -> int:
    """Insert the events of ``batch`` not recorded yet (nor ``seen`` earlier in the same call); the number
    inserted."""
    members = json_values(batch["members"])
    if any(not isinstance(m, list) or not m for m in members):
        raise ValueError(f"{what}: members must be a non-empty list per event")
    evidence = json_values(batch["evidence"])
    columns: dict[str, list[Any]] = {"customer_id": [], "members": [], "evidence": [], "members_hash": []}
    for customer_id, member_list, event_evidence in zip(batch["customer_id"].to_list(), members, evidence, strict=True):
        ordered, members_hash = _sorted_members(member_list)
        key = (customer_id, members_hash)
        if key in seen:
            continue
        seen.add(key)
        columns["customer_id"].append(customer_id)
        columns["members"].append(ordered)
        columns["evidence"].append(event_evidence)
        columns["members_hash"].append(members_hash)
    cols = ("customer_id", "members_hash")
    existing = {tuple(row) for row in select_where_in(session, table, cols, "customer_id", set(columns["customer_id"]))}
    keep = [k not in existing for k in zip(columns["customer_id"], columns["members_hash"], strict=True)]
    new = {name: [v for v, k in zip(values, keep, strict=True) if k] for name, values in columns.items()}
    rows = pl.DataFrame(
        {c: pl.Series(c, new[c], dtype=pl.String) for c in ("customer_id", "members_hash")}
    ).with_row_index(ROW_INDEX)
    write_rows(
        session,
        table,
        rows,
        ("customer_id", "members", "evidence", "members_hash"),
        parsed={"members": new["members"], "evidence": new["evidence"]},
        constants={"run_id": run_id, "created_at": created},
    )
    return sum(keep)


def read_merge_events(
    session: Session, *, customer_ids: Collection[str] | None = None, principal: Principal | None = None
) -> pl.DataFrame:
    """Merge events in the order they were recorded (by ``id``); only those of ``customer_ids`` when given.

    Columns: ``id`` (Int64), ``run_id``, ``customer_id``, ``members`` (JSON text: the sorted list of
    ``"source:source_key"``), ``evidence`` (JSON text), ``members_hash``, ``created_at``, ``undone_at`` (UTC; set
    while an unmerge has undone the event). ``principal``: only the events of the customers that user sees.
    """
    table = table_of(MergeEvent)
    schema: dict[str, pl.DataType] = {"id": pl.Int64(), "run_id": pl.String(), "customer_id": pl.String()}
    schema |= {"members": pl.String(), "evidence": pl.String(), "members_hash": pl.String()}
    schema |= {"created_at": UTC, "undone_at": UTC}
    stmt = scoped(session, principal, sa.select(*(table.c[c] for c in schema)).order_by(table.c.id), table)
    if customer_ids is None:
        return read_frame(session, stmt, schema)
    frames = [
        read_frame(session, stmt.where(table.c.customer_id.in_(chunk)), schema)
        for chunk in chunks(sorted(set(customer_ids)), IN_CHUNK)
    ]
    return pl.concat(frames).sort("id") if frames else pl.DataFrame(schema=schema)


def read_merged_into(session: Session, customer_id: str) -> list[str]:
    """The ids of the retired customers whose rows went to ``customer_id`` (their ``merged_into``), sorted."""
    table = table_of(Customer)
    stmt = (
        sa.select(table.c.customer_id)
        .where(table.c.merged_into == customer_id, table.c.retired_at.is_not(None))
        .order_by(table.c.customer_id)
    )
    return [str(v) for v in session.execute(stmt).scalars()]


def set_merge_events_undone(session: Session, event_ids: Collection[int], *, undone_at: dt.datetime | None) -> int:
    """Mark merge events undone (an unmerge: ``undone_at`` its time) or current again (``None``: a merge that undoes
    that unmerge); returns the number of events changed."""
    table = table_of(MergeEvent)
    changed = 0
    for chunk in chunks(sorted(set(event_ids)), IN_CHUNK):
        stmt = sa.update(table).where(table.c.id.in_(chunk))
        stmt = stmt.where(table.c.undone_at.is_(None) if undone_at is not None else table.c.undone_at.is_not(None))
        result = session.execute(stmt.values(undone_at=undone_at).execution_options(synchronize_session=False))
        changed += cast(sa.CursorResult[Any], result).rowcount or 0
    return changed

"""The schedules served for a store: which Prefect deployment ``crmkit schedule`` serves, on what cron expression
in which time zone, by whom, since when, and whether it still runs (``pipeline_schedule``, migration 0010).

``crmkit schedule`` records its deployment when it starts serving and marks it stopped when it stops, so the
review page and ``crmkit runs`` can say when the next scheduled run is without asking a Prefect server. Like every
repository function these take the caller's ``Session`` and never commit.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from crm_store.models import PipelineSchedule

__all__ = ["read_schedules", "record_schedule", "stop_schedule"]

_COLUMNS = ("name", "project", "flow", "cron", "timezone", "served_by", "host", "started_at", "stopped_at")


def _table() -> sa.Table:
    return cast(sa.Table, PipelineSchedule.__table__)


def record_schedule(
    session: Session,
    *,
    name: str,
    project: str,
    flow: str,
    cron: str,
    timezone: str,
    served_by: str,
    host: str,
    now: dt.datetime | None = None,
) -> None:
    """Record that deployment ``name`` is served from now on (a schedule served before is replaced: its cron
    expression and time zone may have changed).

    Args:
        name: the deployment's full name (``migrate-and-clean/<name>``).
        project: the project the schedule runs.
        flow: the flow it runs.
        cron: the cron expression, read in ``timezone`` (an IANA name).
        served_by: who serves it (a user name); ``host``: on which machine.
        now: ``started_at`` (default: the current UTC time).
    """
    table = _table()
    values = {
        "project": project,
        "flow": flow,
        "cron": cron,
        "timezone": timezone,
        "served_by": served_by[:128],
        "host": host[:255],
        "started_at": now or dt.datetime.now(dt.UTC),
        "stopped_at": None,
    }
    done = session.execute(sa.update(table).where(table.c.name == name).values(**values))
    if not cast(Any, done).rowcount:
        session.execute(sa.insert(table).values(name=name, **values))


def stop_schedule(session: Session, name: str, *, now: dt.datetime | None = None) -> bool:
    """Record that deployment ``name`` is no longer served (its schedule is paused); False when it is unknown."""
    table = _table()
    done = session.execute(
        sa.update(table).where(table.c.name == name).values(stopped_at=now or dt.datetime.now(dt.UTC))
    )
    return bool(cast(Any, done).rowcount)


def read_schedules(session: Session) -> list[dict[str, Any]]:
    """Every schedule recorded for the store, by name: ``name``, ``project``, ``flow``, ``cron``, ``timezone``,
    ``served_by``, ``host``, ``started_at``, ``stopped_at`` (``None`` while served)."""
    table = _table()
    rows = session.execute(sa.select(*(table.c[c] for c in _COLUMNS)).order_by(table.c.name))
    return [dict(zip(_COLUMNS, row, strict=True)) for row in rows]

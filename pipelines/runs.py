"""What ran and what runs next: a store's run history and its schedules, as ``crmkit runs`` and the review page's
runs view (``crmkit serve``, ``/runs``) show them.

The history is ``pipeline_run`` (migrate and clean runs, with their ledgers and reports). The schedules are what
``crmkit schedule`` recorded in ``pipeline_schedule`` when it started serving its Prefect deployment (and when it
stopped); the next runs are computed from the cron expression in its time zone with Prefect's own ``CronSchedule``,
the code the Prefect server schedules with, so the store answers without a Prefect server at hand.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

__all__ = ["next_runs", "run_history", "schedules"]


def run_history(session: Any, *, limit: int | None = None) -> list[dict[str, Any]]:
    """The store's runs, newest first, each a dict: ``run_id``, ``flow`` (``migrate`` | ``clean``), ``started_at``,
    ``finished_at`` (ISO 8601), ``status``, ``rows_read``, ``rows_loaded``, ``rows_quarantined``, ``rows_skipped``
    (a migrate run's ledger totals), ``customers`` (a migrate run's golden customers, from its report; the customers
    a clean run checked), ``findings`` (a clean run's), ``review_open`` (a clean run's findings left open in the
    review queue), ``report_path``, ``error``. Unknown counts are ``None``."""
    import crm_store

    history = []
    for row in crm_store.read_runs(session, limit=limit).iter_rows(named=True):
        ledger = json.loads(row["ledger"]) if row["ledger"] else None
        entry: dict[str, Any] = {
            "run_id": row["run_id"],
            "flow": "migrate",
            "started_at": _iso(row["started_at"]),
            "finished_at": _iso(row["finished_at"]),
            "status": row["status"],
            **dict.fromkeys(
                ("rows_read", "rows_loaded", "rows_quarantined", "rows_skipped", "customers", "findings", "review_open")
            ),
            "report_path": row["report_path"],
            "error": row["error"],
        }
        if isinstance(ledger, dict):
            entry["flow"] = str(ledger.get("flow") or "other")
            entry["customers"] = ledger.get("customers")
            entry["findings"] = ledger.get("findings")
            entry["review_open"] = ledger.get("enqueued")
        elif isinstance(ledger, list):
            for name in ("read", "loaded", "quarantined", "skipped"):
                entry[f"rows_{name}"] = sum(int(source.get(name) or 0) for source in ledger)
            entry["customers"] = _report_customers(row["report_path"])
        history.append(entry)
    return history


def _iso(value: Any) -> str | None:
    return None if value is None else value.isoformat(timespec="seconds")


def _report_customers(report_path: str | None) -> int | None:
    """The golden customers a migrate run reported (``report.json`` beside its HTML report), if still there."""
    if not report_path:
        return None
    try:
        report = json.loads(Path(report_path).with_name("report.json").read_text("utf-8"))
        value = report["totals"]["customers"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return int(value) if isinstance(value, int) else None


def next_runs(cron: str, timezone: str, *, after: dt.datetime, count: int = 1) -> list[dt.datetime]:
    """The next ``count`` times a cron expression in ``timezone`` fires at or after ``after``, in that time zone,
    computed as the Prefect server computes them (its ``CronSchedule``).

    Raises:
        ValueError: the cron expression or the time zone is invalid.
    """
    from prefect.server.schemas.schedules import CronSchedule

    schedule = CronSchedule(cron=cron, timezone=timezone)
    dates = asyncio.run(schedule.get_dates(n=count, start=after))
    zone = ZoneInfo(timezone)
    return [dt.datetime.fromtimestamp(d.timestamp(), dt.UTC).astimezone(zone) for d in dates]


def schedules(session: Any, *, now: dt.datetime | None = None, count: int = 1) -> list[dict[str, Any]]:
    """The schedules ``crmkit schedule`` recorded for the store, by name, each a dict: ``name`` (the deployment,
    ``migrate-and-clean/<name>``), ``project``, ``flow``, ``cron``, ``timezone``, ``served_by``, ``host``,
    ``started_at``, ``stopped_at`` (datetimes, UTC), ``active`` (served, as far as the store knows: ``crmkit
    schedule`` has not recorded its stop) and ``next_runs`` (the next ``count`` runs after ``now``, in the
    schedule's time zone; none while it is stopped, and none for a cron expression Prefect refuses)."""
    import crm_store

    now = now or dt.datetime.now(dt.UTC)
    out = []
    for row in crm_store.read_schedules(session):
        active = row["stopped_at"] is None
        try:
            upcoming = next_runs(row["cron"], row["timezone"], after=now, count=count) if active else []
        except ValueError:
            upcoming = []
        out.append({**row, "active": active, "next_runs": upcoming})
    return out

"""The run index of a reports folder: one summary per run, and what changed from the run before.

The runs are the folders of ``reports/`` that hold a ``report.json`` (``latest/`` and the clean flow's folders are
not runs of ``migrate``). Each report is summarised once: ``reports/index.json`` keeps the summaries, keyed by run
id with the size and modification time of the ``report.json`` they came from, so writing the index after a run
reads only the reports that are new or changed. A run is compared with the nearest earlier run (by start time,
then run id) that did not fail: a failed run placed no rows, and a comparison with it would only say so.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pipelines._files import write_private_text

__all__ = [
    "INDEX_JSON",
    "compare",
    "order",
    "previous_of",
    "read_summaries",
    "stamp_of",
    "summarise",
    "write_summaries",
]

log = logging.getLogger(__name__)

INDEX_JSON = "index.json"
#: Bumped when a summary gains or changes a field: the cached summaries are then made again.
SUMMARY_VERSION = 1
#: The counts compared between runs: (key in the summary, label).
COUNTS = (
    ("read", "rows read"),
    ("loaded", "loaded"),
    ("quarantined", "quarantined"),
    ("skipped", "skipped"),
    ("customers", "golden customers"),
    ("merges", "rows merged into another row's customer"),
    ("review", "pairs for review"),
)


def summarise(report: Mapping[str, Any]) -> dict[str, Any]:
    """One run's line of the index, from its report dictionary."""
    run, totals = report.get("run") or {}, report.get("totals") or {}
    clusters, matching = report.get("clusters") or {}, report.get("matching") or {}
    return {
        "run_id": run.get("run_id"),
        "project": run.get("project"),
        "started_at": run.get("started_at"),
        "finished_at": run.get("finished_at"),
        "status": run.get("status"),
        "dry_run": bool(run.get("dry_run")),
        "error": run.get("error"),
        "read": int(totals.get("read") or 0),
        "loaded": int(totals.get("loaded") or 0),
        "quarantined": int(totals.get("quarantined") or 0),
        "skipped": int(totals.get("skipped") or 0),
        "balanced": bool(totals.get("balanced")),
        "customers": int(totals.get("customers") or 0),
        "merges": int(clusters.get("records") or 0) - int(clusters.get("customers") or 0),
        "review": int(matching.get("review_count") or 0),
        "quarantine": {str(q["reason"]): int(q["count"]) for q in report.get("quarantine") or []},
        "columns": {str(s["source"]): list(s.get("columns") or []) for s in report.get("schema") or []},
        "drift": [
            {k: s.get(k) for k in ("source", "compared", "baseline", "new", "missing", "renamed")}
            for s in report.get("schema") or []
            if s.get("new") or s.get("missing") or s.get("renamed")
        ],
    }


def previous_of(summary: Mapping[str, Any], summaries: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The run ``summary`` is compared with: the nearest earlier run that did not fail (``None`` when none)."""
    key = order(summary)
    earlier = [
        s for s in summaries if order(s) < key and s.get("status") != "failed" and s["run_id"] != summary["run_id"]
    ]
    return max(earlier, key=order) if earlier else None


def compare(current: Mapping[str, Any], previous: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """What changed from ``previous`` to ``current``: the counts, quarantine per reason, and the columns each
    source had (sources added or gone, columns new or missing). ``None`` without a previous run."""
    if previous is None:
        return None
    counts = [
        {
            "key": key,
            "label": label,
            "previous": previous.get(key, 0),
            "current": current.get(key, 0),
            "delta": current.get(key, 0) - previous.get(key, 0),
        }
        for key, label in COUNTS
    ]
    before, now = previous.get("quarantine") or {}, current.get("quarantine") or {}
    reasons = [
        {"reason": r, "previous": before.get(r, 0), "current": now.get(r, 0), "delta": now.get(r, 0) - before.get(r, 0)}
        for r in sorted(set(before) | set(now))
    ]
    reasons.sort(key=lambda q: (-abs(q["delta"]), -q["current"], q["reason"]))
    old_cols, new_cols = previous.get("columns") or {}, current.get("columns") or {}
    columns = []
    for source in [*new_cols, *(s for s in old_cols if s not in new_cols)]:
        if source not in old_cols:
            columns.append({"source": source, "change": "new source", "new": [], "missing": []})
        elif source not in new_cols:
            columns.append({"source": source, "change": "source gone", "new": [], "missing": []})
        else:
            added = [c for c in new_cols[source] if c not in old_cols[source]]
            gone = [c for c in old_cols[source] if c not in new_cols[source]]
            if added or gone:
                columns.append({"source": source, "change": "columns changed", "new": added, "missing": gone})
    return {
        "previous": previous.get("run_id"),
        "previous_started_at": previous.get("started_at"),
        "previous_status": previous.get("status"),
        "counts": counts,
        "changed": [c for c in counts if c["delta"]],
        "quarantine": reasons,
        "columns": columns,
    }


def read_summaries(reports_dir: Path, *, skip: str | None = None) -> list[dict[str, Any]]:
    """The summaries of every run in ``reports_dir`` but ``skip``, oldest first; reports not summarised yet (or
    changed since) are read. A report that cannot be read is left out of the index, with a warning."""
    cache = _read_cache(reports_dir)
    summaries = []
    for folder in sorted(reports_dir.iterdir()) if reports_dir.is_dir() else []:
        path = folder / "report.json"
        if folder.name in ("latest", skip) or folder.name.startswith(".") or not path.is_file():
            continue
        stat = path.stat()
        stamp = [stat.st_size, stat.st_mtime_ns]
        cached = cache.get(folder.name)
        if cached and cached.get("stamp") == stamp:
            summary = cached["summary"]
        else:
            try:
                summary = summarise(json.loads(path.read_text("utf-8")))
            except (OSError, ValueError, TypeError, KeyError) as exc:
                log.warning("the run index leaves out %s: %s", path, exc)
                continue
        summary["stamp"] = stamp
        summaries.append(summary)
    return sorted(summaries, key=order)


def write_summaries(reports_dir: Path, summaries: list[dict[str, Any]]) -> None:
    """Keep the summaries (with the stamps of the reports they came from) in ``index.json``, replaced whole."""
    runs = {s["run_id"]: {"stamp": s.get("stamp"), "summary": _without_stamp(s)} for s in summaries}
    text = json.dumps({"version": SUMMARY_VERSION, "runs": runs}, ensure_ascii=False, indent=1, sort_keys=True)
    tmp = reports_dir / f".{INDEX_JSON}.tmp"
    write_private_text(tmp, text)
    os.replace(tmp, reports_dir / INDEX_JSON)


def stamp_of(path: Path) -> list[int]:
    """The size and modification time that tell whether a report changed since it was summarised."""
    stat = path.stat()
    return [stat.st_size, stat.st_mtime_ns]


def _read_cache(reports_dir: Path) -> dict[str, Any]:
    with contextlib.suppress(OSError, ValueError):
        data = json.loads((reports_dir / INDEX_JSON).read_text("utf-8"))
        runs = data.get("runs") if isinstance(data, dict) and data.get("version") == SUMMARY_VERSION else None
        if isinstance(runs, dict):
            return runs
    return {}


def _without_stamp(summary: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in summary.items() if k != "stamp"}


def order(summary: Mapping[str, Any]) -> tuple[str, str]:
    return (str(summary.get("started_at") or ""), str(summary.get("run_id") or ""))

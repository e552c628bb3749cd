"""What each page shows, as plain dicts for the templates: read through ``crm_store``'s public readers only.

No function here writes; the routes (:mod:`pipelines.web._app`) own the sessions and the steward actions.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.orm import Session

import crm_store
from crm_store.access import Principal
from pipelines._review import QUEUE_STATUSES, canonical_values, finding_subject, queue_items
from pipelines.export import trace_customer
from pipelines.settings import ProjectSettings
from rules.match import weight_to_prob

__all__ = [
    "STATUSES",
    "Step",
    "customer_findings",
    "customer_view",
    "customers_view",
    "has_queue",
    "item_view",
    "next_open_item",
    "queue_view",
    "runs_view",
    "waterfall",
]

#: The queue page's status filters (``all``: every item).
STATUSES: Final = QUEUE_STATUSES
#: Runs the runs page lists.
RUNS_SHOWN: Final = 20
#: Width in pixels of the waterfall's and the probability bars' drawing area.
BAR_WIDTH: Final = 260
#: Golden record columns the customer page lists under the record, not in it.
_BOOKKEEPING: Final = frozenset(
    {"customer_id", "content_hash", "created_at", "updated_at", "version", "retired_at", "merged_into", "split_from"}
)


def has_queue(session: Session) -> bool:
    """Whether the store has a review queue (a store migrated before the queue existed has none)."""
    return sa.inspect(session.connection()).has_table("review_item")


# ------------------------------------------------------------------------------------------------ the queue


def queue_view(session: Session, status: str, limit: int) -> dict[str, Any]:
    """The queue page: the items of ``status`` most in doubt first (as ``crmkit review list`` orders them), the
    first ``limit`` of them, and how many items each status has."""
    wanted = None if status == "all" else status
    items = queue_items(session, wanted)
    every = crm_store.read_review_items(session)
    counts = dict.fromkeys(STATUSES, 0)
    for value in every["status"].to_list():
        counts[value] = counts.get(value, 0) + 1
    counts["all"] = every.height
    return {"items": items[:limit], "total": len(items), "counts": counts}


def next_open_item(session: Session, *, after: int | None = None) -> int | None:
    """The open item a steward sees next (the one most in doubt), other than ``after``; None when none is left."""
    for item in queue_items(session, "open"):
        if item["id"] != after:
            return int(item["id"])
    return None


# ---------------------------------------------------------------------------------------- one possible match


@dataclass(frozen=True, slots=True)
class Step:
    """One line of the evidence waterfall: the weight a comparison adds and where the running total ends.

    ``x0``/``x1`` are the bar's ends in pixels (the running total before and after the step, on a scale shared by
    every step), ``p_width`` the running probability as a bar width.
    """

    name: str
    level: str
    weight: float
    total: float
    probability: float
    x0: float
    x1: float
    p_width: float
    kind: str  # prior, comparison, related, final

    @property
    def bar_x(self) -> float:
        """Where the step's bar starts (its left end)."""
        return min(self.x0, self.x1)

    @property
    def bar_width(self) -> float:
        """The step's bar width; a step that adds nothing is a 1-pixel tick."""
        return max(abs(self.x1 - self.x0), 1.0)


def waterfall(evidence: Mapping[str, Any] | None) -> tuple[list[Step], float]:
    """The evidence of a pair as waterfall steps (prior, each comparison, related people, final) and the pixel
    position of weight 0 (probability 0.5) on the shared scale; no steps when the evidence has no comparisons."""
    if not evidence or not evidence.get("comparisons"):
        return [], 0.0
    raw: list[tuple[str, str, float, str]] = [("prior", "", float(evidence.get("prior_weight") or 0.0), "prior")]
    for name, comparison in evidence["comparisons"].items():
        raw.append((str(name), str(comparison.get("level")), float(comparison.get("weight") or 0.0), "comparison"))
    if evidence.get("related_weight"):
        raw.append(("related people", "", float(evidence["related_weight"]), "related"))
    totals, total = [], 0.0
    for _, _, weight, _ in raw:
        totals.append((total, total + weight))
        total += weight
    low = min(0.0, *(t for pair in totals for t in pair))
    high = max(0.0, *(t for pair in totals for t in pair))
    span = (high - low) or 1.0

    def x(value: float) -> float:
        return round((value - low) / span * BAR_WIDTH, 1)

    def step(name: str, level: str, weight: float, before: float, after: float, kind: str) -> Step:
        p = weight_to_prob(after)
        return Step(name, level, weight, after, p, x(before), x(after), round(p * BAR_WIDTH, 1), kind)

    steps = [
        step(name, level, weight, before, after, kind)
        for (name, level, weight, kind), (before, after) in zip(raw, totals, strict=True)
    ]
    steps.append(step("final", "", total, 0.0, total, "final"))
    return steps, x(0.0)


def _value_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def item_view(session: Session, settings: ProjectSettings, item_id: int) -> dict[str, Any] | None:
    """One possible match: the item, its two rows (canonical values as the matcher compared them, and the raw
    columns), the fields side by side with the differing ones marked, the evidence waterfall and the decisions
    made on the pair; None when there is no such item."""
    item = crm_store.read_review_item(session, item_id)
    if item is None:
        return None
    if item["subject"] == "finding":
        return {"item": item, "finding": item["evidence"] or {}, "subject": finding_subject(session, item)}
    rows = crm_store.read_pair_rows(session, item)
    values = canonical_values(settings, rows)
    names = list(dict.fromkeys(name for side in values for name in side))
    fields = []
    for name in names:
        left, right = (_value_text(side.get(name)) for side in values)
        fields.append({"name": name, "left": left, "right": right, "differs": left != right})
    raw_columns = list(dict.fromkeys(column for row in rows for column in row["payload"]))
    raw = [
        {
            "name": column,
            "left": _value_text(rows[0]["payload"].get(column)),
            "right": _value_text(rows[1]["payload"].get(column)),
        }
        for column in raw_columns
    ]
    steps, zero = waterfall(item["evidence"])
    return {
        "item": item,
        "rows": rows,
        "fields": fields,
        "raw": raw,
        "steps": steps,
        "zero": zero,
        "reason": (item["evidence"] or {}).get("reason"),
        "bar_width": BAR_WIDTH,
    }


# ------------------------------------------------------------------------------------------------ a customer


def _mentions(value: Any, customer_id: str, rows: set[tuple[str, str]]) -> bool:
    """Whether a JSON value (an audit event's target) names the customer or one of its source rows."""
    if isinstance(value, str):
        return value == customer_id or tuple(value.split(":", 1)) in rows
    if isinstance(value, Mapping):
        source, key = value.get("source"), value.get("source_key")
        if isinstance(source, str) and isinstance(key, str) and (source, key) in rows:
            return True
        return any(_mentions(v, customer_id, rows) for v in value.values())
    if isinstance(value, list):
        return any(_mentions(v, customer_id, rows) for v in value)
    return False


def _parsed(text: str | None) -> Any:
    return json.loads(text) if text else None


def _audit_events(session: Session, customer_id: str, rows: set[tuple[str, str]]) -> list[dict[str, Any]]:
    events = []
    for event in crm_store.read_audit_events(session).iter_rows(named=True):
        target, details = _parsed(event["target"]), _parsed(event["details"])
        if _mentions(target, customer_id, rows) or _mentions(details, customer_id, rows):
            events.append({**event, "target": target, "details": details})
    return events[::-1]  # newest first


def _decisions(session: Session, rows: set[tuple[str, str]]) -> list[dict[str, Any]]:
    if not has_queue(session):
        return []
    items = {
        (r["left_source"], r["left_key"], r["right_source"], r["right_key"]): r["id"]
        for r in crm_store.read_review_items(session, subject="pair").iter_rows(named=True)
    }
    found = []
    for d in crm_store.read_decisions(session, latest=False).iter_rows(named=True):
        left, right = (d["left_source"], d["left_key"]), (d["right_source"], d["right_key"])
        if left in rows or right in rows:
            found.append({**d, "item_id": items.get((*left, *right))})
    return found


def _record(customer: Mapping[str, Any]) -> list[tuple[str, str]]:
    shown = []
    for name, value in customer.items():
        if name in _BOOKKEEPING or value is None or value in ({}, [], ""):
            continue
        shown.append((name, _value_text(value) or ""))
    return shown


def _merges(session: Session, customer_id: str, principal: Principal | None = None) -> list[dict[str, Any]]:
    events = crm_store.read_merge_events(session, customer_ids=[customer_id], principal=principal)
    return [{**e, "members": _parsed(e["members"]) or []} for e in events.iter_rows(named=True)][::-1]


def customer_view(
    session: Session, settings: ProjectSettings, customer_id: str, principal: Principal | None = None
) -> dict[str, Any] | None:
    """A customer: its golden record, every source row behind it, where each field came from, and its history
    (merge events, audit events and the decisions on pairs of its rows); None when there is no such customer (or
    ``principal`` does not see it; what it sees is decided by ``crm_store.access``)."""
    found = trace_customer(session, customer_id, settings, principal=principal)
    if found is None:
        return None
    rows = {(r["source"], r["source_key"]) for r in found.rows}
    members = [r for r in found.rows if r["link"] == "member"]
    return {
        "customer": found.customer,
        "record": _record(found.customer),
        "rows": found.rows,
        "members": members,
        "columns": list(dict.fromkeys(c for r in found.rows for c in r["payload"])),
        "fields": found.fields,
        "merges": _merges(session, customer_id, principal),
        "audit": _audit_events(session, customer_id, rows),
        "decisions": _decisions(session, rows),
        "findings": customer_findings(session, customer_id),
    }


#: Columns of the customer list (``customers_view``) and of ``GET /api/customers``.
CUSTOMER_COLUMNS: Final = (
    "customer_id",
    "kind",
    "full_name",
    "company",
    "primary_phone",
    "primary_email",
    "city",
    "owner",
    "segment",
    "status",
    "updated_at",
)


def customers_view(session: Session, principal: Principal | None, limit: int) -> dict[str, Any]:
    """The current customers ``principal`` sees, as it sees them (``crm_store.access``), the first ``limit`` of them
    by name, and how many there are."""
    found = crm_store.read_customers(session, principal=principal)
    shown = found.sort(["full_name", "company", "customer_id"], nulls_last=True).head(limit)
    return {"customers": shown.select(CUSTOMER_COLUMNS).to_dicts(), "total": found.height}


def customer_findings(session: Session, customer_id: str) -> list[dict[str, Any]]:
    """The clean findings about a customer in the review queue (any status), newest first."""
    if not has_queue(session):
        return []
    items = crm_store.read_review_items(session, subject="finding", customer_id=customer_id)
    return [{**i, "evidence": _parsed(i["evidence"]) or {}} for i in items.iter_rows(named=True)][::-1]


# ------------------------------------------------------------------------------------------------ the runs


def runs_view(session: Session) -> dict[str, Any]:
    """The runs page: the schedules ``crmkit schedule`` serves for the store with their next run, and the newest
    runs (migrate and clean) with their status, counts and reports."""
    from pipelines.runs import run_history, schedules

    return {"schedules": schedules(session, count=3), "runs": run_history(session, limit=RUNS_SHOWN)}

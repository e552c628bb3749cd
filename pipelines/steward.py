"""Steward actions on golden records: :func:`unmerge` a customer into the customers it was made of (or split off
some of its rows) and :func:`merge` customers into one; undoable, and honoured by every later run.

Each action works in one transaction under the store's run lock (:func:`pipelines.migrate.lock_store`), so no run
writes the store meanwhile:

1. the customers' source rows are rebuilt from their stored raw payloads as a run rebuilds them (``remap`` with the
   project's mapping and codes, ``normalise``);
2. the steward's decisions are recorded on pairs of those rows (``crm_store.record_decisions``; which pairs:
   :mod:`rules.steward`): later runs, full or incremental, honour them as cannot-links and must-links, while the
   rows keep the values they were decided on;
3. the golden records are rebuilt by survivorship (``survivors``, ``customer_ids``) and their crosswalk, contact
   points, addresses, field provenance and activities rewritten with the store's writers; a customer left without
   rows is retired with ``merged_into``, a customer split off records ``split_from``;
4. the undone merge event gets ``undone_at`` (an unmerge) or is current again (a merge that undoes an unmerge), a
   new one is recorded otherwise, and one audit event (``customer.unmerge`` / ``customer.merge``) says who did what
   to which customers and rows.

``merge`` after an ``unmerge`` of the same customer returns the store to the state before it (ids, golden fields,
provenance, crosswalk, contact points), apart from the decisions and audit events recorded, versions and
timestamps; the customer split off stays as a retired record (``merged_into``), so its id still resolves.
The CLI (:mod:`pipelines.cli_steward`) and the web page call these functions.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeVar

import polars as pl
from sqlalchemy.orm import Session

import crm_store
from crm_store.schema import SOURCE_COL, SOURCE_KEY_COL
from pipelines.errors import PipelineError
from pipelines.migrate import lock_store, new_run_id
from pipelines.settings import ProjectSettings
from pipelines.steps import normalise, relink_activities, remap, survivors
from pipelines.tables import customer_frames
from rules.match.constraints import pair_fingerprint, row_fingerprints
from rules.steward import (
    DecisionPlan,
    HistoryEvent,
    derived_ids,
    earlier_parts,
    event_pairs,
    merge_decisions,
    merge_keeper,
    merged_evidence,
    pair_key,
    parse_row,
    row_label,
    split_decisions,
    unmerged_evidence,
)
from rules.survive import customer_ids, id_lineage

__all__ = [
    "MERGE_ACTION",
    "UNMERGE_ACTION",
    "CustomerNotFoundError",
    "MergeResult",
    "NothingToUnmergeError",
    "Part",
    "RetiredCustomerError",
    "UnmergeResult",
    "merge",
    "unmerge",
]

log = logging.getLogger(__name__)

#: The audit actions the two steward actions write.
UNMERGE_ACTION: Final = "customer.unmerge"
MERGE_ACTION: Final = "customer.merge"
_MIN_PREFIX: Final = 6  # an id prefix this long will do, as for crmkit trace


class CustomerNotFoundError(PipelineError, LookupError):
    """No customer has the id (or id prefix) a steward gave."""


class RetiredCustomerError(PipelineError, ValueError):
    """The customer is retired: its rows belong to another customer now."""


class NothingToUnmergeError(PipelineError, ValueError):
    """The customer cannot be unmerged as asked: it has one source row, or no history says what it was made of."""


@dataclass(frozen=True)
class Part:
    """A customer as a steward action left it.

    Attributes:
        customer_id: its id.
        rows: its source rows, ``"source:source_key"``, sorted.
        new: the id held none of these rows before (a customer split off, or a retired one brought back).
        golden: the golden record: ``kind`` and the golden fields by their store names (``primary_phone`` …).
    """

    customer_id: str
    rows: list[str]
    new: bool
    golden: dict[str, Any]


@dataclass(frozen=True)
class UnmergeResult:
    """What :func:`unmerge` did.

    Attributes:
        customer_id: the customer unmerged (one of the parts keeps this id).
        parts: the customers it was split into, the one keeping the id first.
        basis: ``history`` (the earlier golden records were restored) or ``rows`` (the rows given were split off).
        decisions: ``match`` / ``no_match`` decisions recorded.
        crossing_pairs: pairs of rows between the parts.
        bounded: big parts: not every crossing pair got a ``no_match`` (see ``rules.steward.split_decisions``).
        merge_event_id: the merge event marked undone (None when the customer had none).
        audit_event_id: the ``customer.unmerge`` audit event.
    """

    customer_id: str
    parts: list[Part]
    basis: Literal["history", "rows"]
    decisions: dict[str, int]
    crossing_pairs: int
    bounded: bool
    merge_event_id: int | None
    audit_event_id: int

    @property
    def customer_ids(self) -> list[str]:
        """The ids of the parts, the one keeping the unmerged customer's id first."""
        return [p.customer_id for p in self.parts]

    @property
    def notes(self) -> list[str]:
        """Sentences a person should read about the decisions recorded."""
        no_match = self.decisions.get("no_match", 0)
        if not self.bounded:
            return []
        return [
            f"the parts are big: no_match was recorded for {no_match:,} of the {self.crossing_pairs:,} pairs "
            "between them (each row of the smaller part with some rows of the other), and match along each part"
        ]


@dataclass(frozen=True)
class MergeResult:
    """What :func:`merge` did.

    Attributes:
        customer: the merged customer (``customer_id`` kept by it, its rows and golden record).
        merged: the customers retired into it (``merged_into``).
        restored_event_id: the merge event current again when the merge undid an unmerge (else None).
        decisions: ``match`` decisions recorded.
        audit_event_id: the ``customer.merge`` audit event.
    """

    customer: Part
    merged: list[str]
    restored_event_id: int | None
    decisions: int
    audit_event_id: int

    @property
    def customer_id(self) -> str:
        return self.customer.customer_id


# --------------------------------------------------------------------------------------------------- the actions


def unmerge(
    settings: ProjectSettings,
    customer_id: str,
    *,
    rows: Sequence[tuple[str, str] | str] | None = None,
    actor: str,
    note: str | None = None,
) -> UnmergeResult:
    """Split a customer: into the customers it was made of, or the ``rows`` given off the rest.

    Without ``rows`` the customer's latest merge is undone: its earlier golden records (``rules.steward.
    earlier_parts``: the customers a steward's merge joined, the earlier merge events of the customer and of the
    customers merged into it, the single-row customers merged into it) become customers again. With ``rows`` those
    rows become one customer and the rest stay. The part holding most rows keeps the id, the others get a new one
    (``split_from``; a retired customer whose id a part derives from comes back).

    Args:
        settings: the project (its store must exist).
        customer_id: the customer's id, or a prefix of 6+ characters naming one customer.
        rows: the rows to split off, ``(source, source_key)`` or ``"source:source_key"``.
        actor: who does it (recorded with the decisions and in the audit trail).
        note: why.

    Raises:
        CustomerNotFoundError: no such customer (or the store does not exist: ``crm_store.StoreNotFoundError``).
        RetiredCustomerError: the customer is retired.
        NothingToUnmergeError: one source row, or no history says what it was made of (give ``rows``).
        ValueError: ``rows`` name rows the customer does not have, or all of them; a row's source is not in the
            project file.
        crm_store.RunLockedError: a run holds the store.
    """
    wanted = None if rows is None else _row_labels(rows)
    return _in_store(
        settings, "unmerge", lambda s, a, now: _unmerge(s, settings, customer_id, wanted, actor, note, a, now)
    )


def merge(
    settings: ProjectSettings, customer_ids: Sequence[str], *, actor: str, note: str | None = None
) -> MergeResult:
    """Merge customers into one: the one with most rows keeps its id (ties: the oldest, then the smallest id) —
    or, when the merge undoes an unmerge, the id the unmerged customer had — and the others are retired into it.

    Args:
        settings: the project (its store must exist).
        customer_ids: two or more ids (or prefixes of 6+ characters naming one customer each).
        actor: who does it (recorded with the decisions and in the audit trail).
        note: why.

    Raises:
        CustomerNotFoundError: no such customer.
        RetiredCustomerError: a customer is retired.
        ValueError: fewer than two different customers; a row's source is not in the project file.
        crm_store.RunLockedError: a run holds the store.
    """
    return _in_store(settings, "merge", lambda s, a, now: _merge(s, settings, list(customer_ids), actor, note, a, now))


_T = TypeVar("_T")


def _in_store(settings: ProjectSettings, verb: str, work: Callable[[Session, str, dt.datetime], _T]) -> _T:
    """Run ``work(session, action_id, now)`` in one transaction under the store's run lock."""
    engine = crm_store.open_store(settings.store_url)
    action_id = f"{verb}-{new_run_id()}"
    try:
        lock = lock_store(settings, engine, action_id)
        assert lock is not None
        try:
            with Session(engine) as session, session.begin():
                result = work(session, action_id, dt.datetime.now(dt.UTC))
                lock.check()  # never commit without the lock
            return result
        finally:
            lock.release()
    finally:
        engine.dispose()


# --------------------------------------------------------------------------------------------------- unmerge


def _unmerge(
    session: Session,
    settings: ProjectSettings,
    text: str,
    wanted: list[str] | None,
    actor: str,
    note: str | None,
    action_id: str,
    now: dt.datetime,
) -> UnmergeResult:
    _check_actor(actor)
    customer = _current_customer(session, text)
    cid = customer["customer_id"]
    members, activity_rows = _rows_of(session, cid)
    labels = sorted(_labels(members))
    if len(labels) < 2:
        raise NothingToUnmergeError(f"customer {cid} has one source row ({labels[0]}): nothing to unmerge")
    retired_into = crm_store.read_merged_into(session, cid)
    events = _history(session, [cid, *retired_into])
    event = _current_event(events, cid, labels)
    if wanted is not None:
        unknown = sorted(set(wanted) - set(labels))
        if unknown:
            raise ValueError(f"customer {cid} has no row {', '.join(unknown[:5])}; its rows: {', '.join(labels[:10])}")
        if len(set(wanted)) == len(labels):
            raise ValueError(f"the rows given are every row of customer {cid}: nothing would be split off")
        parts = sorted([sorted(set(wanted)), sorted(set(labels) - set(wanted))], key=lambda p: p[0])
        votes = dict.fromkeys(labels, cid)  # the part with most rows keeps the id
    else:
        earlier = [e.history() for e in events if not e.undone and (event is None or e.id < event.id)]
        gone = set(retired_into) - {cid}
        singles = {
            label: found for label in labels for found in sorted(gone.intersection(derived_ids(*parse_row(label))))[:1]
        }
        restored = earlier_parts(labels, event.history() if event is not None else None, earlier, singles)
        if not restored:
            raise NothingToUnmergeError(
                f"no history says which customers {cid} was made of (it was matched as one in a single run): "
                "name the rows to split off (--rows source:key,…)"
            )
        parts = [rows for rows, _ in restored]
        # each part takes back the id it had (when that customer is this one or retired); the others derive one
        usable = {o for _, o in restored if o is not None and (o == cid or not _is_current(session, o))}
        votes = {label: owner for rows, owner in restored if owner in usable for label in rows}
        if cid not in votes.values():  # no part was this customer: the rows without an earlier one keep its id
            votes = {label: votes.get(label, cid) for label in labels}
    records = _records(settings, members)
    part_of = {label: i for i, part in enumerate(parts) for label in part}
    labelled = records.with_columns(
        pl.concat_str([SOURCE_COL, SOURCE_KEY_COL], separator=":").replace_strict(part_of).alias("_part")
    )
    clusters = labelled.select("_rid", pl.col("_rid").min().over("_part").alias("cluster"))
    existing = labelled.select(
        SOURCE_COL,
        SOURCE_KEY_COL,
        pl.concat_str([SOURCE_COL, SOURCE_KEY_COL], separator=":")
        .replace_strict(votes, default=None, return_dtype=pl.String)
        .alias("customer_id"),
    )
    candidates = {d for part in parts for d in derived_ids(*parse_row(part[0]))} - {cid}
    reserved = [c for c in candidates if _is_current(session, c)]
    ids = customer_ids(clusters, records, existing, reserved=reserved)
    plan = split_decisions(parts, _newest(session, records))
    new_ids = _rebuild(
        session,
        settings,
        records,
        clusters,
        ids,
        activity_rows,
        plan,
        actor=actor,
        note=note,
        action_id=action_id,
        now=now,
        evidence=unmerged_evidence,
        moving_from=cid,
    )
    # merge events: the undone one, and one per part of several rows (as a run would record them)
    pairs = event_pairs(event.evidence) if event is not None else []
    if event is not None:
        crm_store.set_merge_events_undone(session, [event.id], undone_at=now)
    for part_id, part_rows in new_ids.items():
        if len(part_rows) > 1:
            inside = [p for p in pairs if p["a"] in part_rows and p["b"] in part_rows]
            _record_event(session, part_id, part_rows, inside, action_id, now)
    parts_out = _parts(session, new_ids, cid)
    decisions = {"no_match": len(plan.no_match), "match": len(plan.match)}
    audit = crm_store.record_audit_event(
        session,
        actor=actor,
        action=UNMERGE_ACTION,
        target={"customer_id": cid, "customers": [p.customer_id for p in parts_out]},
        details={
            "note": note,
            "basis": "rows" if wanted is not None else "history",
            "rows": {p.customer_id: p.rows for p in parts_out},
            "merge_event": event.id if event is not None else None,
            "decisions": decisions,
            "crossing_pairs": plan.crossing,
            "bounded": plan.bounded,
        },
        now=now,
    )
    log.info("customer %s unmerged by %s into %s", cid, actor, ", ".join(p.customer_id for p in parts_out))
    return UnmergeResult(
        cid,
        parts_out,
        "rows" if wanted is not None else "history",
        decisions,
        plan.crossing,
        plan.bounded,
        event.id if event is not None else None,
        audit,
    )


# --------------------------------------------------------------------------------------------------- merge


def _merge(
    session: Session,
    settings: ProjectSettings,
    texts: list[str],
    actor: str,
    note: str | None,
    action_id: str,
    now: dt.datetime,
) -> MergeResult:
    _check_actor(actor)
    customers = [_current_customer(session, t) for t in texts]
    ids = list(dict.fromkeys(c["customer_id"] for c in customers))
    if len(ids) < 2:
        raise ValueError("merge needs two or more different customers")
    created = {c["customer_id"]: c["created_at"] for c in customers}
    members: dict[str, pl.DataFrame] = {}
    activities: list[pl.DataFrame] = []
    for cid in ids:
        members[cid], acts = _rows_of(session, cid)
        activities.append(acts)
    groups = {cid: sorted(_labels(frame)) for cid, frame in members.items()}
    everyone = sorted(label for rows in groups.values() for label in rows)
    events = _history(session, ids)
    undone = [e for e in events if e.undone and e.customer_id in ids and e.members == frozenset(everyone)]
    restoring = undone[-1] if undone else None
    keeper = (
        restoring.customer_id
        if restoring is not None
        else merge_keeper([(cid, len(groups[cid]), created[cid]) for cid in ids])
    )
    ordered = [keeper, *(cid for cid in ids if cid != keeper)]
    rows = pl.concat([members[cid] for cid in ordered], how="vertical_relaxed")
    records = _records(settings, rows)
    clusters = records.select("_rid", pl.lit(0, pl.Int64).alias("cluster"))
    plan = merge_decisions([groups[cid] for cid in ordered], _newest(session, records))
    new_ids = _rebuild(
        session,
        settings,
        records,
        clusters,
        pl.DataFrame({"cluster": [0], "customer_id": [keeper]}, schema={"cluster": pl.Int64, "customer_id": pl.String}),
        pl.concat(activities, how="vertical_relaxed"),
        plan,
        actor=actor,
        note=note,
        action_id=action_id,
        now=now,
        evidence=lambda rows: merged_evidence(rows, event_pairs(restoring.evidence) if restoring else ()),
        moving_from=None,
    )
    if restoring is not None:
        crm_store.set_merge_events_undone(session, [restoring.id], undone_at=None)
    else:
        pairs: list[dict[str, Any]] = []
        for cid in ordered:
            current = _current_event(events, cid, groups[cid])
            if current is not None:
                pairs += [p for p in event_pairs(current.evidence) if p["a"] in groups[cid] and p["b"] in groups[cid]]
        evidence = {"action": "merge", "by": actor, "note": note, "from": groups, "pairs": pairs}
        _record_event(session, keeper, new_ids[keeper], evidence, action_id, now)
    (part,) = _parts(session, new_ids, keeper)
    merged = ordered[1:]
    audit = crm_store.record_audit_event(
        session,
        actor=actor,
        action=MERGE_ACTION,
        target={"customer_id": keeper, "merged": merged},
        details={
            "note": note,
            "rows": groups,
            "restored_merge_event": restoring.id if restoring is not None else None,
            "decisions": {"match": len(plan.match)},
        },
        now=now,
    )
    log.info("customers %s merged into %s by %s", ", ".join(merged), keeper, actor)
    return MergeResult(part, merged, restoring.id if restoring is not None else None, len(plan.match), audit)


# --------------------------------------------------------------------------------------------------- shared steps


def _rebuild(
    session: Session,
    settings: ProjectSettings,
    records: pl.DataFrame,
    clusters: pl.DataFrame,
    ids: pl.DataFrame,
    activity_rows: pl.DataFrame,
    plan: DecisionPlan,
    *,
    actor: str,
    note: str | None,
    action_id: str,
    now: dt.datetime,
    evidence: Any,
    moving_from: str | None,
) -> dict[str, list[str]]:
    """Record the decisions and write the customers of ``clusters`` (ids: ``cluster`` -> ``customer_id``): golden
    records, details, crosswalk, activities, retirements. Returns each customer's rows."""
    key = [SOURCE_COL, SOURCE_KEY_COL]
    assigned = records.join(clusters, on="_rid").join(ids, on="cluster")
    before = records.select(*key, "_was")
    crm_store.record_decisions(session, _decision_frame(plan, records), by=actor, note=note, now=now)

    survived = survivors(settings, records, clusters)
    linked = relink_activities(settings, activity_rows, assigned.select(*key, "customer_id")).with_columns(
        pl.col("occurred_at").cast(pl.String)
    )
    tables = customer_frames(
        assigned,
        survived.golden.join(ids, on="cluster"),
        survived.provenance.join(ids, on="cluster"),
        linked,
    )
    if moving_from is not None and linked.height:  # activities leaving a customer must not raise its last contact
        away = linked.filter(pl.col("customer_id") != moving_from)
        if away.height:
            crm_store.upsert_activities(session, away.with_columns(pl.lit(None, pl.String).alias("customer_id")))
    new_ids = sorted(tables["customer"]["customer_id"].to_list())
    crm_store.upsert_customers(session, tables["customer"], now=now)
    crm_store.replace_customer_details(
        session, new_ids, tables["contact_point"], tables["address"], tables["field_provenance"]
    )
    rows = assigned.select(
        pl.col(SOURCE_COL).alias("source"),
        pl.col(SOURCE_KEY_COL).alias("source_key"),
        "customer_id",
        "match_probability",
        "evidence",
    ).to_dicts()
    chosen = evidence(rows)
    crosswalk = pl.DataFrame(
        {
            "source": [r["source"] for r in rows],
            "source_key": [r["source_key"] for r in rows],
            "customer_id": [r["customer_id"] for r in rows],
            "match_probability": [p for p, _ in chosen],
            "evidence": [e for _, e in chosen],
            "run_id": [action_id] * len(rows),
        },
        schema={
            "source": pl.String,
            "source_key": pl.String,
            "customer_id": pl.String,
            "match_probability": pl.Float64,
            "evidence": pl.String,
            "run_id": pl.String,
        },
    )
    crm_store.upsert_crosswalk(session, crosswalk)
    if linked.height:
        crm_store.upsert_activities(session, linked)
    lineage = id_lineage(before.rename({"_was": "customer_id"}), assigned.select(*key, "customer_id"))
    crm_store.retire_customers(session, lineage, now=now)
    out: dict[str, list[str]] = {}
    for source, source_key, cid in assigned.select(*key, "customer_id").iter_rows():
        out.setdefault(cid, []).append(row_label(source, source_key))
    return {cid: sorted(labels) for cid, labels in sorted(out.items())}


def _parts(session: Session, new_ids: Mapping[str, list[str]], first: str) -> list[Part]:
    """The customers an action left, ``first`` first, with their golden records as stored now."""
    out = []
    for cid in sorted(new_ids, key=lambda c: (c != first, c)):
        row = crm_store.read_customer(session, cid).row(0, named=True)
        golden = {k: row.get(k) for k in crm_store.GOLDEN_COLUMNS}
        out.append(Part(cid, new_ids[cid], cid != first, golden))
    return out


def _record_event(
    session: Session,
    customer_id: str,
    members: list[str],
    evidence: Any,
    action_id: str,
    now: dt.datetime,
) -> None:
    """Record the merge event of a customer's rows, or make the stored one with the same rows current again."""
    same = [e for e in _history(session, [customer_id]) if e.members == frozenset(members)]
    if same:
        crm_store.set_merge_events_undone(session, [e.id for e in same], undone_at=None)
        return
    frame = pl.DataFrame(
        {
            "customer_id": [customer_id],
            "members": [json.dumps(members, ensure_ascii=False)],
            "evidence": [json.dumps(evidence, ensure_ascii=False)],
        }
    )
    crm_store.record_merge_events(session, action_id, frame, now=now)


# --------------------------------------------------------------------------------------------------- reading


def _check_actor(actor: str) -> None:
    if not actor or len(actor) > 128:
        raise ValueError("actor must be 1 to 128 characters")


def _row_labels(rows: Sequence[tuple[str, str] | str]) -> list[str]:
    """``rows`` as ``"source:source_key"`` labels (each checked)."""
    out = []
    for row in rows:
        if isinstance(row, str):
            out.append(row_label(*parse_row(row.strip())))
        else:
            source, source_key = row
            out.append(row_label(*parse_row(row_label(source, source_key))))
    if not out:
        raise ValueError("no rows given: name the rows to split off, or give none to restore the earlier customers")
    return out


def _current_customer(session: Session, text: str) -> dict[str, Any]:
    """The customer with id ``text`` (or the one whose id starts with it), checked to be current."""
    text = text.strip()
    found = crm_store.read_customer(session, text) if text else pl.DataFrame()
    if found.is_empty():
        candidates = crm_store.find_customer_ids(session, text) if len(text) >= _MIN_PREFIX else []
        if len(candidates) != 1:
            more = f" ({len(candidates)} ids start with it: give more of it)" if candidates else ""
            raise CustomerNotFoundError(f"no customer {text!r} in the store{more}")
        found = crm_store.read_customer(session, candidates[0])
    row = found.row(0, named=True)
    if row.get("retired_at") is not None:
        into = f": its rows are in customer {row['merged_into']}" if row.get("merged_into") else ""
        raise RetiredCustomerError(f"customer {row['customer_id']} is retired{into}")
    return row


def _is_current(session: Session, customer_id: str) -> bool:
    found = crm_store.read_customer(session, customer_id)
    return not found.is_empty() and found["retired_at"][0] is None


def _labels(frame: pl.DataFrame) -> list[str]:
    return [row_label(s, k) for s, k in frame.select("source", "source_key").iter_rows()]


def _rows_of(session: Session, customer_id: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A customer's own source rows (``source``, ``source_key``, ``payload``, ``match_probability``, ``evidence``,
    ``_was``: the customer) and its activity rows (``source``, ``source_key``, ``payload``)."""
    found = crm_store.read_customer_rows(session, customer_id)
    members = found.filter(pl.col("link") == "member").select(
        "source", "source_key", "payload", "match_probability", "evidence", pl.lit(customer_id).alias("_was")
    )
    activities = found.filter(pl.col("link") == "activity").select("source", "source_key", "payload")
    return members, activities


def _records(settings: ProjectSettings, rows: pl.DataFrame) -> pl.DataFrame:
    """The rows rebuilt as a run's records: mapped, normalised, ``_rid`` by ``(source, source_key)``, with the
    crosswalk's ``match_probability``, ``evidence`` and ``_was`` (the customer each row is in now)."""
    frames = []
    stored = rows.with_columns(pl.lit(None, pl.String).alias("row_hash")).sort("source", "source_key")
    for (source,), group in stored.group_by("source", maintain_order=True):
        try:
            spec = settings.source(str(source))
        except KeyError:
            raise ValueError(
                f"rows of source {source!r} are in the store but the source is not in the project file"
            ) from None
        if spec.activity is not None:
            raise ValueError(f"source {source!r} is an activity source: its rows are not a customer's")
        frames.append(remap(settings, group))
    mapped = pl.concat(frames, how="diagonal_relaxed")
    records = normalise(settings, mapped).sort(SOURCE_COL, SOURCE_KEY_COL)
    facts = stored.select(
        pl.col("source").alias(SOURCE_COL),
        pl.col("source_key").alias(SOURCE_KEY_COL),
        "match_probability",
        "evidence",
        "_was",
    )
    return (
        records.join(facts, on=[SOURCE_COL, SOURCE_KEY_COL], how="left", maintain_order="left")
        .with_row_index("_rid")
        .with_columns(pl.col("_rid").cast(pl.Int64))
    )


@dataclass(frozen=True, slots=True)
class _Event:
    """A stored merge event (:class:`rules.steward.HistoryEvent` plus what the store keeps)."""

    id: int
    customer_id: str
    members: frozenset[str]
    evidence: Any
    undone: bool

    def history(self) -> HistoryEvent:
        found = self.evidence.get("from") if isinstance(self.evidence, dict) else None
        parts = tuple((str(k), frozenset(v)) for k, v in found.items()) if isinstance(found, dict) else ()
        return HistoryEvent(self.id, self.customer_id, self.members, parts)


def _history(session: Session, ids: Iterable[str]) -> list[_Event]:
    """The merge events of these customers, oldest first."""
    frame = crm_store.read_merge_events(session, customer_ids=list(ids))
    return [
        _Event(
            row["id"],
            row["customer_id"],
            frozenset(json.loads(row["members"])),
            json.loads(row["evidence"]) if row["evidence"] else None,
            row["undone_at"] is not None,
        )
        for row in frame.iter_rows(named=True)
    ]


def _current_event(events: Sequence[_Event], customer_id: str, labels: Sequence[str]) -> _Event | None:
    """The merge event that made the customer as it is: the one of its rows now, else its newest current one."""
    own = [e for e in events if e.customer_id == customer_id]
    exact = [e for e in own if e.members == frozenset(labels) and not e.undone]
    if exact:
        return exact[-1]
    active = [e for e in own if not e.undone]
    return active[-1] if active else None


def _newest(session: Session, records: pl.DataFrame) -> dict[tuple[str, str], tuple[str, bool]]:
    """The newest ``match`` / ``no_match`` of each pair among the records: ``(decision, binds)``, where ``binds``
    says the pair still has the values it was decided on."""
    labels = [row_label(s, k) for s, k in records.select(SOURCE_COL, SOURCE_KEY_COL).iter_rows()]
    prints = dict(zip(labels, row_fingerprints(records).to_list(), strict=True))
    decisions = crm_store.read_decisions(session).filter(pl.col("decision").is_in(["match", "no_match"]))
    out: dict[tuple[str, str], tuple[str, bool]] = {}
    for row in decisions.iter_rows(named=True):
        a, b = row_label(row["left_source"], row["left_key"]), row_label(row["right_source"], row["right_key"])
        if a in prints and b in prints:
            out[pair_key(a, b)] = (row["decision"], row["fingerprint"] == pair_fingerprint(prints[a], prints[b]))
    return out


def _decision_frame(plan: DecisionPlan, records: pl.DataFrame) -> pl.DataFrame:
    """The plan's decisions as ``crm_store.record_decisions`` takes them, with the pairs' fingerprints now."""
    labels = [row_label(s, k) for s, k in records.select(SOURCE_COL, SOURCE_KEY_COL).iter_rows()]
    prints = dict(zip(labels, row_fingerprints(records).to_list(), strict=True))
    rows = []
    for decision, pairs in (("no_match", plan.no_match), ("match", plan.match)):
        for a, b in pairs:
            (ls, lk), (rs, rk) = parse_row(a), parse_row(b)
            rows.append((ls, lk, rs, rk, decision, pair_fingerprint(prints[a], prints[b])))
    schema = dict.fromkeys(
        ("left_source", "left_key", "right_source", "right_key", "decision", "fingerprint"), pl.String
    )
    return pl.DataFrame(rows, schema=schema, orient="row")

"""The data steward's review queue: possible matches, clean findings, the decisions made on them, the audit trail.

The queue holds two subjects. A **possible match** is a pair of source rows: a migrate run upserts its possible
matches with :func:`upsert_review_items` (one ``review_item`` per pair), and the next run reads :func:`read_decisions`
and honours every ``match`` / ``no_match`` whose pair still has the fingerprint it was decided on. A **finding** is
a problem the ``clean`` flow found with one customer (kind ``stale``, ``incomplete`` or ``invalid_contact``): a clean
run upserts its findings with :func:`upsert_findings` (one ``review_item`` per ``finding_key``), and a ``confirm``
(a real problem) or ``dismiss`` (not one) keeps the finding decided, out of the open queue, while it keeps the
fingerprint it was decided on. A steward decides either with :func:`decide` (an append-only ``review_decision`` and
``audit_event``); :func:`decision_for` maps the steward's verbs (accept, reject, skip) onto an item's decisions.
Like every repository function these take the caller's ``Session`` and never commit.

A pair is ordered so that ``(left_source, left_key) < (right_source, right_key)`` (:func:`ordered_pair`); the
functions order what they are given.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, cast, get_args

import polars as pl
import sqlalchemy as sa
from sqlalchemy.orm import Session

from crm_store.audit import append_event
from crm_store.errors import StoreError
from crm_store.models import (
    FINDING_DECISIONS,
    PAIR_COLUMNS,
    PAIR_DECISIONS,
    AuditEvent,
    ContactPoint,
    Crosswalk,
    ReviewDecision,
    ReviewItem,
    SourceRecord,
)

__all__ = [
    "DECISION_ACTIONS",
    "VERBS",
    "Decision",
    "FindingKind",
    "QueueCounts",
    "ReviewItemNotFoundError",
    "ReviewKind",
    "ReviewStatus",
    "Subject",
    "Verb",
    "decide",
    "decision_for",
    "ordered_pair",
    "read_audit_events",
    "read_customer_contact_points",
    "read_decisions",
    "read_finding_decisions",
    "read_pair_rows",
    "read_review_item",
    "read_review_items",
    "record_audit_event",
    "record_decisions",
    "subject_of",
    "upsert_findings",
    "upsert_review_items",
]

logger = logging.getLogger(__name__)

ReviewKind = Literal["review", "cut", "conflict"]
#: The kind of a finding: the ``rules.clean`` check that found it.
FindingKind = Literal["stale", "incomplete", "invalid_contact"]
ReviewStatus = Literal["open", "decided", "stale"]
Subject = Literal["pair", "finding"]
Decision = Literal["match", "no_match", "skip", "confirm", "dismiss"]
Verb = Literal["accept", "reject", "skip"]
#: Decisions that bind: a pair's must-link / cannot-link, a finding's confirm / dismiss; ``skip`` only puts an
#: item aside.
BINDING: Final = ("match", "no_match", "confirm", "dismiss")
#: The decision each of a steward's verbs records, per subject.
VERBS: Final[dict[Subject, dict[Verb, Decision]]] = {
    "pair": {"accept": "match", "reject": "no_match", "skip": "skip"},
    "finding": {"accept": "confirm", "reject": "dismiss", "skip": "skip"},
}
#: The decisions each subject takes.
SUBJECT_DECISIONS: Final[dict[Subject, tuple[str, ...]]] = {"pair": PAIR_DECISIONS, "finding": FINDING_DECISIONS}
#: The audit action each decision writes.
DECISION_ACTIONS: Final[dict[str, str]] = {
    "match": "review.accept",
    "no_match": "review.reject",
    "skip": "review.skip",
    "confirm": "review.accept",
    "dismiss": "review.reject",
}

_UTC = pl.Datetime("us", "UTC")
_ITEM_SCHEMA: Final[dict[str, pl.DataType]] = {
    "id": pl.Int64(),
    "left_source": pl.String(),
    "left_key": pl.String(),
    "right_source": pl.String(),
    "right_key": pl.String(),
    "customer_id": pl.String(),
    "finding_key": pl.String(),
    "probability": pl.Float64(),
    "kind": pl.String(),
    "evidence": pl.String(),
    "fingerprint": pl.String(),
    "status": pl.String(),
    "note": pl.String(),
    "first_run_id": pl.String(),
    "last_run_id": pl.String(),
    "created_at": _UTC,
    "updated_at": _UTC,
}
_DECISION_SCHEMA: Final[dict[str, pl.DataType]] = {
    "id": pl.Int64(),
    "left_source": pl.String(),
    "left_key": pl.String(),
    "right_source": pl.String(),
    "right_key": pl.String(),
    "decision": pl.String(),
    "fingerprint": pl.String(),
    "decided_by": pl.String(),
    "decided_at": _UTC,
    "note": pl.String(),
}
_FINDING_DECISION_SCHEMA: Final[dict[str, pl.DataType]] = {
    "id": pl.Int64(),
    "finding_key": pl.String(),
    "decision": pl.String(),
    "fingerprint": pl.String(),
    "decided_by": pl.String(),
    "decided_at": _UTC,
    "note": pl.String(),
}
#: Columns a run may change on a stored item.
_UPDATED: Final = ("probability", "kind", "evidence", "fingerprint", "status", "note")
_PROBABILITY_DIGITS = 6  # a probability is stored rounded: a re-run's float noise is no change


class ReviewItemNotFoundError(StoreError, LookupError):
    """No review item has the id a steward gave."""


@dataclass(frozen=True, slots=True)
class QueueCounts:
    """What :func:`upsert_review_items` did: items inserted, updated, left unchanged and marked ``stale``."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    staled: int = 0


def ordered_pair(left_source: str, left_key: str, right_source: str, right_key: str) -> tuple[str, str, str, str]:
    """The pair in the store's order: ``(left_source, left_key) < (right_source, right_key)``."""
    if (left_source, left_key) <= (right_source, right_key):
        return left_source, left_key, right_source, right_key
    return right_source, right_key, left_source, left_key


def _ordered(df: pl.DataFrame) -> pl.DataFrame:
    """``df`` with every pair in the store's order (the same order :func:`ordered_pair` gives)."""
    swap = (pl.col("left_source") > pl.col("right_source")) | (
        (pl.col("left_source") == pl.col("right_source")) & (pl.col("left_key") > pl.col("right_key"))
    )
    flipped = {
        "left_source": "right_source",
        "left_key": "right_key",
        "right_source": "left_source",
        "right_key": "left_key",
    }
    return df.with_columns(pl.when(swap).then(pl.col(b)).otherwise(pl.col(a)).alias(a) for a, b in flipped.items())


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _json_text(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def _json_value(value: Any) -> Any:
    """A JSON document as a Python value: text is parsed, anything else taken as is."""
    return json.loads(value) if isinstance(value, str) else value


def _read(
    session: Session, stmt: sa.Select[Any], schema: Mapping[str, pl.DataType], json_cols: Sequence[str] = ()
) -> pl.DataFrame:
    rows = [
        tuple(_json_text(v) if name in json_cols else v for name, v in zip(schema, row, strict=True))
        for row in session.execute(stmt)
    ]
    return pl.DataFrame(rows, schema=dict(schema), orient="row")


def _table(model: type[Any]) -> sa.Table:
    return cast(sa.Table, model.__table__)


# ------------------------------------------------------------------------------------------------ the queue


def subject_of(item: Mapping[str, Any]) -> Subject:
    """Whether a review item (a row of :func:`read_review_items`, or :func:`read_review_item`) is a possible match
    (``pair``) or a clean finding (``finding``)."""
    return "finding" if item.get("finding_key") is not None else "pair"


def decision_for(item: Mapping[str, Any], verb: Verb) -> Decision:
    """The decision a steward's verb records on an item: ``accept`` is ``match`` on a pair and ``confirm`` on a
    finding, ``reject`` is ``no_match`` / ``dismiss``, ``skip`` is ``skip``.

    Raises:
        ValueError: an unknown verb.
    """
    verbs = VERBS[subject_of(item)]
    if verb not in verbs:
        raise ValueError(f"decision_for: verb must be one of {tuple(verbs)}, got {verb!r}")
    return verbs[verb]


def _status(
    item: Mapping[str, Any], decision: Mapping[str, Any] | None, changed_what: str = "the rows"
) -> tuple[ReviewStatus, str | None]:
    """An incoming item's status and note, from the newest decision on its pair or finding (if any)."""
    note = item.get("note")
    if decision is None or decision["decision"] not in BINDING:
        return "open", note
    if decision["fingerprint"] != item["fingerprint"]:
        when = decision["decided_at"].date().isoformat() if decision["decided_at"] is not None else "?"
        changed = (
            f"{changed_what} changed since {decision['decided_by']} decided {decision['decision']} on {when}; "
            "that decision no longer binds: decide again"
        )
        return "open", changed if note is None else f"{changed}; {note}"
    if note:  # a binding decision the run could not honour (it contradicts a newer one): ask again
        return "open", note
    return "decided", None


def upsert_review_items(
    session: Session,
    items: pl.DataFrame,
    *,
    run_id: str,
    now: dt.datetime | None = None,
    scope: pl.DataFrame | None = None,
) -> QueueCounts:
    """Bring the review queue up to date with a run's possible matches; a re-run that changes nothing writes nothing.

    Each incoming pair's status comes from the newest decision on it: a ``match`` / ``no_match`` made on the same
    fingerprint keeps it ``decided``; one made on another fingerprint (a field of a row was edited since) binds no
    more: the item is ``open`` again, with a note saying so. An item with a ``note`` from the run (a decision it
    could not honour) is ``open``. Open items the run no longer calls possible matches become ``stale`` (within
    ``scope``: an incremental run only speaks for the pairs it scored).

    Args:
        session: the caller's session (not committed here).
        items: ``left_source``, ``left_key``, ``right_source``, ``right_key``, ``fingerprint``; optional
            ``probability``, ``kind`` (``review``/``cut``/``conflict``), ``evidence`` (JSON text or dict), ``note``.
            A null probability, kind or evidence keeps the stored one (a decided pair the run did not score).
        run_id: the run writing (``first_run_id`` of new items, ``last_run_id`` of changed ones).
        now: ``created_at`` / ``updated_at`` (default: the current UTC time).
        scope: ``source``, ``source_key`` of the rows whose pairs the run scored (None: every pair). Only open items
            with a row in scope become stale.
    """
    now = now or _utcnow()
    optional = ("probability", "kind", "evidence", "note")
    required = (*PAIR_COLUMNS, "fingerprint")
    missing = [c for c in required if c not in items.columns]
    unknown = [c for c in items.columns if c not in required and c not in optional]
    if missing or unknown:
        raise ValueError(f"upsert_review_items: missing columns {missing}, unknown columns {unknown}")
    df = _ordered(
        items.with_columns(pl.lit(None).alias(c) for c in optional if c not in items.columns).select(
            *required, *optional
        )
    )
    if df.select(PAIR_COLUMNS).is_duplicated().any():
        raise ValueError("upsert_review_items: a pair is given twice")
    bad = set(df["kind"].drop_nulls().to_list()) - set(get_args(ReviewKind))
    if bad:
        raise ValueError(f"upsert_review_items: kind must be one of {get_args(ReviewKind)}, got {sorted(bad)}")

    stored = {
        tuple(row[c] for c in PAIR_COLUMNS): row for row in _stored_items(session, df, scope).iter_rows(named=True)
    }
    decisions = {tuple(row[c] for c in PAIR_COLUMNS): row for row in read_decisions(session).iter_rows(named=True)}
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    unchanged = 0
    seen: set[tuple[str, ...]] = set()
    for item in df.iter_rows(named=True):
        pair = tuple(item[c] for c in PAIR_COLUMNS)
        seen.add(pair)
        status, note = _status(item, decisions.get(pair))
        old = stored.get(pair)
        probability = item["probability"]
        if probability is not None:
            probability = round(float(probability), _PROBABILITY_DIGITS)
        evidence = _json_text(_json_value(item["evidence"]))
        new = {
            "probability": probability if probability is not None else (old or {}).get("probability"),
            "kind": item["kind"] or (old or {}).get("kind") or "review",
            "evidence": evidence if evidence is not None else (old or {}).get("evidence"),
            "fingerprint": item["fingerprint"],
            "status": status,
            "note": note,
        }
        if old is None:
            inserts.append(
                {
                    **dict(zip(PAIR_COLUMNS, pair, strict=True)),
                    **new,
                    "evidence": _json_value(new["evidence"]),
                    "first_run_id": run_id,
                    "last_run_id": run_id,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        elif any(old[k] != v for k, v in new.items()):
            values = {**new, "evidence": _json_value(new["evidence"])}
            updates.append({"_id": old["id"], "_run": run_id, **{f"v_{k}": v for k, v in values.items()}})
        else:
            unchanged += 1
    in_scope = _in_scope(scope)
    staled = [
        {"_id": old["id"], "_run": run_id}
        for pair, old in stored.items()
        if pair not in seen and old["status"] == "open" and in_scope(pair)
    ]
    _write_items(session, inserts, updates, staled, now)
    counts = QueueCounts(len(inserts), len(updates), unchanged, len(staled))
    logger.debug("review queue: %s", counts)
    return counts


#: An incremental run whose items and scope name at most this many rows reads the stored items of those rows by key;
#: past it, one scan of every pair item costs less than the lookups.
_LOOKUP_ROWS: Final = 2_000
#: Keys per lookup statement (well under every backend's limit on bound parameters).
_LOOKUP_CHUNK: Final = 500


def _stored_items(session: Session, items: pl.DataFrame, scope: pl.DataFrame | None) -> pl.DataFrame:
    """The stored pair items an upsert may change: every one for a full run (``scope`` None: it speaks for every
    pair); for an incremental run, those with a row in ``scope`` (they may become stale) or in ``items`` (they may be
    updated), so that its cost follows the rows it read, not the size of the queue."""
    if scope is None:
        return read_review_items(session, subject="pair")
    rows = pl.concat(
        [
            scope.select(pl.col("source").cast(pl.String), pl.col("source_key").cast(pl.String)),
            *(
                items.select(pl.col(f"{side}_source").alias("source"), pl.col(f"{side}_key").alias("source_key"))
                for side in ("left", "right")
            ),
        ]
    ).unique()
    if rows.height > _LOOKUP_ROWS:
        return read_review_items(session, subject="pair")
    table = _table(ReviewItem)
    found = [pl.DataFrame(schema=_ITEM_SCHEMA)]
    for (source,), group in rows.sort("source", "source_key").group_by("source", maintain_order=True):
        keys = group["source_key"].to_list()
        for start in range(0, len(keys), _LOOKUP_CHUNK):
            chunk = keys[start : start + _LOOKUP_CHUNK]
            sides = ((table.c[f"{s}_source"] == source) & table.c[f"{s}_key"].in_(chunk) for s in ("left", "right"))
            on_a_side = sa.or_(*sides)
            stmt = sa.select(*(table.c[c] for c in _ITEM_SCHEMA)).where(table.c.finding_key.is_(None), on_a_side)
            found.append(_read(session, stmt, _ITEM_SCHEMA, ("evidence",)))
    return pl.concat(found).unique("id").sort("id")


def _in_scope(scope: pl.DataFrame | None) -> Callable[[tuple[str, ...]], bool]:
    """Whether a pair has a row in ``scope`` (every pair when None)."""
    if scope is None:
        return lambda pair: True
    rows = set(zip(scope["source"].to_list(), scope["source_key"].to_list(), strict=True))
    return lambda pair: (pair[0], pair[1]) in rows or (pair[2], pair[3]) in rows


def read_review_items(
    session: Session,
    *,
    status: ReviewStatus | None = None,
    ids: Sequence[int] | None = None,
    subject: Subject | None = None,
    customer_id: str | None = None,
) -> pl.DataFrame:
    """Review items (``status`` ones only, of one ``subject``, and the findings about one ``customer_id``, when
    given), ordered by id; ``evidence`` is JSON text.

    Columns: ``id``, the pair (null for a finding), ``customer_id`` and ``finding_key`` (null for a pair),
    ``probability``, ``kind``, ``evidence``, ``fingerprint``, ``status``, ``note``, ``first_run_id``,
    ``last_run_id``, ``created_at``, ``updated_at``.
    """
    table = _table(ReviewItem)
    stmt = sa.select(*(table.c[c] for c in _ITEM_SCHEMA)).order_by(table.c.id)
    if status is not None:
        stmt = stmt.where(table.c.status == status)
    if ids is not None:
        stmt = stmt.where(table.c.id.in_(list(ids)))
    if subject == "pair":
        stmt = stmt.where(table.c.finding_key.is_(None))
    elif subject == "finding":
        stmt = stmt.where(table.c.finding_key.is_not(None))
    if customer_id is not None:
        stmt = stmt.where(table.c.customer_id == customer_id)
    return _read(session, stmt, _ITEM_SCHEMA, ("evidence",))


def read_review_item(session: Session, item_id: int) -> dict[str, Any] | None:
    """One review item as a dict (``evidence`` parsed, ``subject`` added: ``pair`` or ``finding``) with its
    decisions, newest first; None when unknown."""
    found = read_review_items(session, ids=[item_id])
    if not found.height:
        return None
    item = found.row(0, named=True)
    item["evidence"] = _json_value(item["evidence"])
    item["subject"] = subject_of(item)
    if item["subject"] == "finding":
        decisions = read_finding_decisions(session, latest=False, finding_key=item["finding_key"])
    else:
        decisions = read_decisions(session, latest=False, pair={c: item[c] for c in PAIR_COLUMNS})
    item["decisions"] = decisions.to_dicts()
    return item


def read_decisions(session: Session, *, latest: bool = True, pair: Mapping[str, str] | None = None) -> pl.DataFrame:
    """Steward decisions on pairs of source rows, newest first (by ``decided_at``, then id); decisions on findings
    are :func:`read_finding_decisions`.

    Args:
        latest: only the newest decision of each pair (the one that counts).
        pair: only the decisions on this pair (``left_source``, ``left_key``, ``right_source``, ``right_key``,
            in either order).

    Columns: ``id``, the pair, ``decision``, ``fingerprint``, ``decided_by``, ``decided_at``, ``note``.
    """
    table = _table(ReviewDecision)
    stmt = (
        sa.select(*(table.c[c] for c in _DECISION_SCHEMA))
        .where(table.c.finding_key.is_(None))
        .order_by(table.c.decided_at.desc(), table.c.id.desc())
    )
    if pair is not None:
        ordered = ordered_pair(*(pair[c] for c in PAIR_COLUMNS))
        stmt = stmt.where(*(table.c[c] == v for c, v in zip(PAIR_COLUMNS, ordered, strict=True)))
    frame = _read(session, stmt, _DECISION_SCHEMA)
    if latest:
        frame = frame.unique(list(PAIR_COLUMNS), keep="first", maintain_order=True)
    return frame


def read_finding_decisions(session: Session, *, latest: bool = True, finding_key: str | None = None) -> pl.DataFrame:
    """Steward decisions on clean findings, newest first (by ``decided_at``, then id).

    Args:
        latest: only the newest decision of each finding (the one that counts).
        finding_key: only the decisions on this finding.

    Columns: ``id``, ``finding_key``, ``decision``, ``fingerprint``, ``decided_by``, ``decided_at``, ``note``.
    """
    table = _table(ReviewDecision)
    stmt = (
        sa.select(*(table.c[c] for c in _FINDING_DECISION_SCHEMA))
        .where(table.c.finding_key.is_not(None))
        .order_by(table.c.decided_at.desc(), table.c.id.desc())
    )
    if finding_key is not None:
        stmt = stmt.where(table.c.finding_key == finding_key)
    frame = _read(session, stmt, _FINDING_DECISION_SCHEMA)
    if latest:
        frame = frame.unique(["finding_key"], keep="first", maintain_order=True)
    return frame


def upsert_findings(
    session: Session, findings: pl.DataFrame, *, run_id: str, now: dt.datetime | None = None
) -> QueueCounts:
    """Bring the queue's findings up to date with a clean run's; a re-run that finds the same writes nothing.

    A clean run checks every customer, so it speaks for every finding: one it no longer finds (fixed, or its
    customer retired) becomes ``stale`` if it was open (a decided one stays decided, and its decision counts again
    should the finding come back unchanged). Each finding's status comes from the newest decision on it: a
    ``confirm`` / ``dismiss`` made on the same fingerprint keeps it ``decided`` (not queued again); one made on
    another fingerprint (the customer's values behind the finding changed) binds no more: the item is ``open`` again
    with a note saying so.

    Args:
        session: the caller's session (not committed here).
        findings: ``customer_id``, ``finding_key`` (the same finding in every run), ``kind`` (``stale``,
            ``incomplete``, ``invalid_contact``), ``fingerprint`` (the values the finding is about), ``evidence``
            (JSON text or dict, masked: it is shown and exported); optional ``note``.
        run_id: the run writing (``first_run_id`` of new items, ``last_run_id`` of changed ones).
        now: ``created_at`` / ``updated_at`` (default: the current UTC time).

    Raises:
        ValueError: a missing or unknown column, a finding given twice, an unknown kind.
    """
    now = now or _utcnow()
    required = ("customer_id", "finding_key", "kind", "fingerprint", "evidence")
    missing = [c for c in required if c not in findings.columns]
    unknown = [c for c in findings.columns if c not in (*required, "note")]
    if missing or unknown:
        raise ValueError(f"upsert_findings: missing columns {missing}, unknown columns {unknown}")
    df = findings.with_columns(pl.lit(None, pl.String).alias("note") if "note" not in findings.columns else []).select(
        *required, "note"
    )
    if df["finding_key"].is_duplicated().any():
        raise ValueError("upsert_findings: a finding is given twice")
    if df.select(pl.col(*required[:4]).is_null().any()).row(0) != (False,) * 4:
        raise ValueError("upsert_findings: customer_id, finding_key, kind and fingerprint must not be null")
    bad = set(df["kind"].to_list()) - set(get_args(FindingKind))
    if bad:
        raise ValueError(f"upsert_findings: kind must be one of {get_args(FindingKind)}, got {sorted(bad)}")

    stored = {row["finding_key"]: row for row in read_review_items(session, subject="finding").iter_rows(named=True)}
    decisions = {row["finding_key"]: row for row in read_finding_decisions(session).iter_rows(named=True)}
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    unchanged = 0
    for finding in df.iter_rows(named=True):
        key = finding["finding_key"]
        status, note = _status(finding, decisions.get(key), "the customer's values")
        evidence = _json_text(_json_value(finding["evidence"]))
        new = {
            "probability": None,
            "kind": finding["kind"],
            "evidence": evidence,
            "fingerprint": finding["fingerprint"],
            "status": status,
            "note": note,
        }
        old = stored.get(key)
        if old is None:
            inserts.append(
                {
                    **dict.fromkeys(PAIR_COLUMNS),
                    "customer_id": finding["customer_id"],
                    "finding_key": key,
                    **new,
                    "evidence": _json_value(evidence),
                    "first_run_id": run_id,
                    "last_run_id": run_id,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        elif any(old[k] != v for k, v in new.items()):
            values = {**new, "evidence": _json_value(evidence)}
            updates.append({"_id": old["id"], "_run": run_id, **{f"v_{k}": v for k, v in values.items()}})
        else:
            unchanged += 1
    seen = set(df["finding_key"].to_list())
    staled = [
        {"_id": old["id"], "_run": run_id} for key, old in stored.items() if key not in seen and old["status"] == "open"
    ]
    _write_items(session, inserts, updates, staled, now)
    counts = QueueCounts(len(inserts), len(updates), unchanged, len(staled))
    logger.debug("review queue, findings: %s", counts)
    return counts


def _write_items(
    session: Session,
    inserts: list[dict[str, Any]],
    updates: list[dict[str, Any]],
    staled: list[dict[str, Any]],
    now: dt.datetime,
) -> None:
    """Insert new items, update changed ones, mark the ``staled`` ones stale (one statement each)."""
    table = _table(ReviewItem)
    if inserts:
        session.execute(sa.insert(table), inserts)
    if updates:
        stmt = (
            sa.update(table)
            .where(table.c.id == sa.bindparam("_id"))
            .values(
                **{c: sa.bindparam(f"v_{c}", type_=table.c[c].type) for c in _UPDATED},
                last_run_id=sa.bindparam("_run"),
                updated_at=now,
            )
        )
        session.connection().execute(stmt, updates)
    if staled:
        stmt = (
            sa.update(table)
            .where(table.c.id == sa.bindparam("_id"))
            .values(status="stale", last_run_id=sa.bindparam("_run"), updated_at=now)
        )
        session.connection().execute(stmt, staled)


def read_customer_contact_points(session: Session, customer_id: str) -> list[dict[str, Any]]:
    """The contact points of one customer (what a finding about it is checked against), as dicts: ``kind``,
    ``value``, ``valid``, ``source``, ``source_key``; ordered by kind, then value."""
    table = _table(ContactPoint)
    columns = ("kind", "value", "valid", "source", "source_key")
    stmt = (
        sa.select(*(table.c[c] for c in columns))
        .where(table.c.customer_id == customer_id)
        .order_by(table.c.kind, table.c.value)
    )
    return [dict(zip(columns, row, strict=True)) for row in session.execute(stmt)]


def read_pair_rows(session: Session, item: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The two source rows of a review item (a dict with the pair's columns), left first: ``source``,
    ``source_key``, ``payload`` (the raw row, parsed), ``status`` (loaded, quarantined, skipped; None when the row is
    gone) and ``customer_id`` (the customer the row is in now, None unless loaded)."""
    records, crosswalk = _table(SourceRecord), _table(Crosswalk)
    out = []
    for side in ("left", "right"):
        source, key = item[f"{side}_source"], item[f"{side}_key"]
        stmt = (
            sa.select(records.c.payload, records.c.status, crosswalk.c.customer_id)
            .select_from(
                records.outerjoin(
                    crosswalk,
                    (crosswalk.c.source == records.c.source) & (crosswalk.c.source_key == records.c.source_key),
                )
            )
            .where(records.c.source == source, records.c.source_key == key)
        )
        found = session.execute(stmt).first()
        payload, status, customer = found if found is not None else (None, None, None)
        out.append(
            {
                "source": source,
                "source_key": key,
                "payload": json.loads(payload) if payload else {},
                "status": status,
                "customer_id": customer,
            }
        )
    return out


# ------------------------------------------------------------------------------------------ steward actions


def record_audit_event(
    session: Session,
    *,
    actor: str,
    action: str,
    target: Any = None,
    details: Any = None,
    now: dt.datetime | None = None,
) -> int:
    """Append one audit event (who did what to what, when) to the hash chain and return its id.

    The event gets the next ``seq``, the previous event's hash and its own (``crm_store.audit``); the chain's
    head stays locked until the caller's transaction ends, so record the event last in a transaction.
    """
    return int(append_event(session, actor=actor, action=action, target=target, details=details, now=now).id)


def read_audit_events(session: Session, *, action: str | None = None) -> pl.DataFrame:
    """Audit events in the order they happened: ``id``, ``at``, ``actor``, ``action``, ``target`` and ``details``
    (JSON text)."""
    table = _table(AuditEvent)
    schema: dict[str, pl.DataType] = {
        "id": pl.Int64(),
        "at": _UTC,
        "actor": pl.String(),
        "action": pl.String(),
        "target": pl.String(),
        "details": pl.String(),
    }
    stmt = sa.select(*(table.c[c] for c in schema)).order_by(table.c.id)
    if action is not None:
        stmt = stmt.where(table.c.action == action)
    return _read(session, stmt, schema, ("target", "details"))


def decide(
    session: Session,
    item_id: int,
    decision: Decision,
    *,
    by: str,
    note: str | None = None,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Record a steward's decision on a review item, with its audit event; returns the item as it is now.

    On a possible match, ``match`` and ``no_match`` make the item ``decided`` (the next run merges, or keeps
    apart, its two rows while their compared values stay as they are now). On a finding, ``confirm`` (a real
    problem) and ``dismiss`` (not one) make it ``decided``: later clean runs do not queue it again while the
    customer's values behind it stay as they are. ``skip`` leaves either to decide later (an open item stays open;
    a decided one opens again). :func:`decision_for` maps accept / reject / skip onto these.

    Raises:
        ReviewItemNotFoundError: no item has ``item_id``.
        ValueError: an unknown decision or one the item does not take (``confirm`` on a pair, ``match`` on a
            finding), or ``by`` empty or longer than 128 characters.
    """
    if decision not in get_args(Decision):
        raise ValueError(f"decide: decision must be one of {get_args(Decision)}, got {decision!r}")
    if not by or len(by) > 128:
        raise ValueError("decide: by must be 1 to 128 characters")
    item = session.get(ReviewItem, item_id)
    if item is None:
        raise ReviewItemNotFoundError(f"no review item {item_id}")
    subject: Subject = "finding" if item.finding_key is not None else "pair"
    if decision not in SUBJECT_DECISIONS[subject]:
        what = "a possible match" if subject == "pair" else "a finding"
        raise ValueError(
            f"decide: review item {item_id} is {what}; it takes {', '.join(SUBJECT_DECISIONS[subject])}, "
            f"not {decision!r}"
        )
    now = now or _utcnow()
    pair = {c: getattr(item, c) for c in PAIR_COLUMNS}
    session.add(
        ReviewDecision(
            **pair,
            finding_key=item.finding_key,
            decision=decision,
            fingerprint=item.fingerprint,
            decided_by=by,
            decided_at=now,
            note=note,
        )
    )
    previous = item.status
    if decision in BINDING:
        item.status, item.note = "decided", None
    elif previous == "decided":
        item.status = "open"  # a skip replaces the decision that counted
    item.updated_at = now
    record_audit_event(
        session,
        actor=by,
        action=DECISION_ACTIONS[decision],
        target={
            "review_item": item_id,
            "left": {"source": item.left_source, "source_key": item.left_key},
            "right": {"source": item.right_source, "source_key": item.right_key},
        }
        if subject == "pair"
        else {
            "review_item": item_id,
            "customer_id": item.customer_id,
            "finding_key": item.finding_key,
            "kind": item.kind,
        },
        details={
            "decision": decision,
            "note": note,
            "probability": item.probability,
            "fingerprint": item.fingerprint,
            "status": {"from": previous, "to": item.status},
        },
        now=now,
    )
    session.flush()
    found = read_review_item(session, item_id)
    assert found is not None
    return found


def record_decisions(
    session: Session,
    decisions: pl.DataFrame,
    *,
    by: str,
    note: str | None = None,
    now: dt.datetime | None = None,
) -> int:
    """Record steward decisions on pairs of source rows that need no review item (a merge or unmerge decides many
    pairs at once); returns how many were recorded. The caller writes the action's one audit event.

    Like :func:`decide`, each is an append-only ``review_decision`` that binds later runs while its pair keeps the
    ``fingerprint`` it was made on; a review item on a pair decided ``match`` / ``no_match`` becomes ``decided``.

    Args:
        session: the caller's session (not committed here).
        decisions: the pair (``left_source``, ``left_key``, ``right_source``, ``right_key``, in either order),
            ``decision`` (``match``, ``no_match`` or ``skip``) and ``fingerprint`` (see
            ``rules.match.constraints.pair_fingerprint``).
        by: who decided (1 to 128 characters).
        note: why, kept with every decision.
        now: ``decided_at`` (default: the current UTC time).

    Raises:
        ValueError: a missing column, an unknown decision, a pair given twice or ``by`` empty or too long.
    """
    if not by or len(by) > 128:
        raise ValueError("record_decisions: by must be 1 to 128 characters")
    required = (*PAIR_COLUMNS, "decision", "fingerprint")
    missing = [c for c in required if c not in decisions.columns]
    if missing:
        raise ValueError(f"record_decisions: missing columns {missing}")
    if not decisions.height:
        return 0
    frame = _ordered(decisions.select(required))
    bad = set(frame["decision"].to_list()) - set(PAIR_DECISIONS)
    if bad:
        raise ValueError(f"record_decisions: decision must be one of {PAIR_DECISIONS}, got {sorted(bad)}")
    if frame.select(PAIR_COLUMNS).is_duplicated().any():
        raise ValueError("record_decisions: a pair is given twice")
    now = now or _utcnow()
    rows = [{**row, "decided_by": by, "decided_at": now, "note": note} for row in frame.iter_rows(named=True)]
    session.execute(sa.insert(_table(ReviewDecision)), rows)
    binding = frame.filter(pl.col("decision").is_in(BINDING))
    if binding.height:
        table = _table(ReviewItem)
        stmt = (
            sa.update(table)
            .where(*(table.c[c] == sa.bindparam(f"_{c}") for c in PAIR_COLUMNS))
            .values(status="decided", note=None, updated_at=now)
        )
        keys = [{f"_{c}": row[c] for c in PAIR_COLUMNS} for row in binding.iter_rows(named=True)]
        session.connection().execute(stmt, keys)
    session.flush()
    return frame.height

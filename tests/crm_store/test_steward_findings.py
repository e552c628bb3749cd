"""Clean findings in the review queue (``upsert_findings``, ``decide`` on a finding) and the recorded schedules, on
SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

import crm_store

from .test_steward import T0, T1, T2, _empty, db, items, snapshot

__all__ = ["db"]  # the fixture, shared with test_steward.py

T3 = T0 + dt.timedelta(hours=3)


def findings(*rows: tuple[str, str, str, str]) -> pl.DataFrame:
    """Findings from ``(customer_id, finding_key, kind, fingerprint)``."""
    return pl.DataFrame(
        [
            {
                "customer_id": customer,
                "finding_key": key,
                "kind": kind,
                "fingerprint": fp,
                "evidence": json.dumps({"code": f"{kind}_code", "detail": "masked detail", "value": "138****8000"}),
            }
            for customer, key, kind, fp in rows
        ],
        schema=dict.fromkeys(("customer_id", "finding_key", "kind", "fingerprint", "evidence"), pl.String),
    )


def by_key(session: Session) -> dict[str, dict[str, object]]:
    return {r["finding_key"]: r for r in crm_store.read_review_items(session, subject="finding").to_dicts()}


def test_decided_findings_stay_decided_until_their_fingerprint_changes(db: Session) -> None:
    first = findings(("c1", "k-stale", "stale", "f1"), ("c2", "k-incomplete", "incomplete", "f2"))
    counts = crm_store.upsert_findings(db, first, run_id="clean-1", now=T0)
    assert counts == crm_store.QueueCounts(inserted=2)
    stored = by_key(db)
    assert {k: (r["customer_id"], r["kind"], r["status"], r["left_source"]) for k, r in stored.items()} == {
        "k-stale": ("c1", "stale", "open", None),
        "k-incomplete": ("c2", "incomplete", "open", None),
    }
    assert json.loads(str(stored["k-stale"]["evidence"]))["value"] == "138****8000"
    assert stored["k-stale"]["probability"] is None and stored["k-stale"]["first_run_id"] == "clean-1"

    before = snapshot(db)
    assert crm_store.upsert_findings(db, first, run_id="clean-2", now=T1) == crm_store.QueueCounts(unchanged=2)
    assert snapshot(db) == before  # a second identical run writes nothing

    stale_id, incomplete_id = (int(str(stored[k]["id"])) for k in ("k-stale", "k-incomplete"))
    confirmed = crm_store.decide(db, stale_id, "confirm", by="alice", note="really stale", now=T1)
    dismissed = crm_store.decide(db, incomplete_id, "dismiss", by="bob", now=T1)
    assert confirmed["status"] == dismissed["status"] == "decided" and confirmed["subject"] == "finding"
    assert [(d["decision"], d["decided_by"], d["note"]) for d in confirmed["decisions"]] == [
        ("confirm", "alice", "really stale")
    ]
    assert crm_store.read_decisions(db).height == 0  # the pair decisions the matcher reads hold no finding
    assert set(crm_store.read_finding_decisions(db)["decision"]) == {"confirm", "dismiss"}
    events = crm_store.read_audit_events(db).to_dicts()
    assert [e["action"] for e in events] == ["review.accept", "review.reject"]
    assert json.loads(events[0]["target"]) == {
        "review_item": stale_id,
        "customer_id": "c1",
        "finding_key": "k-stale",
        "kind": "stale",
    }

    # the next run finds both again, unchanged: both stay decided, nothing is written
    before = snapshot(db)
    assert crm_store.upsert_findings(db, first, run_id="clean-3", now=T2) == crm_store.QueueCounts(unchanged=2)
    assert snapshot(db) == before

    # the stale customer's last contact moved (a new fingerprint): asked again, with a note; the dismissed one
    # is not found this time: it stays decided (a decided item never goes stale)
    moved = findings(("c1", "k-stale", "stale", "f1-new"))
    counts = crm_store.upsert_findings(db, moved, run_id="clean-4", now=T3)
    assert counts == crm_store.QueueCounts(updated=1)
    stored = by_key(db)
    assert stored["k-stale"]["status"] == "open" and stored["k-stale"]["last_run_id"] == "clean-4"
    note = str(stored["k-stale"]["note"])
    assert "the customer's values changed since alice decided confirm" in note and "decide again" in note
    assert stored["k-incomplete"]["status"] == "decided"

    # fixed at last: an open finding the run no longer finds becomes stale
    counts = crm_store.upsert_findings(db, findings(), run_id="clean-5", now=T3)
    assert counts == crm_store.QueueCounts(staled=1)
    assert {k: r["status"] for k, r in by_key(db).items()} == {"k-stale": "stale", "k-incomplete": "decided"}

    # skip on a decided finding opens it again
    skipped = crm_store.decide(db, incomplete_id, "skip", by="carol", now=T3)
    assert skipped["status"] == "open"


def test_findings_and_pairs_share_the_queue_but_not_their_decisions(db: Session) -> None:
    crm_store.upsert_review_items(db, items(("a", "1", "b", "1", 0.7, "review", "p1")), run_id="r1")
    crm_store.upsert_findings(db, findings(("c1", "k1", "invalid_contact", "f1")), run_id="clean-1")
    pair = crm_store.read_review_items(db, subject="pair").row(0, named=True)
    finding = crm_store.read_review_items(db, subject="finding").row(0, named=True)
    assert crm_store.read_review_items(db)["id"].to_list() == [pair["id"], finding["id"]]  # one id space
    assert crm_store.read_review_items(db, customer_id="c1")["id"].to_list() == [finding["id"]]
    assert crm_store.subject_of(pair) == "pair" and crm_store.subject_of(finding) == "finding"
    assert [crm_store.decision_for(pair, v) for v in ("accept", "reject", "skip")] == ["match", "no_match", "skip"]
    assert [crm_store.decision_for(finding, v) for v in ("accept", "reject", "skip")] == ["confirm", "dismiss", "skip"]
    with pytest.raises(ValueError, match="is a possible match; it takes match, no_match, skip, not 'confirm'"):
        crm_store.decide(db, pair["id"], "confirm", by="alice")
    with pytest.raises(ValueError, match="is a finding; it takes confirm, dismiss, skip, not 'match'"):
        crm_store.decide(db, finding["id"], "match", by="alice")
    assert crm_store.read_audit_events(db).height == 0  # nothing recorded for a refused decision

    # a migrate run speaks for pairs only: the finding is not staled by it, nor the pair by a clean run
    assert crm_store.upsert_review_items(db, _empty(), run_id="r2") == crm_store.QueueCounts(staled=1)
    assert crm_store.upsert_findings(db, findings(("c1", "k1", "invalid_contact", "f1")), run_id="clean-2") == (
        crm_store.QueueCounts(unchanged=1)
    )
    assert crm_store.read_review_item(db, finding["id"])["status"] == "open"  # type: ignore[index]


def test_the_store_keeps_each_item_a_pair_or_a_finding(db: Session) -> None:
    table = crm_store.Base.metadata.tables["review_item"]
    row = {
        "left_source": "a",
        "left_key": "1",
        "right_source": "b",
        "right_key": "1",
        "kind": "stale",
        "fingerprint": "f",
        "status": "open",
        "first_run_id": "r",
        "last_run_id": "r",
        "created_at": T0,
        "updated_at": T0,
    }
    for bad in (
        {**row, "finding_key": "k", "customer_id": "c1"},  # both a pair and a finding
        {**row, "kind": "review", "finding_key": "k", "customer_id": "c1"},
        {**row, **dict.fromkeys(("left_source", "left_key", "right_source", "right_key")), "finding_key": "k"},
        {**row, "kind": "stale"},  # a pair of a finding's kind
    ):
        # MariaDB reports a failed CHECK as an OperationalError (4025), the others as an IntegrityError
        with pytest.raises((sa.exc.IntegrityError, sa.exc.OperationalError)), db.begin_nested():
            db.execute(sa.insert(table).values(**bad))


def test_bad_findings_are_refused(db: Session) -> None:
    with pytest.raises(ValueError, match="a finding is given twice"):
        crm_store.upsert_findings(db, findings(("c1", "k", "stale", "f"), ("c1", "k", "stale", "g")), run_id="r")
    with pytest.raises(ValueError, match="kind must be one of"):
        crm_store.upsert_findings(db, findings(("c1", "k", "review", "f")), run_id="r")
    with pytest.raises(ValueError, match=r"missing columns \['fingerprint'\]"):
        crm_store.upsert_findings(db, findings(("c1", "k", "stale", "f")).drop("fingerprint"), run_id="r")
    assert crm_store.read_review_items(db).height == 0


def test_schedules_are_recorded_replaced_and_stopped(db: Session) -> None:
    assert crm_store.read_schedules(db) == []
    kwargs = {"project": "demo", "flow": "migrate-and-clean", "served_by": "ops", "host": "crm-1"}
    crm_store.record_schedule(
        db, name="migrate-and-clean/demo", cron="0 2 * * *", timezone="Asia/Shanghai", now=T0, **kwargs
    )
    (row,) = crm_store.read_schedules(db)
    assert (row["cron"], row["timezone"], row["started_at"], row["stopped_at"]) == (
        "0 2 * * *",
        "Asia/Shanghai",
        T0,
        None,
    )
    assert crm_store.stop_schedule(db, "migrate-and-clean/demo", now=T1) is True
    assert crm_store.read_schedules(db)[0]["stopped_at"] == T1
    # served again with another cron expression: replaced, running again
    crm_store.record_schedule(db, name="migrate-and-clean/demo", cron="30 3 * * 1", timezone="UTC", now=T2, **kwargs)
    (row,) = crm_store.read_schedules(db)
    assert (row["cron"], row["timezone"], row["started_at"], row["stopped_at"]) == ("30 3 * * 1", "UTC", T2, None)
    assert crm_store.stop_schedule(db, "unknown") is False

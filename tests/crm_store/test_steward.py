"""The review queue, decisions and audit trail round-trip on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

import crm_store
from crm_store import init_store

from .conftest import sqlite_url

T0 = dt.datetime(2026, 12, 6, 9, 0, tzinfo=dt.UTC)
T1 = T0 + dt.timedelta(hours=1)
T2 = T0 + dt.timedelta(hours=2)


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgresql", marks=pytest.mark.postgres),
        pytest.param("mariadb", marks=pytest.mark.mariadb),
    ]
)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Session]:
    """A session on a fresh store: SQLite, PostgreSQL, MariaDB (a server that does not answer is skipped)."""
    if request.param == "sqlite":
        url = sqlite_url(tmp_path)
    else:
        url = str(request.getfixturevalue("pg_url" if request.param == "postgresql" else "mariadb_url"))
    engine = init_store(url)
    try:
        with Session(engine) as session:
            yield session
    finally:
        engine.dispose()


def items(*rows: tuple[str, str, str, str, float, str, str]) -> pl.DataFrame:
    """Items from ``(left_source, left_key, right_source, right_key, probability, kind, fingerprint)``."""
    return pl.DataFrame(
        [
            {
                "left_source": ls,
                "left_key": lk,
                "right_source": rs,
                "right_key": rk,
                "probability": p,
                "kind": kind,
                "fingerprint": fp,
                "evidence": {"reason": "band", "comparisons": {"name": {"level": "exact", "weight": 4.25}}},
            }
            for ls, lk, rs, rk, p, kind, fp in rows
        ]
    )


def snapshot(session: Session) -> dict[str, list[tuple[object, ...]]]:
    out = {}
    for name in ("review_item", "review_decision", "audit_event"):
        table = crm_store.Base.metadata.tables[name]
        out[name] = [tuple(r) for r in session.execute(sa.select(table).order_by(table.c.id))]
    return out


def by_pair(session: Session) -> dict[tuple[str, str, str, str], dict[str, object]]:
    frame = crm_store.read_review_items(session)
    return {(r["left_source"], r["left_key"], r["right_source"], r["right_key"]): r for r in frame.to_dicts()}


def test_items_are_upserted_by_pair_and_a_second_identical_run_writes_nothing(db: Session) -> None:
    # given the wrong way round: stored as ("crm", "K1") < ("web", "7"); keys differing in case are other rows
    first = items(("web", "7", "crm", "K1", 0.734567891, "review", "f1"), ("crm", "k1", "crm", "K1", 0.95, "cut", "f2"))
    counts = crm_store.upsert_review_items(db, first, run_id="run-1", now=T0)
    db.commit()
    assert (counts.inserted, counts.updated, counts.unchanged, counts.staled) == (2, 0, 0, 0)
    stored = by_pair(db)
    assert set(stored) == {("crm", "K1", "web", "7"), ("crm", "K1", "crm", "k1")}
    item = stored["crm", "K1", "web", "7"]
    assert item["probability"] == pytest.approx(0.734568) and item["status"] == "open" and item["kind"] == "review"
    assert json.loads(str(item["evidence"]))["comparisons"]["name"] == {"level": "exact", "weight": 4.25}
    assert item["created_at"] == T0 and item["first_run_id"] == item["last_run_id"] == "run-1"

    before = snapshot(db)
    again = crm_store.upsert_review_items(db, first, run_id="run-2", now=T1)
    db.commit()
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)
    assert snapshot(db) == before

    # a run that no longer calls one of them a possible match: stale; a changed probability: updated
    moved = items(("crm", "K1", "web", "7", 0.61, "review", "f1"))
    counts = crm_store.upsert_review_items(db, moved, run_id="run-3", now=T2)
    db.commit()
    assert (counts.updated, counts.staled) == (1, 1)
    stored = by_pair(db)
    assert stored["crm", "K1", "crm", "k1"]["status"] == "stale"
    assert (
        stored["crm", "K1", "web", "7"]["last_run_id"] == "run-3"
        and stored["crm", "K1", "web", "7"]["updated_at"] == T2
    )
    assert stored["crm", "K1", "web", "7"]["first_run_id"] == "run-1"


def test_decisions_bind_while_the_fingerprint_holds_and_every_action_is_audited(db: Session) -> None:
    crm_store.upsert_review_items(
        db,
        items(("crm", "1", "web", "1", 0.7, "review", "fA"), ("crm", "2", "web", "2", 0.6, "review", "fB")),
        run_id="r1",
    )
    db.commit()
    ids = {r["left_key"]: r["id"] for r in crm_store.read_review_items(db).to_dicts()}
    accepted = crm_store.decide(db, ids["1"], "match", by="alice", note="same person: called her", now=T0)
    rejected = crm_store.decide(db, ids["2"], "no_match", by="bob", now=T0)
    db.commit()
    assert accepted["status"] == "decided" and rejected["status"] == "decided"
    assert [d["decision"] for d in accepted["decisions"]] == ["match"]
    assert accepted["decisions"][0]["note"] == "same person: called her"

    decisions = crm_store.read_decisions(db)
    assert decisions.select("left_key", "decision", "fingerprint", "decided_by").rows() == [
        ("2", "no_match", "fB", "bob"),  # newest first: same time, the later one first
        ("1", "match", "fA", "alice"),
    ]
    audit = crm_store.read_audit_events(db)
    assert audit["action"].to_list() == ["review.accept", "review.reject"]
    assert audit["actor"].to_list() == ["alice", "bob"]
    target = json.loads(audit["target"][0])
    assert target == {
        "review_item": ids["1"],
        "left": {"source": "crm", "source_key": "1"},
        "right": {"source": "web", "source_key": "1"},
    }
    assert json.loads(audit["details"][0])["status"] == {"from": "open", "to": "decided"}

    # the next run: pair 1 unchanged (stays decided, nothing written); pair 2's row was edited (open again)
    before = snapshot(db)["review_item"]
    crm_store.upsert_review_items(
        db,
        items(("crm", "1", "web", "1", 0.7, "review", "fA"), ("crm", "2", "web", "2", 0.6, "review", "fB2")),
        run_id="r2",
        now=T1,
    )
    db.commit()
    stored = by_pair(db)
    assert stored["crm", "1", "web", "1"]["status"] == "decided"
    assert [r for r in snapshot(db)["review_item"] if r[0] == ids["1"]] == [r for r in before if r[0] == ids["1"]]
    reopened = stored["crm", "2", "web", "2"]
    assert reopened["status"] == "open" and reopened["fingerprint"] == "fB2"
    assert "changed since bob decided no_match" in str(reopened["note"])

    # the newest decision counts: a skip after the match un-decides the pair; decisions are kept forever
    later = crm_store.decide(db, ids["1"], "skip", by="alice", now=T2)
    db.commit()
    assert later["status"] == "open"
    assert [d["decision"] for d in later["decisions"]] == ["skip", "match"]
    assert crm_store.read_decisions(db).filter(pl.col("left_key") == "1")["decision"].to_list() == ["skip"]
    assert crm_store.read_decisions(db, latest=False).height == 3
    assert crm_store.read_audit_events(db, action="review.skip").height == 1


def test_an_incremental_run_only_stales_pairs_of_rows_it_scored(db: Session) -> None:
    crm_store.upsert_review_items(
        db, items(("a", "1", "b", "1", 0.7, "review", "f1"), ("a", "2", "b", "2", 0.7, "review", "f2")), run_id="r1"
    )
    scope = pl.DataFrame({"source": ["b"], "source_key": ["2"]})
    counts = crm_store.upsert_review_items(db, _empty(), run_id="r2", scope=scope)
    assert counts.staled == 1
    stored = by_pair(db)
    assert stored["a", "1", "b", "1"]["status"] == "open" and stored["a", "2", "b", "2"]["status"] == "stale"
    # a stale pair that comes back is open again
    crm_store.upsert_review_items(db, items(("a", "2", "b", "2", 0.8, "cut", "f2")), run_id="r3")
    assert by_pair(db)["a", "2", "b", "2"]["status"] == "open"


def test_an_incremental_run_reads_and_changes_only_the_items_of_its_rows(db: Session) -> None:
    """An incremental run's items are found by their rows (its cost follows the rows it read, not the size of the
    queue): a pair it scores again is updated or unchanged, a new one inserted, an open pair of a row it read and did
    not score again is stale, and every other item is left as it was."""
    queue = [("a", f"{i}", "b", f"{i}", 0.7, "review", f"f{i}") for i in range(40)]
    crm_store.upsert_review_items(db, items(*queue), run_id="r1", now=T0)
    db.commit()
    before = by_pair(db)
    scope = pl.DataFrame({"source": ["b", "b", "c", "a"], "source_key": ["3", "4", "9", "7"]})
    run = items(
        ("a", "3", "b", "3", 0.9, "review", "f3"),  # scored again, another probability: updated
        ("a", "7", "b", "7", 0.7, "review", "f7"),  # scored again, the same: unchanged
        ("d", "1", "c", "9", 0.6, "review", "g"),  # new
    )
    counts = crm_store.upsert_review_items(db, run, run_id="r2", now=T1, scope=scope)
    db.commit()
    assert (counts.inserted, counts.updated, counts.unchanged, counts.staled) == (1, 1, 1, 1)
    after = by_pair(db)
    assert after["a", "3", "b", "3"]["probability"] == pytest.approx(0.9)
    assert after["a", "4", "b", "4"]["status"] == "stale" and after["c", "9", "d", "1"]["status"] == "open"
    changed = {("a", "3", "b", "3"), ("a", "4", "b", "4")}
    assert {pair: after[pair] for pair in before if pair not in changed} == {
        pair: item for pair, item in before.items() if pair not in changed
    }


def _empty() -> pl.DataFrame:
    return pl.DataFrame(
        schema=dict.fromkeys(("left_source", "left_key", "right_source", "right_key", "fingerprint"), pl.String)
    )


def test_unknown_ids_and_bad_input_are_refused(db: Session) -> None:
    with pytest.raises(crm_store.ReviewItemNotFoundError, match="no review item 404"):
        crm_store.decide(db, 404, "match", by="alice")
    crm_store.upsert_review_items(db, items(("a", "1", "b", "1", 0.7, "review", "f1")), run_id="r1")
    (item_id,) = crm_store.read_review_items(db)["id"].to_list()
    with pytest.raises(ValueError, match="decision must be one of"):
        crm_store.decide(db, item_id, "maybe", by="alice")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="kind must be one of"):
        crm_store.upsert_review_items(db, items(("a", "1", "b", "1", 0.7, "maybe", "f1")), run_id="r2")
    with pytest.raises(ValueError, match="a pair is given twice"):
        crm_store.upsert_review_items(
            db, items(("a", "1", "b", "1", 0.7, "review", "f1"), ("b", "1", "a", "1", 0.7, "review", "f1")), run_id="r2"
        )
    assert crm_store.read_review_item(db, 404) is None
    assert crm_store.ordered_pair("web", "1", "crm", "9") == ("crm", "9", "web", "1")

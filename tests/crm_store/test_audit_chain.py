"""The hash-chained audit trail: appended by runs, decisions, exports and backups; any change to a stored event
(a value, a deleted, inserted or reordered row, a cut tail, a rewritten history against an anchor) is found by
``crmkit audit verify``; concurrent writers never fork the chain; migration 0008 chains the events of a 0007 store.
On SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa
import yaml
from alembic import command
from sqlalchemy.orm import Session
from typer.testing import CliRunner

import crm_store
from crm_store import init_store
from crm_store.audit import GENESIS, event_hash
from crm_store.store import migrations_config
from pipelines.cli import app
from pipelines.migrate import run_steps
from pipelines.settings import load_settings

from .conftest import sqlite_url

runner = CliRunner()
T0 = dt.datetime(2026, 12, 9, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgresql", marks=pytest.mark.postgres),
        pytest.param("mariadb", marks=pytest.mark.mariadb),
    ]
)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh store URL: SQLite, PostgreSQL, MariaDB (a server that does not answer is skipped)."""
    if request.param == "sqlite":
        return sqlite_url(tmp_path)
    return str(request.getfixturevalue("pg_url" if request.param == "postgresql" else "mariadb_url"))


@pytest.fixture
def engine(url: str) -> Iterator[sa.Engine]:
    engine = init_store(url)
    yield engine
    engine.dispose()


def append(engine: sa.Engine, n: int, *, actor: str = "alice") -> None:
    """``n`` events, each in its own transaction, with JSON details of every kind."""
    for i in range(n):
        with Session(engine) as session, session.begin():
            crm_store.record_audit_event(
                session,
                actor=actor,
                action=f"test.{i % 3}",
                target={"item": i, "keys": ["a", "b"]},
                details={"note": f"第{i}条", "p": 0.25 + i, "whole": 2.0, "big": 1e16, "none": None, "ok": True},
                now=T0 + dt.timedelta(seconds=i, microseconds=7),
            )


def verify(engine: sa.Engine, anchors: dict[int, str] | None = None) -> crm_store.ChainReport:
    with Session(engine) as session:
        return crm_store.verify_chain(session, anchors=anchors)


def tamper(engine: sa.Engine, *statements: str) -> None:
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(sa.text(statement))


def chain(engine: sa.Engine) -> pl.DataFrame:
    with Session(engine) as session:
        return crm_store.read_audit_trail(session)


# ------------------------------------------------------------------------------------------ the chain


def test_events_form_a_chain_that_verifies(engine: sa.Engine) -> None:
    append(engine, 5)
    events = chain(engine)
    assert events["seq"].to_list() == [1, 2, 3, 4, 5]
    assert events["prev_hash"].to_list() == [GENESIS, *events["hash"].to_list()[:-1]]
    first = events.row(0, named=True)
    assert first["hash"] == event_hash(
        seq=1,
        at=T0 + dt.timedelta(microseconds=7),
        actor="alice",
        action="test.0",
        target=json.loads(first["target"]),
        details=json.loads(first["details"]),
        prev_hash=GENESIS,
    )
    report = verify(engine)
    assert report.intact and report.events == 5 and report.last_seq == 5 and report.last_hash == events["hash"][-1]
    with Session(engine) as session:
        newest = crm_store.read_audit_trail(session, limit=2)
    assert newest["seq"].to_list() == [4, 5]  # the newest, oldest first


def test_an_empty_trail_verifies() -> None:
    engine = init_store("sqlite://")
    try:
        report = verify(engine)
        assert report.intact and report.events == 0 and report.last_hash == GENESIS
    finally:
        engine.dispose()


EVENTS = crm_store.models.AuditEvent.__table__


def _swap(conn: sa.Connection) -> None:
    for old, new in ((2, 100), (3, 2), (100, 3)):
        conn.execute(sa.update(EVENTS).where(EVENTS.c.seq == old).values(seq=new))


TAMPERING: dict[str, tuple[Callable[[sa.Connection], object], int | None, str]] = {
    # what is done to 5 events: the change, the seq reported first (None: the head), words of its problem
    "a details value changed": (
        lambda c: c.execute(sa.update(EVENTS).where(EVENTS.c.seq == 3).values(details={"note": "nothing to see"})),
        3,
        "content does not match its hash",
    ),
    "the actor changed": (
        lambda c: c.execute(sa.update(EVENTS).where(EVENTS.c.seq == 2).values(actor="mallory")),
        2,
        "content does not match its hash",
    ),
    "the time changed": (
        lambda c: c.execute(sa.update(EVENTS).where(EVENTS.c.seq == 4).values(at=T0 - dt.timedelta(days=1))),
        4,
        "content does not match its hash",
    ),
    "a row deleted": (lambda c: c.execute(sa.delete(EVENTS).where(EVENTS.c.seq == 3)), 4, "seq 3 missing"),
    "a row inserted": (
        lambda c: c.execute(
            sa.insert(EVENTS).values(
                at=T0, actor="mallory", action="test.forged", seq=6, prev_hash=GENESIS, hash="f" * 64
            )
        ),
        6,
        "does not follow",
    ),
    "two rows reordered": (_swap, 2, "does not follow"),
    "the last rows deleted": (
        lambda c: c.execute(sa.delete(EVENTS).where(EVENTS.c.seq >= 4)),
        None,
        "ends at seq 3 but its head names seq 5",
    ),
    "the head deleted": (lambda c: c.execute(sa.text("delete from audit_head")), None, "no head row"),
}


@pytest.mark.parametrize("case", list(TAMPERING))
def test_tampering_is_found_at_the_first_broken_event(engine: sa.Engine, case: str) -> None:
    change, seq, words = TAMPERING[case]
    append(engine, 5)
    with engine.begin() as conn:
        change(conn)
    report = verify(engine)
    assert not report.intact
    assert report.first is not None and report.first.seq == seq and words in report.first.problem, report.problems


def test_a_stored_value_that_is_not_json_or_a_time_is_a_finding_not_a_crash(tmp_path: Path) -> None:
    engine = init_store(sqlite_url(tmp_path))
    try:
        append(engine, 3)
        tamper(
            engine,
            "update audit_event set details = '{\"p\": NaN}' where seq = 1",
            "update audit_event set target = 'not json' where seq = 2",
            "update audit_event set at = 'yesterday' where seq = 3",
        )
        report = verify(engine)
        assert [p.seq for p in report.problems] == [1, 2, 3]
        assert {p.problem for p in report.problems} == {
            "its content cannot be read as written (not JSON, or not a time)"
        }
    finally:
        engine.dispose()


def test_a_rewritten_history_is_found_by_an_anchor(engine: sa.Engine) -> None:
    append(engine, 4)
    anchor = verify(engine)
    assert verify(engine, {anchor.last_seq: anchor.last_hash, 2: chain(engine)["hash"][1]}).intact
    # an attacker with write access changes event 2 and recomputes every hash after it, and the head
    with engine.begin() as conn:
        columns = ("id", "seq", "at", "actor", "action", "target", "details")
        rows = conn.execute(sa.select(*(EVENTS.c[c] for c in columns)).order_by(EVENTS.c.seq)).all()
        prev = GENESIS
        for event_id, seq, at, actor, action, target, details in rows:
            actor = "mallory" if seq == 2 else actor
            digest = event_hash(
                seq=seq, at=at, actor=actor, action=action, target=target, details=details, prev_hash=prev
            )
            conn.execute(
                sa.update(EVENTS).where(EVENTS.c.id == event_id).values(actor=actor, prev_hash=prev, hash=digest)
            )
            prev = digest
        conn.execute(sa.text("update audit_head set hash = :h"), {"h": prev})
    assert verify(engine).intact  # the chain alone cannot tell
    report = verify(engine, {anchor.last_seq: anchor.last_hash})
    assert not report.intact and report.first is not None and report.first.seq == 4
    assert "anchor" in report.first.problem
    missing = verify(engine, {9: anchor.last_hash})
    assert not missing.intact and "does not have" in missing.problems[-1].problem


def test_a_deleted_head_is_recreated_by_the_next_event_and_says_so(engine: sa.Engine) -> None:
    append(engine, 2)
    tamper(engine, "delete from audit_head")
    append(engine, 1, actor="bob")
    events = chain(engine)
    assert events["action"].to_list() == ["test.0", "test.1", "audit.head_recreated", "test.0"]
    assert json.loads(events["details"][2])["last_seq"] == 2
    assert verify(engine).intact


def test_an_event_rolled_back_leaves_a_deleted_head_deleted(engine: sa.Engine) -> None:
    """The head row recreated after a deletion commits or rolls back with its ``audit.head_recreated`` event: a
    rolled-back writer must not put a head back that hides the deletion."""
    append(engine, 2)
    tamper(engine, "delete from audit_head")
    with Session(engine) as session:
        session.begin()
        crm_store.record_audit_event(session, actor="bob", action="test.rolled_back")
        session.rollback()
    report = verify(engine)
    assert not report.intact and "no head row" in report.problems[-1].problem


def test_the_first_event_needs_one_connection(url: str) -> None:
    """A pool of one connection, held by the writer: the first head row needs no second one from it."""
    init_store(url).dispose()
    engine = sa.create_engine(url, pool_size=1, max_overflow=0, pool_timeout=2)
    try:
        append(engine, 2)
        assert verify(engine).intact and chain(engine).height == 2
    finally:
        engine.dispose()


def test_concurrent_writers_take_turns_and_never_fork_the_chain(engine: sa.Engine) -> None:
    """Four writers of a new store, their first events at once (on MariaDB, writers that each found no head row
    deadlocked inserting it), then seven more each."""
    errors: list[BaseException] = []
    together = threading.Barrier(4, timeout=30)

    def writer(who: str) -> None:
        try:
            for i in range(8):
                with Session(engine) as session, session.begin():
                    session.execute(sa.select(sa.literal(1)))  # a read first: the writer's snapshot may be old
                    if i == 0:
                        together.wait()
                    crm_store.record_audit_event(session, actor=who, action="test.concurrent", details={"i": i})
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(f"w{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    events = chain(engine)
    assert events["seq"].to_list() == list(range(1, 33))
    assert events["prev_hash"].n_unique() == 32  # no two events follow the same one
    assert verify(engine).intact


def test_a_writer_waits_for_the_head_held_by_an_open_transaction(url: str, engine: sa.Engine) -> None:
    if engine.dialect.name == "sqlite":
        pytest.skip("SQLite has one writer: the second would wait for the database lock, not the head")
    append(engine, 1)
    done = threading.Event()
    with Session(engine) as first, first.begin():
        crm_store.record_audit_event(first, actor="a", action="test.first")

        def second() -> None:
            with Session(engine) as session, session.begin():
                crm_store.record_audit_event(session, actor="b", action="test.second")
            done.set()

        thread = threading.Thread(target=second)
        thread.start()
        assert not done.wait(0.5)  # blocked on the head row while the first transaction is open
    thread.join(10)
    assert done.is_set()
    assert chain(engine)["action"].to_list() == ["test.0", "test.first", "test.second"]
    assert verify(engine).intact


def test_a_rolled_back_event_leaves_no_trace(engine: sa.Engine) -> None:
    append(engine, 2)
    with Session(engine) as session:
        crm_store.record_audit_event(session, actor="a", action="test.gone")
        session.rollback()
    append(engine, 1)
    assert chain(engine)["seq"].to_list() == [1, 2, 3] and verify(engine).intact


# ------------------------------------------------------------------------------------------ migration 0008


def test_the_upgrade_from_0007_chains_the_events_already_stored(url: str) -> None:
    engine = init_store(url)
    try:
        with engine.begin() as conn:
            command.downgrade(migrations_config(conn), "0007")
            columns = {c["name"] for c in sa.inspect(conn).get_columns("audit_event")}
            assert "seq" not in columns and not sa.inspect(conn).has_table("audit_head")
            for i, (actor, details) in enumerate([("alice", '{"n": 1.5}'), ("bob", None), ("carol", '{"x": [1, 2]}')]):
                conn.execute(
                    sa.text(
                        "insert into audit_event (at, actor, action, target, details) "
                        "values (:at, :actor, 'review.accept', :target, :details)"
                    ),
                    {
                        "at": (T0 + dt.timedelta(minutes=i)).replace(tzinfo=None),
                        "actor": actor,
                        "target": json.dumps({"review_item": i}),
                        "details": details,
                    },
                )
            command.upgrade(migrations_config(conn), "head")
        events = chain(engine)
        assert events["seq"].to_list() == [1, 2, 3] and events["actor"].to_list() == ["alice", "bob", "carol"]
        assert verify(engine).intact
        append(engine, 1)  # the chain goes on from the last back-filled event
        report = verify(engine)
        assert report.intact and report.last_seq == 4
    finally:
        engine.dispose()


# ------------------------------------------------------------------------------------------ who appends


def write_rows(folder: Path, name: str, rows: list[tuple[str, str, str]]) -> None:
    lines = [json.dumps({"id": k, "name": n, "mobile": p}, ensure_ascii=False) for k, n, p in rows]
    (folder / f"{name}.jsonl").write_text("\n".join(lines) + "\n", "utf-8")


def project(folder: Path, store_url: str) -> Path:
    def source(name: str) -> dict[str, object]:
        params = {"path": str(folder / f"{name}.jsonl"), "key": "id"}
        return {"name": name, "kind": "jsonl", "params": params, "mapping": {"name": "full_name", "mobile": "phone"}}

    data = {
        "project": "audit",
        "store": {"url": store_url},
        "reports_dir": str(folder / "reports"),
        "sources": [source("a"), source("b")],
        "match": {"threshold": 0.995, "review_threshold": 0.3},
    }
    path = folder / "crmkit.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    return path


def test_runs_decisions_exports_and_backups_append_to_the_chain(tmp_path: Path) -> None:
    write_rows(tmp_path, "a", [("A1", "张伟", "13800138000"), ("A2", "李娜", "13957215608")])
    write_rows(tmp_path, "b", [("B1", "张伟", "13800138000"), ("B2", "李娜", "13957215609")])
    config = project(tmp_path, f"sqlite:///{tmp_path / 'crm.db'}")
    assert run_steps(load_settings(config), "r1", dry_run=False).status == "succeeded"
    queue = runner.invoke(app, ["review", "list", "--config", str(config), "--json"])
    item = json.loads(queue.stdout)[0]
    decided = runner.invoke(app, ["review", "accept", str(item["id"]), "--config", str(config), "--by", "alice"])
    assert decided.exit_code == 0, decided.output
    exported = runner.invoke(
        app, ["export", "customers", "--config", str(config), "--out", str(tmp_path / "c.csv"), "--masked"]
    )
    assert exported.exit_code == 0, exported.output
    queued = runner.invoke(app, ["review", "export", "--config", str(config), "--out", str(tmp_path / "q.json")])
    assert queued.exit_code == 0, queued.output
    assert run_steps(load_settings(config), "r2", dry_run=False).status == "succeeded"

    listed = runner.invoke(app, ["audit", "list", "--config", str(config), "--json", "--limit", "0"])
    assert listed.exit_code == 0, listed.output
    events = json.loads(listed.stdout)
    assert [e["action"] for e in events] == [
        "run.start",
        "run.merge",  # A1/B1 merged
        "run.finish",
        "review.accept",
        "export",
        "export",
        "run.start",
        "run.merge",  # the accepted pair merged
        "run.finish",
    ]
    assert [e["seq"] for e in events] == list(range(1, 10))
    start, merge, finish, accept, export, review_export = events[:6]
    assert start["target"] == {"run_id": "r1"} and start["details"]["project"] == "audit"
    assert merge["details"]["merge_events"] == 1
    assert finish["details"]["status"] == "succeeded" and finish["details"]["read"] == 4
    assert len(finish["details"]["ledger_sha256"]) == 64
    assert accept["actor"] == "alice" and accept["target"]["review_item"] == item["id"]
    assert export["target"] == {"kind": "customers"}
    assert export["details"] == {"file": "c.csv", "format": "csv", "rows": 3, "masked": True}
    assert review_export["target"] == {"kind": "review"}

    table = runner.invoke(app, ["audit", "list", "--config", str(config), "--limit", "3", "--action", "export"])
    assert table.exit_code == 0 and "export" in table.stdout and "run.start" not in table.stdout

    ok = runner.invoke(app, ["audit", "verify", "--config", str(config)])
    assert ok.exit_code == 0, ok.output
    assert "intact: 9 events" in ok.stdout and f"seq 9, hash {events[-1]['hash']}" in ok.stdout
    anchored = runner.invoke(
        app, ["audit", "verify", "--config", str(config), "--anchor", f"4:{events[3]['hash']}", "--json"]
    )
    assert anchored.exit_code == 0 and json.loads(anchored.stdout)["intact"] is True
    bad_anchor = runner.invoke(app, ["audit", "verify", "--config", str(config), "--anchor", "4:xyz"])
    assert bad_anchor.exit_code == 2

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'crm.db'}")
    with engine.begin() as conn:
        conn.execute(sa.text("update audit_event set details = json_set(details, '$.rows', 1) where seq = 5"))
    engine.dispose()
    broken = runner.invoke(app, ["audit", "verify", "--config", str(config)])
    assert broken.exit_code == 1
    assert "BROKEN at seq 5 (event #5, export)" in " ".join(broken.output.split())
    as_json = json.loads(runner.invoke(app, ["audit", "verify", "--config", str(config), "--json"]).stdout)
    assert as_json["intact"] is False and as_json["problems"][0]["seq"] == 5


def test_an_export_that_cannot_be_recorded_is_not_left_behind(tmp_path: Path) -> None:
    write_rows(tmp_path, "a", [("A1", "张伟", "13800138000")])
    write_rows(tmp_path, "b", [("B1", "王芳", "13957215608")])
    config = project(tmp_path, f"sqlite:///{tmp_path / 'crm.db'}")
    assert run_steps(load_settings(config), "r1", dry_run=False).status == "succeeded"
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'crm.db'}")
    with engine.begin() as conn:  # the trail cannot take an event (as when it is locked or broken)
        conn.execute(
            sa.text("create trigger no_audit before insert on audit_event begin select raise(abort, 'no'); end")
        )
    engine.dispose()
    out = tmp_path / "customers.xlsx"
    result = runner.invoke(app, ["export", "customers", "--config", str(config), "--out", str(out)])
    assert result.exit_code == 1 and "could not be recorded" in " ".join(result.output.split())
    assert not out.exists()

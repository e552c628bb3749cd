"""The store's run lock: one writing run at a time on SQLite, PostgreSQL and MariaDB, and runs whose process is
gone closed out at the next start."""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from crm_store import (
    HeldLock,
    LockHolder,
    RunLockedError,
    RunLockLostError,
    abandoned_reason,
    acquire_run_lock,
    finish_run,
    init_store,
    read_run,
    read_run_lock,
    start_run,
)
from crm_store.lock import insert_run_lock, process_alive

from .conftest import sqlite_url

NOW = dt.datetime.now(dt.UTC)


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgresql", marks=pytest.mark.postgres),
        pytest.param("mariadb", marks=pytest.mark.mariadb),
    ]
)
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    """A fresh store on each of the three backends (servers skipped when they do not answer)."""
    if request.param == "sqlite":
        url = sqlite_url(tmp_path)
    else:
        url = request.getfixturevalue("pg_url" if request.param == "postgresql" else "mariadb_url")
    engine = init_store(url)
    yield engine
    engine.dispose()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = init_store(sqlite_url(tmp_path))
    yield engine
    engine.dispose()


def dead_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def hold(engine: sa.Engine, holder: LockHolder, *, running: bool = True) -> None:
    """Leave the lock as ``holder``'s process would have left it (its run ``running``)."""
    with Session(engine) as session, session.begin():
        if running:
            start_run(session, holder.run_id, "p", "h", False, {}, now=holder.acquired_at)
        insert_run_lock(session, holder)


def test_a_second_run_is_refused_naming_the_run_pid_and_host(any_store: sa.Engine) -> None:
    first = acquire_run_lock(any_store, "run-1", heartbeat_seconds=60)
    try:
        with pytest.raises(RunLockedError) as refused:
            acquire_run_lock(any_store, "run-2")
        message = str(refused.value)
        assert f"run run-1 (pid {os.getpid()} on host {socket.gethostname()}" in message
        assert refused.value.holder is not None and refused.value.holder.run_id == "run-1"
    finally:
        first.release()
    with Session(any_store) as session:
        assert read_run_lock(session) is None
    with acquire_run_lock(any_store, "run-2") as second:
        assert second.holder.run_id == "run-2"


def test_two_runs_starting_together_get_one_lock(any_store: sa.Engine) -> None:
    barrier = threading.Barrier(4)
    won: list[HeldLock] = []
    refused: list[str] = []

    def start(run_id: str) -> None:
        barrier.wait()
        try:
            won.append(acquire_run_lock(any_store, run_id, heartbeat_seconds=60))
        except RunLockedError:
            refused.append(run_id)

    threads = [threading.Thread(target=start, args=(f"run-{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert len(won) == 1 and len(refused) == 3
        with Session(any_store) as session:
            assert read_run_lock(session) == won[0].holder
    finally:
        for lock in won:
            lock.release()


def test_a_run_whose_process_is_gone_is_closed_out_at_the_next_start(any_store: sa.Engine) -> None:
    gone = LockHolder("killed", dead_pid(), socket.gethostname(), NOW, NOW)
    hold(any_store, gone)
    with acquire_run_lock(any_store, "next", heartbeat_seconds=60) as lock:
        assert [run for run, _ in lock.closed] == ["killed"]
        with Session(any_store) as session:
            killed = read_run(session, "killed")
            assert read_run_lock(session) == lock.holder
    assert killed is not None and killed["status"] == "failed" and killed["finished_at"] is not None
    assert killed["error"].startswith("abandoned: process gone") and f"pid {gone.pid}" in killed["error"]


def test_a_partial_run_and_its_error_are_kept(any_store: sa.Engine) -> None:
    with Session(any_store) as session, session.begin():
        start_run(session, "run-1", "p", "h", False, {})
        finish_run(session, "run-1", "partial", [], None, error="1 of 3 sources failed: crm")
    with Session(any_store) as session:
        run = read_run(session, "run-1")
    assert run is not None and (run["status"], run["error"]) == ("partial", "1 of 3 sources failed: crm")


def test_a_stale_heartbeat_on_another_host_is_taken_over(store: sa.Engine) -> None:
    long_ago = NOW - dt.timedelta(hours=2)
    hold(store, LockHolder("elsewhere", 1, "another-host", long_ago, long_ago))
    with acquire_run_lock(store, "next", stale_after_seconds=60) as lock:
        assert lock.closed[0][0] == "elsewhere" and "no heartbeat for" in lock.closed[0][1]
    with Session(store) as session:
        error = (read_run(session, "elsewhere") or {})["error"]
    assert error.startswith("abandoned: no heartbeat") and "on host another-host" in error


def test_a_live_holder_on_another_host_is_waited_for_then_refused(store: sa.Engine) -> None:
    fresh = dt.datetime.now(dt.UTC)
    hold(store, LockHolder("elsewhere", 1, "another-host", fresh, fresh))
    started = time.monotonic()
    with pytest.raises(RunLockedError, match=r"run elsewhere \(pid 1 on host another-host") as refused:
        acquire_run_lock(store, "next", wait_seconds=0.3, poll_seconds=0.05)
    assert time.monotonic() - started >= 0.3
    assert "after waiting" not in str(refused.value)  # under a second is not worth saying
    with Session(store) as session:
        assert (read_run(session, "elsewhere") or {})["status"] == "running"


def test_a_waiting_run_gets_the_lock_when_the_holder_finishes(store: sa.Engine) -> None:
    first = acquire_run_lock(store, "run-1", heartbeat_seconds=60)
    threading.Timer(0.2, first.release).start()
    with acquire_run_lock(store, "run-2", wait_seconds=10, poll_seconds=0.05) as second:
        assert second.holder.run_id == "run-2"


def test_runs_left_running_without_a_lock_are_closed_out(store: sa.Engine) -> None:
    with Session(store) as session, session.begin():
        start_run(session, "before-the-lock", "p", "h", False, {})
    with acquire_run_lock(store, "next") as lock:
        assert lock.closed == [("before-the-lock", "abandoned: running without the store's run lock")]


def test_the_heartbeat_moves_and_a_lock_taken_away_is_noticed(store: sa.Engine) -> None:
    lock = acquire_run_lock(store, "run-1", heartbeat_seconds=0.05)
    try:
        time.sleep(0.3)
        with Session(store) as session:
            holder = read_run_lock(session)
        assert holder is not None and holder.heartbeat_at > holder.acquired_at
        lock.check()  # still held
        with Session(store) as session, session.begin():
            session.execute(sa.text("delete from run_lock"))
        deadline = time.monotonic() + 5
        while not lock.lost and time.monotonic() < deadline:
            time.sleep(0.05)
        with pytest.raises(RunLockLostError, match="run run-1 lost the store's run lock"):
            lock.check()
    finally:
        lock.release()


def test_an_in_memory_store_has_no_heartbeat_thread() -> None:
    engine = init_store("sqlite://")
    try:
        with acquire_run_lock(engine, "run-1") as lock:
            assert lock.heartbeat_seconds is None
    finally:
        engine.dispose()


def test_which_holders_are_gone() -> None:
    here = socket.gethostname()
    fresh = dt.datetime.now(dt.UTC)
    alive = LockHolder("r", os.getpid(), here, fresh, fresh)
    assert abandoned_reason(alive) is None
    assert abandoned_reason(LockHolder("r", dead_pid(), here, fresh, fresh)) == "abandoned: process gone"
    assert abandoned_reason(LockHolder("r", dead_pid(), "another-host", fresh, fresh)) is None  # cannot ask
    old = fresh - dt.timedelta(seconds=120)
    reason = abandoned_reason(LockHolder("r", os.getpid(), here, old, old), stale_after_seconds=60)
    assert reason is not None and reason.startswith("abandoned: no heartbeat for 12")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="zombies are read from /proc")
def test_a_killed_but_unreaped_process_is_not_alive() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert process_alive(child.pid)
        os.kill(child.pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while process_alive(child.pid) and time.monotonic() < deadline:  # a zombie until waited for
            time.sleep(0.02)
        assert not process_alive(child.pid)
    finally:
        child.kill()
        child.wait()

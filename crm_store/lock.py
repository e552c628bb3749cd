"""The store's run lock: one writing run at a time, and no run left ``running`` by a process that is gone.

The lock is a row of ``run_lock`` (primary key ``name``; the store lock is named ``store``) holding the run id, the
process id, the host, when it was taken and the last heartbeat. A run takes it by inserting the row in a short
transaction of its own: the database's primary key decides between two runs that start together, the same way on
SQLite, PostgreSQL and MariaDB, and the holder is readable by anyone (``select * from run_lock``). While the run
goes on, a thread refreshes ``heartbeat_at``; the run deletes the row when it ends, whatever way it ends.

A run killed with ``kill -9`` (or by the OOM killer, or a crash in native code) cannot delete its row. The next
run that finds the lock held asks whether the holder is gone: on the same host, its process no longer exists; on
any host, its heartbeat is older than ``stale_after_seconds``. Then, in one transaction, it deletes the row only
if it still names that run with that heartbeat (so of two runs that both saw a stale lock, one takes it over and
the other finds it held again) and marks the run ``failed`` with ``abandoned: …`` as its error. Once it holds the
lock, every other run still ``running`` is abandoned too (no live run writes the store without the lock), e.g.
runs killed before the store had a lock.

Why a table and not a database's own locks: PostgreSQL advisory locks and MariaDB's ``GET_LOCK`` end with their
connection, which is robust against a killed process but silently lost when that one connection drops (a network
blip, a restarted pooler), cannot say which run holds them, and SQLite has neither. A row behaves alike on all three
backends, names its holder in the refusal message, and is visible to an operator.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from crm_store.errors import StoreError
from crm_store.models import RunLock
from crm_store.runs import close_abandoned_runs
from crm_store.store import shown_url

__all__ = [
    "STORE_LOCK",
    "HeldLock",
    "LockHolder",
    "RunLockLostError",
    "RunLockedError",
    "abandoned_reason",
    "acquire_run_lock",
    "delete_run_lock",
    "insert_run_lock",
    "process_alive",
    "read_run_lock",
    "touch_run_lock",
]

logger = logging.getLogger(__name__)

#: The name of the lock every writing run of a store takes.
STORE_LOCK = "store"
#: Default age of a heartbeat after which its holder counts as gone (on another host, or a reused pid).
STALE_AFTER_SECONDS = 900.0


def _table() -> sa.Table:
    return cast(sa.Table, RunLock.__table__)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class LockHolder:
    """Who holds (or wants) the lock: a run in one process on one host."""

    run_id: str
    pid: int
    host: str
    acquired_at: dt.datetime
    heartbeat_at: dt.datetime

    @classmethod
    def this_process(cls, run_id: str, now: dt.datetime | None = None) -> LockHolder:
        """The lock as this process would hold it for ``run_id``."""
        now = now or _utcnow()
        return cls(run_id, os.getpid(), socket.gethostname(), now, now)

    def describe(self, now: dt.datetime | None = None) -> str:
        """``run R (pid P on host H, started … UTC, last heartbeat Ns ago)``."""
        age = ((now or _utcnow()) - self.heartbeat_at).total_seconds()
        return (
            f"run {self.run_id} (pid {self.pid} on host {self.host}, started {self.acquired_at:%Y-%m-%d %H:%M:%S} "
            f"UTC, last heartbeat {max(age, 0):.0f}s ago)"
        )


class RunLockedError(StoreError, RuntimeError):
    """Another run holds the store's run lock (and is not gone)."""

    retryable = True  # the other run ends; the lock is released

    def __init__(self, store: str, holder: LockHolder | None, waited: float) -> None:
        """``waited``: the wait the caller asked for (``run.lock_wait_seconds``), not the time it took."""
        self.store = store
        self.holder = holder
        who = holder.describe() if holder is not None else "another run (it could not be read)"
        waited_text = f" after waiting {waited:.0f}s" if waited >= 1 else ""
        super().__init__(
            f"the store {store} is in use by {who}; nothing was run{waited_text}. Run again when it has "
            "finished (a run whose process is gone is closed out and its lock taken over automatically; "
            "set run.lock_wait_seconds to wait for it)"
        )


class RunLockLostError(StoreError, RuntimeError):
    """This run's lock was taken over (its heartbeat went stale): it must not write the store any more."""


# --------------------------------------------------------------------------------------------- the lock row


def read_run_lock(session: Session, name: str = STORE_LOCK) -> LockHolder | None:
    """The holder of lock ``name``, or ``None`` when it is free."""
    t = _table()
    row = session.execute(
        sa.select(t.c.run_id, t.c.pid, t.c.host, t.c.acquired_at, t.c.heartbeat_at).where(t.c.name == name)
    ).first()
    return None if row is None else LockHolder(*row)


def insert_run_lock(session: Session, holder: LockHolder, name: str = STORE_LOCK) -> None:
    """Take lock ``name`` for ``holder``.

    Raises:
        sqlalchemy.exc.IntegrityError: the lock is held (at commit or at once, depending on the backend).
    """
    session.execute(
        sa.insert(_table()).values(
            name=name,
            run_id=holder.run_id,
            pid=holder.pid,
            host=holder.host,
            acquired_at=holder.acquired_at,
            heartbeat_at=holder.heartbeat_at,
        )
    )


def touch_run_lock(session: Session, run_id: str, *, now: dt.datetime | None = None, name: str = STORE_LOCK) -> bool:
    """Refresh the heartbeat of ``run_id``'s lock; ``False`` when ``run_id`` no longer holds it."""
    t = _table()
    result = session.execute(
        sa.update(t).where(t.c.name == name, t.c.run_id == run_id).values(heartbeat_at=now or _utcnow())
    )
    return cast(sa.CursorResult[Any], result).rowcount == 1


def delete_run_lock(
    session: Session, run_id: str, *, heartbeat_at: dt.datetime | None = None, name: str = STORE_LOCK
) -> bool:
    """Release ``run_id``'s lock (only while its heartbeat is still ``heartbeat_at``, when given).

    Returns:
        Whether a row was deleted.
    """
    t = _table()
    where = [t.c.name == name, t.c.run_id == run_id]
    if heartbeat_at is not None:
        where.append(t.c.heartbeat_at == heartbeat_at)
    result = session.execute(sa.delete(t).where(*where))
    return cast(sa.CursorResult[Any], result).rowcount == 1


# ------------------------------------------------------------------------------------------ is it gone?


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host (a zombie, dead but not yet reaped, counts as gone)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    except OSError:  # pragma: no cover - e.g. Windows without such a process
        return False
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # no /proc (macOS), or the process just ended
        return False
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


def abandoned_reason(
    holder: LockHolder,
    *,
    stale_after_seconds: float = STALE_AFTER_SECONDS,
    now: dt.datetime | None = None,
    host: str | None = None,
) -> str | None:
    """Why ``holder`` is gone (``abandoned: …``), or ``None`` while it may still be running.

    Gone: on this host, its process does not exist; on any host, its heartbeat is older than
    ``stale_after_seconds`` (a process on another host cannot be asked; a pid on this host may have been reused).
    """
    if holder.host == (host or socket.gethostname()) and not process_alive(holder.pid):
        return "abandoned: process gone"
    age = ((now or _utcnow()) - holder.heartbeat_at).total_seconds()
    if age > stale_after_seconds:
        return f"abandoned: no heartbeat for {age:.0f}s (more than {stale_after_seconds:.0f}s)"
    return None


# ------------------------------------------------------------------------------------------ taking it


@dataclass
class HeldLock:
    """The store's run lock, held by this process for one run: refreshed by a heartbeat thread until released."""

    engine: sa.Engine
    holder: LockHolder
    heartbeat_seconds: float | None
    #: Runs closed out as abandoned while the lock was taken (``run_id``, reason).
    closed: list[tuple[str, str]] = field(default_factory=list)
    lost: bool = False
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    def start_heartbeat(self) -> None:
        """Refresh ``heartbeat_at`` every ``heartbeat_seconds`` in a daemon thread (no thread when ``None``)."""
        if self.heartbeat_seconds is None or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._beat, name=f"run-lock-{self.holder.run_id}", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        assert self.heartbeat_seconds is not None
        while not self._stop.wait(self.heartbeat_seconds):
            try:
                with Session(self.engine) as session, session.begin():
                    held = touch_run_lock(session, self.holder.run_id)
            except sa.exc.SQLAlchemyError as exc:  # e.g. SQLite busy with this run's own load: try again later
                logger.debug("run lock heartbeat of %s skipped: %s", self.holder.run_id, exc)
                continue
            if not held:
                self.lost = True
                logger.error("run %s lost the store's run lock (taken over as stale)", self.holder.run_id)
                return

    def check(self) -> None:
        """Raise when the lock was taken over: a run must not write the store without it.

        Raises:
            RunLockLostError: another run found this run's heartbeat stale and took the lock over.
        """
        if self.lost:
            raise RunLockLostError(
                f"run {self.holder.run_id} lost the store's run lock: another run found it stale and took it over"
            )

    def release(self) -> None:
        """Stop the heartbeat and delete the lock row (if this run still holds it)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        try:
            with Session(self.engine) as session, session.begin():
                delete_run_lock(session, self.holder.run_id)
        except sa.exc.SQLAlchemyError as exc:
            logger.warning("could not release the run lock of %s: %s", self.holder.run_id, exc)

    def __enter__(self) -> HeldLock:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


def acquire_run_lock(
    engine: sa.Engine,
    run_id: str,
    *,
    wait_seconds: float = 0.0,
    stale_after_seconds: float = STALE_AFTER_SECONDS,
    heartbeat_seconds: float | None = None,
    poll_seconds: float = 0.5,
) -> HeldLock:
    """Take the store's run lock for ``run_id``, closing out runs whose process is gone.

    Args:
        engine: the store (its schema migrated: ``init_store``).
        run_id: the run that will write the store.
        wait_seconds: how long to wait for a live holder to finish (0: refuse at once).
        stale_after_seconds: a holder whose heartbeat is older counts as gone.
        heartbeat_seconds: how often the heartbeat is refreshed (default: a tenth of ``stale_after_seconds``,
            at most 30 s; none for an in-memory SQLite store, which no other process can see).
        poll_seconds: pause between two attempts while waiting.

    Returns:
        The held lock, heartbeat running; release it (or use it as a context manager) when the run ends.

    Raises:
        RunLockedError: a live run held the lock for all of ``wait_seconds``.
    """
    started = time.monotonic()
    me = LockHolder.this_process(run_id)
    closed: list[tuple[str, str]] = []
    while True:
        taken, holder = _try_insert(engine, me)
        if taken:
            break
        if holder is None:  # released between the insert and the read: try again
            continue
        reason = abandoned_reason(holder, stale_after_seconds=stale_after_seconds)
        if reason is not None:
            if _take_over(engine, holder, reason):
                closed.append((holder.run_id, reason))
            continue  # whoever deleted the row, try to insert again
        waited = time.monotonic() - started
        if waited >= wait_seconds:
            raise RunLockedError(shown_url(engine.url), holder, wait_seconds)
        time.sleep(min(poll_seconds, max(wait_seconds - waited, 0.01)))
    with Session(engine) as session, session.begin():
        reason = "abandoned: running without the store's run lock"
        closed += [(run, reason) for run in close_abandoned_runs(session, reason, keep=run_id)]
    lock = HeldLock(engine, me, _heartbeat_seconds(engine, heartbeat_seconds, stale_after_seconds), closed)
    lock.start_heartbeat()
    return lock


def _heartbeat_seconds(engine: sa.Engine, given: float | None, stale_after_seconds: float) -> float | None:
    url = engine.url
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        return None  # one shared connection: a second thread must not write on it
    return given if given is not None else max(0.05, min(30.0, stale_after_seconds / 10))


def _try_insert(engine: sa.Engine, me: LockHolder) -> tuple[bool, LockHolder | None]:
    """Insert this run's lock row: (taken, None), or (False, the holder found; ``None`` if it just left)."""
    try:
        with Session(engine) as session, session.begin():
            insert_run_lock(session, me)
        return True, None
    except (sa.exc.IntegrityError, sa.exc.OperationalError) as exc:
        # IntegrityError: the row exists. OperationalError: SQLite busy (another run's load holds the write
        # lock) or a MariaDB deadlock between two inserts; either way, see who holds the lock.
        with Session(engine) as session:
            holder = read_run_lock(session)
        if holder is None and isinstance(exc, sa.exc.OperationalError):
            raise
        return False, holder


def _take_over(engine: sa.Engine, holder: LockHolder, reason: str) -> bool:
    """Delete a gone holder's lock row and mark its run failed, in one transaction (no-op if it moved on)."""
    with Session(engine) as session, session.begin():
        if not delete_run_lock(session, holder.run_id, heartbeat_at=holder.heartbeat_at):
            return False
        close_abandoned_runs(session, f"{reason} (pid {holder.pid} on host {holder.host})", run_ids=[holder.run_id])
    return True

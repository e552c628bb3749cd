"""The ``migrate`` flow: extract → map → normalise → validate → match+survive → link → load → report.

This module runs a run: it takes the store's run lock, opens every database session the run needs, runs the steps
of :mod:`pipelines.steps` in order (as Prefect tasks inside ``migrate_flow``, plainly otherwise), checks the ledger
and writes the report. Whatever way a run ends, ``pipeline_run`` records its status. The values the steps hand on
are :mod:`pipelines.stages`; the store's tables are built by :mod:`pipelines.tables`; business rules live in
``rules``.
"""

from __future__ import annotations

import importlib
import logging
import platform
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any, Literal, TypeVar

import polars as pl
import sqlalchemy as sa
from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from sqlalchemy.orm import Session

import crm_store
from pipelines._logging import redacting
from pipelines.dask_engine import open_engine
from pipelines.errors import PipelineError
from pipelines.ledger import LedgerRow, RunStatus, build_ledger, ledger_totals, run_status, unplaced_ledger
from pipelines.progress import StepEvent, emit
from pipelines.report import build_report, build_stopped_report, write_report
from pipelines.settings import EngineSettings, ProjectSettings, load_settings
from pipelines.stages import Extracted, Golden, Stored
from pipelines.steps import (
    SchemaDriftError,
    check,
    check_drift,
    extract,
    followed_activities,
    link,
    load,
    map_rows,
    normalise,
    read_stored,
    rehydrate,
    resolve,
    saved_cursors,
)
from pipelines.tables import store_frames
from rules.mask import mask_text, redact_secrets
from rules.match import Engine

__all__ = [
    "MigrateResult",
    "RunFailedError",
    "lock_store",
    "migrate",
    "migrate_flow",
    "new_run_id",
    "run_steps",
    "warm_up",
]

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass
class MigrateResult:
    """What a run did: the CLI prints it, tests assert on it."""

    run_id: str
    #: ``succeeded``; ``partial``: loaded, but a source failed or too many rows were quarantined; ``failed``
    status: RunStatus
    dry_run: bool
    ledger: list[LedgerRow]
    #: the HTML report (``None`` only when even the report of a failed run could not be written)
    report_path: Path | None
    totals: dict[str, Any]
    timings: list[dict[str, Any]] = field(default_factory=list)
    #: the report's matching section: ``blocking`` (rule, estimated_pairs, pairs, recall), ``blocking_recall`` …
    matching: dict[str, Any] = field(default_factory=dict)
    #: why the run is ``partial`` or ``failed`` (masked: no raw phone or e-mail)
    error: str | None = None


# --------------------------------------------------------------------------------------------------- the flow


class _Steps:
    """Runs each step, as a Prefect task inside a flow run (plainly otherwise), timing it and emitting events."""

    def __init__(self) -> None:
        self.timings: list[dict[str, Any]] = []
        #: the step that raised, if one did
        self.failed: str | None = None

    def __call__(self, name: str, fn: Callable[..., T], *args: Any, rows: Callable[[T], int] | None = None) -> T:
        from prefect.context import FlowRunContext

        emit(StepEvent(name, "start"))
        started = time.perf_counter()
        try:
            if FlowRunContext.get() is not None:
                result = task(name=name, cache_policy=NO_CACHE)(redacting(fn))(*args)
            else:
                result = fn(*args)
        except Exception as exc:
            self.failed = name
            emit(StepEvent(name, "failed", time.perf_counter() - started, detail=redact_secrets(str(exc)) or ""))
            raise
        seconds = time.perf_counter() - started
        count = rows(result) if rows else None
        self.timings.append({"step": name, "seconds": round(seconds, 4), "rows": count})
        emit(StepEvent(name, "done", seconds, count))
        return result


def versions() -> dict[str, str]:
    """The versions of Python and of the packages a run's result depends on, as its report and ``pipeline_run``
    record them (a copy: the caller may change it)."""
    return dict(_installed())


@cache
def _installed() -> dict[str, str]:
    """Read once per process: each lookup parses a package's metadata (~3 ms; the fuzz suite's hundreds of runs
    spent an eighth of their time here)."""
    names = [
        "crmkit",
        "polars",
        "pandas",
        "great-expectations",
        "prefect",
        "sqlalchemy",
        "rapidfuzz",
        "phonenumbers",
    ]
    found = {"python": platform.python_version()}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


# ------------------------------------------------------------------------------------- the run's sessions


def _read_cursors(engine: sa.Engine | None, settings: ProjectSettings, full_refresh: bool) -> dict[str, str | None]:
    """The saved cursors the sources are read from (none for a full refresh, or without a store)."""
    if engine is None or full_refresh:
        return {}
    with Session(engine) as session:
        return saved_cursors(session, settings)


def _read_stored(engine: sa.Engine | None, settings: ProjectSettings, extracted: list[Extracted]) -> Stored:
    """What the store holds that the steps after extract need, in one session (nothing without a store)."""
    if engine is None:
        return Stored()
    with Session(engine) as session:
        return read_stored(session, settings, extracted)


def _followed_activities(
    engine: sa.Engine | None,
    settings: ProjectSettings,
    golden: Golden,
    existing: pl.DataFrame | None,
    read: pl.DataFrame,
) -> pl.DataFrame | None:
    """:func:`pipelines.steps.followed_activities` in a session of its own (nothing without a store)."""
    if engine is None or existing is None:
        return None
    with Session(engine) as session:
        return followed_activities(session, settings, golden, existing, read)


def _load(
    engine: sa.Engine,
    run_id: str,
    tables: dict[str, pl.DataFrame],
    baselines: dict[str, list[str]],
    cursors: dict[str, str],
    model_json: str,
) -> dict[str, crm_store.UpsertCounts]:
    """The load step: :func:`pipelines.steps.load` in one transaction, committed before the step ends."""
    with Session(engine) as session, session.begin():
        return load(session, run_id, tables, baselines, cursors, model_json)


@dataclass
class _Run:
    """One run as it goes: what it has produced so far, so that whatever way it ends, its status, ledger and
    report say how far it got."""

    settings: ProjectSettings
    run_id: str
    dry_run: bool
    engine: sa.Engine | None
    lock: crm_store.HeldLock | None
    #: Where normalising and matching run (None: this process; see ``pipelines.dask_engine``).
    cluster: Engine | None = None
    steps: _Steps = field(default_factory=_Steps)
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    recorded: bool = False  # its pipeline_run row exists
    extracted: list[Extracted] | None = None
    ledger: list[LedgerRow] | None = None
    report: dict[str, Any] | None = None
    report_path: Path | None = None
    matching: dict[str, Any] = field(default_factory=dict)
    status: RunStatus | Literal["running"] = "running"
    error: str | None = None

    def info(self) -> dict[str, Any]:
        """The report's ``run`` section."""
        return {
            "run_id": self.run_id,
            "project": self.settings.project,
            "started_at": self.started_at.isoformat(timespec="seconds"),
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "dry_run": self.dry_run,
            "status": self.status,
            "error": self.error,
            "config_hash": self.settings.config_hash,
            "store": sa.make_url(self.settings.store_url).render_as_string(hide_password=True),
            "versions": versions(),
            "timings": self.steps.timings,
        }

    def result(self) -> MigrateResult:
        ledger = self.ledger or []
        totals = self.report["totals"] if self.report else {**ledger_totals(ledger), "customers": 0}
        status = "failed" if self.status == "running" else self.status
        return MigrateResult(
            self.run_id,
            status,
            self.dry_run,
            ledger,
            self.report_path,
            totals,
            self.steps.timings,
            self.matching,
            self.error,
        )


def run_steps(settings: ProjectSettings, run_id: str, dry_run: bool, full_refresh: bool = False) -> MigrateResult:
    """The whole run as a sequence of steps (Prefect tasks when called inside ``migrate_flow``).

    A run that writes the store holds the store's run lock from start to end (a dry run never opens the store, so
    it needs none); taking it closes out runs whose process is gone. Whatever way the run ends it has a status
    (``succeeded``, ``partial``: a source failed or too many rows were quarantined, ``failed``), recorded in
    ``pipeline_run`` with its error, and the ledger and report of as far as it got.

    Raises:
        crm_store.RunLockedError: another run holds the store; nothing was run or recorded.
    """
    engine = None if dry_run else crm_store.init_store(settings.store_url)
    try:
        lock = lock_store(settings, engine, run_id)
    except BaseException:
        if engine is not None:
            engine.dispose()
        raise
    run = _Run(settings, run_id, dry_run, engine, lock)
    try:
        if engine is not None:
            with Session(engine) as session, session.begin():
                crm_store.start_run(session, run_id, settings.project, settings.config_hash, dry_run, versions())
            run.recorded = True
        try:
            with open_engine(settings.engine) as run.cluster:
                _run_all(run, full_refresh)
        except Exception as exc:
            log.debug("run %s failed", run_id, exc_info=True)
            _stop(run, _failure(run.steps.failed, exc))
        except BaseException as exc:  # Ctrl-C, or SIGTERM (Prefect's TerminationSignal inside a flow)
            _stop(run, f"interrupted ({type(exc).__name__}) before it finished")
            raise
    finally:
        _finish(run)
    return run.result()


def lock_store(settings: ProjectSettings, engine: sa.Engine | None, run_id: str) -> crm_store.HeldLock | None:
    """Take the store's run lock (no lock without a store), logging the runs it closed out as abandoned; the
    clean flow takes it the same way."""
    if engine is None:
        return None
    lock = crm_store.acquire_run_lock(
        engine,
        run_id,
        wait_seconds=settings.run.lock_wait_seconds,
        stale_after_seconds=settings.run.stale_lock_seconds,
    )
    for closed, reason in lock.closed:
        log.warning("run %s was still marked running and is now failed: %s", closed, reason)
    return lock


def _rows_read(extracted: list[Extracted]) -> int:
    return sum(x.raw.height for x in extracted if x.raw is not None)


def _run_all(run: _Run, full_refresh: bool) -> None:
    """Every step, then the ledger, the run's status and the report."""
    settings, engine, step = run.settings, run.engine, run.steps
    cursors = _read_cursors(engine, settings, full_refresh)
    run.extracted = extracted = step("extract", extract, settings, cursors, run.cluster, rows=_rows_read)
    if extracted and all(item.error for item in extracted):  # nothing to match or load: say so, not a crash
        _stop(run, f"every source failed: {', '.join(item.source for item in extracted)} (the ledger says why)")
        return
    stored = _read_stored(engine, settings, extracted)
    extracted = check_drift(settings, extracted, stored.columns)
    stage = step("map", map_rows, settings, extracted, stored.erased, rows=lambda s: s.candidates.height)
    rebuilt = rehydrate(settings, extracted, stored.loaded)
    normalised = step("normalise", normalise, settings, stage.candidates, run.cluster, rows=len)
    previous = normalise(settings, rebuilt, run.cluster) if rebuilt.height else None
    validated = step("validate", check, settings, stage, normalised, previous, rows=lambda v: v.records.height)
    existing = stored.existing
    golden = step(
        "match+survive",
        resolve,
        settings,
        validated.records,
        existing,
        stored.model_json,
        stored.decisions,
        run.cluster,
        rows=lambda g: g.customers.height,
    )
    activities, validated = step("link", link, settings, stage, validated, golden, existing, rows=lambda r: r[0].height)
    followed = _followed_activities(engine, settings, golden, existing, activities)
    tables = store_frames(run.run_id, stage, validated, golden, activities, existing, followed)
    if engine is not None:
        if run.lock is not None:
            run.lock.check()  # never load without the lock
        baselines = {x.source: x.columns for x in extracted if x.raw is not None and x.raw.height}
        saved = {x.source: x.cursor for x in extracted if x.cursor is not None}
        step(
            "load",
            _load,
            engine,
            run.run_id,
            tables,
            baselines,
            saved,
            golden.model.to_json(),
            rows=lambda _: tables["source_record"].height,
        )
    run.ledger = build_ledger(settings, extracted, stage, validated, golden, activities)
    run.status, error = run_status(run.ledger, settings.run.max_quarantine_share)
    run.error = mask_text(error)
    run.report = build_report(
        run=run.info(),
        ledger=run.ledger,
        stage=stage,
        normalised=normalised,
        validated=validated,
        golden=golden,
        crosswalk=tables["crosswalk"],
        extracted=extracted,
        activities=activities,
        mappings={source.name: source.mapping for source in settings.sources},
        match_settings=settings.match,
    )
    run.matching = run.report.get("matching") or {}
    run.report_path = step(
        "report", write_report, run.report, settings.reports_path, golden.model.to_json(), rows=lambda _: 1
    )


def _failure(step: str | None, exc: Exception) -> str:
    """One line saying where and why a run stopped (the error's own message when it names its problem)."""
    if isinstance(exc, SchemaDriftError | crm_store.RunLockLostError):
        return str(exc)
    where = f"step {step}" if step else "the run"
    # a database error's text would repeat the statement and its parameters (row values): keep the driver's message
    message = str(exc.orig) if isinstance(exc, sa.exc.DBAPIError) and exc.orig is not None else str(exc)
    return f"{where} failed: {type(exc).__name__}: {message}"


def _stop(run: _Run, error: str) -> None:
    """Mark the run failed and write the ledger and report of as far as it got (a report already written stays)."""
    run.status, run.error = "failed", mask_text(error)
    if run.ledger is None:
        run.ledger = unplaced_ledger(run.settings, run.extracted)
    if run.report is not None:
        run.report["run"].update(status=run.status, error=run.error)
    else:
        run.report = build_stopped_report(
            run=run.info(),
            ledger=run.ledger,
            extracted=run.extracted,
            mappings={source.name: source.mapping for source in run.settings.sources},
        )
    try:
        run.report_path = write_report(run.report, run.settings.reports_path)
    except Exception as exc:  # the last resort of a failed run: its status is still recorded
        log.warning("the report of failed run %s could not be written: %s", run.run_id, exc)


def _finish(run: _Run) -> None:
    """Record the run's end in ``pipeline_run`` (an interrupted run is ``failed``), release the lock and the store."""
    try:
        if run.engine is not None and run.recorded:
            status = "failed" if run.status == "running" else run.status
            error = run.error if run.status != "running" else "interrupted before it finished"
            with Session(run.engine) as session, session.begin():
                crm_store.finish_run(
                    session,
                    run.run_id,
                    status,
                    run.ledger,
                    str(run.report_path) if run.report_path else None,
                    error=error,
                )
    finally:
        if run.lock is not None:
            run.lock.release()
        if run.engine is not None:
            run.engine.dispose()


class RunFailedError(PipelineError, RuntimeError):
    """Raised inside ``migrate_flow`` so that Prefect records a failed run as failed; carries the run's result."""

    def __init__(self, result: MigrateResult) -> None:
        self.result = result
        super().__init__(f"run {result.run_id} failed: {result.error}")


@flow(name="migrate", validate_parameters=False)
def migrate_flow(
    config_path: str,
    dry_run: bool = False,
    run_id: str | None = None,
    full_refresh: bool = False,
    workers: int | None = None,
) -> MigrateResult:
    """Prefect flow: migrate every source of a project file into the canonical store and write the report.

    Raises:
        RunFailedError: the run failed (its ledger and report are written; ``migrate`` returns its result).
    """
    settings = load_settings(config_path)
    if workers is not None:  # a local Dask cluster of that many processes, whatever the file's engine says
        settings.engine = EngineSettings(kind="dask", workers=workers)
    result = run_steps(settings, run_id or new_run_id(), dry_run, full_refresh)
    if result.status == "failed":
        raise RunFailedError(result)
    return result


def migrate(
    config_path: str | Path,
    *,
    dry_run: bool = False,
    run_id: str | None = None,
    full_refresh: bool = False,
    workers: int | None = None,
) -> MigrateResult:
    """Run the ``migrate`` flow (the Python API behind ``crmkit migrate``).

    Args:
        config_path: the YAML project file.
        dry_run: run every step and write the report, but not the store.
        run_id: an explicit run id (default: UTC time plus a random suffix).
        full_refresh: ignore the saved cursors of incremental sources and read everything again.
        workers: match on a local Dask cluster of this many worker processes (the same result; see
            ``pipelines.dask_engine``); default: the project file's ``engine``.

    Returns:
        The run's result, whatever its status (``succeeded``, ``partial`` or ``failed``).

    Raises:
        crm_store.RunLockedError: another run holds the store.
    """
    try:
        return migrate_flow(
            str(config_path), dry_run=dry_run, run_id=run_id, full_refresh=full_refresh, workers=workers
        )
    except RunFailedError as exc:
        return exc.result


#: What every run imports after its first step: the report's chart library (matplotlib: about 1 s, and its font
#: cache on a fresh install).
_RUN_MODULES = ("matplotlib.font_manager", "matplotlib.figure", "matplotlib.backends.backend_svg")


def warm_up(config_path: str | Path | None = None) -> None:
    """Import what a run will need, so that it happens while Prefect's temporary server starts rather than inside
    the steps: the report's chart library and, when the project's rules run on Great Expectations
    (``rules.engine``), GX (about 2.3 s)."""
    for name in _RUN_MODULES:
        importlib.import_module(name)
    if config_path is None:
        return
    try:
        rules = load_settings(config_path).rules
    except Exception:  # the run reports a bad project file itself
        log.debug("warm-up: %s could not be read", config_path, exc_info=True)
        return
    if rules.engine == "great_expectations" and (rules.required or rules.expectations):
        import warnings

        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"module 'sre_(constants|parse)' is deprecated")
            importlib.import_module("great_expectations")


def new_run_id() -> str:
    """A sortable, unique run id: UTC time plus a short random suffix."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]

"""The ``clean`` flow, and the scheduled flow that runs the incremental migrate and then ``clean``.

``clean`` reads the golden records and contact points already in the store, runs the checks of ``rules.clean``
(stale, incomplete, invalid contacts), hands the findings to the steward's review queue (``enqueue_review_items``:
one review item per finding, with its masked evidence; a finding a steward confirmed or dismissed stays decided
while the customer's values behind it do not change), writes a masked report (``reports/<run_id>/clean.json`` and
``clean.html``) and records the run in ``pipeline_run``. Like a migrate run it holds the store's run lock while it
runs, so it never reads a half-loaded store and ``crmkit runs`` never shows it abandoned.

``migrate_and_clean`` is what ``crmkit schedule`` deploys: ``migrate`` (incremental sources read only what is new)
then ``clean``, as two subflows, so the Prefect UI shows each with its tasks.
"""

from __future__ import annotations

import datetime as dt
import inspect
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import polars as pl
import sqlalchemy as sa
from jinja2 import Environment, FileSystemLoader, select_autoescape
from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from sqlalchemy.orm import Session

import crm_store
from pipelines._files import private_dir, write_private_text
from pipelines._logging import redacting
from pipelines.errors import PipelineError
from pipelines.migrate import MigrateResult, RunFailedError, lock_store, migrate_flow, new_run_id, versions
from pipelines.report import redact_report
from pipelines.settings import ProjectSettings, load_settings
from rules.clean import (
    CLEAN_CODES,
    FINDING_COLUMNS,
    clean_findings,
    finding_counts,
    finding_identities,
    months_before,
)
from rules.mask import mask_text, mask_value

if TYPE_CHECKING:
    from prefect.deployments.runner import RunnerDeployment

__all__ = [
    "CLEAN_FLOW",
    "SCHEDULED_FLOW",
    "CleanFailedError",
    "CleanResult",
    "clean",
    "clean_flow",
    "enqueue_review_items",
    "migrate_and_clean",
    "run_clean",
    "scheduled_deployment",
]

log = logging.getLogger(__name__)

#: Prefect flow names (the deployment ``crmkit schedule`` creates is ``migrate-and-clean/<name>``).
CLEAN_FLOW = "clean"
SCHEDULED_FLOW = "migrate-and-clean"
#: Masked example findings per code in the HTML report (``clean.json`` lists them all).
SAMPLES_PER_CODE = 10

T = TypeVar("T")


@dataclass
class CleanResult:
    """What a clean run found: the CLI prints it, tests assert on it."""

    run_id: str
    status: Literal["succeeded", "failed"]
    #: customers checked, customers with findings, findings per check and per code (``rules.clean.finding_counts``)
    counts: dict[str, Any] = field(default_factory=dict)
    #: the HTML report (``None`` when it could not be written)
    report_path: Path | None = None
    #: the run's findings open in the steward's review queue (``None``: the run failed before it queued them)
    enqueued: int | None = None
    #: what queueing did (``enqueue_review_items``): ``open``, ``decided`` (the run's findings a steward's
    #: confirm / dismiss still covers), ``new``, ``changed``, ``stale`` (open items the run no longer found)
    review: dict[str, int] = field(default_factory=dict)
    #: why the run failed (masked)
    error: str | None = None


class CleanFailedError(PipelineError, RuntimeError):
    """Raised inside ``clean_flow`` so that Prefect records a failed clean run as failed; carries its result."""

    def __init__(self, result: CleanResult) -> None:
        self.result = result
        super().__init__(f"clean run {result.run_id} failed: {result.error}")


# --------------------------------------------------------------------------------------------------- steps


def read_store(engine: sa.Engine) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The current golden records and every contact point (one read transaction)."""
    with Session(engine) as session:
        return crm_store.read_customers(session), crm_store.read_contact_points(session)


def review_findings(findings: pl.DataFrame) -> pl.DataFrame:
    """The rows ``crm_store.upsert_findings`` takes for a run's findings: ``customer_id``, ``finding_key``,
    ``kind`` (the check), ``fingerprint`` (``rules.clean.finding_identities``) and ``evidence``: the finding masked
    as the report shows it, with what its code means. Raw values stay out of the queue (it is shown, exported and
    kept after a data subject is erased); ``crmkit review show`` reads the customer's values from the store."""
    identified = finding_identities(findings).unique("finding_key", keep="first", maintain_order=True)
    evidence = [
        json.dumps(
            {**_masked_finding(row), "description": CLEAN_CODES[row["code"]][1]},
            ensure_ascii=False,
            sort_keys=True,
        )
        for row in identified.iter_rows(named=True)
    ]
    return identified.select(
        "customer_id",
        "finding_key",
        pl.col("check").alias("kind"),
        "fingerprint",
        pl.Series("evidence", evidence, dtype=pl.String),
    )


def enqueue_review_items(
    engine: sa.Engine, run_id: str, findings: pl.DataFrame, now: dt.datetime | None = None
) -> dict[str, int]:
    """Hand the clean run's findings to the steward's review queue, in one transaction.

    Every finding is a review item (``crm_store.upsert_findings``): new ones are ``open``; one a steward confirmed
    or dismissed stays ``decided`` while its fingerprint holds, and opens again (with a note) when the customer's
    values behind it changed; open items this run no longer finds become ``stale``.

    Returns:
        ``open`` and ``decided``: how many of this run's findings are open and decided now; ``new``, ``changed``,
        ``stale``: what the queue did; ``pairs_open``: the possible matches open in the queue (the duplicates the
        migrate runs found, new rows against the store included), so the report shows the whole queue.
    """
    items = review_findings(findings)
    with Session(engine) as session, session.begin():
        counts = crm_store.upsert_findings(session, items, run_id=run_id, now=now)
        stored = crm_store.read_review_items(session, subject="finding")
        pairs_open = crm_store.read_review_items(session, status="open", subject="pair").height
    mine = stored.filter(pl.col("finding_key").is_in(items["finding_key"].implode()))
    return {
        "open": mine.filter(pl.col("status") == "open").height,
        "decided": mine.filter(pl.col("status") == "decided").height,
        "new": counts.inserted,
        "changed": counts.updated,
        "stale": counts.staled,
        "pairs_open": pairs_open,
    }


def build_clean_report(
    *,
    run: dict[str, Any],
    settings: ProjectSettings,
    counts: dict[str, Any],
    findings: pl.DataFrame,
    review: dict[str, int],
    now: dt.datetime,
) -> dict[str, Any]:
    """The clean report as a dictionary: every value that could be personal is masked."""
    masked = [_masked_finding(row) for row in findings.iter_rows(named=True)]
    samples: dict[str, list[dict[str, Any]]] = {}
    for row in masked:
        listed = samples.setdefault(row["code"], [])
        if len(listed) < SAMPLES_PER_CODE:
            listed.append(row)
    codes = [
        {"code": code, "check": check, "description": text, **counts["by_code"].get(code, {})}
        for code, (check, text) in CLEAN_CODES.items()
    ]
    return {
        "kind": "clean",
        "run": run,
        "settings": {
            "stale_months": settings.clean.stale_months,
            "stale_before": months_before(now, settings.clean.stale_months).isoformat(timespec="seconds"),
            "required": settings.clean.required,
        },
        "totals": {k: counts[k] for k in ("customers", "customers_with_findings", "findings")},
        "by_check": counts["by_check"],
        "codes": codes,
        "samples": samples,
        "review": {
            **review,
            "enqueued": review.get("open"),
            "note": (
                f"{review.get('open', 0):,} findings open for a steward ({review.get('new', 0):,} new), "
                f"{review.get('decided', 0):,} confirmed or dismissed earlier and not asked again, "
                f"{review.get('stale', 0):,} open ones no longer found; and {review.get('pairs_open', 0):,} possible "
                "matches (duplicates the migrate runs found) open (crmkit review list)"
            ),
        },
        "findings": masked,
    }


def _masked_finding(row: dict[str, Any]) -> dict[str, Any]:
    """A finding as a report shows it: the value masked by its field, the message masked as free text."""
    out = {name: row[name] for name in FINDING_COLUMNS}
    value = row["value"]
    if value is not None and row["code"] != "stale_record":  # a stale record's value is a date, not personal
        out["value"] = mask_value(row["field"] if row["field"] in ("phone", "email") else None, value)
    out["detail"] = mask_text(row["detail"])
    return out


def write_clean_report(report: dict[str, Any], reports_dir: Path) -> Path:
    """Write ``<reports>/<run_id>/clean.json`` and ``clean.html`` (private files); returns the HTML path."""
    report = redact_report(report)
    run_id: str = report["run"]["run_id"]
    run_dir = reports_dir / run_id
    private_dir(reports_dir)
    private_dir(run_dir)
    write_private_text(run_dir / "clean.json", json.dumps(report, ensure_ascii=False, indent=2, default=str))
    env = Environment(
        loader=FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
    )
    env.filters["num"] = lambda n: f"{n:,}" if isinstance(n, int) else ("–" if n is None else n)
    html_path = run_dir / "clean.html"
    write_private_text(html_path, env.get_template("clean.html").render(r=report))
    return html_path


# --------------------------------------------------------------------------------------------------- the run


def _step(name: str, fn: Callable[..., T], *args: Any) -> T:
    """Run one step as a Prefect task inside a flow run (plainly otherwise)."""
    from prefect.context import FlowRunContext

    if FlowRunContext.get() is not None:
        return task(name=name, cache_policy=NO_CACHE)(redacting(fn))(*args)
    return fn(*args)


def _check(
    customers: pl.DataFrame, contacts: pl.DataFrame, settings: ProjectSettings, now: dt.datetime
) -> pl.DataFrame:
    return clean_findings(customers, contacts, settings.clean, now=now)


def run_clean(settings: ProjectSettings, run_id: str, *, now: dt.datetime | None = None) -> CleanResult:
    """One clean run: read the store, check, enqueue the findings, write the report, record the run.

    The store must exist (a clean run never creates one); it is brought to the latest schema like a migrate run
    does. The run holds the store's run lock from start to end and is recorded in ``pipeline_run`` with a ledger
    object ``{"flow": "clean", "customers", "findings", "by_check", "enqueued", "review"}`` (``enqueued``: the
    run's findings open in the review queue; ``review``: what queueing did, see ``enqueue_review_items``).

    Raises:
        crm_store.StoreNotFoundError: there is no store at ``store.url`` (nothing was recorded).
        crm_store.RunLockedError: another run holds the store (nothing was recorded).
    """
    now = now or dt.datetime.now(dt.UTC)
    crm_store.open_store(settings.store_url).dispose()  # exists? (never create a store for a clean run)
    engine = crm_store.init_store(settings.store_url)
    result = CleanResult(run_id, "failed")
    started = dt.datetime.now(dt.UTC)
    lock: crm_store.HeldLock | None = None
    recorded = False
    try:
        lock = lock_store(settings, engine, run_id)
        with Session(engine) as session, session.begin():
            crm_store.start_run(session, run_id, settings.project, settings.config_hash, False, versions(), now=started)
        recorded = True
        try:
            customers, contacts = _step("read store", read_store, engine)
            findings = _step("check", _check, customers, contacts, settings, now)
            result.counts = finding_counts(findings, customers.height)
            result.review = _step("enqueue review items", enqueue_review_items, engine, run_id, findings, started)
            result.enqueued = result.review["open"]
            result.status = "succeeded"
            info = _run_info(settings, run_id, started, result)
            report = build_clean_report(
                run=info, settings=settings, counts=result.counts, findings=findings, review=result.review, now=now
            )
            result.report_path = _step("report", write_clean_report, report, settings.reports_path)
        except Exception as exc:
            log.debug("clean run %s failed", run_id, exc_info=True)
            result.status, result.error = "failed", mask_text(f"{type(exc).__name__}: {exc}")
        except BaseException as exc:  # Ctrl-C, SIGTERM
            result.status, result.error = "failed", f"interrupted ({type(exc).__name__}) before it finished"
            raise
    finally:
        try:
            if recorded:
                ledger = {
                    "flow": CLEAN_FLOW,
                    **_ledger_counts(result.counts),
                    "enqueued": result.enqueued,
                    "review": result.review or None,
                }
                with Session(engine) as session, session.begin():
                    crm_store.finish_run(
                        session,
                        run_id,
                        result.status,
                        ledger,
                        str(result.report_path) if result.report_path else None,
                        error=result.error,
                    )
        finally:
            if lock is not None:
                lock.release()
            engine.dispose()
    return result


def _ledger_counts(counts: dict[str, Any]) -> dict[str, Any]:
    return {
        "customers": counts.get("customers"),
        "findings": counts.get("findings"),
        "by_check": {k: v["findings"] for k, v in counts.get("by_check", {}).items()},
    }


def _run_info(settings: ProjectSettings, run_id: str, started: dt.datetime, result: CleanResult) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "flow": CLEAN_FLOW,
        "project": settings.project,
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "status": result.status,
        "config_hash": settings.config_hash,
        "store": sa.make_url(settings.store_url).render_as_string(hide_password=True),
        "versions": versions(),
    }


# --------------------------------------------------------------------------------------------------- flows


@flow(name=CLEAN_FLOW, validate_parameters=False)
def clean_flow(config_path: str, run_id: str | None = None) -> CleanResult:
    """Prefect flow: check the golden records in the store, queue the findings for review, write the report.

    Raises:
        CleanFailedError: the run failed (it is recorded; ``clean`` returns its result).
    """
    result = run_clean(load_settings(config_path), run_id or new_run_id())
    if result.status == "failed":
        raise CleanFailedError(result)
    return result


def clean(config_path: str | Path, *, run_id: str | None = None) -> CleanResult:
    """Run the ``clean`` flow once (the Python API behind ``crmkit clean``); returns its result whatever its status.

    Raises:
        crm_store.StoreNotFoundError: no store at the project's ``store.url``.
        crm_store.RunLockedError: another run holds the store.
    """
    try:
        return clean_flow(str(config_path), run_id=run_id)
    except CleanFailedError as exc:
        return exc.result


@flow(name=SCHEDULED_FLOW, validate_parameters=False)
def migrate_and_clean(config_path: str, full_refresh: bool = False) -> dict[str, Any]:
    """Prefect flow behind ``crmkit schedule``: the incremental migrate, then ``clean``.

    ``clean`` runs even when the migrate failed (the store is then as the last good run left it, and the stewards
    still get their report); the flow run then fails with the migrate's error, so the Prefect UI shows it red.

    Returns:
        ``{"migrate": {run_id, status, report}, "clean": {run_id, status, report, findings}}``.
    """
    failed: RunFailedError | None = None
    try:
        migrated: MigrateResult = migrate_flow(config_path, full_refresh=full_refresh)
    except RunFailedError as exc:
        failed, migrated = exc, exc.result
    cleaned = clean_flow(config_path)
    if failed is not None:
        raise failed
    return {
        "migrate": {"run_id": migrated.run_id, "status": migrated.status, "report": str(migrated.report_path)},
        "clean": {
            "run_id": cleaned.run_id,
            "status": cleaned.status,
            "report": str(cleaned.report_path),
            "findings": cleaned.counts.get("findings"),
            "review_open": cleaned.enqueued,
        },
    }


def scheduled_deployment(config_path: Path, *, cron: str, name: str, timezone: str) -> RunnerDeployment:
    """The deployment ``crmkit schedule`` serves: ``migrate_and_clean`` on a cron schedule, one run at a time.

    One run at a time is the deployment's concurrency limit (Prefect's ``global_limit``), enforced by the server:
    a run due while another runs waits for it (``ENQUEUE``), so two runs never compete for the store's lock.

    Raises:
        ValueError: the cron expression or the time zone is invalid.
    """
    from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
    from prefect.schedules import Cron
    from prefect.types.entrypoint import EntrypointType

    settings = load_settings(config_path)
    deployment = migrate_and_clean.to_deployment(
        name,
        schedule=Cron(cron, timezone=timezone),
        concurrency_limit=ConcurrencyLimitConfig(limit=1, collision_strategy=ConcurrencyLimitStrategy.ENQUEUE),
        parameters={"config_path": str(Path(config_path).resolve())},
        description=f"crmkit: incremental migrate, then clean, of project {settings.project}",
        tags=["crmkit", settings.project],
        entrypoint_type=EntrypointType.MODULE_PATH,  # crmkit is installed: import it, wherever serve runs
    )
    assert not inspect.isawaitable(deployment)  # called outside an event loop: the deployment itself
    return deployment

"""``crmkit schedule``, ``crmkit clean`` and ``crmkit runs``: scheduled cleaning on a Prefect server, one clean run,
and the run history of a store.

``pipelines.cli`` adds these commands to ``crmkit`` (``app.add_typer(schedule_app)``). Prefect and the flow modules
are imported inside the commands, and so are the CLI's shared helpers (``pipelines.cli`` imports this module).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pipelines.runs import run_history

if TYPE_CHECKING:
    from pipelines.clean import CleanResult
    from pipelines.settings import ProjectSettings

__all__ = ["schedule_app"]

schedule_app = typer.Typer()

ConfigOption = Annotated[Path, typer.Option("--config", help="The YAML project file.", show_default=False)]
#: Exit code of ``crmkit clean`` per run status (findings are data, not a failure).
CLEAN_EXIT_CODES = {"succeeded": 0, "failed": 1}

NO_SERVER = (
    "crmkit schedule needs a Prefect server that keeps running: schedules never fire on the temporary server "
    "crmkit starts for a single run. Start one (`prefect server start`, or use your team's), then "
    "`export PREFECT_API_URL=http://127.0.0.1:4200/api` (its address) and run this command again."
)


@schedule_app.command()
def schedule(
    config: Annotated[Path, typer.Argument(help="The YAML project file.", show_default=False)],
    cron: Annotated[str, typer.Option("--cron", help='When to run, as a cron expression: "0 2 * * *" is 02:00 daily.')],
    name: Annotated[
        str | None, typer.Option("--name", help="Deployment name (default: the project name).", show_default=False)
    ] = None,
    timezone: Annotated[
        str | None,
        typer.Option("--timezone", help="Time zone of the cron expression (default: the project's defaults.timezone)."),
    ] = None,
) -> None:
    """Serve a Prefect deployment that runs the incremental migrate and then the clean flow on a cron schedule.

    Needs a Prefect server (PREFECT_API_URL). Runs until stopped (Ctrl-C or SIGTERM), like `prefect`'s own
    serve; stopping it pauses the schedule, starting it again resumes it. One run at a time: a run that falls due
    while another runs waits for it.
    """
    from pipelines.cli import _fail, _load, console

    settings = _load(config)
    deployment_name = name or settings.project
    zone = timezone or settings.defaults.timezone
    problem = _schedule_problem(cron, zone)
    if problem is not None:
        raise _fail(f"invalid schedule (--cron {cron!r}, time zone {zone!r}): {problem}", 2)
    if not deployment_name.strip() or any(c in deployment_name for c in "/%&<>"):
        raise _fail(f"--name {deployment_name!r}: a deployment name needs a character and none of / % & < >", 2)
    url = os.environ.get("PREFECT_API_URL", "").strip()
    if not url:
        raise _fail(NO_SERVER)
    with console.status("Connecting to the Prefect server…"):
        from prefect import serve
        from prefect.settings import PREFECT_UI_URL

        from pipelines._logging import install_redaction
        from pipelines.clean import SCHEDULED_FLOW, scheduled_deployment

        problem = _server_problem()
        if problem is not None:
            raise _fail(f"the Prefect server at {url} does not answer: {problem}")
        deployment = scheduled_deployment(config, cron=cron, name=deployment_name, timezone=zone)
        install_redaction()
    full_name = f"{SCHEDULED_FLOW}/{deployment_name}"
    ui = PREFECT_UI_URL.value()
    console.print(f"Serving deployment [bold]{full_name}[/] on {url}")
    console.print(f"  schedule: [bold]{cron}[/] ({zone}) · one run at a time · project file {config.resolve()}")
    console.print(f"  each run: the incremental migrate, then the clean flow; history: crmkit runs --config {config}")
    if ui:
        console.print(f"  runs in the Prefect UI: {ui}/deployments")
    console.print(f"  run it now: [bold]prefect deployment run '{full_name}'[/]")
    console.print("Runs until stopped (Ctrl-C or SIGTERM); stopping pauses the schedule.")
    _record_schedule(settings, full_name, SCHEDULED_FLOW, cron, zone)
    sys.stdout.flush()
    try:
        serve(deployment, limit=1, print_starting_message=False)
    finally:
        _record_stop(settings, full_name)


def _record_schedule(settings: ProjectSettings, name: str, flow: str, cron: str, zone: str) -> None:
    """Record in the project's store that ``name`` is served (the review page and ``crmkit runs`` show it with its
    next run). The store is created if it does not exist yet: the deployment's first run would create it."""
    import getpass
    import socket

    from sqlalchemy.orm import Session

    import crm_store
    from pipelines.cli import _fail

    try:
        user = getpass.getuser()
    except Exception:  # no user name in the environment or the password database
        user = "unknown"
    try:
        engine = crm_store.init_store(settings.store_url)
    except Exception as exc:
        raise _fail(f"cannot open the store to record the schedule: {type(exc).__name__}: {exc}") from None
    try:
        with Session(engine) as session, session.begin():
            crm_store.record_schedule(
                session,
                name=name,
                project=settings.project,
                flow=flow,
                cron=cron,
                timezone=zone,
                served_by=user,
                host=socket.gethostname(),
            )
    finally:
        engine.dispose()


def _record_stop(settings: ProjectSettings, name: str) -> None:
    """Record that the schedule is no longer served; a store that cannot be reached is only reported."""
    from rich.markup import escape
    from sqlalchemy.orm import Session

    import crm_store
    from pipelines.cli import err
    from rules.mask import redact_secrets

    try:
        engine = crm_store.open_store(settings.store_url)
        try:
            with Session(engine) as session, session.begin():
                crm_store.stop_schedule(session, name)
        finally:
            engine.dispose()
    except Exception as exc:  # the store is gone or down: the schedule stops all the same
        problem = escape(redact_secrets(f"{type(exc).__name__}: {exc}") or "")
        err.print(f"[yellow]crmkit:[/] could not record in the store that the schedule stopped: {problem}")


def _server_problem() -> str | None:
    """Why the configured Prefect server cannot be used (``None``: it answers)."""
    from prefect.client.orchestration import get_client

    try:
        with get_client(sync_client=True) as client:
            error = client.api_healthcheck()
    except Exception as exc:  # a malformed URL, a refused connection
        return f"{type(exc).__name__}: {exc}"
    return None if error is None else f"{type(error).__name__}: {error}"


def _schedule_problem(cron: str, timezone: str) -> str | None:
    """Why Prefect would refuse this cron expression or time zone (``None``: it takes them)."""
    from prefect.client.schemas.schedules import CronSchedule

    try:
        CronSchedule(cron=cron, timezone=timezone)
    except ValueError as exc:  # pydantic's ValidationError is one
        errors = getattr(exc, "errors", None)
        message = str(errors()[0]["msg"]) if callable(errors) else str(exc)
        return message.removeprefix("Value error, ")
    return None


@schedule_app.command("clean")
def clean_command(
    config: ConfigOption,
    debug: Annotated[bool, typer.Option("--debug", help="Show Prefect's logs and full tracebacks.")] = False,
) -> None:
    """Run the clean flow once: stale records, incomplete records and invalid contacts, with a masked report; every
    finding goes to the review queue (crmkit review list), where a confirmed or dismissed one is not asked again.

    Exit code 0: the run succeeded (findings are not failures); 1: it failed, there is no store, or another run
    holds it; 2: invalid project file.
    """
    from pipelines.cli import INTERRUPTED, _fail, _load, _quiet_prefect, _sigterm_interrupts, console

    _load(config)  # fail fast, before Prefect starts, on an invalid file
    with console.status("Starting Prefect…"):
        import crm_store
        from pipelines._logging import install_redaction
        from pipelines._prefect import start_temporary_server
        from pipelines.clean import clean

        _quiet_prefect(debug)
        start_temporary_server()
        install_redaction()
    try:
        with _sigterm_interrupts(), console.status("Checking the store…"):
            result = clean(config)
    except (crm_store.StoreNotFoundError, crm_store.RunLockedError) as exc:
        raise _fail(str(exc)) from None
    except KeyboardInterrupt:
        raise _fail("interrupted: the run is recorded as failed and the store's lock released", INTERRUPTED) from None
    except Exception as exc:
        if debug:
            raise
        raise _fail(f"the clean run failed: {type(exc).__name__}: {exc} (run again with --debug for details)") from None
    _print_clean(result)
    raise typer.Exit(CLEAN_EXIT_CODES[result.status])


def _print_clean(result: CleanResult) -> None:
    from rich.table import Table

    from pipelines.cli import console, err
    from rules.clean import CLEAN_CODES

    counts = result.counts
    if counts:
        table = Table(title=f"Clean run {result.run_id}", title_justify="left")
        for column, justify in (("check", "left"), ("code", "left"), ("findings", "right"), ("customers", "right")):
            table.add_column(column, justify=justify)  # type: ignore[arg-type]
        for code, (check, _) in CLEAN_CODES.items():
            row = counts["by_code"].get(code, {})
            table.add_row(check, code, f"{row.get('findings', 0):,}", f"{row.get('customers', 0):,}")
        console.print(table)
        console.print(
            f"{counts['customers']:,} customers checked · {counts['customers_with_findings']:,} with findings · "
            f"status [bold {'green' if result.status == 'succeeded' else 'red'}]{result.status}[/]"
        )
    if result.review:
        review = result.review
        console.print(
            f"Review queue: {review['open']:,} findings open for a steward ({review['new']:,} new) · "
            f"{review['decided']:,} confirmed or dismissed earlier, not asked again · "
            f"{review['stale']:,} no longer found · {review['pairs_open']:,} possible matches open · "
            "crmkit review list --config …"
        )
    console.print(f"Report: [bold]{result.report_path or 'not written'}[/]")
    if result.error:
        err.print(f"[bold red]crmkit:[/] clean run {result.run_id} failed: {result.error}")


@schedule_app.command()
def runs(
    config: ConfigOption,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array instead of a table.")] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Show at most this many runs.")] = 20,
) -> None:
    """Run history of the project's store, newest first: migrate and clean runs, status, counts, report path; and
    the schedules crmkit schedule serves, with their next run. ``--json``: an array of the runs."""
    from pipelines.cli import _store_session
    from pipelines.runs import schedules

    with _store_session(config) as (_settings, session):
        history = run_history(session, limit=limit)
        served = [] if as_json else schedules(session)
    if as_json:
        sys.stdout.write(json.dumps(history, ensure_ascii=False, indent=2, default=str) + "\n")
        return
    _print_schedules(served)
    _print_runs(history)


def _print_schedules(served: list[dict[str, Any]]) -> None:
    from rich.markup import escape

    from pipelines.cli import console

    for row in served:
        where = f"served by {row['served_by']} on {row['host']} since {row['started_at']:%Y-%m-%d %H:%M} UTC"
        if row["active"] and row["next_runs"]:
            state = f"next run [bold]{row['next_runs'][0]:%Y-%m-%d %H:%M %Z}[/] · {escape(where)}"
        elif row["active"]:
            state = escape(where)
        else:
            state = f"[yellow]stopped[/] {row['stopped_at']:%Y-%m-%d %H:%M} UTC (schedule paused)"
        console.print(
            f"Schedule [bold]{escape(row['name'])}[/]: {escape(row['cron'])} ({escape(row['timezone'])}) · {state}"
        )


def _print_runs(history: list[dict[str, Any]]) -> None:
    from rich.markup import escape
    from rich.table import Table

    from pipelines.cli import console

    if not history:
        console.print("No runs recorded in this store yet.")
        return
    table = Table(title=f"Runs (newest first, {len(history)} shown)", title_justify="left")
    columns = ("run", "flow", "started", "finished", "status", "read", "loaded", "quarantined", "customers", "report")
    for column in columns:
        table.add_column(
            column, justify="right" if column in ("read", "loaded", "quarantined", "customers") else "left"
        )
    colours = {"succeeded": "green", "partial": "yellow", "running": "cyan"}

    def count(value: Any) -> str:
        return "–" if value is None else f"{value:,}"

    for run in history:
        status = run["status"]
        shown = f"[{colours.get(status, 'red')}]{status}[/]"
        if run["flow"] == "clean" and run["findings"] is not None:
            open_ = f", {run['review_open']:,} open for review" if run["review_open"] is not None else ""
            shown += f" ({run['findings']:,} findings{open_})"
        table.add_row(
            escape(run["run_id"]),
            run["flow"],
            (run["started_at"] or "–").replace("+00:00", "Z"),
            (run["finished_at"] or "–").replace("+00:00", "Z"),
            shown,
            count(run["rows_read"]),
            count(run["rows_loaded"]),
            count(run["rows_quarantined"]),
            count(run["customers"]),
            escape(run["report_path"] or "–"),
        )
    console.print(table)
    failed = [run for run in history if run["error"]]
    for run in failed[:5]:
        console.print(f"[dim]{escape(run['run_id'])}:[/] {escape(run['error'])}")

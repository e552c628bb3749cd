"""Run state that never lies: ``succeeded`` / ``partial`` / ``failed`` with exit codes 0 / 3 / 1, a ledger and a
report in every case, one writing run per store, runs killed earlier closed out, no Prefect server left behind."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from sqlalchemy.orm import Session
from typer.testing import CliRunner

import crm_store
import pipelines.migrate
from crm_store.lock import LockHolder, insert_run_lock
from pipelines.cli import app
from pipelines.ledger import run_status
from pipelines.migrate import run_steps
from pipelines.settings import SettingsError, load_settings

from .conftest import ROOT, retarget

runner = CliRunner()


def ledger_row(source: str, read: int, quarantined: int = 0, **extra: Any) -> dict[str, Any]:
    row = {"source": source, "read": read, "loaded": read - quarantined, "quarantined": quarantined, "skipped": 0}
    return {**row, "balanced": True, "error": None, **extra}


def with_settings(config: Path, **changes: Any) -> Path:
    """The project file with top-level sections changed (``run={...}``, ``sources=[...]``)."""
    data = yaml.safe_load(config.read_text("utf-8"))
    data.update(changes)
    config.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")
    return config


def runs(config: Path) -> dict[str, dict[str, Any]]:
    """Every pipeline_run row of the project's store, by run id."""
    engine = sa.create_engine(load_settings(config).store_url)
    try:
        with Session(engine) as session:
            ids = session.execute(sa.text("select run_id from pipeline_run")).scalars().all()
            return {run_id: crm_store.read_run(session, run_id) or {} for run_id in ids}
    finally:
        engine.dispose()


def lock_rows(config: Path) -> list[Any]:
    engine = sa.create_engine(load_settings(config).store_url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.text("select run_id from run_lock")).all())
    finally:
        engine.dispose()


def hold_lock(config: Path, holder: LockHolder) -> None:
    """Leave the project's store as ``holder``'s run would: its run ``running``, the lock held."""
    engine = crm_store.init_store(load_settings(config).store_url)
    try:
        with Session(engine) as session, session.begin():
            crm_store.start_run(session, holder.run_id, "sample", "h", False, {}, now=holder.acquired_at)
            insert_run_lock(session, holder)
    finally:
        engine.dispose()


def report_of(path: Path | None) -> dict[str, Any]:
    assert path is not None
    return json.loads((path.parent / "report.json").read_text("utf-8"))


def truncated_workbook(sample_dir: Path, tmp_path: Path) -> Path:
    """The sample with its sales workbook cut in half: that source fails, the others load."""
    data = tmp_path / "data"
    shutil.copytree(sample_dir, data)
    xlsx = data / "sales.xlsx"
    xlsx.write_bytes(xlsx.read_bytes()[: xlsx.stat().st_size // 2])
    return retarget(data / "crmkit.yaml", tmp_path)


# ----------------------------------------------------------------------------------------------- status


def test_the_status_follows_from_the_ledger() -> None:
    assert run_status([ledger_row("a", 10, 2), ledger_row("b", 10)], 0.2) == ("succeeded", None)
    status, error = run_status([ledger_row("a", 10, 5), ledger_row("b", 10)], 0.2)  # 5 of 20 = 25%
    assert status == "partial" and "5 of 20 rows read were quarantined (25.0%)" in str(error)
    assert run_status([ledger_row("a", 10, 2)], 0.2)[0] == "succeeded"  # exactly the share: still fine
    status, error = run_status([ledger_row("a", 0, error="x.xlsx: truncated"), ledger_row("b", 10)], 0.2)
    assert (status, error) == ("partial", "1 of 2 sources failed: a (the ledger says why)")
    status, error = run_status([ledger_row("a", 0, error="gone"), ledger_row("b", 0, error="gone")], 0.2)
    assert status == "failed" and str(error).startswith("every source failed: a, b")
    unbalanced = {**ledger_row("a", 10), "loaded": 9, "missing": 1, "duplicated": 0, "balanced": False}
    status, error = run_status([unbalanced], 0.2)
    assert status == "failed" and "the ledger does not balance" in str(error)


def test_run_settings_are_checked_with_their_yaml_path(project: Path) -> None:
    config = with_settings(project, run={"max_quarantine_share": 1.5, "lock_wait_seconds": -1})
    with pytest.raises(SettingsError) as info:
        load_settings(config)
    problems = " | ".join(info.value.problems)
    assert "run.max_quarantine_share" in problems and "run.lock_wait_seconds" in problems


@pytest.mark.slow  # through Prefect (a temporary server, a flow run)
def test_a_failed_source_makes_the_run_partial_exit_code_3(sample_dir: Path, tmp_path: Path) -> None:
    config = truncated_workbook(sample_dir, tmp_path)
    result = runner.invoke(app, ["migrate", str(config)])
    assert result.exit_code == 3, result.output
    output = " ".join(result.output.split())  # rich wraps long lines
    assert "status partial" in output and "1 of 3 sources failed: sales_workbook" in output
    assert "Traceback" not in output
    (run,) = runs(config).values()
    assert run["status"] == "partial" and "sales_workbook" in run["error"]
    # the file and its problem are named in the ledger (the CLI's warning line depends on the logging set-up)
    (failed,) = [row for row in run["ledger"] if row["source"] == "sales_workbook"]
    assert "sales.xlsx" in failed["error"] and "workbook" in failed["error"]
    assert {row["source"]: row["loaded"] > 0 for row in run["ledger"]} == {
        "sales_workbook": False,
        "legacy_crm": True,
        "web_signups": True,
    }
    assert report_of(Path(run["report_path"]))["run"]["status"] == "partial"
    assert lock_rows(config) == []


def test_too_many_quarantined_rows_make_the_run_partial(project: Path) -> None:
    config = with_settings(project, run={"max_quarantine_share": 0.01})
    result = run_steps(load_settings(config), "run-1", False)
    assert result.status == "partial" and result.totals["loaded"] > 0
    assert result.error is not None and "more than run.max_quarantine_share (1.0%)" in result.error
    report = report_of(result.report_path)
    assert (report["run"]["status"], report["run"]["error"]) == ("partial", result.error)
    assert runs(config)["run-1"]["status"] == "partial"


@pytest.mark.slow  # through Prefect (a temporary server, a flow run)
def test_a_failed_run_exits_1_with_one_message_its_ledger_and_report(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(*_args: Any) -> None:
        raise ZeroDivisionError("float division by zero")

    monkeypatch.setattr(pipelines.migrate, "resolve", crash)
    result = runner.invoke(app, ["migrate", str(project)])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert result.output.count("crmkit:") == 1
    output = " ".join(result.output.split())
    assert "failed: step match+survive failed: ZeroDivisionError: float division by zero" in output
    (run,) = runs(project).values()
    assert run["status"] == "failed" and run["error"].startswith("step match+survive failed: ZeroDivisionError")
    assert [row["source"] for row in run["ledger"]] == ["sales_workbook", "legacy_crm", "web_signups"]
    assert all(row["read"] > 0 and row["loaded"] == 0 for row in run["ledger"])  # read, then nothing loaded
    report = report_of(Path(run["report_path"]))
    assert report["run"]["status"] == "failed" and report["ledger"] == run["ledger"]
    assert (Path(run["report_path"]).parent / "report.html").exists()
    assert lock_rows(project) == []


def test_every_source_failing_fails_the_run_with_its_ledger(sample_dir: Path, tmp_path: Path) -> None:
    config = truncated_workbook(sample_dir, tmp_path)
    data = yaml.safe_load(config.read_text("utf-8"))
    config = with_settings(config, sources=[s for s in data["sources"] if s["name"] == "sales_workbook"])
    result = run_steps(load_settings(config), "run-1", False)
    assert result.status == "failed" and result.error
    assert [row["source"] for row in result.ledger] == ["sales_workbook"]
    assert "sales.xlsx" in result.ledger[0]["error"]
    assert report_of(result.report_path)["run"]["status"] == "failed"
    assert runs(config)["run-1"]["status"] == "failed"


# ------------------------------------------------------------------------------------------- run lock


@pytest.mark.slow  # through Prefect (a temporary server, a flow run)
def test_a_second_run_is_refused_while_another_holds_the_store(project: Path) -> None:
    now = dt.datetime.now(dt.UTC)
    hold_lock(project, LockHolder("the-other-run", os.getpid(), socket.gethostname(), now, now))
    result = runner.invoke(app, ["migrate", str(project)])
    assert result.exit_code == 1, result.output
    message = " ".join(result.output.split())  # rich wraps long lines
    assert f"in use by run the-other-run (pid {os.getpid()} on host {socket.gethostname()}" in message
    assert "Traceback" not in result.output
    assert list(runs(project)) == ["the-other-run"]  # the refused run recorded nothing
    # a dry run never writes the store: it needs no lock
    dry = runner.invoke(app, ["migrate", str(project), "--dry-run"])
    assert dry.exit_code == 0, dry.output


def test_a_run_killed_earlier_is_closed_out_at_the_next_start(project: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # a process that is gone, as a run killed with kill -9 leaves it
    started = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    hold_lock(project, LockHolder("killed-run", child.pid, socket.gethostname(), started, started))

    result = run_steps(load_settings(project), "next-run", False)

    assert result.status == "succeeded"
    stored = runs(project)
    assert stored["killed-run"]["status"] == "failed"
    assert stored["killed-run"]["error"].startswith("abandoned: process gone")
    assert stored["next-run"]["status"] == "succeeded"
    assert lock_rows(project) == []


def test_a_run_that_lost_its_lock_loads_nothing(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = with_settings(project, run={"stale_lock_seconds": 0.5})  # a heartbeat every 0.05 s
    resolve = pipelines.migrate.resolve
    url = load_settings(config).store_url

    def taken_over(*args: Any) -> Any:
        engine = sa.create_engine(url)
        with engine.begin() as conn:  # another run found this one stale and took the lock
            conn.execute(sa.text("delete from run_lock"))
        engine.dispose()
        time.sleep(0.3)
        return resolve(*args)

    monkeypatch.setattr(pipelines.migrate, "resolve", taken_over)
    result = run_steps(load_settings(config), "run-1", False)
    assert result.status == "failed" and "lost the store's run lock" in str(result.error)
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from source_record")).scalar_one() == 0
    engine.dispose()


@pytest.mark.slow  # through Prefect (a temporary server, a flow run)
def test_sigterm_fails_the_run_and_releases_the_lock(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def terminated(*_args: Any) -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler interrupts this

    monkeypatch.setattr(pipelines.migrate, "resolve", terminated)
    handler = signal.getsignal(signal.SIGTERM)
    result = runner.invoke(app, ["migrate", str(project)])
    assert signal.getsignal(signal.SIGTERM) == handler  # the CLI's own handler is gone again
    assert result.exit_code == 130, result.output
    assert "interrupted" in result.output and "Traceback" not in result.output
    (run,) = runs(project).values()
    assert run["status"] == "failed" and run["error"].startswith("interrupted")
    assert run["ledger"] and run["report_path"]
    assert lock_rows(project) == []


# ------------------------------------------------------------------------ the CLI as its own process


def _processes_marked(marker: str) -> list[int]:
    """Pids of live processes whose environment carries ``marker`` (Prefect's server inherits it)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rpartition(")")[2].split()[0]
        except OSError:
            continue
        if marker.encode() in environ and state != "Z":
            found.append(int(entry.name))
    return found


def _crmkit(args: list[str], marker: str) -> subprocess.Popen[str]:
    env = {**os.environ, "CRMKIT_TEST_MARKER": marker, "COLUMNS": "200"}
    return subprocess.Popen(
        [sys.executable, "-c", "from pipelines.cli import main; main()", *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_until(condition: Any, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return bool(condition())


linux_only = pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="processes are read from /proc")


@pytest.mark.slow
@linux_only
def test_a_failed_run_in_its_own_process_leaves_no_prefect_server(sample_dir: Path, tmp_path: Path) -> None:
    config = truncated_workbook(sample_dir, tmp_path)
    data = yaml.safe_load(config.read_text("utf-8"))
    with_settings(config, sources=[s for s in data["sources"] if s["name"] == "sales_workbook"])
    marker = f"failed-{uuid.uuid4().hex}"
    process = _crmkit(["migrate", str(config)], marker)
    out, errors = process.communicate(timeout=240)
    assert process.returncode == 1, out + errors
    assert "Traceback" not in out + errors
    errors = " ".join(errors.split())
    assert "crmkit: run" in errors and "failed: every source failed: sales_workbook" in errors
    assert _wait_until(lambda: not _processes_marked(marker), 10), "Prefect's server outlived crmkit"


@pytest.mark.slow
@linux_only
def test_kill_9_leaves_no_prefect_server(project: Path) -> None:
    now = dt.datetime.now(dt.UTC)
    hold_lock(project, LockHolder("holder", os.getpid(), socket.gethostname(), now, now))
    with_settings(project, run={"lock_wait_seconds": 120})  # the run starts Prefect, then waits for the lock
    marker = f"killed-{uuid.uuid4().hex}"
    process = _crmkit(["migrate", str(project)], marker)
    try:
        assert _wait_until(lambda: len(_processes_marked(marker)) >= 2, 120), "Prefect's server did not start"
    finally:
        process.kill()  # kill -9: no exit hook runs
        process.communicate()
    assert _wait_until(lambda: not _processes_marked(marker), 15), "Prefect's server outlived a kill -9"

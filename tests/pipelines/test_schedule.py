"""``crmkit schedule`` against a real Prefect server: ``prefect server start`` in the background (its own
PREFECT_HOME, a free port), ``crmkit schedule`` serving the deployment in its own process, a run triggered through
the server's API, then the store and the review queue checked; a steward then accepts a possible match, rejects
another, dismisses a clean finding and unmerges a customer with the CLI, and the next run triggered must honour all
four. Both processes are started in their own process groups and killed as groups, whatever happens. Without a
server that starts the test skips; ``CRMKIT_REQUIRE_SERVICES=1`` fails it."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import yaml
from sqlalchemy.orm import Session
from typer.testing import CliRunner

import crm_store
from pipelines.cli import app
from pipelines.runs import schedules
from pipelines.settings import load_settings

from ..conftest import migrated_prefect_home
from .conftest import ROOT

runner = CliRunner()
CRON = "0 2 * * *"
DEPLOYMENT = "nightly-test"


def _require_services() -> bool:
    return os.environ.get("CRMKIT_REQUIRE_SERVICES", "") not in ("", "0", "false")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(condition: Callable[[], Any], seconds: float, every: float = 0.3) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        found = condition()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(every)


def _stop_group(process: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """SIGTERM the process group, then SIGKILL what is left; wait until the group is gone."""
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace)
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)

    def group_gone() -> bool:
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return True
        return False

    assert _wait(group_gone, 10), f"processes of group {process.pid} outlived the test"


@contextmanager
def _background(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        process = subprocess.Popen(
            args, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield process
    finally:
        _stop_group(process)


@contextmanager
def prefect_server(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """A real ``prefect server start`` on a free port with a home of its own: (its API URL, the environment that
    talks to it, without ``PREFECT_API_URL``). Skipped, or failed under CRMKIT_REQUIRE_SERVICES, when it does not
    answer within 60 s."""
    home = migrated_prefect_home(tmp_path / "prefect-home")
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_UI_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "WARNING",
    }
    env.pop("PREFECT_API_URL", None)
    prefect = Path(sys.executable).with_name("prefect")
    command = [str(prefect)] if prefect.exists() else [sys.executable, "-m", "prefect"]
    with _background(
        [*command, "server", "start", "--host", "127.0.0.1", "--port", str(port)], env, tmp_path / "server.log"
    ) as server:
        if not _wait(lambda: _healthy(api) or server.poll() is not None, 60) or not _healthy(api):
            log = (tmp_path / "server.log").read_text("utf-8", errors="replace")[-2000:]
            message = f"the Prefect server did not start on 127.0.0.1:{port} within 60 s: {log}"
            if _require_services():
                pytest.fail(f"CRMKIT_REQUIRE_SERVICES is set and {message}")
            pytest.skip(message)
        yield api, env


def _healthy(api: str) -> bool:
    try:
        return httpx.get(f"{api}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _deployment(api: str) -> dict[str, Any] | None:
    body = {"deployments": {"name": {"any_": [DEPLOYMENT]}}}
    found = httpx.post(f"{api}/deployments/filter", json=body, timeout=5).json()
    return found[0] if found else None


def _scheduled_runs(api: str, deployment_id: str) -> list[dict[str, Any]]:
    body = {"deployments": {"id": {"any_": [deployment_id]}}, "flow_runs": {"state": {"type": {"any_": ["SCHEDULED"]}}}}
    runs = httpx.post(f"{api}/flow_runs/filter", json=body, timeout=5).json()
    return [r for r in runs if r.get("auto_scheduled")]


def _trigger(api: str, deployment_id: str, log: Path) -> None:
    """Start a run of the deployment now and wait until it and its two subflows completed."""

    def create() -> httpx.Response | None:  # a busy server answers 503 for a while: retry, as Prefect's client does
        answer = httpx.post(f"{api}/deployments/{deployment_id}/create_flow_run", json={}, timeout=10)
        return None if answer.status_code == 503 else answer

    created = _wait(create, 30, every=1.0)
    assert created is not None and created.status_code == 201, created.text if created is not None else "503"
    run_id = created.json()["id"]

    def finished() -> dict[str, Any] | None:
        answer = httpx.get(f"{api}/flow_runs/{run_id}", timeout=5)
        state = answer.json()["state"] if answer.status_code == 200 else None
        return state if state and state["type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED") else None

    state = _wait(finished, 90, every=0.5)
    served_log = log.read_text("utf-8", errors="replace")
    assert state, f"the triggered run did not finish in 90 s: {served_log[-3000:]}"
    assert state["type"] == "COMPLETED", (state, served_log[-3000:])
    subflows = httpx.post(
        f"{api}/flow_runs/filter", json={"flow_runs": {"parent_flow_run_id": {"any_": [run_id]}}}, timeout=5
    ).json()
    assert sorted(r["state"]["type"] for r in subflows) == ["COMPLETED", "COMPLETED"]


def _cli(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def _owners(project: Path) -> dict[tuple[str, str], str]:
    engine = crm_store.open_store(load_settings(project).store_url)
    with Session(engine) as session:
        crosswalk = crm_store.read_crosswalk(session)
    engine.dispose()
    return {(s, k): c for s, k, c in crosswalk.select("source", "source_key", "customer_id").iter_rows()}


def _steward_decides(project: Path) -> dict[str, Any]:
    """With the CLI: accept the first possible match, reject the second, dismiss the first finding, split one row
    off a merged customer that none of them touch. Returns what was decided."""
    config = str(project)
    queue = json.loads(_cli("review", "list", "--config", config, "--json", "--limit", "1000"))
    pairs = [i for i in queue if i["subject"] == "pair"]
    findings = [i for i in queue if i["subject"] == "finding"]
    assert len(pairs) >= 2 and findings, queue
    accepted, rejected, dismissed = pairs[0], pairs[1], findings[0]
    _cli("review", "accept", str(accepted["id"]), "--config", config, "--by", "steward")
    _cli("review", "reject", str(rejected["id"]), "--config", config, "--by", "steward")
    _cli("review", "reject", str(dismissed["id"]), "--config", config, "--by", "steward", "--note", "known")
    touched = {(i[side]["source"], i[side]["source_key"]) for i in (accepted, rejected) for side in ("left", "right")}
    groups: dict[str, list[tuple[str, str]]] = {}
    for row, customer in _owners(project).items():
        groups.setdefault(customer, []).append(row)
    merged, rows = next(
        (c, sorted(r))
        for c, r in sorted(groups.items())
        if len(r) == 2 and not set(r) & touched and c != dismissed["customer_id"]
    )
    _cli("unmerge", merged, "--config", config, "--rows", f"{rows[1][0]}:{rows[1][1]}", "--by", "steward")
    return {"accepted": accepted, "rejected": rejected, "dismissed": dismissed, "unmerged": rows}


def _row(item: dict[str, Any], side: str) -> tuple[str, str]:
    return item[side]["source"], item[side]["source_key"]


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "killpg"), reason="needs POSIX process groups")
def test_schedule_serves_a_deployment_that_migrates_then_cleans_on_a_real_prefect_server(
    project: Path, tmp_path: Path
) -> None:
    data = yaml.safe_load(project.read_text("utf-8"))
    data["clean"] = {"stale_months": 18, "required": {"default": ["phone|email"]}}
    data["match"]["review_threshold"] = 0.2  # a wide review band: the steward decides two pairs below
    project.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")
    zone = load_settings(project).defaults.timezone
    started = time.monotonic()
    with prefect_server(tmp_path) as (api, env):
        serve_env = {**env, "PREFECT_API_URL": api, "PREFECT_RUNNER_POLL_FREQUENCY": "1", "COLUMNS": "200"}
        cli = [sys.executable, "-c", "from pipelines.cli import main; main()"]
        schedule = ["schedule", str(project), "--cron", CRON, "--name", DEPLOYMENT]
        with _background([*cli, *schedule], serve_env, tmp_path / "serve.log") as serving:
            deployment = _wait(lambda: serving.poll() is None and _deployment(api), 60, every=0.5)
            served_log = (tmp_path / "serve.log").read_text("utf-8", errors="replace")
            assert deployment, f"no deployment {DEPLOYMENT} (exit {serving.poll()}): {served_log}"
            (schedule_row,) = deployment["schedules"]
            assert schedule_row["schedule"]["cron"] == CRON and schedule_row["schedule"]["timezone"] == zone
            assert schedule_row["active"] is True
            assert deployment["global_concurrency_limit"]["limit"] == 1  # one run at a time
            assert deployment["parameters"] == {"config_path": str(project.resolve())}
            assert deployment["entrypoint"] == "pipelines.clean.migrate_and_clean"

            # the server's scheduler creates the next runs at 02:00 in the project's time zone
            upcoming = _wait(lambda: _scheduled_runs(api, deployment["id"]), 20)
            assert upcoming, "the scheduler created no runs for the deployment"
            first = min(dt.datetime.fromisoformat(r["expected_start_time"].replace("Z", "+00:00")) for r in upcoming)
            assert first.astimezone(ZoneInfo(zone)).time() == dt.time(2, 0)
            # crmkit schedule recorded the deployment in the store: the store's next run is the server's
            engine = crm_store.open_store(load_settings(project).store_url)
            with Session(engine) as session:
                (recorded,) = schedules(session)
            assert (recorded["name"], recorded["cron"], recorded["timezone"]) == (
                f"migrate-and-clean/{DEPLOYMENT}",
                CRON,
                zone,
            )
            assert recorded["active"] and recorded["next_runs"][0] == first

            _trigger(api, deployment["id"], tmp_path / "serve.log")
            # the queue after the run: the migrate's possible matches and the clean flow's findings
            queue = json.loads(_cli("review", "list", "--config", str(project), "--json", "--limit", "1000"))
            assert {i["subject"] for i in queue} == {"pair", "finding"}
            decided = _steward_decides(project)

            _trigger(api, deployment["id"], tmp_path / "serve.log")  # the next scheduled run
            assert serving.poll() is None, "crmkit schedule stopped by itself"
        # stopping crmkit schedule pauses the schedule, and the store says so
        with Session(engine) as session:
            (recorded,) = schedules(session)
        engine.dispose()
        assert not recorded["active"] and recorded["stopped_at"] is not None and recorded["next_runs"] == []
    elapsed = time.monotonic() - started

    # all four honoured by the next run
    owners = _owners(project)
    accepted, rejected, dismissed = decided["accepted"], decided["rejected"], decided["dismissed"]
    assert owners[_row(accepted, "left")] == owners[_row(accepted, "right")]
    assert owners[_row(rejected, "left")] != owners[_row(rejected, "right")]
    kept, split = decided["unmerged"]
    assert owners[kept] != owners[split]
    after = {
        i["id"]: i for i in json.loads(_cli("review", "list", "--config", str(project), "--json", "--status", "all"))
    }
    assert after[accepted["id"]]["status"] == after[rejected["id"]]["status"] == "decided"
    assert after[dismissed["id"]]["status"] == "decided" and after[dismissed["id"]]["decision"]["decision"] == "dismiss"

    result = runner.invoke(app, ["runs", "--config", str(project), "--json"])
    assert result.exit_code == 0, result.output
    history = json.loads(result.output)
    assert [(run["flow"], run["status"]) for run in history] == [("clean", "succeeded"), ("migrate", "succeeded")] * 2
    clean = history[0]
    assert Path(clean["report_path"]).is_file() and Path(clean["report_path"]).with_name("clean.json").is_file()
    assert history[1]["rows_loaded"] > 0 and history[1]["customers"] > 0
    assert elapsed < 180, f"the real-server test took {elapsed:.0f} s"

"""``crmkit schedule`` against a real Prefect server: ``prefect server start`` in the background (its own
PREFECT_HOME, a free port), ``crmkit schedule`` serving the deployment in its own process, a run triggered through
the server's API, then the store checked. Both processes are started in their own process groups and killed as
groups, whatever happens. Without a server that starts the test skips; ``CRMKIT_REQUIRE_SERVICES=1`` fails it."""

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
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.settings import load_settings

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


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "killpg"), reason="needs POSIX process groups")
def test_schedule_serves_a_deployment_that_migrates_then_cleans_on_a_real_prefect_server(
    project: Path, tmp_path: Path
) -> None:
    data = yaml.safe_load(project.read_text("utf-8"))
    data["clean"] = {"stale_months": 18, "required": {"default": ["phone|email"]}}
    project.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")
    zone = load_settings(project).defaults.timezone
    home = tmp_path / "prefect-home"
    home.mkdir()
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
    started = time.monotonic()
    with _background(
        [*command, "server", "start", "--host", "127.0.0.1", "--port", str(port)], env, tmp_path / "server.log"
    ) as server:
        if not _wait(lambda: _healthy(api) or server.poll() is not None, 60) or not _healthy(api):
            log = (tmp_path / "server.log").read_text("utf-8", errors="replace")[-2000:]
            message = f"the Prefect server did not start on 127.0.0.1:{port} within 60 s: {log}"
            if _require_services():
                pytest.fail(f"CRMKIT_REQUIRE_SERVICES is set and {message}")
            pytest.skip(message)
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
            first = dt.datetime.fromisoformat(upcoming[0]["expected_start_time"].replace("Z", "+00:00"))
            assert first.astimezone(ZoneInfo(zone)).time() == dt.time(2, 0)

            created = httpx.post(f"{api}/deployments/{deployment['id']}/create_flow_run", json={}, timeout=10)
            assert created.status_code == 201, created.text
            run_id = created.json()["id"]

            def finished() -> dict[str, Any] | None:
                state = httpx.get(f"{api}/flow_runs/{run_id}", timeout=5).json()["state"]
                return state if state and state["type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED") else None

            state = _wait(finished, 90, every=0.5)
            served_log = (tmp_path / "serve.log").read_text("utf-8", errors="replace")
            assert state, f"the triggered run did not finish in 90 s: {served_log[-3000:]}"
            assert state["type"] == "COMPLETED", (state, served_log[-3000:])
            subflows = httpx.post(
                f"{api}/flow_runs/filter",
                json={"flow_runs": {"parent_flow_run_id": {"any_": [run_id]}}},
                timeout=5,
            ).json()
            assert sorted(r["state"]["type"] for r in subflows) == ["COMPLETED", "COMPLETED"]
            assert serving.poll() is None, "crmkit schedule stopped by itself"
    elapsed = time.monotonic() - started

    result = runner.invoke(app, ["runs", "--config", str(project), "--json"])
    assert result.exit_code == 0, result.output
    history = json.loads(result.output)
    assert [(run["flow"], run["status"]) for run in history] == [("clean", "succeeded"), ("migrate", "succeeded")]
    clean = history[0]
    assert Path(clean["report_path"]).is_file() and Path(clean["report_path"]).with_name("clean.json").is_file()
    assert history[1]["rows_loaded"] > 0 and history[1]["customers"] > 0
    assert elapsed < 120, f"the real-server test took {elapsed:.0f} s"

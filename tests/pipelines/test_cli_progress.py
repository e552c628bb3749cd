"""What ``crmkit migrate`` shows while it runs: the "starting Prefect…" state, then a line per step that fills with
progress events (rows done of a total, rows/s, share done, time left) from extract, validate and the store's load;
and which Prefect server it uses: the one ``PREFECT_API_URL`` names (a real ``prefect server start``, nothing
else started), else a temporary one of its own."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest
from rich.console import Console

from pipelines._prefect import _healthy
from pipelines.cli import STEPS
from pipelines.progress import StepDisplay, StepEvent, advance, emit, listening
from pipelines.settings import load_settings
from pipelines.steps import check, extract, map_rows, normalise
from rules.match import LocalEngine

from .conftest import ROOT
from .test_run_state import _processes_marked
from .test_schedule import _wait, prefect_server

linux_only: pytest.MarkDecorator = pytest.mark.skipif(
    not Path("/proc/self/environ").exists(), reason="processes are read from /proc"
)


def test_extract_and_validate_send_progress_events(project: Path) -> None:
    settings = load_settings(project)
    events: list[StepEvent] = []
    with listening(events.append):
        extracted = extract(settings, {})
        stage = map_rows(settings, extracted)
        normalised = normalise(settings, stage.candidates)
        chunked = check(settings, stage, normalised, chunk_rows=40)
    read = sum(x.raw.height for x in extracted if x.raw is not None)
    pulled = [e for e in events if e.step == "extract"]
    assert pulled and all(e.status == "progress" and e.total is None for e in pulled)
    assert [e.rows for e in pulled] == sorted(e.rows or 0 for e in pulled) and pulled[-1].rows == read
    assert len(pulled) >= len(settings.sources)  # one per batch read: at least one per source
    # an engine reads a source per task (`Engine.each`): the same sources, a progress event per source
    per_source: list[StepEvent] = []
    with listening(per_source.append):
        each = extract(settings, {}, LocalEngine())
    assert [(x.source, x.columns, x.raw.rows() if x.raw is not None else None) for x in each] == [
        (x.source, x.columns, x.raw.rows() if x.raw is not None else None) for x in extracted
    ]
    assert [e.rows for e in per_source if e.step == "extract"][-1] == read
    assert sum(e.step == "extract" for e in per_source) == len(settings.sources)
    checked = [e for e in events if e.step == "validate"]
    n = normalised.height
    assert n > 80  # several chunks of 40
    assert [(e.rows, e.total) for e in checked] == [(min(k + 40, n), n) for k in range(0, n, 40)]
    assert all(e.seconds >= 0 for e in checked)
    # validating in chunks changes nothing in the outcome
    whole = check(settings, stage, normalised)
    assert chunked.records.equals(whole.records)
    assert chunked.quarantined.equals(whole.quarantined)
    assert chunked.failures.equals(whole.failures)
    assert chunked.rule_results == whole.rule_results


def test_a_port_taken_by_something_that_is_not_http_is_not_our_server() -> None:
    """Between the free-port check and uvicorn's bind another process may take the port: a Dask scheduler answered
    the health check with its own handshake and ``crmkit migrate`` ended in a ``BadStatusLine`` traceback. What
    answers there is simply not our server (uvicorn then fails to bind and a new port is taken)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()

        def answer_in_kind() -> None:
            connection, _ = listener.accept()
            with connection:
                connection.recv(1024)
                connection.sendall(b"\x00\x01\xa6python\xafpickle-protocol\x05\n")

        other = threading.Thread(target=answer_in_kind)
        other.start()
        assert _healthy(f"http://127.0.0.1:{listener.getsockname()[1]}/api") is False
        other.join(5)


def _step_lines(text: str) -> dict[str, str]:
    """The display's line of each step (a step not finished starts with its spinner)."""
    lines = {}
    for line in text.splitlines():
        names = [word for word in line.split()[:2] if word in STEPS]
        if names:
            lines[names[0]] = line
    return lines


def _display() -> tuple[StepDisplay, io.StringIO]:
    out = io.StringIO()
    return StepDisplay(Console(file=out, width=200, force_terminal=False), STEPS), out


def _note(display: StepDisplay, step: str) -> str:
    (task,) = [t for t in display.progress.tasks if t.description == step]
    return str(task.fields["note"])


def test_the_display_shows_rows_per_second_share_and_time_left_for_any_step() -> None:
    display, out = _display()
    with display, listening(display):
        emit(StepEvent("extract", "start"))
        advance("extract", 1_000, seconds=0.5)  # total unknown: rows and rate only
        assert _note(display, "extract") == "1,000 rows · 2,000 rows/s"
        advance("extract", 1_600, seconds=0.8)
        emit(StepEvent("extract", "done", 0.8, 1_600))
        emit(StepEvent("validate", "start"))
        advance("validate", 50, 200, seconds=1.0)
        assert _note(display, "validate") == "50/200 rows · 50 rows/s · 25% · ETA 0:00:03"
        (task,) = [t for t in display.progress.tasks if t.description == "validate"]
        assert (task.completed, task.total) == (50, 200)
        advance("validate", 200, 200, seconds=4.0)
        emit(StepEvent("validate", "done", 4.0, 190))  # the rows it hands on: the valid ones
        # the store sends load progress on its own, possibly without a start event of the step
        advance("load", 30_000, 120_000, seconds=0.5)
        assert _note(display, "load") == "30,000/120,000 rows · 60,000 rows/s · 25% · ETA 0:00:02"
        advance("load", 120_000, 120_000, seconds=2.0)
        emit(StepEvent("load", "done", 2.0, 120_000))
        advance("no-such-step", 1, 2)  # ignored
    lines = _step_lines(out.getvalue())
    assert "1,600 rows · 0.80s · 2,000 rows/s" in lines["extract"]
    assert "190 rows · 4.00s · 50 rows/s" in lines["validate"]
    assert "120,000 rows · 2.00s · 60,000 rows/s" in lines["load"]
    assert "waiting" in lines["report"]


def _crmkit(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", "from pipelines.cli import main; main()", *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _watch(process: subprocess.Popen[str], marker: str, seconds: float) -> tuple[str, str, int]:
    """Wait for ``process``; return its output and the most processes that carried ``marker`` at once."""
    most, deadline = 0, time.monotonic() + seconds
    while process.poll() is None and time.monotonic() < deadline:
        most = max(most, len(_processes_marked(marker)))
        time.sleep(0.05)
    out, errors = process.communicate(timeout=max(1.0, deadline - time.monotonic()))
    return out, errors, most


@pytest.mark.slow  # a temporary Prefect server and a flow run, in a process of its own
@linux_only
def test_migrate_shows_starting_prefect_then_the_progress_of_each_step(project: Path) -> None:
    marker = f"progress-{uuid.uuid4().hex}"
    env = {**os.environ, "CRMKIT_TEST_MARKER": marker, "COLUMNS": "200"}
    env.pop("PREFECT_API_URL", None)
    out, errors, most = _watch(_crmkit(["migrate", str(project)], env), marker, 240)
    assert "Traceback" not in out + errors, errors
    assert most >= 2, "no temporary Prefect server was started"  # crmkit and its server
    assert "Starting Prefect (temporary server)…" in out and "Prefect ready in" in out, out
    assert out.index("Starting Prefect") < out.index("Prefect ready in") < out.index("extract")
    lines = _step_lines(out)
    assert set(lines) == set(STEPS), out
    assert "rows/s" in lines["extract"] and "rows/s" in lines["validate"], out
    assert _wait(lambda: not _processes_marked(marker), 15), "Prefect's server outlived crmkit"


@pytest.mark.slow  # a real `prefect server start`, and a flow run against it
@linux_only
def test_a_set_prefect_api_url_is_used_and_no_temporary_server_starts(project: Path, tmp_path: Path) -> None:
    with prefect_server(tmp_path) as (api, env):
        marker = f"api-url-{uuid.uuid4().hex}"
        run_env = {**env, "PREFECT_API_URL": api, "CRMKIT_TEST_MARKER": marker, "COLUMNS": "200"}
        out, errors, most = _watch(_crmkit(["migrate", str(project)], run_env), marker, 240)
        assert "Traceback" not in out + errors, errors
        assert most == 1, f"{most} processes carried the marker: crmkit started a server of its own"
        assert f"Using the Prefect server at {api}…" in out, out
        assert "Starting Prefect" not in out and "temporary" not in out, out
        assert "succeeded" in out, out + errors
        # the run is the server's: its flow run is recorded there, completed
        flows = httpx.post(f"{api}/flows/filter", json={"flows": {"name": {"any_": ["migrate"]}}}, timeout=10).json()
        assert [f["name"] for f in flows] == ["migrate"]
        body = {"flows": {"id": {"any_": [flows[0]["id"]]}}}
        runs = httpx.post(f"{api}/flow_runs/filter", json=body, timeout=10).json()
        assert [r["state"]["type"] for r in runs] == ["COMPLETED"]


@pytest.mark.slow  # two temporary Prefect servers, in a process of their own
def test_a_stopped_server_handed_to_prefect_is_never_reused() -> None:
    """In a process that imported Prefect first (a test worker, a notebook), crmkit hands its temporary server to
    Prefect. Once that server stopped, the next run must start a new one: Prefect's record of it still says
    "running", and trusting it sent every later run of the process to a closed port (Connection refused)."""
    script = """
import prefect.context
from pipelines import cli  # noqa: F401  (the package as the CLI loads it)
from pipelines._prefect import launch_server, wait_until_ready
import urllib.request
first = launch_server(); wait_until_ready(first); first.stop()
second = launch_server(); wait_until_ready(second)
with urllib.request.urlopen(second.url + "/health", timeout=5) as answer:
    print("new" if second.url != first.url else "same", answer.status)
second.stop()
"""
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True, timeout=180
    )
    assert done.stdout.split() == ["new", "200"], done.stdout + done.stderr

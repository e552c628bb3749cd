"""Shared fixtures: real database servers, skipped with a clear reason when none answers.

CI sets ``CRMKIT_REQUIRE_SERVICES=1``: a server that does not answer is then a failure, not a skip. It also sets
``HYPOTHESIS_PROFILE=ci``: property tests then draw the same examples on every run (a red CI run is a change's
fault, not a lucky draw); local runs keep drawing new ones and remember what failed in ``.hypothesis/``.

``make test`` runs the suite in pytest-xdist workers (one per core plus one, ``--dist loadscope``: a module's tests
stay in one worker, so module-scoped fixtures are built once). Everything a test shares with others is per worker:
database schemas, databases and roles have random names, files live under ``tmp_path``, servers take a free port,
and each worker has its own Prefect home (below). Notebooks are marked ``slow`` here, as the few end-to-end tests
that go through Prefect or a browser are in their modules: ``-m "not slow"`` leaves them out.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

# An xdist worker gets a Prefect home of its own before anything imports `pipelines` (which defaults it to
# ~/.cache/crmkit/prefect): each worker starts its own temporary Prefect server, and two servers must not migrate
# and write one SQLite database at once. It is kept between runs, as the default one is (a fresh database costs
# its migrations at the first flow run). An explicit PREFECT_HOME wins.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "crmkit"
if _WORKER and "PREFECT_HOME" not in os.environ:
    os.environ["PREFECT_HOME"] = str(_CACHE / f"prefect-{_WORKER}")
# The CLI's rich consoles are created at import: a COLUMNS present then fixes their width for good. pytest imports
# readline before it loads this file, and GNU readline exports LINES=24 and COLUMNS=80 into the C environment
# (os.environ does not see them), which xdist workers inherit: there the consoles kept 80 columns whatever a test
# set. Neither is kept; every test sees the width of `_terminal_width` instead of the terminal it was started from.
for _name in ("COLUMNS", "LINES"):
    os.environ.pop(_name, None)
    os.unsetenv(_name)

PG_URL = os.environ.get("CRMKIT_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
MARIADB_URL = os.environ.get("CRMKIT_MARIADB_URL", "mysql+pymysql://root:@127.0.0.1:3306/test?charset=utf8mb4")


@pytest.fixture(autouse=True)
def _terminal_width(monkeypatch: pytest.MonkeyPatch) -> None:
    """CLI output is rendered 200 columns wide in every test, in one process or in a worker, whatever the terminal:
    without a terminal rich falls back to 80 columns and wraps inside words (a ``tmp_path`` under a worker, one
    ``popen-gw0/`` longer, then split a file name a test looked for). A test may still set its own COLUMNS."""
    monkeypatch.setenv("COLUMNS", "200")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Notebooks (run by nbmake) each start a kernel and a temporary Prefect server: they are ``slow``. The modules
    with a ``slow`` or ``fuzz`` test go first, then the others by their number of tests, most first (each module's
    tests in their own order): xdist hands a worker one module at a time in collection order, so the long ones start
    at once and the short ones fill in at the end instead of one long module running alone there."""
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.slow)
    long = {item.path for item in items if item.get_closest_marker("slow") or item.get_closest_marker("fuzz")}
    size = Counter(item.path for item in items)
    items.sort(key=lambda item: (item.path not in long, -size[item.path]))


def _prefect_template() -> Path:
    """A Prefect database with every migration applied, made once per machine and Prefect version (``prefect server
    database upgrade`` in a process of its own, ~10 s; two workers wait for one another on a lock)."""
    from importlib.metadata import version

    template = _CACHE / f"prefect-template-{version('prefect')}" / "prefect.db"
    if template.exists():
        return template
    template.parent.mkdir(parents=True, exist_ok=True)
    with (template.parent / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not template.exists():
            home = template.parent / f"making-{os.getpid()}"
            shutil.rmtree(home, ignore_errors=True)
            home.mkdir()
            env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
            env.pop("PREFECT_API_URL", None)
            subprocess.run(
                [sys.executable, "-m", "prefect", "server", "database", "upgrade", "-y"],
                env=env,
                check=True,
                capture_output=True,
                timeout=300,
            )
            (home / "prefect.db").replace(template)
            shutil.rmtree(home, ignore_errors=True)
    return template


def migrated_prefect_home(home: Path) -> Path:
    """``home`` (created) holding a copy of a fully migrated Prefect database: a server or a temporary server
    started there skips the ~7 s of migrations a new database costs, and still writes a database of its own (a
    test scans it, or starts from it empty)."""
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "prefect.db").exists():
        shutil.copyfile(_prefect_template(), home / "prefect.db")
    return home


@pytest.fixture(autouse=True, scope="session")
def _worker_prefect_home() -> None:
    """This worker's Prefect home starts from the migrated template on a new machine (CI's clean clone) too."""
    if _WORKER and os.environ["PREFECT_HOME"] == str(_CACHE / f"prefect-{_WORKER}"):
        migrated_prefect_home(Path(os.environ["PREFECT_HOME"]))


def _require_services() -> bool:
    return os.environ.get("CRMKIT_REQUIRE_SERVICES", "") not in ("", "0", "false")


def _server_or_skip(url: str, what: str) -> sa.Engine:
    engine = sa.create_engine(url, pool_pre_ping=True)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
    except Exception as exc:  # any driver error means "no server here"
        engine.dispose()
        message = f"{what} does not answer at {sa.make_url(url).render_as_string(hide_password=True)}: {exc}"
        if _require_services():
            pytest.fail(f"CRMKIT_REQUIRE_SERVICES is set and {message}")
        pytest.skip(message)
    return engine


#: Set to 1 (``make screenshots``), the browser tests save the README's pictures into ``docs/img/``.
SCREENSHOTS_ENV = "CRMKIT_UPDATE_SCREENSHOTS"


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    """Where a test saves the pictures it takes: ``docs/img/`` when ``CRMKIT_UPDATE_SCREENSHOTS=1``, else a
    temporary folder, so that a test run leaves the checkout as it found it."""
    if os.environ.get(SCREENSHOTS_ENV, "") not in ("", "0"):
        folder = Path(__file__).resolve().parents[1] / "docs" / "img"
    else:
        folder = tmp_path / "img"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def pg_url() -> Iterator[str]:
    """URL of a fresh, empty PostgreSQL schema, dropped after the test."""
    engine = _server_or_skip(PG_URL, "PostgreSQL")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with engine.begin() as conn:
        conn.execute(sa.text(f'create schema "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'drop schema "{schema}" cascade'))
        engine.dispose()


@pytest.fixture
def mariadb_url() -> Iterator[str]:
    """URL of a fresh, empty MariaDB database, dropped after the test."""
    engine = _server_or_skip(MARIADB_URL, "MariaDB")
    name = f"t_{uuid.uuid4().hex[:12]}"
    with engine.begin() as conn:
        conn.execute(sa.text(f"create database `{name}` character set utf8mb4"))
    url = sa.make_url(MARIADB_URL).set(database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f"drop database `{name}`"))
        engine.dispose()

"""Shared fixtures: real database servers, skipped with a clear reason when none answers.

CI sets ``CRMKIT_REQUIRE_SERVICES=1``: a server that does not answer is then a failure, not a skip. It also sets
``HYPOTHESIS_PROFILE=ci``: property tests then draw the same examples on every run (a red CI run is a change's
fault, not a lucky draw); local runs keep drawing new ones and remember what failed in ``.hypothesis/``.

``make test`` runs the suite in pytest-xdist workers (``-n auto --dist loadscope``: a module's tests stay in one
worker, so module-scoped fixtures are built once). Everything a test shares with others is per worker: database
schemas, databases and roles have random names, files live under ``tmp_path``, servers take a free port, and each
worker has its own Prefect home (below). Notebooks are marked ``slow`` here, as the few end-to-end tests that go
through Prefect or a browser are in their modules: ``-m "not slow"`` leaves them out.
"""

from __future__ import annotations

import os
import uuid
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
if _WORKER and "PREFECT_HOME" not in os.environ:
    _cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    os.environ["PREFECT_HOME"] = str(_cache / "crmkit" / f"prefect-{_WORKER}")
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
    """Notebooks (run by nbmake) each start a kernel and a temporary Prefect server: they are ``slow``."""
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.slow)


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

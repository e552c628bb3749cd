"""Shared fixtures: real database servers, skipped with a clear reason when none answers.

CI sets ``CRMKIT_REQUIRE_SERVICES=1``: a server that does not answer is then a failure, not a skip. It also sets
``HYPOTHESIS_PROFILE=ci``: property tests then draw the same examples on every run (a red CI run is a change's
fault, not a lucky draw); local runs keep drawing new ones and remember what failed in ``.hypothesis/``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

PG_URL = os.environ.get("CRMKIT_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
MARIADB_URL = os.environ.get("CRMKIT_MARIADB_URL", "mysql+pymysql://root:@127.0.0.1:3306/test?charset=utf8mb4")


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

"""The fuzz suite's marker, and the PostgreSQL and MariaDB stores its load runs write.

The marker: the suite runs in ``make test`` (the regression net); ``-m "not fuzz"`` leaves it out.

The servers are those of ``tests/conftest.py`` (``CRMKIT_PG_URL``, ``CRMKIT_MARIADB_URL``), found the same way:
one that does not answer is left out of the suite's runs (its own checks skip, the SQLite runs go on), unless
``CRMKIT_REQUIRE_SERVICES`` is set, which makes it a failure. The suite gets a fresh schema (PostgreSQL) and a
fresh database (MariaDB) of random names, dropped at the end, so parallel workers never share a store.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import sqlalchemy as sa

from ..conftest import MARIADB_URL, PG_URL, _server_or_skip


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "fuzz: the bad-file corpus run through the pipeline in capped child processes")


@dataclass
class Servers:
    """The server stores of one fuzz run: ``urls`` by store kind (each a fresh schema or database), ``missing``
    the kinds whose server did not answer, with why."""

    urls: dict[str, str] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)


def _pg_schema(engine: sa.Engine, name: str) -> str:
    with engine.begin() as conn:
        conn.execute(sa.text(f'create schema "{name}"'))
    return f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{name}"


def _mariadb_database(engine: sa.Engine, name: str) -> str:
    with engine.begin() as conn:
        conn.execute(sa.text(f"create database `{name}` character set utf8mb4"))
    return sa.make_url(MARIADB_URL).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="module")
def fuzz_servers() -> Iterator[Servers]:
    """A fresh PostgreSQL schema and MariaDB database for the module's fuzz run (dropped after it)."""
    servers = Servers()
    made: list[tuple[sa.Engine, str]] = []
    name = f"fuzz_{uuid.uuid4().hex[:12]}"
    try:
        for kind, url, what, make, drop in (
            ("postgresql", PG_URL, "PostgreSQL", _pg_schema, f'drop schema "{name}" cascade'),
            ("mariadb", MARIADB_URL, "MariaDB", _mariadb_database, f"drop database `{name}`"),
        ):
            try:
                engine = _server_or_skip(url, what)  # fails instead under CRMKIT_REQUIRE_SERVICES
            except pytest.skip.Exception as exc:
                servers.missing[kind] = str(exc)
                continue
            servers.urls[kind] = make(engine, name)
            made.append((engine, drop))
        yield servers
    finally:
        for engine, drop in made:
            with engine.begin() as conn:
                conn.execute(sa.text(drop))
            engine.dispose()

"""Fixtures of the crm_store tests: the same store on SQLite (a file under tmp_path) and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from crm_store import Base, init_store


def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store' / 'crm.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty store URL: a SQLite file, then a PostgreSQL schema (skipped when no server answers)."""
    if request.param == "sqlite":
        return sqlite_url(tmp_path)
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def engine(store_url: str) -> Iterator[sa.Engine]:
    engine = init_store(store_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: sa.Engine) -> Iterator[Session]:
    with Session(engine) as session:
        yield session


Snapshot = dict[str, list[tuple[Any, ...]]]


def _snapshot(session: Session) -> Snapshot:
    """Every row of every table, ordered by primary key: two equal snapshots mean nothing changed.

    On PostgreSQL each row also carries its ``xmin`` (the transaction that last wrote it), so even an update
    that writes the same values shows up.
    """
    on_postgres = session.get_bind().dialect.name == "postgresql"
    tables: dict[str, list[tuple[Any, ...]]] = {}
    for name, table in Base.metadata.tables.items():
        stmt = sa.select(table).order_by(*table.primary_key.columns)
        if on_postgres:
            stmt = stmt.add_columns(sa.literal_column(f"{name}.xmin::text").label("xmin"))
        tables[name] = [tuple(row) for row in session.execute(stmt)]
    return tables


def _sqlite_changes(session: Session) -> int | None:
    """Rows inserted, updated or deleted so far on the session's SQLite connection (``None`` elsewhere)."""
    if session.get_bind().dialect.name != "sqlite":
        return None
    return int(session.execute(sa.text("select total_changes()")).scalar_one())


@pytest.fixture
def snapshot(session: Session) -> Callable[[], Snapshot]:
    """Take a snapshot of every table through the test's session."""
    return lambda: _snapshot(session)


@pytest.fixture
def sqlite_changes(session: Session) -> Callable[[], int | None]:
    """SQLite's count of rows written so far on the test's session (``None`` on other backends)."""
    return lambda: _sqlite_changes(session)

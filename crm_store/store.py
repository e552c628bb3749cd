"""Opening the store: engine creation and schema migration."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

__all__ = ["init_store", "migrations_config"]

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def migrations_config(connection: sa.Connection | None = None) -> Config:
    """Build the Alembic config of crm_store in code (no ``alembic.ini``, no logging set-up).

    Args:
        connection: an open connection the migrations run on (passed to ``env.py`` through
            ``config.attributes["connection"]``).
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


#: SQLite page cache per connection, in KiB (negative: a size, not a page count). The default 2 MiB makes a
#: bulk load of ~100k source rows thrash on index pages; 64 MiB keeps the working set of such a load in memory.
SQLITE_CACHE_KIB = 65536


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    finally:
        cursor.close()


def _sqlite_wal_on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
    finally:
        cursor.close()


class StoreNotFoundError(LookupError):
    """A reader was pointed at a store that does not exist (a mistyped URL, a store never migrated)."""


def open_store(url: str) -> sa.Engine:
    """Open an existing CRM store for reading: never creates a database, a file or a table.

    Raises:
        StoreNotFoundError: the SQLite file does not exist, or the database holds no crmkit schema.
    """
    parsed = sa.make_url(url)
    shown = parsed.render_as_string(hide_password=True)
    if parsed.get_backend_name() == "sqlite" and not (parsed.database and Path(parsed.database).expanduser().is_file()):
        raise StoreNotFoundError(f"no crmkit store at {shown}: the file does not exist (run crmkit migrate first)")
    engine = sa.create_engine(parsed)
    try:
        has_schema = sa.inspect(engine).has_table("alembic_version")
    except Exception:
        engine.dispose()
        raise
    if not has_schema:
        engine.dispose()
        raise StoreNotFoundError(f"no crmkit store at {shown}: the database has no crmkit tables (run crmkit migrate)")
    return engine


def init_store(url: str) -> sa.Engine:
    """Open the CRM store at ``url`` and bring its schema to the latest migration.

    Safe to call on every start: on an up-to-date store the migration step does nothing. For SQLite the parent
    directory of the database file is created, foreign keys are enforced and the journal is WAL; an in-memory
    SQLite URL keeps one shared connection so that the schema survives.

    Args:
        url: a SQLAlchemy URL (``sqlite:///path/crm.db``, ``postgresql+psycopg://...``,
            ``mysql+pymysql://...?charset=utf8mb4``).

    Returns:
        The engine; the caller disposes of it.
    """
    parsed = sa.make_url(url)
    kwargs: dict[str, Any] = {}
    is_sqlite = parsed.get_backend_name() == "sqlite"
    in_memory = is_sqlite and parsed.database in (None, "", ":memory:")
    if is_sqlite and not in_memory:
        assert parsed.database is not None
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    if in_memory:
        kwargs.update(poolclass=sa.pool.StaticPool, connect_args={"check_same_thread": False})
    engine = sa.create_engine(parsed, **kwargs)
    if is_sqlite:
        sa.event.listen(engine, "connect", _sqlite_on_connect)
        if not in_memory:
            sa.event.listen(engine, "connect", _sqlite_wal_on_connect)
    try:
        with engine.begin() as conn:
            command.upgrade(migrations_config(conn), "head")
    except Exception:
        engine.dispose()
        raise
    logger.debug("crm store ready at %s", parsed.render_as_string(hide_password=True))
    return engine

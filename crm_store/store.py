"""Opening the store: engine creation and schema migration.

A SQLite store is private to its owner: its file is created ``0600`` (its ``-wal`` and ``-shm`` files take the
database file's mode) and the folders created for it ``0700``, whatever the umask.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import sqlite3
import stat
import tempfile
import threading
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from crm_store.errors import StoreError

__all__ = ["MIGRATIONS_DIR", "init_store", "migrations_config"]

logger = logging.getLogger(__name__)

#: Where the store's Alembic scripts live (``env.py``, ``versions/``); `migrations_config` points Alembic here.
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


class StoreNotFoundError(StoreError, LookupError):
    """A reader was pointed at a store that does not exist (a mistyped URL, a store never migrated)."""


#: Query parameters whose values are secrets (``?password=``, ``sslpassword=``, ``token=``): hidden when shown.
_SECRET_QUERY = re.compile(r"(?i)([?&;][^=&;#]*(?:pass|pwd|token|key|secret|sig|auth)[^=&;#]*=)[^&;#]*")
STORE_FILE_MODE = 0o600
STORE_DIR_MODE = 0o700


def shown_url(url: str | sa.URL) -> str:
    """The store URL as messages and logs show it: password and secret query values replaced by ``***``."""
    parsed = sa.make_url(url)
    return _SECRET_QUERY.sub(r"\1***", parsed.render_as_string(hide_password=True))


#: Alembic loads its environment and scripts through module-level state: one thread of a process at a time
#: (threads migrating at once failed with ``KeyError: 'script'``).
_ALEMBIC = threading.RLock()


@functools.cache
def _head() -> frozenset[str]:
    """The revisions the migrations end at (read from the scripts once per process; under `_ALEMBIC`)."""
    return frozenset(ScriptDirectory.from_config(migrations_config()).get_heads())


def _upgrade(conn: sa.Connection) -> None:
    """Bring the schema on ``conn`` to the head revision; a store already there costs one query (Alembic would load
    its environment and every script to find that out: ~25 ms)."""
    current = frozenset(MigrationContext.configure(conn).get_current_heads())
    with _ALEMBIC:
        if current != _head():
            command.upgrade(migrations_config(conn), "head")


def _migrated_sqlite() -> bytes:
    """The bytes of an empty SQLite store at the head revision: the migrations run once per process on an in-memory
    database. A new store file starts as a copy of them, which holds exactly what running the migrations on it would
    write (~5 ms instead of ~150: SQLite alters tables by copying them, and the scripts rebuild every table)."""
    with _ALEMBIC:
        return _migrate_in_memory()


@functools.cache
def _migrate_in_memory() -> bytes:
    raw = sqlite3.connect(":memory:", check_same_thread=False)
    engine = sa.create_engine("sqlite://", creator=lambda: raw, poolclass=sa.pool.StaticPool)
    sa.event.listen(engine, "connect", _sqlite_on_connect)
    try:
        with engine.begin() as conn:
            _upgrade(conn)
        return raw.serialize()
    finally:
        engine.dispose()
        raw.close()


def _create_migrated(path: Path) -> bool:
    """Create ``path`` ``0600`` holding `_migrated_sqlite`, unless it exists: False when another process or thread
    made it first. The bytes go to a temporary file of their own (synced), then a hard link puts them in place at
    once; on a file system without hard links the file is created empty and `init_store` migrates it."""
    data = _migrated_sqlite()
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".new")  # 0600 whatever the umask
    new = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(new, path)
        except FileExistsError:
            return False
        except OSError:
            try:
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, STORE_FILE_MODE))
            except FileExistsError:
                return False
            os.chmod(path, STORE_FILE_MODE)
        return True
    finally:
        new.unlink(missing_ok=True)


def _private_sqlite_file(path: Path) -> None:
    """Create a missing SQLite store file ``0600`` (and its missing folders ``0700``) before SQLite opens it, holding
    the migrated schema (`_migrated_sqlite`).

    SQLite creates a new database with ``0644 & ~umask`` and gives its ``-wal``/``-shm`` files the database file's
    mode, so a file created here first keeps all three private. The file is written under a temporary name and
    linked into place, so another process opening the same path sees no file or a whole store, never a part. An
    existing file keeps its mode and content; one that others can read is logged as a warning.
    """
    missing = []
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    for created in reversed(missing):
        try:
            created.mkdir(mode=STORE_DIR_MODE)
        except FileExistsError:
            continue
        os.chmod(created, STORE_DIR_MODE)
    if not path.exists() and _create_migrated(path):
        return
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        logger.warning("the store file %s can be read by other users (mode %o): chmod 600 it", path, mode)


def _stored_json(value: Any) -> str:
    """A JSON column's value as stored on SQLite and MariaDB: characters as they are (陈静, not ``\\u9648\\u9759``),
    so that SQL over the store (``LIKE '%陈静%'``, DuckDB, a BI tool) reads what crmkit wrote. PostgreSQL's
    ``jsonb`` keeps its own form. (Not :func:`crm_store._frames.json_text`, the canonical text values are
    compared by: the stored form stays as SQLAlchemy writes it, keys in their order.)"""
    return json.dumps(value, ensure_ascii=False)


def open_store(url: str) -> sa.Engine:
    """Open an existing CRM store for reading: never creates a database, a file or a table.

    Raises:
        StoreNotFoundError: the SQLite file does not exist, or the database holds no crmkit schema.
    """
    parsed = sa.make_url(url)
    shown = shown_url(parsed)
    if parsed.get_backend_name() == "sqlite" and not (parsed.database and Path(parsed.database).expanduser().is_file()):
        raise StoreNotFoundError(f"no crmkit store at {shown}: the file does not exist (run crmkit migrate first)")
    engine = sa.create_engine(parsed, json_serializer=_stored_json)
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
    SQLite URL keeps one shared connection so that the schema survives. A new SQLite file is created ``0600`` (its
    ``-wal`` and ``-shm`` follow), new folders for it ``0700``.

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
        if parsed.query.get("uri") in ("true", "1") or parsed.database.startswith("file:"):
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)  # a URI: as written
        else:
            _private_sqlite_file(Path(parsed.database).expanduser())
    if in_memory:
        kwargs.update(poolclass=sa.pool.StaticPool, connect_args={"check_same_thread": False})
    engine = sa.create_engine(parsed, json_serializer=_stored_json, **kwargs)
    if is_sqlite:
        sa.event.listen(engine, "connect", _sqlite_on_connect)
        if not in_memory:
            sa.event.listen(engine, "connect", _sqlite_wal_on_connect)
    try:
        with engine.begin() as conn:
            _upgrade(conn)
    except Exception:
        engine.dispose()
        raise
    logger.debug("crm store ready at %s", shown_url(parsed))
    return engine

"""The hand-written migrations build exactly the schema of the models; ``init_store`` is safe to repeat."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from crm_store import Base, init_store
from crm_store.store import MIGRATIONS_DIR, migrations_config


def _differences(engine: sa.Engine, metadata: sa.MetaData) -> list[object]:
    with engine.connect() as conn:
        return list(compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata))


def test_migrations_match_the_models(engine: sa.Engine) -> None:
    assert _differences(engine, Base.metadata) == []


def test_the_comparison_would_see_a_difference(engine: sa.Engine) -> None:
    drifted = sa.MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.tables.values():
        table.to_metadata(drifted)
    drifted.tables["customer"].append_column(sa.Column("nickname", sa.String(64)))
    diffs = _differences(engine, drifted)
    assert [(d[0], d[3].name) for d in diffs if isinstance(d, tuple)] == [("add_column", "nickname")]


def test_init_store_twice_is_a_no_op(store_url: str) -> None:
    engine = init_store(store_url)
    try:
        with engine.connect() as conn:
            tables = sorted(sa.inspect(conn).get_table_names())
            revision = MigrationContext.configure(conn).get_current_revision()
        again = init_store(store_url)
        again.dispose()
        with engine.connect() as conn:
            assert sorted(sa.inspect(conn).get_table_names()) == tables
            assert MigrationContext.configure(conn).get_current_revision() == revision
    finally:
        engine.dispose()
    head = ScriptDirectory.from_config(migrations_config()).get_current_head()
    assert revision == head == "0012"
    assert set(tables) == {*Base.metadata.tables, "alembic_version"}


def test_sqlite_store_creates_its_directory_and_enforces_foreign_keys(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "crm.db"
    engine = init_store(f"sqlite:///{path}")
    try:
        assert path.exists()
        with engine.connect() as conn:
            assert conn.execute(sa.text("pragma foreign_keys")).scalar_one() == 1
            assert conn.execute(sa.text("pragma journal_mode")).scalar_one() == "wal"
            assert conn.execute(sa.text("pragma cache_size")).scalar_one() == -65536
    finally:
        engine.dispose()


def _lines(sql: str | None) -> list[str]:
    return [line.rstrip(", ") for line in (sql or "").splitlines()]


def _schema(url: str) -> list[tuple[object, ...]]:
    """Every object of a SQLite database with its SQL, a statement's lines sorted (Alembic's table copies write a
    table's constraints in an order that varies from process to process), and the revision."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            master = conn.execute(sa.text("select type, name, tbl_name, sql from sqlite_master order by name"))
            objects = [(kind, name, table, sorted(_lines(sql))) for kind, name, table, sql in master]
            return [*objects, *conn.execute(sa.text("select * from alembic_version"))]
    finally:
        engine.dispose()


def _migrated_by_the_scripts(path: Path) -> str:
    """The URL of a SQLite file the migration scripts ran on, as Alembic runs them (no copy)."""
    url = f"sqlite:///{path}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        command.upgrade(migrations_config(conn), "head")
    engine.dispose()
    return url


def _temporary_files(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.startswith(".")]


def test_a_new_sqlite_store_holds_what_running_the_migrations_on_it_writes(tmp_path: Path) -> None:
    """A new store file is a copy of a schema migrated once per process: it must be what the scripts would have
    written into that file, statement for statement (a schema made from the models would differ)."""
    copied = f"sqlite:///{tmp_path / 'copied.db'}"
    init_store(copied).dispose()
    migrated = _migrated_by_the_scripts(tmp_path / "migrated.db")
    assert _schema(copied) == _schema(migrated)
    assert len(_schema(copied)) > len(Base.metadata.tables)
    assert (tmp_path / "copied.db").stat().st_mode & 0o777 == 0o600
    assert _temporary_files(tmp_path) == []


def test_without_hard_links_a_new_sqlite_store_is_migrated_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_links(*_: object) -> None:
        raise PermissionError("this file system has no hard links")

    monkeypatch.setattr("os.link", no_links)
    path = tmp_path / "crm.db"
    init_store(f"sqlite:///{path}").dispose()
    assert path.stat().st_mode & 0o777 == 0o600
    migrated = _migrated_by_the_scripts(tmp_path / "migrated.db")
    assert _schema(f"sqlite:///{path}") == _schema(migrated)


#: Six threads of a new process (nothing migrated in it yet) open one new SQLite store at once.
_THREADS = """
import sys, threading
from crm_store import init_store
together, errors = threading.Barrier(6, timeout=30), []
def open_it():
    try:
        together.wait()
        init_store(sys.argv[1]).dispose()
    except BaseException as exc:
        errors.append(repr(exc))
threads = [threading.Thread(target=open_it) for _ in range(6)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(errors)
"""


def test_threads_of_a_new_process_opening_one_new_sqlite_store_all_open_it(tmp_path: Path) -> None:
    path = tmp_path / "crm.db"
    done = subprocess.run(
        [sys.executable, "-c", _THREADS, f"sqlite:///{path}"], capture_output=True, text=True, timeout=120
    )
    assert done.stdout.strip() == "[]", done.stdout + done.stderr
    assert _temporary_files(tmp_path) == []
    assert _schema(f"sqlite:///{path}")[-1] == ("0012",)


def test_in_memory_sqlite_keeps_its_schema() -> None:
    engine = init_store("sqlite://")
    try:
        with engine.connect() as conn:
            assert "customer" in sa.inspect(conn).get_table_names()
    finally:
        engine.dispose()


def test_init_store_leaves_logging_alone(tmp_path: Path) -> None:
    root = logging.getLogger()
    app = logging.getLogger("crmkit.test")
    handlers, level = list(root.handlers), root.level
    engine = init_store(f"sqlite:///{tmp_path / 'crm.db'}")
    engine.dispose()
    assert root.handlers == handlers
    assert root.level == level
    assert not app.disabled  # logging.config.fileConfig would have disabled existing loggers


def test_downgrade_to_base_and_back(tmp_path: Path) -> None:
    engine = init_store(f"sqlite:///{tmp_path / 'crm.db'}")
    try:
        with engine.begin() as conn:
            command.downgrade(migrations_config(conn), "base")
            assert sa.inspect(conn).get_table_names() == ["alembic_version"]
            command.upgrade(migrations_config(conn), "head")
        assert _differences(engine, Base.metadata) == []
    finally:
        engine.dispose()


@pytest.mark.mariadb
@pytest.mark.parametrize("driver", ["mysql+pymysql", "mariadb+pymysql"])
def test_mariadb_tables_compare_keys_as_bytes_and_the_migration_goes_back(mariadb_url: str, driver: str) -> None:
    """Through a ``mysql://`` or a ``mariadb://`` URL (SQLAlchemy's MariaDB dialect reads ``mariadb_*`` table
    options only: its tables got the server's default collation, and 0008's foreign key to them failed)."""
    engine = init_store(sa.make_url(mariadb_url).set(drivername=driver).render_as_string(hide_password=False))
    try:
        with engine.begin() as conn:
            collations = conn.execute(
                sa.text(
                    "select distinct table_collation from information_schema.tables"
                    " where table_schema = database() and table_name != 'alembic_version'"
                )
            ).scalars()
            assert set(collations) == {"utf8mb4_nopad_bin"}
            command.downgrade(migrations_config(conn), "0003")
            command.upgrade(migrations_config(conn), "head")
        assert _differences(engine, Base.metadata) == []
    finally:
        engine.dispose()


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgresql", marks=pytest.mark.postgres),
        pytest.param("mariadb", marks=pytest.mark.mariadb),
    ]
)
def any_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh store URL: a SQLite file, a PostgreSQL schema, a MariaDB database (skipped when no server answers)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'crm.db'}"
    return str(request.getfixturevalue("pg_url" if request.param == "postgresql" else "mariadb_url"))


def test_0012_drops_the_unused_organisation_table_and_going_back_restores_it(any_store_url: str) -> None:
    organisation = sa.table("organisation", sa.column("organisation_id"), sa.column("name"), sa.column("key"))
    engine = init_store(any_store_url)
    try:
        with engine.begin() as conn:
            assert "organisation" not in sa.inspect(conn).get_table_names()
            command.downgrade(migrations_config(conn), "0011")
            inspector = sa.inspect(conn)
            assert [c["name"] for c in inspector.get_columns("organisation")] == ["organisation_id", "name", "key"]
            assert inspector.get_pk_constraint("organisation")["constrained_columns"] == ["organisation_id"]
            unique = [*inspector.get_unique_constraints("organisation"), *inspector.get_indexes("organisation")]
            assert ["key"] in [u["column_names"] for u in unique if u.get("unique", True)]  # as 0001 made it
            if conn.dialect.name in ("mysql", "mariadb"):
                collation = conn.execute(
                    sa.text(
                        "select table_collation from information_schema.tables"
                        " where table_schema = database() and table_name = 'organisation'"
                    )
                ).scalar_one()
                assert collation == "utf8mb4_nopad_bin"  # like every table since migration 0004
            conn.execute(organisation.insert().values(organisation_id="o1", name="某某公司", key="某某"))
            command.upgrade(migrations_config(conn), "head")
            assert "organisation" not in sa.inspect(conn).get_table_names()
        assert _differences(engine, Base.metadata) == []
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "name",
    [
        "env.py",
        "script.py.mako",
        "versions/0001_initial.py",
        "versions/0002_activity_lineage_and_source_schema.py",
        "__init__.py",
    ],
)
def test_migration_files_ship_in_the_package(name: str) -> None:
    # migrations/ and versions/ are packages so that setuptools' find includes their .py files in a wheel;
    # script.py.mako rides on the package-data glob "*.mako".
    assert (MIGRATIONS_DIR / name).is_file()
    assert (MIGRATIONS_DIR / "versions" / "__init__.py").is_file()


def test_upgrade_from_0001_keeps_activities_and_adds_their_lineage(store_url: str) -> None:
    engine = init_store(store_url)
    try:
        with engine.begin() as conn:
            command.downgrade(migrations_config(conn), "0001")
            assert "source_schema" not in sa.inspect(conn).get_table_names()
            conn.execute(
                sa.text(
                    "insert into source_record (source, source_key, row_hash, payload, status, first_run_id) "
                    "values ('crm', '1', 'h', '{}', 'loaded', 'run-1')"
                )
            )
            conn.execute(sa.text("insert into activity (kind, source, source_key) values ('order', 'crm', '1')"))
            command.upgrade(migrations_config(conn), "head")
        assert _differences(engine, Base.metadata) == []
        with engine.begin() as conn:
            assert conn.execute(sa.text("select kind, details from activity")).one() == ("order", None)
            foreign_keys = sa.inspect(conn).get_foreign_keys("activity")
            assert {"source_record", "customer"} == {fk["referred_table"] for fk in foreign_keys}
            conn.execute(sa.text("delete from source_record"))  # the activity row goes with its source row
            assert conn.execute(sa.text("select count(*) from activity")).scalar_one() == 0
    finally:
        engine.dispose()

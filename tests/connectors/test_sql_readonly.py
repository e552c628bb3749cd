"""SQL sources are only read: a query that writes is refused, and what slips past the check cannot write.

Every test runs on SQLite, PostgreSQL and MariaDB (the servers are skipped when they do not answer). The
source reads with a password in its URL (a real one on MariaDB; PostgreSQL's trust login ignores it), so each
message is also checked for not showing it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa

from connectors import SourceError, SqlParams, get_connector, next_cursor
from connectors._sql import query_refusal

PASSWORD = "Ro-9xQv!secret"
ROWS = [(1, "a", 10), (2, "b", 20)]


@dataclass(frozen=True)
class Db:
    """A database holding table ``t`` (``ROWS``): the URL a source reads with, and one to inspect it with."""

    dialect: str
    url: str
    admin: str

    def state(self) -> tuple[list[str], list[tuple[object, ...]]]:
        """The database's tables and the rows of ``t``: what a read must leave as it found it."""
        engine = sa.create_engine(self.admin)
        try:
            with engine.connect() as conn:
                tables = sorted(sa.inspect(conn).get_table_names())
                rows = [tuple(r) for r in conn.execute(sa.text("select id, v, seq from t order by id"))]
        finally:
            engine.dispose()
        return tables, rows

    def run(self, *statements: str) -> None:
        engine = sa.create_engine(self.admin)
        try:
            with engine.begin() as conn:
                for statement in statements:
                    conn.exec_driver_sql(statement)
        finally:
            engine.dispose()


def _with_password(url: str) -> str:
    return sa.make_url(url).set(password=PASSWORD).render_as_string(hide_password=False)


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgresql", marks=pytest.mark.postgres),
        pytest.param("mariadb", marks=pytest.mark.mariadb),
    ]
)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Db:
    """Table ``t (id, v, seq)`` holding `ROWS` in a fresh SQLite file, PostgreSQL schema or MariaDB database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'source.db'}"
        found = Db("sqlite", url, url)
    elif request.param == "postgresql":
        url = str(request.getfixturevalue("pg_url"))
        found = Db("postgresql", _with_password(url), url)
    else:
        found = Db("mariadb", request.getfixturevalue("mariadb_user_url"), request.getfixturevalue("mariadb_url"))
    found.run(
        "create table t (id integer primary key, v varchar(20), seq integer)",
        *(f"insert into t values ({i}, '{v}', {s})" for i, v, s in ROWS),
    )
    return found


def read(db: Db, cursor: object | None = None, **params: object) -> pl.DataFrame:
    validated = SqlParams.model_validate({"url": db.url, **params})
    batches = list(get_connector("sql")(validated, source="legacy", cursor=cursor))
    return pl.concat(batches, how="diagonal") if batches else pl.DataFrame()


def refused(db: Db, query: str) -> SourceError:
    """The error of reading ``query``, checked to be one readable line without the password or a traceback."""
    with pytest.raises(SourceError) as info:
        read(db, query=query, key="id")
    error = info.value
    assert error.source == "legacy"
    assert PASSWORD not in str(error) and PASSWORD not in repr(error)
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)
    assert "\n" not in str(error)
    return error


WRITES = {
    "create": "CREATE TABLE x (a integer)",
    "insert": "INSERT INTO t (id, v, seq) VALUES (9, 'w', 90)",
    "drop": "DROP TABLE t",
    "multi": "SELECT 1 AS id; DROP TABLE t",
    "cte": "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d",
    "select_into": "SELECT * INTO x FROM t",
    "for_update": "SELECT * FROM t FOR UPDATE",
    "update": "update t set v = 'w'",
}


@pytest.mark.parametrize("query", WRITES.values(), ids=WRITES.keys())
def test_writing_query_is_refused_and_changes_nothing(db: Db, query: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    before = db.state()
    error = refused(db, query)
    assert "the query of source 'legacy' is not run: it " in str(error)
    assert str(error).startswith(sa.make_url(db.url).render_as_string(hide_password=True) + ": ")
    assert db.state() == before
    assert PASSWORD not in caplog.text


def test_refusal_says_why() -> None:
    assert query_refusal("CREATE TABLE x (a int)", "sqlite") == (
        "it starts with CREATE, not SELECT, WITH, VALUES or TABLE"
    )
    assert query_refusal("select 1; drop table t", "mysql") == (
        "it holds more than one statement (a ';' before its end)"
    )
    assert query_refusal("with d as (delete from t returning *) select * from d", "postgresql") == (
        "it contains DELETE, which would write or lock (only reading is allowed)"
    )


@pytest.mark.parametrize(
    ("dialect", "query"),
    [
        ("sqlite", "select 1;  \n"),
        ("sqlite", "select 'a;b' as x, \"delete\", [into;] from t -- ; drop table t\n;"),
        ("sqlite", "  (select 1) union (select 2)"),
        ("mysql", "select 'it\\'s; delete', `insert` from t # ; drop table t"),
        ("mysql", "select update_time, deleted_at, intonation from t"),
        ("postgresql", "select $$ ; delete $$, E'\\' ; drop', 'it''s; into' /* ; */"),
        ("postgresql", "values (1, 'a')"),
        ("postgresql", "table t"),
    ],
)
def test_reading_queries_pass_the_check(dialect: str, query: str) -> None:
    assert query_refusal(query, dialect) is None


@pytest.mark.parametrize(
    ("dialect", "query"),
    [
        # what one server reads as a string or a comment, another runs: the check follows each server
        ("postgresql", "select 'a\\' ; drop table t; --'"),  # no backslash escapes in standard strings
        ("postgresql", "select 1 # 1; drop table t"),  # '#' is an operator, not a comment
        ("mysql", "select 1 /*! ; drop table t */"),  # executable comment
        ("mysql", "select 1--1; drop table t"),  # '--' starts a comment only before a blank
        ("postgresql", "select $f$ ; '$f$; drop table t; --'"),
        ("sqlite", "select 1 into t"),
        ("sqlite", "-- nothing but a comment"),
    ],
)
def test_queries_hiding_a_write_are_refused(dialect: str, query: str) -> None:
    assert query_refusal(query, dialect) is not None


#: A query that passes the check and writes through a function: only the read-only connection stops it.
WRITING_FUNCTIONS = {
    "postgresql": "create function crmkit_w() returns integer language sql as "
    "'insert into t values (9, ''w'', 90) returning 1'",
    "mariadb": "create function crmkit_w() returns integer modifies sql data "
    "begin insert into t values (9, 'w', 90); return 1; end",
}


@pytest.mark.parametrize(  # SQLite has no SQL function that writes: see the read-only probe test
    "db",
    [pytest.param("postgresql", marks=pytest.mark.postgres), pytest.param("mariadb", marks=pytest.mark.mariadb)],
    indirect=True,
)
def test_write_through_a_function_fails_on_the_read_only_connection(db: Db) -> None:
    db.run(WRITING_FUNCTIONS[db.dialect])
    before = db.state()
    query = "select crmkit_w() as id"
    assert query_refusal(query, db.dialect) is None
    error = refused(db, query)
    assert "READ ONLY" in str(error).upper().replace("-", " ")
    assert "the query must only read" in str(error)
    assert db.state() == before


#: What each connection says about itself while a source is read: it cannot write.
READ_ONLY_PROBES = {
    "sqlite": ("select query_only as id from pragma_query_only()", "1"),
    "postgresql": ("select current_setting('transaction_read_only') as id", "on"),
    "mariadb": ("select @@session.tx_read_only as id", "1"),
}


def test_the_connection_is_read_only(db: Db) -> None:
    query, expected = READ_ONLY_PROBES[db.dialect]
    assert read(db, query=query, key="id")["id"].to_list() == [expected]


def test_select_still_reads_incrementally_after_a_trailing_comment(db: Db) -> None:
    params = {"query": "SELECT id, v, seq FROM t; -- all of t\n", "key": "id", "cursor_column": "seq", "chunk_size": 1}
    first = read(db, **params)
    assert first["v"].to_list() == ["a", "b"] and first["_error_code"].to_list() == [None, None]
    validated = SqlParams.model_validate({"url": db.url, **params})
    assert next_cursor(first, validated, None) == "20"
    db.run("insert into t values (3, 'c', 30)")
    assert read(db, cursor="20", **params)["_source_key"].to_list() == ["3"]
    assert read(db, table="t", cursor="20", cursor_column="seq")["v"].to_list() == ["c"]


def test_stopping_early_leaves_no_open_result(db: Db) -> None:
    """A reader that stops after the first batch (key suggestion, preview): no warning, nothing changed."""
    db.run(*(f"insert into t values ({i}, 'r{i}', {i * 10})" for i in range(3, 50)))
    before = db.state()
    params = SqlParams.model_validate({"url": db.url, "table": "t", "chunk_size": 5})
    batches = get_connector("sql")(params, source="legacy")
    assert next(batches).height == 5
    batches.close()
    assert db.state() == before


def test_sqlite_file_is_opened_read_only_and_never_created(tmp_path: Path) -> None:
    missing = tmp_path / "typo.db"
    with pytest.raises(SourceError, match=r"no SQLite database file at .*typo\.db"):
        read(Db("sqlite", f"sqlite:///{missing}", ""), table="t")
    assert not missing.exists()
    odd = tmp_path / "客户 a#1%&=.db"  # characters a file: URI must escape
    Db("sqlite", "", f"sqlite:///{odd}").run(
        "create table t (id integer primary key, v text)", "insert into t values (1, 'a')"
    )
    assert read(Db("sqlite", f"sqlite:///{odd}", ""), table="t")["v"].to_list() == ["a"]

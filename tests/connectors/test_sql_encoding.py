"""SQL connector: text whose bytes are not UTF-8 (#11). SQLite keeps any bytes in a TEXT value (a BLOB cast to TEXT),
and so does a PostgreSQL database in ``SQL_ASCII``: such a value once failed the whole source (SQLite: ``Could not
decode to UTF-8 column``; PostgreSQL: a ``TypeError`` before the first row, which stopped the whole run). Its row is
now read, its value with U+FFFD for each undecodable sequence, and quarantined as ``bad_encoding`` naming the column
and the bytes; every other row reads as before."""

from __future__ import annotations

import logging
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa

from connectors import SourceError, SqlParams, get_connector

from ..conftest import MARIADB_URL, PG_URL, _server_or_skip

LINEAGE = ["_source_key", "_skip_reason", "_error_code", "_error_detail"]


def read(url: str, **params: object) -> pl.DataFrame:
    batches = get_connector("sql")(SqlParams.model_validate({"url": url, **params}), source="legacy")
    return pl.concat(list(batches), how="diagonal")


@pytest.fixture
def legacy(tmp_path: Path) -> str:
    """A SQLite table with undecodable text in a value, in two columns of one row, in a typed column and in a key."""
    db = tmp_path / "legacy.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE kh (id TEXT PRIMARY KEY, name TEXT, born DATE, note TEXT)")
        conn.executescript(
            """
            INSERT INTO kh VALUES ('k1', '张伟', '1985-03-05', NULL);
            INSERT INTO kh VALUES ('k2', CAST(x'fffe6162' AS TEXT), '1990-01-02', 'ok');
            INSERT INTO kh VALUES ('k3', CAST(x'c3' AS TEXT), CAST(x'ff31' AS TEXT), CAST(x'e5bca0ed' AS TEXT));
            INSERT INTO kh VALUES (CAST(x'6b34ff' AS TEXT), '李娜', NULL, NULL);
            INSERT INTO kh VALUES ('k5', x'ff00', NULL, '');
            INSERT INTO kh VALUES ('k6', '王芳', NULL, '\ufffd already replaced');
            """
        )
    return f"sqlite:///{db}"


def test_a_sqlite_value_that_is_not_utf8_quarantines_its_row_only(
    legacy: str, caplog: pytest.LogCaptureFixture
) -> None:
    df = read(legacy, table="kh")
    assert df.height == 6  # every row read: none lost, none failing the source
    rows = {r["_source_key"]: r for r in df.iter_rows(named=True)}
    assert set(rows) == {"k1", "k2", "k3", "k5", "k6", "row:4"}
    # rows without undecodable text read as before, a BLOB stays a BLOB (hex), a real U+FFFD is not a problem
    for key, name in [("k1", "张伟"), ("k5", "0xff00"), ("k6", "王芳")]:
        assert rows[key]["name"] == name and rows[key]["_error_code"] is None, rows[key]
    assert rows["k1"]["born"] == "1985-03-05"
    # the value is shown with U+FFFD; the detail names the column and the bytes
    assert rows["k2"]["name"] == "\ufffd\ufffdab" and rows["k2"]["note"] == "ok"
    assert rows["k2"]["_error_code"] == "bad_encoding"
    assert rows["k2"]["_error_detail"] == (
        "column 'name' is not valid UTF-8: undecodable bytes b'\\xff' at byte offset 0 and 1 more"
    )
    # several columns of one row, a DATE column among them (its type's conversion is not tried on it)
    assert (rows["k3"]["name"], rows["k3"]["born"], rows["k3"]["note"]) == ("\ufffd", "\ufffd1", "张\ufffd")
    assert rows["k3"]["_error_detail"] == (
        "column 'name' is not valid UTF-8: undecodable bytes b'\\xc3' at byte offset 0; "
        "column 'born' is not valid UTF-8: undecodable bytes b'\\xff' at byte offset 0; "
        "column 'note' is not valid UTF-8: undecodable bytes b'\\xed' at byte offset 3"
    )
    # an undecodable key is no key (its U+FFFD could make it another row's): the row is keyed by its place
    assert rows["row:4"]["id"] == "k4\ufffd" and rows["row:4"]["_error_code"] == "bad_encoding"
    assert rows["row:4"]["_error_detail"] == (
        "key column 'id' is not valid UTF-8: undecodable bytes b'\\xff' at byte offset 2"
    )
    assert "3 rows of rows 1-6 hold text that is not UTF-8 (columns id, name, born, note)" in caplog.text


def test_a_query_reads_undecodable_text_the_same_way(legacy: str) -> None:
    df = read(legacy, query="SELECT id, name, note FROM kh ORDER BY rowid", key="id")
    assert df["_source_key"].to_list() == ["k1", "k2", "k3", "row:4", "k5", "k6"]
    assert df["_error_code"].to_list() == [None, "bad_encoding", "bad_encoding", "bad_encoding", None, None]
    assert df["name"][1] == "\ufffd\ufffdab"


def test_undecodable_text_with_a_null_key_is_malformed_and_says_both(tmp_path: Path) -> None:
    db = tmp_path / "legacy.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE kh (id TEXT, name TEXT)")
        conn.execute("INSERT INTO kh VALUES (NULL, CAST(x'ff' AS TEXT))")
        conn.execute("INSERT INTO kh VALUES ('', '')")
    df = read(f"sqlite:///{db}", table="kh", key="id")
    assert df.select(LINEAGE).rows() == [
        (
            "row:1",
            None,
            "malformed_row",
            "key column id is NULL; column 'name' is not valid UTF-8: undecodable bytes b'\\xff' at byte offset 0",
        ),
        ("", "empty_row", None, None),
    ]


# --- PostgreSQL: a SQL_ASCII database keeps any bytes in its text -------------------------------------------------


@pytest.fixture
def sql_ascii_url() -> Iterator[str]:
    """A fresh PostgreSQL database in SQL_ASCII holding a table with one text value that is not UTF-8."""
    admin = _server_or_skip(PG_URL, "PostgreSQL")
    name = f"t_{uuid.uuid4().hex[:12]}"
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(
            f"CREATE DATABASE {name} ENCODING 'SQL_ASCII' TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C'"
        )
    url = sa.make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    try:
        # a connection in UTF8 stores only UTF-8; the bad value goes in as bytes the server does not check
        writer = sa.create_engine(sa.make_url(url).update_query_dict({"client_encoding": "utf8"}))
        with writer.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE kh (id varchar(10) PRIMARY KEY, name text, born date)")
            conn.exec_driver_sql(
                "INSERT INTO kh VALUES ('k1', '张伟', '1985-03-05'), "
                "('k2', convert_from(decode('fffe6162', 'hex'), 'SQL_ASCII'), NULL), ('k3', 'ok', NULL)"
            )
        writer.dispose()
        yield url
    finally:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql(f"DROP DATABASE {name} WITH (FORCE)")
        admin.dispose()


@pytest.mark.parametrize("how", ["table", "query"])
def test_a_postgresql_sql_ascii_database_reads_and_quarantines_undecodable_text(sql_ascii_url: str, how: str) -> None:
    params = {"table": "kh"} if how == "table" else {"query": "SELECT * FROM kh ORDER BY id", "key": "id"}
    df = read(sql_ascii_url, **params)
    assert df.select("id", "name", "born", "_error_code").rows() == [
        ("k1", "张伟", "1985-03-05", None),
        ("k2", "\ufffd\ufffdab", None, "bad_encoding"),
        ("k3", "ok", None, None),
    ]
    assert df["_error_detail"][1] == (
        "column 'name' is not valid UTF-8: undecodable bytes b'\\xff' at byte offset 0 and 1 more"
    )


def test_postgresql_in_utf8_is_read_as_before(pg_url: str) -> None:
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE kh (id integer PRIMARY KEY, name text, note varchar(20))")
        conn.exec_driver_sql("INSERT INTO kh VALUES (1, '张伟', '\ufffd'), (2, '', NULL)")
    engine.dispose()
    df = read(pg_url, table="kh")
    assert df.select("id", "name", "note", "_error_code").rows() == [
        ("1", "张伟", "\ufffd", None),
        ("2", "", None, None),
    ]


# --- a driver that fails to start is the source's failure, not the run's ------------------------------------------


def test_a_driver_that_fails_to_start_fails_only_its_source(caplog: pytest.LogCaptureFixture) -> None:
    """PyMySQL refuses ``charset=binary`` with a LookupError (not a database error): it once escaped `read_sql` and
    stopped the whole run."""
    caplog.set_level(logging.DEBUG)
    engine = _server_or_skip(MARIADB_URL, "MariaDB")
    engine.dispose()
    url = sa.make_url(MARIADB_URL).set(password="Pw-secret-1").update_query_dict({"charset": "binary"})
    with pytest.raises(SourceError, match=r"cannot connect: LookupError: unknown encoding: binary") as info:
        read(url.render_as_string(hide_password=False), query="SELECT 1 AS id", key="id")
    assert "Pw-secret-1" not in str(info.value) and "Pw-secret-1" not in caplog.text

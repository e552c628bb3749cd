"""SQL connector: SQLite in a temp folder, and the real MariaDB with a legacy pinyin-column schema."""

from __future__ import annotations

import datetime as dt
import decimal
import gc
import logging
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pydantic
import pytest
import sqlalchemy as sa

from connectors import SourceError, SqlParams, get_connector, next_cursor

PASSWORD = "Pw-7f3kQz!secret"


def read(**params: object) -> pl.DataFrame:
    return pl.concat(list(iter_batches(**params)), how="diagonal")


def iter_batches(cursor: object | None = None, **params: object) -> Iterator[pl.DataFrame]:
    return get_connector("sql")(SqlParams.model_validate(params), source="legacy", cursor=cursor)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'legacy.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "create table kh (id integer primary key, name text, phone numeric(20, 0), score real, "
            "birthday date, updated datetime, photo blob, note text)"
        )
        conn.execute(
            sa.text("insert into kh values (:id, :name, :phone, :score, :birthday, :updated, :photo, :note)"),
            [
                {
                    "id": 2,
                    "name": "张伟",
                    "phone": 13800138000,
                    "score": 3.0,
                    "birthday": "1985-03-05",
                    "updated": "2024-05-01 10:30:00",
                    "photo": b"\xff\x00",
                    "note": None,
                },
                {
                    "id": 1,
                    "name": "李娜",
                    "phone": None,
                    "score": 2.5,
                    "birthday": None,
                    "updated": "2024-04-01 08:00:00",
                    "photo": b"ok",
                    "note": "",
                },
            ],
        )
        conn.exec_driver_sql("create table pair (a text, b integer, v text)")
        conn.exec_driver_sql("insert into pair values ('x', 1, 'one'), ('x', 2, 'two'), (null, 3, 'three')")
    engine.dispose()
    return url


def test_sqlite_table_values_as_text_in_key_order(sqlite_url: str) -> None:
    df = read(url=sqlite_url, table="kh")
    assert df.columns[:8] == ["id", "name", "phone", "score", "birthday", "updated", "photo", "note"]
    assert all(dtype == pl.String for dtype in df.dtypes)
    assert df["_source_key"].to_list() == ["1", "2"]
    assert df["_source"].unique().to_list() == ["legacy"]
    second = df.row(1, named=True)
    assert second["phone"] == "13800138000"
    assert second["score"] == "3"
    assert second["birthday"] == "1985-03-05"
    assert second["updated"] == "2024-05-01T10:30:00"
    assert second["photo"] == "0xff00"
    assert second["note"] is None
    first = df.row(0, named=True)
    assert (first["score"], first["photo"], first["note"], first["phone"]) == ("2.5", "ok", "", None)
    assert df["_error_code"].to_list() == [None, None]
    assert df["_row_hash"].n_unique() == 2


def test_query_composite_key_and_null_key(sqlite_url: str) -> None:
    df = read(url=sqlite_url, query="select a, b, v, v as v from pair order by b", key=["a", "b"])
    assert df.columns[:4] == ["a", "b", "v", "v_2"]
    assert df["_source_key"].to_list() == ["x|1", "x|2", "row:3"]
    assert df["_error_code"].to_list() == [None, None, "malformed_row"]
    assert df["_error_detail"][2] == "key column a is NULL"


def test_composite_key_parts_are_escaped(tmp_path: Path) -> None:
    """``('x|y', 'z')`` and ``('x', 'y|z')`` joined plainly would both be ``x|y|z``: escaped, they stay two."""
    url = f"sqlite:///{tmp_path / 'pipes.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("create table kh (a text, b text, v text)")
        conn.exec_driver_sql(r"insert into kh values ('x|y', 'z', 'one'), ('x', 'y|z', 'two'), ('x\', '|z', 'three')")
    engine.dispose()
    df = read(url=url, query="select a, b, v from kh order by v", key=["a", "b"])
    assert df["_source_key"].to_list() == [r"x\|y|z", r"x\\|\|z", r"x|y\|z"]
    assert df["_source_key"].n_unique() == 3
    assert df["_error_code"].to_list() == [None, None, None]
    assert df["v"].to_list() == ["one", "three", "two"]


def test_bad_keys_are_quarantined_not_raised(tmp_path: Path) -> None:
    """A repeated, NULL or overlong key fails its row (keyed by its place in the read), never the source."""
    url = f"sqlite:///{tmp_path / 'keys.db'}"
    engine = sa.create_engine(url)
    long = "K" * 300
    with engine.begin() as conn:
        conn.exec_driver_sql("create table kh (n integer primary key, code text, v text)")
        conn.execute(
            sa.text("insert into kh values (:n, :code, :v)"),
            [
                {"n": 1, "code": "A1", "v": "first"},
                {"n": 2, "code": "A1", "v": "again"},
                {"n": 3, "code": None, "v": "no key"},
                {"n": 4, "code": long, "v": "long key"},
                {"n": 5, "code": "B2", "v": "fine"},
                {"n": 6, "code": "A1", "v": "third"},
            ],
        )
    engine.dispose()
    df = read(url=url, query="select code, v from kh order by n", key="code", chunk_size=2)
    assert df["v"].to_list() == ["first", "again", "no key", "long key", "fine", "third"]
    assert df["_source_key"].to_list() == ["A1", "row:2", "row:3", "row:4", "B2", "row:6"]
    assert df["_error_code"].to_list() == [
        None,
        "duplicate_key",
        "malformed_row",
        "malformed_row",
        None,
        "duplicate_key",
    ]
    assert df["_error_detail"].to_list() == [
        None,
        "the same key as row 1 of this read",
        "key column code is NULL",
        "the key is 300 characters long; the store keeps 255",
        None,
        "the same key as row 1 of this read",
    ]
    by_table = read(url=url, table="kh", key="code")  # table mode: ordered by the key, NULL first on SQLite
    assert by_table["_error_code"].to_list() == [
        "malformed_row",
        None,
        "duplicate_key",
        "duplicate_key",
        None,
        "malformed_row",
    ]


def test_params_checks() -> None:
    with pytest.raises(pydantic.ValidationError, match="exactly one of table and query"):
        SqlParams.model_validate({"url": "sqlite://", "table": "a", "query": "select 1"})
    with pytest.raises(pydantic.ValidationError, match="key is required with query"):
        SqlParams.model_validate({"url": "sqlite://", "query": "select 1"})
    with pytest.raises(pydantic.ValidationError, match="tabel"):
        SqlParams.model_validate({"url": "sqlite://", "tabel": "a"})
    assert SqlParams.model_validate({"url": "sqlite://", "table": "a", "key": "id"}).key == ["id"]


def test_password_hidden_in_repr_and_validation_errors() -> None:
    url = f"mysql+pymysql://crm:{PASSWORD}@db.example:3306/crm"
    params = SqlParams.model_validate({"url": url, "table": "KHXX"})
    assert PASSWORD not in repr(params) and PASSWORD not in str(params)
    assert "crm:***@db.example" in repr(params)
    with pytest.raises(pydantic.ValidationError) as info:
        SqlParams.model_validate({"url": url, "table": "KHXX", "query": "select 1"})
    assert PASSWORD not in str(info.value)
    with pytest.raises(pydantic.ValidationError) as info:
        SqlParams.model_validate({"url": f"not a url {PASSWORD}", "table": "KHXX"})
    assert PASSWORD not in str(info.value)


def test_unreachable_server_hides_password(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    url = f"mysql+pymysql://crm:{PASSWORD}@127.0.0.1:1/crm"
    with pytest.raises(SourceError) as info:
        read(url=url, table="KHXX")
    text = str(info.value)
    assert text.startswith("mysql+pymysql://crm:***@127.0.0.1:1/crm: ")
    assert "Can't connect" in text
    assert PASSWORD not in text and PASSWORD not in repr(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert PASSWORD not in caplog.text


def test_missing_table_and_key_column(sqlite_url: str) -> None:
    with pytest.raises(SourceError, match=r"no table named 'khxx'; tables: kh, pair"):
        read(url=sqlite_url, table="khxx")
    with pytest.raises(SourceError, match=r"has no primary key: set key"):
        read(url=sqlite_url, table="pair")
    with pytest.raises(SourceError, match=r"table 'kh' has no column 'KHBH'"):
        read(url=sqlite_url, table="kh", key="KHBH")
    with pytest.raises(SourceError, match=r"the query has no column 'id' \(key\)"):
        read(url=sqlite_url, query="select a from pair", key="id")
    with pytest.raises(SourceError, match=r"the query: OperationalError: no such table: nope"):
        read(url=sqlite_url, query="select * from nope", key="id")


def test_password_env(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    url = "mysql+pymysql://crm@127.0.0.1:1/crm"
    with pytest.raises(SourceError, match=r"environment variable CRMKIT_T_DB_PW \(password_env\) is not set"):
        read(url=url, table="kh", password_env="CRMKIT_T_DB_PW")
    monkeypatch.setenv("CRMKIT_T_DB_PW", PASSWORD)
    params = SqlParams.model_validate({"url": url, "table": "kh", "password_env": "CRMKIT_T_DB_PW"})
    assert params.engine_url().password == PASSWORD
    with pytest.raises(SourceError, match="Can't connect") as info:
        read(url=url, table="kh", password_env="CRMKIT_T_DB_PW")
    assert PASSWORD not in str(info.value) and PASSWORD not in caplog.text


@pytest.mark.parametrize("mode", ["table", "query"])
def test_incremental_cursor(tmp_path: Path, mode: str) -> None:
    url = f"sqlite:///{tmp_path / 'inc.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("create table t (id integer primary key, seq integer, v text)")
        conn.exec_driver_sql("insert into t values (1, 9, 'a'), (2, 10, 'b'), (3, null, 'n'), (4, 2, 'c')")
    source = {"table": "t"} if mode == "table" else {"query": "select * from t", "key": "id"}
    params = SqlParams.model_validate({"url": url, "cursor_column": "seq", "chunk_size": 2, **source})
    connector = get_connector("sql")
    cursor: str | None = None
    seen: list[str] = []
    for batch in connector(params, source="s", cursor=None):
        cursor = next_cursor(batch, params, cursor)
        seen += batch["v"].to_list()
    assert seen == ["n", "c", "a", "b"]  # NULL first (full read only), then ascending: 2, 9, 10 (numeric order)
    assert cursor == "10"
    with engine.begin() as conn:
        conn.exec_driver_sql("insert into t values (5, 11, 'd'), (6, 10, 'old'), (7, 12, 'e')")
    new = pl.concat(list(connector(params, source="s", cursor=cursor)))
    assert new["v"].to_list() == ["d", "e"]
    assert new["_source_key"].to_list() == ["5", "7"]
    assert next_cursor(new, params, cursor) == "12"
    assert list(connector(params, source="s", cursor="12")) == []
    engine.dispose()


def test_datetime_cursor_round_trips(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'dt.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("create table t (id integer primary key, gxsj datetime)")
        conn.exec_driver_sql("insert into t values (1, '2024-01-01 10:00:00'), (2, '2024-01-02 09:00:00')")
    params = SqlParams.model_validate({"url": url, "table": "t", "cursor_column": "gxsj"})
    first = pl.concat(list(get_connector("sql")(params, source="s")))
    cursor = next_cursor(first, params, None)
    assert cursor == "2024-01-02T09:00:00"
    with engine.begin() as conn:
        conn.exec_driver_sql("insert into t values (3, '2024-01-02 09:00:01')")
    again = pl.concat(list(get_connector("sql")(params, source="s", cursor=cursor)))
    assert again["_source_key"].to_list() == ["3"]
    engine.dispose()


def _make_table(path: Path, rows: int) -> str:
    url = f"sqlite:///{path}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("create table big (id integer primary key, name text, phone text, city text)")
        conn.exec_driver_sql(
            "with recursive n(i) as (select 1 union all select i + 1 from n where i < ?) "
            "insert into big select i, '客户' || i, '138' || printf('%08d', i), 'city' || (i % 300) from n",
            (rows,),
        )
    engine.dispose()
    return url


def _rss() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _peak_while_reading(url: str, chunk: int) -> tuple[int, int]:
    """(rows read, peak growth of the resident set over the start, sampled at every batch)."""
    params = SqlParams.model_validate({"url": url, "table": "big", "chunk_size": chunk})
    gc.collect()
    start = peak = _rss()
    count = 0
    for batch in get_connector("sql")(params, source="big"):
        count += batch.height
        peak = max(peak, _rss())
        del batch
    return count, peak - start


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="measures the resident set via /proc (Linux)")
def test_memory_stays_flat_with_row_count(tmp_path: Path) -> None:
    small = _make_table(tmp_path / "small.db", 50_000)
    large = _make_table(tmp_path / "large.db", 200_000)
    _peak_while_reading(small, 10_000)  # warm up: imports, allocator arenas, polars' thread pool
    n_small, grew_small = _peak_while_reading(small, 10_000)
    n_large, grew_large = _peak_while_reading(large, 10_000)
    assert (n_small, n_large) == (50_000, 200_000)
    # 4x the rows: memory stays flat (fetching 200k rows at once would hold about 60 MB more than 50k)
    assert grew_large < grew_small + 20_000_000, (grew_small, grew_large)


# --- MariaDB: a legacy CRM schema with cryptic pinyin columns, Chinese text in utf8mb4 ---------------------------

KHXX_ROWS = [
    ("KH0001", "深圳市腾达科技有限公司", "张伟", "13800138000", "zhangwei@qq.com", 1, "2024-05-01 10:30:00"),
    ("KH0002", "北京华信商贸有限公司", "李娜", "13912345678", None, 2, "2023-11-20 08:00:00"),
    ("KH0003", "上海欧阳文化传媒工作室", "欧阳娜娜", None, "nana@163.com", 9, "2022-01-15 17:45:30"),
]
GJJL_ROWS = [
    (1, "KH0001", "2024-05-02", "电话回访，客户满意"),
    (2, "KH0001", "2024-06-10", "上门拜访，洽谈续约"),
    (3, "KH0003", "2022-02-01", "客户已注销"),
]


def _seed_legacy(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "create table KHXX (KHBH varchar(10) primary key, KHMC varchar(100), LXR varchar(20), "
            "SJHM varchar(20), DZYX varchar(100), ZT tinyint, GXSJ datetime) default charset=utf8mb4"
        )
        conn.exec_driver_sql(
            "create table GJJL (JLBH int primary key, KHBH varchar(10), GJSJ date, GJNR text, "
            "foreign key (KHBH) references KHXX(KHBH)) default charset=utf8mb4"
        )
        conn.execute(
            sa.text("insert into KHXX values (:a, :b, :c, :d, :e, :f, :g)"),
            [dict(zip("abcdefg", r, strict=True)) for r in KHXX_ROWS],
        )
        conn.execute(
            sa.text("insert into GJJL values (:a, :b, :c, :d)"), [dict(zip("abcd", r, strict=True)) for r in GJJL_ROWS]
        )
    engine.dispose()


@pytest.mark.mariadb
def test_mariadb_legacy_tables(mariadb_url: str) -> None:
    _seed_legacy(mariadb_url)
    khxx = read(url=mariadb_url, table="KHXX", chunk_size=2)
    assert khxx.columns[:7] == ["KHBH", "KHMC", "LXR", "SJHM", "DZYX", "ZT", "GXSJ"]
    assert khxx["_source_key"].to_list() == ["KH0001", "KH0002", "KH0003"]
    assert khxx["KHMC"].to_list() == [r[1] for r in KHXX_ROWS]
    assert khxx["LXR"][2] == "欧阳娜娜"
    assert khxx["SJHM"].to_list() == ["13800138000", "13912345678", None]
    assert khxx["ZT"].to_list() == ["1", "2", "9"]
    assert khxx["GXSJ"][2] == "2022-01-15T17:45:30"
    gjjl = read(url=mariadb_url, table="GJJL")
    assert gjjl["_source_key"].to_list() == ["1", "2", "3"]
    assert gjjl["KHBH"].to_list() == ["KH0001", "KH0001", "KH0003"]
    assert gjjl["GJSJ"][0] == "2024-05-02"
    assert gjjl["GJNR"][0] == "电话回访，客户满意"
    joined = read(
        url=mariadb_url,
        query="select g.JLBH, k.KHBH, k.LXR, g.GJNR from GJJL g join KHXX k on k.KHBH = g.KHBH",
        key=["KHBH", "JLBH"],
    )
    assert sorted(joined["_source_key"].to_list()) == ["KH0001|1", "KH0001|2", "KH0003|3"]


@pytest.mark.mariadb
def test_mariadb_incremental_cursor(mariadb_url: str) -> None:
    _seed_legacy(mariadb_url)
    params = SqlParams.model_validate({"url": mariadb_url, "table": "KHXX", "cursor_column": "GXSJ"})
    first = pl.concat(list(get_connector("sql")(params, source="legacy")))
    assert first["_source_key"].to_list() == ["KH0003", "KH0002", "KH0001"]
    cursor = next_cursor(first, params, None)
    assert cursor == "2024-05-01T10:30:00"
    assert list(get_connector("sql")(params, source="legacy", cursor=cursor)) == []
    assert pl.concat(list(get_connector("sql")(params, source="legacy", cursor="2023-01-01T00:00:00"))).height == 2


@pytest.mark.mariadb
def test_mariadb_errors_hide_the_password(mariadb_user_url: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    engine = sa.create_engine(mariadb_user_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("create table KHXX (KHBH varchar(10) primary key, KHMC varchar(100))")
        conn.exec_driver_sql("insert into KHXX values ('KH0001', '腾达科技')")
    engine.dispose()
    assert read(url=mariadb_user_url, table="KHXX")["KHMC"].to_list() == ["腾达科技"]
    with pytest.raises(SourceError) as bad_table:
        read(url=mariadb_user_url, table="KHXX_OLD")
    assert "no table named 'KHXX_OLD'; tables: KHXX" in str(bad_table.value)
    with pytest.raises(SourceError) as bad_query:
        read(url=mariadb_user_url, query="select NOPE from KHXX", key="KHBH")
    assert "Unknown column 'NOPE'" in str(bad_query.value)
    wrong = sa.make_url(mariadb_user_url).set(password=PASSWORD + "x").render_as_string(hide_password=False)
    with pytest.raises(SourceError) as denied:
        read(url=wrong, table="KHXX")
    assert "Access denied" in str(denied.value)
    for error in (bad_table.value, bad_query.value, denied.value):
        assert PASSWORD not in str(error) and ":***@" in str(error)
    assert PASSWORD not in caplog.text


@pytest.mark.mariadb
def test_mariadb_keys_differing_in_case_accents_or_spaces_stay_apart(mariadb_url: str) -> None:
    """The source's collation is case- and accent-insensitive (``abc`` = ``ABC``, ``é1`` = ``e1``), but keys are
    compared as text: every such pair stays two rows with their own keys; only a real repeat is quarantined."""
    engine = sa.create_engine(mariadb_url)
    codes = ["abc", "ABC", "abc ", "é1", "e1", "Straße", "STRASSE", "abc"]
    with engine.begin() as conn:
        conn.exec_driver_sql("create table kh (n int primary key, code varchar(20), v text) default charset=utf8mb4")
        conn.execute(
            sa.text("insert into kh values (:n, :code, :v)"),
            [{"n": i, "code": c, "v": f"row {i}"} for i, c in enumerate(codes, start=1)],
        )
        assert conn.exec_driver_sql("select count(distinct code) from kh").scalar() < len(set(codes))
    engine.dispose()
    df = read(url=mariadb_url, query="select code, v from kh order by n", key="code", chunk_size=3)
    assert df["code"].to_list() == codes
    assert df["_source_key"].to_list() == [*codes[:-1], "row:8"]
    assert df["_error_code"].to_list() == [None] * 7 + ["duplicate_key"]
    assert df["_error_detail"][7] == "the same key as row 1 of this read"


def test_value_text_types() -> None:
    from connectors._sql import value_text

    assert value_text(decimal.Decimal("13800138000")) == "13800138000"
    assert value_text(decimal.Decimal("1E+3")) == "1000"
    assert value_text(decimal.Decimal("1.50")) == "1.50"
    assert value_text(12.0) == "12" and value_text(0.1) == "0.1"
    assert value_text(True) == "true"
    assert value_text(dt.date(2024, 1, 2)) == "2024-01-02"
    assert value_text(dt.timedelta(hours=26, minutes=3, seconds=4)) == "26:03:04"
    assert value_text("张".encode()) == "张"
    assert value_text({"a": [1, "张"]}) == '{"a":[1,"张"]}'
    assert value_text(None) is None


def test_a_value_its_column_type_cannot_convert_is_read_as_stored(tmp_path: Path) -> None:
    """SQLite keeps any value in any column: a '0000-00-00' in a DATE or 'abc' in a NUMERIC is read as written
    (the normalisers judge it), while the values the column's type reads stay as that type gives them."""
    db = tmp_path / "legacy.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE t (id TEXT PRIMARY KEY, born DATE, amount NUMERIC, seen DATETIME)")
        conn.executemany(
            "INSERT INTO t VALUES (?, ?, ?, ?)",
            [("1", "0000-00-00", "abc", "2024-05-01 10:30:00"), ("2", "1990-01-02", "12.5", "yesterday")],
        )
    batches = list(get_connector("sql")(SqlParams(url=f"sqlite:///{db}", table="t"), source="legacy"))
    rows = pl.concat(batches).select("born", "amount", "seen").rows()
    assert rows == [("0000-00-00", "abc", "2024-05-01T10:30:00"), ("1990-01-02", "12.5000000000", "yesterday")]

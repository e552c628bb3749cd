"""Incremental extraction: a second run reads only what is new, new rows still match the customers already in the
store, and the result equals a full run over the same data."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import polars as pl
import sqlalchemy as sa
import yaml
from polars.testing import assert_frame_equal
from sqlalchemy.orm import Session

import crm_store
from pipelines.migrate import run_steps
from pipelines.settings import load_settings

ROWS = [
    ("K001", "张伟", "13800138000", "zhangwei@hx.cn", "2024-03-01 10:00:00"),
    ("K002", "李娜", "13957215608", None, "2024-03-02 10:00:00"),
    ("K003", "王芳", "18653551234", "wangfang@qq.com", "2024-03-03 10:00:00"),
]
NEW_ROWS = [
    ("K004", "張偉", "138 0013 8000", "zhangwei@hx.cn", "2024-05-01 09:00:00"),  # 张伟 again, in the old system
    ("K005", "陈静", "13688889999", None, "2024-05-02 09:00:00"),
]


def setup(folder: Path, rows: list[tuple[str, ...]], name: str = "crmkit.yaml") -> Path:
    db = folder / "legacy.db"
    with sqlite3.connect(db) as conn:
        conn.execute(
            "create table if not exists KHXX (KHBH text primary key, LXR text, SJHM text, DZYX text, GXSJ text)"
        )
        conn.executemany("insert or replace into KHXX values (?, ?, ?, ?, ?)", rows)
    signups = folder / "signups.jsonl"
    if not signups.exists():
        signups.write_text(json.dumps({"name": "王芳", "mobile": "186 5355 1234"}, ensure_ascii=False) + "\n", "utf-8")
    store = folder / name.replace(".yaml", ".db")
    data = {
        "project": "incremental",
        "store": {"url": f"sqlite:///{store}"},
        "reports_dir": str(folder / "reports"),
        "sources": [
            {
                "name": "legacy",
                "kind": "sql",
                "incremental": True,
                "params": {"url": f"sqlite:///{db}", "table": "KHXX", "key": "KHBH", "cursor_column": "GXSJ"},
                "mapping": {"LXR": "full_name", "SJHM": "phone", "DZYX": "email", "GXSJ": "updated_at"},
            },
            {
                "name": "signups",
                "kind": "jsonl",
                "incremental": True,
                "params": {"path": str(signups)},
                "mapping": {"name": "full_name", "mobile": "phone"},
            },
        ],
    }
    path = folder / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    return path


def customer_of(config: Path) -> dict[tuple[str, str], str]:
    engine = sa.create_engine(load_settings(config).store_url)
    with Session(engine) as session:
        outcomes = crm_store.read_outcomes(session)
    engine.dispose()
    return {(r["source"], r["source_key"]): r["customer_id"] for r in outcomes.iter_rows(named=True)}


def partition(mapping: dict[tuple[str, str], str]) -> set[frozenset[tuple[str, str]]]:
    groups: dict[str, set[tuple[str, str]]] = {}
    for key, customer in mapping.items():
        groups.setdefault(customer, set()).add(key)
    return {frozenset(g) for g in groups.values()}


def test_a_second_run_reads_only_new_rows_and_matches_them_against_the_store(tmp_path: Path) -> None:
    config = setup(tmp_path, ROWS)
    first = run_steps(load_settings(config), "run-1", False)
    assert {r["source"]: r["read"] for r in first.ledger} == {"legacy": 3, "signups": 1}
    before = customer_of(config)

    setup(tmp_path, NEW_ROWS)
    second = run_steps(load_settings(config), "run-2", False)
    assert {r["source"]: r["read"] for r in second.ledger} == {"legacy": 2, "signups": 0}
    assert all(r["balanced"] for r in second.ledger)
    matching = json.loads((second.report_path.parent / "report.json").read_text("utf-8"))["matching"]
    assert matching["incremental"] is True  # new rows scored against the stored ones with the saved model
    after = customer_of(config)
    # earlier rows keep their customers; 張偉 joins 张伟's customer, 陈静 is new
    assert all(after[key] == customer for key, customer in before.items())
    assert after[("legacy", "K004")] == after[("legacy", "K001")]
    assert after[("legacy", "K005")] not in before.values()
    assert after[("signups", "1")] == after[("legacy", "K003")]

    # the same data in one full run gives the same customers
    full = setup(tmp_path, [], name="full.yaml")
    run_steps(load_settings(full), "full-1", False)
    assert partition(customer_of(full)) == partition(after)

    # a third run has nothing new; --full-refresh reads everything again and changes no customer
    third = run_steps(load_settings(config), "run-3", False)
    assert sum(r["read"] for r in third.ledger) == 0
    refreshed = run_steps(load_settings(config), "run-4", False, full_refresh=True)
    assert {r["source"]: r["read"] for r in refreshed.ledger} == {"legacy": 5, "signups": 1}
    matching = json.loads((refreshed.report_path.parent / "report.json").read_text("utf-8"))["matching"]
    assert matching["incremental"] is False
    assert customer_of(config) == after


def test_rows_updated_in_the_source_are_read_again(tmp_path: Path) -> None:
    config = setup(tmp_path, ROWS)
    run_steps(load_settings(config), "run-1", False)
    setup(tmp_path, [("K002", "李娜", "13957215608", "lina88@163.com", "2024-06-01 08:00:00")])
    second = run_steps(load_settings(config), "run-2", False)
    assert {r["source"]: r["read"] for r in second.ledger}["legacy"] == 1
    engine = sa.create_engine(load_settings(config).store_url)
    with Session(engine) as session:
        customers = crm_store.read_customers(session)
    engine.dispose()
    lina = customers.filter(pl.col("full_name") == "李娜")
    assert lina.height == 1 and lina["primary_email"][0] == "lina88@163.com"


def _legacy_with_follow_ups(folder: Path, name: str, incremental: bool) -> Path:
    """A legacy CRM of customers (KH) and follow-ups (GJ) whose rows belong to customers by KHID, both read by
    their update time (a cursor) when ``incremental``."""
    db = folder / "legacy.db"

    def source(name: str, table: str, key: str) -> dict[str, object]:
        params = {"url": f"sqlite:///{db}", "table": table, "key": key, "cursor_column": "TS"}
        return {"name": name, "kind": "sql", "incremental": incremental, "params": params}

    data = {
        "project": "follow-ups",
        "store": {"url": f"sqlite:///{folder / (name + '.db')}"},
        "reports_dir": str(folder / "reports"),
        "sources": [
            {**source("kh", "KH", "ID"), "mapping": {"NAME": "full_name", "MOBILE": "phone", "EMAIL": "email"}},
            {
                **source("gj", "GJ", "GID"),
                "activity": {"parent": "kh", "parent_key": "KHID", "occurred_at": "AT", "summary": "NOTE"},
            },
        ],
    }
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    return path


def _write(db: Path, table: str, rows: list[tuple[str | None, ...]]) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute("create table if not exists KH (ID text primary key, NAME text, MOBILE text, EMAIL text, TS text)")
        conn.execute("create table if not exists GJ (GID text primary key, KHID text, AT text, NOTE text, TS text)")
        marks = ", ".join("?" * len(rows[0]))
        conn.executemany(f"insert or replace into {table} values ({marks})", rows)


def _activities_and_contacts(config: Path) -> tuple[dict[str, str], dict[str, object]]:
    engine = sa.create_engine(load_settings(config).store_url)
    with Session(engine) as session:
        activities = crm_store.read_activities(session)
        customers = crm_store.read_customers(session)
    engine.dispose()
    linked = dict(activities.select("source_key", "customer_id").iter_rows())
    return linked, dict(customers.select("customer_id", "last_contact_at").iter_rows())


def test_activities_of_earlier_runs_follow_their_row_into_another_customer(tmp_path: Path) -> None:
    """A follow-up read in an earlier run is not read again by an incremental run; when the row it belongs to is
    edited and joins another customer, the follow-up goes with it (and counts in that customer's last contact), as
    a full run over the same data links it."""
    db = tmp_path / "legacy.db"
    _write(
        db, "KH", [("K1", "张伟", "13800138000", None, "2024-01-01"), ("K2", "李娜", None, "lina@qq.com", "2024-01-01")]
    )
    _write(db, "GJ", [("G1", "K2", "2024-02-01 10:00", "called", "2024-02-01")])
    config = _legacy_with_follow_ups(tmp_path, "incremental", incremental=True)
    run_steps(load_settings(config), "run-1", False)
    before = customer_of(config)
    assert before[("kh", "K1")] != before[("kh", "K2")] == before[("gj", "G1")]

    # K2 edited at the source: now 张伟's mobile and name, so it joins K1's customer; G1 is not read again
    _write(db, "KH", [("K2", "张伟", "13800138000", "lina@qq.com", "2024-03-01")])
    second = run_steps(load_settings(config), "run-2", False)
    assert {r["source"]: r["read"] for r in second.ledger} == {"kh": 1, "gj": 0}
    assert all(r["balanced"] for r in second.ledger)
    after = customer_of(config)
    assert after[("kh", "K2")] == after[("kh", "K1")]
    linked, contacts = _activities_and_contacts(config)
    assert linked["G1"] == after[("kh", "K2")]
    assert contacts[linked["G1"]] is not None  # the follow-up is the customer's last contact now

    full = _legacy_with_follow_ups(tmp_path, "full", incremental=False)
    run_steps(load_settings(full), "full-1", False)
    full_linked, full_contacts = _activities_and_contacts(full)
    assert partition(customer_of(full)) == partition(after)
    assert full_contacts[full_linked["G1"]] == contacts[linked["G1"]]


def _golden(config: Path) -> pl.DataFrame:
    engine = sa.create_engine(load_settings(config).store_url)
    with Session(engine) as session:
        customers = crm_store.read_customers(session)
    engine.dispose()
    return (
        customers.filter(pl.col("retired_at").is_null())
        .select("customer_id", "full_name", "primary_phone", "primary_email")
        .sort("customer_id")
    )


def test_an_incremental_run_rewrites_the_customers_its_rows_touch_as_a_full_run_would(tmp_path: Path) -> None:
    """An incremental run writes only the customers its rows touch (those it reads rows into, and those a row it
    read leaves); every golden record is what a full run over the same data gives."""
    db = tmp_path / "legacy.db"
    people = [
        ("K1", "张伟", "13800138000", None, "2024-01-01"),
        ("K2", "李娜", None, "lina@qq.com", "2024-01-01"),
        ("K3", "李娜", "13957215608", "lina@qq.com", "2024-01-01"),  # 李娜's only mobile
        ("K4", "王芳", "18653551234", None, "2024-01-01"),  # never touched again
    ]
    _write(db, "KH", people)
    _write(db, "GJ", [("G1", "K4", "2024-02-01 10:00", "called", "2024-02-01")])
    config = _legacy_with_follow_ups(tmp_path, "incremental", incremental=True)
    run_steps(load_settings(config), "run-1", False)
    lina = _golden(config).filter(pl.col("full_name") == "李娜")
    assert lina.height == 1 and lina["primary_phone"][0] == "+8613957215608"

    # K3 turns out to be 张伟's (his mobile, his name): 李娜 keeps K2 alone, without the mobile K3 gave her
    _write(db, "KH", [("K3", "张伟", "13800138000", None, "2024-03-01")])
    second = run_steps(load_settings(config), "run-2", False)
    assert {r["source"]: r["read"] for r in second.ledger} == {"kh": 1, "gj": 0}
    golden = _golden(config)
    assert golden.filter(pl.col("full_name") == "李娜")["primary_phone"].to_list() == [None]

    full = _legacy_with_follow_ups(tmp_path, "full", incremental=False)
    run_steps(load_settings(full), "full-1", False)
    assert_frame_equal(golden, _golden(full))

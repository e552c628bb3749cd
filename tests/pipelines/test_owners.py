"""``crmkit owners list|transfer``: a salesperson leaves, the customers stay. A transfer moves exactly FROM's
customers, later runs keep them with TO whatever the source rows say, and the audit trail records it."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa
import yaml
from sqlalchemy.orm import Session
from typer.testing import CliRunner

import crm_store
from pipelines.cli import app
from pipelines.migrate import run_steps
from pipelines.settings import load_settings

runner = CliRunner()

ROWS = [  # key, name, mobile, owner
    ("1", "张伟", "13800138000", "张三"),
    ("2", "李娜", "13957215608", "张三"),
    ("3", "王芳", "18653551234", "李四"),
    ("4", "刘洋", "13511112222", None),
    ("5", "陈静", "13688889999", "张三"),
]
WEB = [("w1", "张伟", "13800138000", "李四")]  # the same person as crm:1, another owner


def write(folder: Path, name: str, rows: list[tuple[str, str, str, str | None]]) -> None:
    lines = [json.dumps({"id": k, "name": n, "mobile": p, "sales": o}, ensure_ascii=False) for k, n, p, o in rows]
    (folder / f"{name}.jsonl").write_text("\n".join(lines) + "\n", "utf-8")


def project(folder: Path, url: str | None = None) -> Path:
    def source(name: str, priority: int) -> dict[str, Any]:
        return {
            "name": name,
            "kind": "jsonl",
            "priority": priority,
            "params": {"path": str(folder / f"{name}.jsonl"), "key": "id"},
            "mapping": {"name": "full_name", "mobile": "phone", "sales": "owner"},
        }

    data = {
        "project": "owners",
        "store": {"url": url or f"sqlite:///{folder / 'crm.db'}"},
        "reports_dir": str(folder / "reports"),
        "sources": [source("crm", 2), source("web", 1)],
    }
    path = folder / "crmkit.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    return path


def run(config: Path, run_id: str) -> None:
    result = run_steps(load_settings(config), run_id, dry_run=False)
    assert result.status == "succeeded", result.error


def customers(config: Path) -> pl.DataFrame:
    """Every golden record with the source keys of its rows (``keys``), ordered by its first key."""
    engine = sa.create_engine(load_settings(config).store_url)
    with Session(engine) as session:
        found = crm_store.read_customers(session, retired=True)
        crosswalk = crm_store.read_crosswalk(session)
    engine.dispose()
    keys = crosswalk.group_by("customer_id").agg(pl.col("source_key").sort().alias("keys"))
    return found.join(keys, on="customer_id", how="left").sort(pl.col("keys").list.first())


def stored(config: Path, *tables: str) -> dict[str, list[tuple[Any, ...]]]:
    engine = sa.create_engine(load_settings(config).store_url)
    try:
        with engine.connect() as conn:
            return {
                name: sorted(map(tuple, conn.execute(sa.select(crm_store.Base.metadata.tables[name])).all()), key=repr)
                for name in tables
            }
    finally:
        engine.dispose()


@contextmanager
def store_session(config: Path) -> Iterator[Session]:
    engine = sa.create_engine(load_settings(config).store_url)
    try:
        with Session(engine) as session:
            yield session
    finally:
        engine.dispose()


def invoke(*args: str) -> Any:
    return runner.invoke(app, list(args))


@pytest.fixture
def migrated(tmp_path: Path) -> Iterator[Path]:
    write(tmp_path, "crm", ROWS)
    write(tmp_path, "web", WEB)
    config = project(tmp_path)
    run(config, "r1")
    yield config


def owner_of(frame: pl.DataFrame) -> dict[str, str | None]:
    return {row["keys"][0]: row["owner"] for row in frame.iter_rows(named=True)}


def test_owners_list_counts_each_owners_customers(migrated: Path) -> None:
    result = invoke("owners", "list", "--config", str(migrated), "--json")
    assert result.exit_code == 0, result.output
    listed = {row["owner"]: (row["customers"], row["overridden"]) for row in json.loads(result.stdout)}
    assert listed == {"张三": (3, 0), "李四": (1, 0), None: (1, 0)}
    table = invoke("owners", "list", "--config", str(migrated))
    assert table.exit_code == 0 and "张三" in table.stdout and "(none)" in table.stdout


def test_transfer_moves_exactly_the_owners_customers_and_later_runs_keep_them(migrated: Path, tmp_path: Path) -> None:
    before = customers(migrated)
    assert owner_of(before) == {"1": "张三", "2": "张三", "3": "李四", "4": None, "5": "张三"}

    dry = invoke("owners", "transfer", "张三", "王五", "--config", str(migrated), "--dry-run")
    assert dry.exit_code == 0 and "would move 3 customers" in dry.stdout
    assert customers(migrated).equals(before)

    done = invoke("owners", "transfer", "张三", "王五", "--config", str(migrated), "--by", "manager")
    assert done.exit_code == 0, done.output
    assert "moved 3 customers from 张三 to 王五" in " ".join(done.stdout.split())
    after = customers(migrated)
    assert owner_of(after) == {"1": "王五", "2": "王五", "3": "李四", "4": None, "5": "王五"}
    moved = set(before.filter(pl.col("owner") == "张三")["customer_id"].to_list())
    versions = dict(zip(before["customer_id"], before["version"], strict=True))
    for row in after.iter_rows(named=True):  # only the moved records changed, and nothing else of them
        bumped = versions[row["customer_id"]] + (1 if row["customer_id"] in moved else 0)
        assert row["version"] == bumped
        old = before.filter(pl.col("customer_id") == row["customer_id"]).row(0, named=True)
        same = ("owner", "version", "updated_at", "content_hash")
        assert {k: v for k, v in row.items() if k not in same} == {k: v for k, v in old.items() if k not in same}

    with store_session(migrated) as session:
        overrides = crm_store.read_overrides(session)
        assert set(overrides["customer_id"]) == moved and set(overrides["value"]) == {"王五"}
        assert set(overrides["set_by"]) == {"manager"}
        provenance = crm_store.read_provenance(session).filter(pl.col("field") == "owner")
        marked = provenance.filter(pl.col("customer_id").is_in(list(moved)))
        assert set(marked["rule"]) == {"override"} and set(marked["value"]) == {"王五"}
        event = crm_store.read_audit_events(session, action="owners.transfer").row(0, named=True)
    assert event["actor"] == "manager" and json.loads(event["target"]) == {"from": "张三", "to": "王五"}
    details = json.loads(event["details"])
    assert details["customers"] == 3 and set(details["customer_ids"]) == moved and details["retired"] == 0

    # the next run reads the same rows (张三 still in the source): nothing changes, the customers stay with 王五
    kept = stored(migrated, "customer", "field_provenance", "customer_override")
    run(migrated, "r2")
    assert stored(migrated, "customer", "field_provenance", "customer_override") == kept

    # the source changes other fields and even the owner of a moved customer: the override still wins
    write(tmp_path, "crm", [(k, n, p, "赵六" if k == "2" else o) for k, n, p, o in ROWS[:4]] + [(*ROWS[4][:3], "李四")])
    write(tmp_path, "web", [*WEB, ("w2", "周杰", "13711112244", "张三")])  # a new customer of 张三
    run(migrated, "r3")
    latest = owner_of(customers(migrated))
    assert latest == {"1": "王五", "2": "王五", "3": "李四", "4": None, "5": "王五", "w2": "张三"}

    listed = json.loads(invoke("owners", "list", "--config", str(migrated), "--json").stdout)
    assert {row["owner"]: (row["customers"], row["overridden"]) for row in listed} == {
        "王五": (3, 3),
        "李四": (1, 0),
        "张三": (1, 0),
        None: (1, 0),
    }
    verify = invoke("audit", "verify", "--config", str(migrated))
    assert verify.exit_code == 0, verify.output


def test_transfer_refuses_an_unknown_owner_or_the_same_one(migrated: Path) -> None:
    unknown = invoke("owners", "transfer", "张3", "王五", "--config", str(migrated))
    assert unknown.exit_code == 1
    assert "no customer has the owner '张3'" in " ".join(unknown.output.split()) and "张三 (3)" in unknown.output
    same = invoke("owners", "transfer", "张三", "张三", "--config", str(migrated))
    assert same.exit_code == 2 and "same" in same.output
    blank = invoke("owners", "transfer", "张三", " ", "--config", str(migrated))
    assert blank.exit_code == 2
    with store_session(migrated) as session:
        assert crm_store.read_audit_events(session, action="owners.transfer").height == 0
        assert crm_store.read_overrides(session).height == 0


def test_transfer_waits_for_no_run_it_is_refused_while_one_holds_the_store(migrated: Path) -> None:
    engine = crm_store.init_store(load_settings(migrated).store_url)
    try:
        with crm_store.acquire_run_lock(engine, "running-now"):
            refused = invoke("owners", "transfer", "张三", "王五", "--config", str(migrated))
        assert refused.exit_code == 1 and "running-now" in refused.output
    finally:
        engine.dispose()
    assert owner_of(customers(migrated))["1"] == "张三"


@pytest.mark.parametrize(
    "backend",
    [pytest.param("postgresql", marks=pytest.mark.postgres), pytest.param("mariadb", marks=pytest.mark.mariadb)],
)
def test_transfer_on_a_database_server(request: pytest.FixtureRequest, tmp_path: Path, backend: str) -> None:
    url = str(request.getfixturevalue("pg_url" if backend == "postgresql" else "mariadb_url"))
    write(tmp_path, "crm", ROWS)
    write(tmp_path, "web", WEB)
    config = project(tmp_path, url)
    run(config, "r1")
    engine = crm_store.init_store(url)
    try:
        with Session(engine) as session, session.begin():
            first = crm_store.transfer_owner(
                session, "张三", "王五", by="ops", now=dt.datetime(2026, 12, 9, tzinfo=dt.UTC)
            )
        with Session(engine) as session, session.begin():  # back again: the overrides are replaced
            second = crm_store.transfer_owner(session, "王五", "张三", by="ops")
        assert first.count == second.count == 3 and sorted(first.customer_ids) == sorted(second.customer_ids)
        with Session(engine) as session:
            overrides = crm_store.read_overrides(session)
            assert overrides.height == 3 and set(overrides["value"]) == {"张三"}
    finally:
        engine.dispose()
    kept = stored(config, "customer", "field_provenance")
    run(config, "r2")
    assert stored(config, "customer", "field_provenance") == kept
    assert invoke("audit", "verify", "--config", str(config)).exit_code == 0

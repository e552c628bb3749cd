"""Data-subject requests: one person found across golden records, source rows, quarantine and activities; exported
whole; erased without a trace while the ledger still balances."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from sqlalchemy.orm import Session
from typer.testing import CliRunner

import crm_store
from crm_store.subject import ERASED_PAYLOAD, erase_subject_from_store, export_subject, find_subject
from pipelines.cli import app
from pipelines.cli_admin import subject_query
from pipelines.migrate import new_run_id, run_steps
from pipelines.settings import load_settings

EMAIL = "zhangwei@hx.cn"
PHONE = "13800138000"
#: Every form of the person's e-mail and phone the store could hold.
NEEDLES = (EMAIL, PHONE, "138 0013 8000", "138-0013-8000", "zhangwei@")

CUSTOMERS = (
    "客户编号,姓名,手机,邮箱,备注\n"
    "K001,张伟,138 0013 8000,ZhangWei@HX.cn,老客户\n"
    "K002,李娜,13957215608,lina@163.com,\n"
    "K003,王芳,18653551234,wangfang@qq.com,\n"
)
SIGNUPS = [
    {"id": "W1", "name": "张伟", "mobile": "+86 138-0013-8000", "email": EMAIL, "city": "泰安"},
    {"id": "W1", "name": "张伟", "mobile": PHONE, "email": EMAIL, "city": "泰安"},  # a repeated key: quarantined
    {"id": "W2", "name": "刘洋", "mobile": "13511112222", "email": "liuyang@126.com", "city": "济南"},
]
FOLLOWUPS = (
    "记录号,客户编号,时间,内容,联系电话\n"
    "F1,K001,2024-03-01,回访：续约意向强,138 0013 8000\n"
    "F2,K002,2024-03-02,回访,13957215608\n"
)


def build_store(folder: Path, store_url: str | None = None) -> Path:
    """A small project (customers, web sign-ups, follow-ups) migrated into a store; returns the project file."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "crm.csv").write_text(CUSTOMERS, "utf-8")
    (folder / "signups.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in SIGNUPS), "utf-8")
    (folder / "followups.csv").write_text(FOLLOWUPS, "utf-8")
    data = {
        "project": "subjects",
        "store": {"url": store_url or f"sqlite:///{folder / 'crm.db'}"},
        "reports_dir": str(folder / "reports"),
        "sources": [
            {
                "name": "crm",
                "kind": "csv",
                "params": {"path": str(folder / "crm.csv"), "key": "客户编号"},
                "mapping": {"姓名": "full_name", "手机": "phone", "邮箱": "email", "备注": "notes"},
            },
            {
                "name": "web",
                "kind": "jsonl",
                "params": {"path": str(folder / "signups.jsonl"), "key": "id"},
                "mapping": {"name": "full_name", "mobile": "phone", "email": "email", "city": "city"},
            },
            {
                "name": "followups",
                "kind": "csv",
                "params": {"path": str(folder / "followups.csv"), "key": "记录号"},
                "activity": {"parent": "crm", "parent_key": "客户编号", "occurred_at": "时间", "summary": "内容"},
            },
        ],
    }
    config = folder / "crmkit.yaml"
    config.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    assert run_steps(load_settings(config), new_run_id(), dry_run=False).status in ("succeeded", "partial")
    return config


def every_text(engine: sa.Engine) -> list[tuple[str, str, str]]:
    """(table, column, text) for every non-null value of every table of the store."""
    out = []
    with engine.connect() as conn:
        for name in sorted(sa.inspect(conn).get_table_names()):
            table = sa.Table(name, sa.MetaData(), autoload_with=conn)
            for row in conn.execute(sa.select(table)):
                for column, value in row._mapping.items():
                    if value is not None:
                        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
                        out.append((name, column, text))
    return out


def traces(engine: sa.Engine, needles: tuple[str, ...] = NEEDLES) -> list[tuple[str, str]]:
    return sorted({(t, c) for t, c, text in every_text(engine) for n in needles if n.lower() in text.lower()})


def ledger(engine: sa.Engine) -> tuple[Any, ...]:
    with Session(engine) as session:
        counts = crm_store.ledger_counts(session).rows()
        runs = crm_store.read_runs(session)["ledger"].to_list()
        tables = {t: n for t, n in crm_store.table_counts(session).items() if t not in ("audit_event", "run_lock")}
    return counts, runs, {t: n for t, n in tables.items() if t not in ("contact_point", "address")}


@pytest.fixture
def store(tmp_path: Path) -> tuple[Path, sa.Engine]:
    config = build_store(tmp_path / "p")
    engine = crm_store.open_store(load_settings(config).store_url)
    yield config, engine
    engine.dispose()


def test_the_query_finds_the_value_in_any_spelling() -> None:
    phone = subject_query(phone="+86 138-0013-8000")
    assert (phone.kind, phone.value) == ("phone", "+8613800138000") and PHONE not in phone.label
    assert subject_query(phone=PHONE).value == phone.value
    import polars as pl

    cells = pl.Series(["138 0013 8000", "电话:13800138000 / 13957215608", "13800138001", "1380013800012", None])
    assert phone.cell_matches(cells).to_list() == [True, True, False, False, False]
    email = subject_query(email=" ZhangWei@HX.cn ")
    assert email.value == EMAIL and email.label != EMAIL
    cells = pl.Series(["zhangwei@hx.cn", "邮箱: ZHANGWEI@hx.cn; x@y.com", "xzhangwei@hx.cn", "zhangwei@hx.cnn", None])
    assert email.cell_matches(cells).to_list() == [True, True, False, False, False]
    with pytest.raises(ValueError, match="exactly one"):
        subject_query(email=EMAIL, phone=PHONE)
    with pytest.raises(ValueError, match="not a valid phone") as caught:
        subject_query(phone="12345")
    assert "12345" not in str(caught.value)


def test_export_finds_golden_records_source_rows_quarantine_and_activities(store: tuple[Path, sa.Engine]) -> None:
    _, engine = store
    with Session(engine) as session:
        by_email = find_subject(session, subject_query(email=EMAIL))
        by_phone = find_subject(session, subject_query(phone="138-0013-8000"))
        document = export_subject(session, by_phone)
    assert by_email.customer_ids == by_phone.customer_ids and len(by_phone.customer_ids) == 1
    keys = set(by_phone.source_keys)
    assert {("crm", "K001"), ("web", "W1"), ("followups", "F1")} <= keys
    assert not any(key in {"K002", "K003", "W2", "F2"} for _, key in keys)
    statuses = {r["source_key"]: r["status"] for r in document["source_records"]}
    assert "quarantined" in statuses.values()  # the repeated sign-up row
    assert document["customers"][0]["primary_email"] == EMAIL
    assert {c["value"] for c in document["contact_points"]} >= {EMAIL, "+8613800138000"}
    assert [a["summary"] for a in document["activities"]] == ["回访：续约意向强"]
    assert document["quarantine"] and document["field_provenance"] and document["crosswalk"]
    assert any(r["payload"].get("客户编号") == "K001" for r in document["source_records"])


def test_subject_export_command_writes_a_private_file_and_an_audit_event(
    store: tuple[Path, sa.Engine], tmp_path: Path
) -> None:
    config, engine = store
    out = tmp_path / "requests" / "zhang.json"
    result = CliRunner().invoke(
        app, ["subject", "export", "--config", str(config), "--email", EMAIL, "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert EMAIL not in result.output and PHONE not in result.output  # the terminal shows the masked value
    assert stat.S_IMODE(out.stat().st_mode) == 0o600 and stat.S_IMODE(out.parent.stat().st_mode) == 0o700
    document = json.loads(out.read_text("utf-8"))
    assert document["customers"][0]["primary_email"] == EMAIL
    with Session(engine) as session:
        events = crm_store.read_audit_events(session, action="subject.export")
    assert events.height == 1 and EMAIL not in events.write_json()


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgresql", marks=pytest.mark.postgres),
        pytest.param("mariadb", marks=pytest.mark.mariadb),
    ]
)
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, sa.Engine]:
    url = (
        None
        if request.param == "sqlite"
        else str(request.getfixturevalue("pg_url" if request.param == "postgresql" else "mariadb_url"))
    )
    config = build_store(tmp_path / "p", url)
    engine = crm_store.open_store(load_settings(config).store_url)
    yield config, engine
    engine.dispose()


def test_erase_leaves_no_trace_and_the_ledger_balances(any_store: tuple[Path, sa.Engine]) -> None:
    _, engine = any_store
    assert traces(engine)  # the person is there before
    others = [t for t in every_text(engine) if "lina@163.com" in t[2] or "13957215608" in t[2]]
    before = ledger(engine)

    findings, erasure = erase_subject_from_store(engine, subject_query(email=EMAIL), actor="dpo@example.com")

    assert erasure is not None and erasure.counts["customer"] == 1 and erasure.counts["source_record"] >= 4
    assert traces(engine) == []  # no e-mail, no phone, in any spelling, in any table
    assert traces(engine, ("张伟", "续约")) == []  # nor the name or the follow-up's text
    assert ledger(engine) == before  # every source row still there, with its status; run ledgers untouched
    assert [t for t in every_text(engine) if "lina@163.com" in t[2] or "13957215608" in t[2]] == others
    with Session(engine) as session:
        (customer,) = session.execute(
            sa.text("select status, retired_at, full_name from customer where customer_id = :c"),
            {"c": findings.customer_ids[0]},
        ).all()
        payloads = session.execute(sa.text("select payload, reason from source_record where reason = 'erased'")).all()
        events = crm_store.read_audit_events(session, action="subject.erase")
    assert customer[0] == "erased" and customer[1] is not None and customer[2] is None
    assert len(payloads) == len(findings.source_keys) and {p for p, _ in payloads} == {ERASED_PAYLOAD}
    assert events.height == 1 and json.loads(events["target"][0]) == {"kind": "email", "value": erasure.label}
    assert events["actor"][0] == "dpo@example.com"
    if engine.dialect.name == "sqlite":  # nor in the file's free pages or its write-ahead log
        files = [Path(str(engine.url.database)), Path(f"{engine.url.database}-wal")]
        raw = b"".join(f.read_bytes() for f in files if f.exists()).lower()
        assert not [n for n in NEEDLES if n.lower().encode() in raw]
    # a second request finds nothing left
    again, nothing = erase_subject_from_store(engine, subject_query(phone=PHONE), actor="dpo@example.com")
    assert again.empty and nothing is None


def test_erase_waits_for_no_run_and_asks_first(store: tuple[Path, sa.Engine]) -> None:
    config, engine = store
    with crm_store.acquire_run_lock(engine, "a-run"), pytest.raises(crm_store.RunLockedError):
        erase_subject_from_store(engine, subject_query(email=EMAIL), actor="x")
    found, erased = erase_subject_from_store(engine, subject_query(email=EMAIL), actor="x", confirm=lambda f: False)
    assert not found.empty and erased is None and traces(engine)
    result = CliRunner().invoke(app, ["subject", "erase", "--config", str(config), "--phone", PHONE], input="n\n")
    assert result.exit_code == 1 and traces(engine)
    result = CliRunner().invoke(app, ["subject", "erase", "--config", str(config), "--phone", PHONE, "--yes"])
    assert result.exit_code == 0, result.output
    assert PHONE not in result.output and traces(engine) == []


def test_a_later_run_does_not_bring_the_person_back(store: tuple[Path, sa.Engine]) -> None:
    config, engine = store
    erase_subject_from_store(engine, subject_query(email=EMAIL), actor="x")
    assert run_steps(load_settings(config), new_run_id(), dry_run=False).status in ("succeeded", "partial")
    assert traces(engine) == []

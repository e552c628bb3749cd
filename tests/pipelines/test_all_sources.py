"""Every source kind into one store: a legacy MariaDB CRM (customers + follow-ups), a sales workbook, a GB18030 CSV
export and web sign-ups; plus schema drift between runs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import openpyxl
import polars as pl
import pytest
import sqlalchemy as sa
import yaml
from sqlalchemy.orm import Session

import crm_store
from pipelines.migrate import run_steps
from pipelines.settings import load_settings

from .test_migrate import snapshot

LEGACY_SCHEMA = [
    """create table KHXX (KHBH varchar(16) primary key, KHMC varchar(100), LXR varchar(50), SJHM varchar(20),
       DZYX varchar(100), ZT int, GXSJ datetime) character set utf8mb4""",
    """create table GJJL (JLBH int primary key, KHBH varchar(16), GJSJ datetime, GJNR text) character set utf8mb4""",
]
CUSTOMERS = [
    ("K001", "聊城华兴机械有限公司", "张伟", "13800138000", "zhangwei@hx-machinery.cn", 1, "2024-03-01 10:00:00"),
    ("K002", "山东鲁信贸易有限公司", "李娜", "13957215608", None, 1, "2023-11-12 09:30:00"),
    ("K003", None, "王芳", "18653551234", "wangfang@qq.com", 2, "2022-05-06 16:20:00"),
    ("K009", "已注销公司", "赵敏", "13700000001", None, 9, "2020-01-01 00:00:00"),
]
FOLLOW_UPS = [
    (1, "K001", "2024-03-02 14:00:00", "电话回访，客户对报价满意"),
    (2, "K001", "2024-04-10 09:00:00", "上门拜访，签订意向书"),
    (3, "K002", "2023-12-01 11:00:00", "发送产品目录"),
    (4, "K009", "2020-02-01 10:00:00", "客户已注销"),  # parent skipped as deleted -> skipped, "deleted"
    (5, "K404", "2024-01-01 10:00:00", "无主记录"),  # no such customer -> orphan
]


def write_sources(folder: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "张磊"
    sheet.append(["2024年客户名单"])
    sheet.append(["姓名", "手机", "公司", "最后联系"])
    sheet.append(["张伟", 13800138000, "聊城华兴机械", "2024-05-01"])  # the same person as K001
    sheet.append(["陈静", 13688889999, "聊城东昌建材", "2024-02-02"])
    workbook.save(folder / "sales.xlsx")
    (folder / "export.csv").write_bytes(
        "编号,姓名,手机号码,邮箱\r\n1,李娜,139-5721-5608,lina88@163.com\r\n2,周杰,13512345678,\r\n".encode("gb18030")
    )
    (folder / "signups.jsonl").write_text(
        json.dumps({"name": "王芳", "mobile": "186 5355 1234", "email": "wangfang@qq.com"}, ensure_ascii=False)
        + "\n"
        + json.dumps({"name": "asdf", "mobile": "11111111111", "email": "test@test.com"})
        + "\n",
        "utf-8",
    )


def project(folder: Path, db_url: str, *, strict: bool = False) -> Path:
    data = {
        "project": "all-sources",
        "store": {"url": f"sqlite:///{folder / 'crm.db'}"},
        "reports_dir": str(folder / "reports"),
        "sources": [
            {
                "name": "legacy_db",
                "kind": "sql",
                "params": {"url": db_url, "table": "KHXX", "key": "KHBH"},
                "mapping": {"KHMC": "company", "LXR": "full_name", "SJHM": "phone", "DZYX": "email", "ZT": "status"},
                "codes": {"status": {1: "active", 2: "inactive", 9: "deleted"}},
                "skip": {"deleted": {"status": ["deleted"]}},
            },
            {
                "name": "legacy_followups",
                "kind": "sql",
                "params": {"url": db_url, "table": "GJJL", "key": "JLBH"},
                "activity": {"parent": "legacy_db", "parent_key": "KHBH", "occurred_at": "GJSJ", "summary": "GJNR"},
            },
            {
                "name": "sales",
                "kind": "xlsx",
                "params": {"path": "sales.xlsx"},
                "mapping": {"姓名": "full_name", "手机": "phone", "公司": "company", "最后联系": "updated_at"},
            },
            {
                "name": "export",
                "kind": "csv",
                "params": {"path": "export.csv"},
                "mapping": {"姓名": "full_name", "手机号码": "phone", "邮箱": "email"},
                "strict": strict,
            },
            {
                "name": "signups",
                "kind": "jsonl",
                "params": {"path": "signups.jsonl"},
                "mapping": {"name": "full_name", "mobile": "phone", "email": "email"},
            },
        ],
        "rules": {"required": ["full_name"], "require_any": [["phone", "email"]]},
    }
    path = folder / "crmkit.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")
    return path


@pytest.fixture
def legacy_db(mariadb_url: str) -> str:
    engine = sa.create_engine(mariadb_url)
    with engine.begin() as conn:
        for ddl in LEGACY_SCHEMA:
            conn.execute(sa.text(ddl))
        conn.execute(
            sa.text("insert into KHXX values (:a, :b, :c, :d, :e, :f, :g)"),
            [dict(zip("abcdefg", row, strict=True)) for row in CUSTOMERS],
        )
        conn.execute(
            sa.text("insert into GJJL values (:a, :b, :c, :d)"),
            [dict(zip("abcd", row, strict=True)) for row in FOLLOW_UPS],
        )
    engine.dispose()
    return mariadb_url


@pytest.mark.mariadb
def test_every_source_kind_lands_in_one_store_with_follow_ups_on_the_right_customers(
    tmp_path: Path, legacy_db: str
) -> None:
    write_sources(tmp_path)
    config = project(tmp_path, legacy_db)
    result = run_steps(load_settings(config), "run-1", False)

    ledger = {row["source"]: row for row in result.ledger}
    assert all(row["balanced"] for row in result.ledger), result.ledger
    assert (ledger["legacy_db"]["loaded"], ledger["legacy_db"]["skipped"]) == (3, 1)
    followups = ledger["legacy_followups"]
    assert (followups["loaded"], followups["quarantined"], followups["skipped"]) == (3, 1, 1)
    assert ledger["signups"]["quarantined"] == 1  # the spam sign-up

    engine = sa.create_engine(load_settings(config).store_url)
    with Session(engine) as session:
        activities = crm_store.read_activities(session)
        outcomes = crm_store.read_outcomes(session)
        quarantine = crm_store.read_quarantine(session)
        customers = crm_store.read_customers(session)
    engine.dispose()
    customer_of = {(r["source"], r["source_key"]): r["customer_id"] for r in outcomes.iter_rows(named=True)}
    # K001's follow-ups hang on the golden customer that also holds 张伟's workbook row
    zhang = customer_of[("legacy_db", "K001")]
    assert zhang == customer_of[("sales", "张磊!3")]
    k001 = activities.filter(pl.col("customer_id") == zhang).sort("occurred_at")
    assert k001["source_key"].to_list() == ["1", "2"]
    assert k001["summary"][0] == "电话回访，客户对报价满意" and k001["occurred_at"][0] is not None
    # the customer's last contact is its latest follow-up
    last_contact = customers.filter(pl.col("customer_id") == zhang)["last_contact_at"].item()
    assert last_contact == k001["occurred_at"].max()
    # 李娜's follow-up lands on the customer she became together with the CSV row
    assert customer_of[("legacy_db", "K002")] == customer_of[("export", "2")]
    assert activities.filter(pl.col("source_key") == "3")["customer_id"][0] == customer_of[("legacy_db", "K002")]
    # an orphan is quarantined with its reason; the deleted customer and its follow-up are skipped with its reason
    orphans = quarantine.filter(pl.col("source") == "legacy_followups")
    assert sorted(orphans["source_key"]) == ["5"]
    assert all("orphan_activity" in reasons for reasons in orphans["reasons"])
    reason_of = {(r["source"], r["source_key"]): (r["status"], r["reason"]) for r in outcomes.iter_rows(named=True)}
    assert reason_of[("legacy_db", "K009")] == ("skipped", "deleted")
    assert reason_of[("legacy_followups", "4")] == ("skipped", "deleted")

    before = snapshot(load_settings(config).store_url)
    run_steps(load_settings(config), "run-2", False)
    assert snapshot(load_settings(config).store_url) == before


@pytest.mark.mariadb
def test_schema_drift_is_reported_and_fails_a_strict_source(tmp_path: Path, legacy_db: str) -> None:
    write_sources(tmp_path)
    run_steps(load_settings(project(tmp_path, legacy_db)), "run-1", False)

    # the export gains a column and renames 手机号码 to 手机
    (tmp_path / "export.csv").write_bytes(
        "编号,姓名,手机,邮箱,微信\r\n1,李娜,139-5721-5608,lina88@163.com,lina88\r\n".encode("gb18030")
    )
    result = run_steps(load_settings(project(tmp_path, legacy_db)), "run-2", False)
    report = json.loads((result.report_path.parent / "report.json").read_text("utf-8"))
    export = next(s for s in report["schema"] if s["source"] == "export")
    assert export["renamed"] == [["手机号码", "手机"]] and export["new"] == ["微信"]
    assert "微信" in export["unmapped"]

    strict = load_settings(project(tmp_path, legacy_db, strict=True))
    (tmp_path / "export.csv").write_bytes("编号,姓名\r\n1,李娜\r\n".encode("gb18030"))
    before = snapshot(strict.store_url)
    failed = run_steps(strict, "run-3", False)  # the run fails before anything is loaded, with its report
    assert failed.status == "failed" and failed.error is not None
    assert re.search(r"export: .*missing column '手机'", failed.error)
    assert failed.report_path is not None and failed.report_path.exists()
    assert snapshot(strict.store_url) == before

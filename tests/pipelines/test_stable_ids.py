"""Customer ids follow people, not row positions: a keyed source re-exported with a row inserted at the top, or
in another order, keeps every customer's id."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import polars as pl
import pytest
import sqlalchemy as sa
import yaml
from sqlalchemy.orm import Session

import crm_store
from pipelines.migrate import new_run_id, run_steps
from pipelines.settings import SettingsError, load_settings

PEOPLE = [  # key, name, mobile, email
    ("K001", "张伟", "13800138000", "zhangwei@hx.cn"),
    ("K002", "李娜", "13957215608", "lina@163.com"),
    ("K003", "王芳", "18653551234", "wangfang@qq.com"),
    ("K004", "刘洋", "13511112222", "liuyang@126.com"),
]
NEWCOMER = ("K000", "陈静", "13688889999", "chenjing@sina.com")


def write_sources(folder: Path, people: list[tuple[str, str, str, str]]) -> None:
    lines = ["客户编号,姓名,手机,邮箱", *(",".join(p) for p in people)]
    (folder / "crm.csv").write_text("\n".join(lines) + "\n", "utf-8")
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "客户"
    ws.append(("2024 年客户表",))  # a title row above the header
    ws.append(("编号", "客户姓名", "手机号"))
    for key, name, mobile, _ in people:
        ws.append((key.replace("K", "S"), name, mobile))
    wb.save(folder / "sales.xlsx")


def project(folder: Path) -> Path:
    data = {
        "project": "stable",
        "store": {"url": f"sqlite:///{folder / 'crm.db'}"},
        "reports_dir": str(folder / "reports"),
        "sources": [
            {
                "name": "crm",
                "kind": "csv",
                "params": {"path": str(folder / "crm.csv"), "key": "客户编号"},
                "mapping": {"姓名": "full_name", "手机": "phone", "邮箱": "email"},
            },
            {
                "name": "sales",
                "kind": "xlsx",
                "params": {"path": str(folder / "sales.xlsx"), "key": "编号"},
                "mapping": {"客户姓名": "full_name", "手机号": "phone"},
            },
        ],
    }
    path = folder / "crmkit.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    return path


def ids_by_name(config: Path) -> dict[str, set[str]]:
    settings = load_settings(config)
    result = run_steps(settings, new_run_id(), dry_run=False)
    assert result.status == "succeeded"
    engine = sa.create_engine(settings.store_url)
    with Session(engine) as session:
        customers = crm_store.read_customers(session)
    engine.dispose()
    out: dict[str, set[str]] = {}
    for row in customers.iter_rows(named=True):
        out.setdefault(row["full_name"], set()).add(row["customer_id"])
    return out


def test_ids_stay_with_their_people_when_rows_are_inserted_and_reordered(tmp_path: Path) -> None:
    write_sources(tmp_path, PEOPLE)
    config = project(tmp_path)
    before = ids_by_name(config)
    assert sorted(before) == sorted(p[1] for p in PEOPLE)
    assert all(len(ids) == 1 for ids in before.values())  # the sheet row and the CSV row of a person: one customer

    write_sources(tmp_path, [NEWCOMER, *reversed(PEOPLE)])  # a new row at the top of both, the rest reordered
    after = ids_by_name(config)
    assert {name: after[name] for name in before} == before
    assert after[NEWCOMER[1]].isdisjoint(set().union(*before.values()))


def test_a_sources_priority_and_as_of_decide_between_undated_rows(tmp_path: Path) -> None:
    write_sources(tmp_path, PEOPLE[:1])
    (tmp_path / "crm.csv").write_text("客户编号,姓名,手机,邮箱\nK001,张伟,13800138000,old@hx.cn\n", "utf-8")
    config = project(tmp_path)
    data = yaml.safe_load(config.read_text("utf-8"))
    data["sources"][1]["mapping"]["手机号"] = "phone"
    data["sources"][1]["priority"] = 5  # undated rows of both sources: the higher priority wins the tie
    config.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    settings = load_settings(config)
    assert settings.source("sales").priority == 5 and settings.source("crm").as_of is None
    ids_by_name(config)
    engine = sa.create_engine(settings.store_url)
    with Session(engine) as session:
        provenance = crm_store.read_provenance(session)
    engine.dispose()
    name_from = provenance.filter(sa_field("full_name"))["source"].to_list()
    assert name_from == ["sales"]  # without the priority, "crm" (first by name) would win


def sa_field(name: str) -> object:
    import polars as pl

    return pl.col("field") == name


def customers_of(config: Path) -> dict[str, dict[str, object]]:
    """Every customer of the store, retired ones too, by id (after a run that must succeed)."""
    settings = load_settings(config)
    assert run_steps(settings, new_run_id(), dry_run=False).status == "succeeded"
    engine = sa.create_engine(settings.store_url)
    with Session(engine) as session:
        customers = crm_store.read_customers(session, retired=True)
        current = crm_store.read_customers(session)
    engine.dispose()
    assert current["customer_id"].to_list() == customers.filter(pl.col("retired_at").is_null())["customer_id"].to_list()
    return {row["customer_id"]: row for row in customers.iter_rows(named=True)}


def test_a_split_and_a_merge_keep_their_history_and_no_customer_is_left_without_rows(tmp_path: Path) -> None:
    write_sources(tmp_path, PEOPLE[:1])  # 张伟 in the CSV and in the sheet: one customer
    config = project(tmp_path)
    first = customers_of(config)
    assert len(first) == 1
    (zhang,) = first

    write_sources(tmp_path, PEOPLE[:1])  # the sheet's row is now somebody else
    book = openpyxl.load_workbook(tmp_path / "sales.xlsx")
    sheet = book.active
    assert sheet is not None
    sheet.cell(3, 2, "李娜")
    sheet.cell(3, 3, "13957215608")
    book.save(tmp_path / "sales.xlsx")
    split = customers_of(config)
    assert len(split) == 2 and split[zhang]["retired_at"] is None and split[zhang]["full_name"] == "张伟"
    (li,) = set(split) - {zhang}
    assert split[li]["split_from"] == zhang and split[li]["full_name"] == "李娜"

    write_sources(tmp_path, PEOPLE[:1])  # the sheet's row is 张伟 again: the split-off customer has no row left
    merged = customers_of(config)
    assert merged[li]["retired_at"] is not None and merged[li]["merged_into"] == zhang
    assert merged[zhang]["retired_at"] is None
    again = customers_of(config)  # a re-run changes nothing: same retirement, no new version
    assert again == merged


def test_landline_last_contact_and_survivorship_order_from_the_project_file(tmp_path: Path) -> None:
    write_sources(tmp_path, [])
    (tmp_path / "crm.csv").write_text(
        "客户编号,姓名,固话,手机,邮箱,最后联系\n"
        "K001,张伟,0635-8123456,13800138000,sales@hx.cn,2024-03-01\n"
        "K002,张伟,,13800138000,zhangwei@hx.cn,2023-01-05\n",
        "utf-8",
    )
    config = project(tmp_path)
    data = yaml.safe_load(config.read_text("utf-8"))
    data["sources"][0]["mapping"] |= {"固话": "landline", "最后联系": "last_contact_at"}
    data["survivorship"] = {"email": ["recency"]}  # the newest address, role mailbox or not
    config.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    (customer,) = customers_of(config).values()
    assert customer["primary_phone"] == "+8613800138000" and customer["landline"] == "+866358123456"
    # 2024-03-01 00:00 in Shanghai (the project's zone), kept in UTC
    assert str(customer["last_contact_at"]) == "2024-02-29 16:00:00+00:00"
    assert customer["primary_email"] == "sales@hx.cn"  # by quality it would be zhangwei@hx.cn

    data["survivorship"] = {"mobile": ["recency"]}
    config.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    with pytest.raises(SettingsError, match="'mobile' is not a golden field"):
        load_settings(config)

"""``crmkit users add|list|remove`` and reading as a user: ``crmkit export … --as``, ``crmkit trace --as`` and the web
page of ``crmkit serve --as`` show a user exactly what their role and team see, recorded in the audit trail."""

from __future__ import annotations

import csv
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa
import yaml
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from typer.testing import CliRunner

import crm_store
from pipelines.cli import app
from pipelines.cli_users import principal_of
from pipelines.migrate import run_steps
from pipelines.settings import load_settings
from pipelines.web import CSRF_HEADER, create_app

runner = CliRunner()

ROWS = [  # key, name, mobile, e-mail, owner
    ("1", "张伟", "13800138000", "zhangwei@hx.cn", "张三"),
    ("2", "李娜", "13957215608", "lina@163.com", "张三"),
    ("3", "王芳", "18653551234", "wangfang@qq.com", "李四"),
    ("4", "刘洋", "13511112222", None, None),
    ("5", "陈静", "13688889999", "chenjing@qq.com", "赵六"),
]
USERS = [  # name, role, team
    ("张三", "sales", "east"),
    ("李四", "sales", "west"),
    ("王经理", "manager", "east"),
    ("审计", "auditor", None),
    ("客服", "service", None),
]


def invoke(*args: str) -> Any:
    return runner.invoke(app, list(args))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated store of five customers of three owners (and one without), built once per module."""
    folder = tmp_path_factory.mktemp("users")
    lines = [
        json.dumps({"id": k, "name": n, "mobile": p, "email": e, "sales": o}, ensure_ascii=False)
        for k, n, p, e, o in ROWS
    ]
    (folder / "crm.jsonl").write_text("\n".join(lines) + "\n", "utf-8")
    data = {
        "project": "users",
        "store": {"url": f"sqlite:///{folder / 'crm.db'}"},
        "reports_dir": str(folder / "reports"),
        "sources": [
            {
                "name": "crm",
                "kind": "jsonl",
                "params": {"path": str(folder / "crm.jsonl"), "key": "id"},
                "mapping": {"name": "full_name", "mobile": "phone", "email": "email", "sales": "owner"},
            }
        ],
    }
    (folder / "crmkit.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    result = run_steps(load_settings(folder / "crmkit.yaml"), "r1", dry_run=False)
    assert result.status == "succeeded", result.error
    return folder


@pytest.fixture
def config(built: Path, tmp_path: Path) -> Path:
    """The built project, copied for one test (its store too)."""
    shutil.copy(built / "crm.jsonl", tmp_path / "crm.jsonl")
    shutil.copy(built / "crm.db", tmp_path / "crm.db")
    data = yaml.safe_load((built / "crmkit.yaml").read_text("utf-8"))
    data["store"]["url"] = f"sqlite:///{tmp_path / 'crm.db'}"
    data["reports_dir"] = str(tmp_path / "reports")
    data["sources"][0]["params"]["path"] = str(tmp_path / "crm.jsonl")
    (tmp_path / "crmkit.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    return tmp_path / "crmkit.yaml"


@pytest.fixture
def with_users(config: Path) -> Path:
    for name, role, team in USERS:
        result = invoke(
            "users", "add", name, "--config", str(config), "--role", role, *(["--team", team] if team else [])
        )
        assert result.exit_code == 0, result.output
    return config


def session_of(config: Path) -> Iterator[Session]:
    engine = sa.create_engine(load_settings(config).store_url)
    try:
        with Session(engine) as session:
            yield session
    finally:
        engine.dispose()


def store(config: Path) -> pl.DataFrame:
    """Every golden record as the store's owner sees it (the ground truth)."""
    for session in session_of(config):
        return crm_store.read_customers(session, retired=True)
    raise AssertionError


def owned(config: Path, *owners: str) -> set[str]:
    everyone = store(config)
    return set(everyone.filter(pl.col("owner").is_in(list(owners)))["customer_id"])


def squeezed(text: str) -> str:
    return " ".join(text.split())


# ------------------------------------------------------------------------------------------------ users


def test_users_are_added_listed_and_removed_and_each_change_is_audited(config: Path) -> None:
    added = invoke("users", "add", "张三", "--config", str(config), "--role", "sales", "--team", "east", "--by", "boss")
    assert added.exit_code == 0, added.output
    assert "added user 张三 (sales, team east)" in squeezed(added.stdout)
    again = invoke("users", "add", "张三", "--config", str(config), "--role", "sales", "--team", "east")
    assert again.exit_code == 0 and "nothing changed" in again.stdout
    changed = invoke("users", "add", "张三", "--config", str(config), "--role", "manager", "--team", "east")
    assert changed.exit_code == 0 and "changed user 张三 (manager" in squeezed(changed.stdout)
    assert invoke("users", "add", "审计", "--config", str(config), "--role", "auditor").exit_code == 0

    listed = invoke("users", "list", "--config", str(config), "--json")
    assert listed.exit_code == 0, listed.output
    document = json.loads(listed.stdout)
    assert [(u["name"], u["role"], u["team"], u["customers"]) for u in document["users"]] == [
        ("张三", "manager", "east", 2),
        ("审计", "auditor", None, 0),
    ]
    assert document["owners_without_user"] == [{"owner": "李四", "customers": 1}, {"owner": "赵六", "customers": 1}]
    table = invoke("users", "list", "--config", str(config))
    assert table.exit_code == 0 and "张三" in table.stdout and "owners without a user" in table.stdout

    bad_role = invoke("users", "add", "x", "--config", str(config), "--role", "boss")
    assert (
        bad_role.exit_code == 2
        and "unknown role 'boss'; roles: sales, manager, service, auditor, admin" in squeezed(bad_role.output)
    )
    no_team = invoke("users", "add", "王经理", "--config", str(config), "--role", "manager")
    assert no_team.exit_code == 2 and "a manager needs a team" in no_team.output
    unknown = invoke("users", "remove", "张3", "--config", str(config))
    assert unknown.exit_code == 1 and "no user '张3'; users: 审计, 张三" in squeezed(unknown.output)

    removed = invoke("users", "remove", "张三", "--config", str(config), "--by", "boss")
    assert removed.exit_code == 0 and "removed user 张三 (manager)" in removed.stdout
    events = json.loads(invoke("audit", "list", "--config", str(config), "--json", "--limit", "0").stdout)
    users_events = [(e["action"], e["actor"], e["target"]) for e in events if e["action"].startswith("users.")]
    assert users_events == [
        ("users.add", "boss", {"user": "张三"}),
        ("users.change", users_events[1][1], {"user": "张三"}),
        ("users.add", users_events[2][1], {"user": "审计"}),
        ("users.remove", "boss", {"user": "张三"}),
    ]
    assert invoke("audit", "verify", "--config", str(config)).exit_code == 0


def test_a_missing_store_is_named_not_created(tmp_path: Path, config: Path) -> None:
    data = yaml.safe_load(config.read_text("utf-8"))
    data["store"]["url"] = f"sqlite:///{tmp_path / 'nowhere' / 'crm.db'}"
    other = tmp_path / "other.yaml"
    other.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    for args in (["add", "x", "--role", "sales"], ["list"], ["remove", "x"], ["grant-db", "app"]):
        result = invoke("users", *args, "--config", str(other))
        assert result.exit_code == 1 and "no crmkit store" in result.output, args
    assert not (tmp_path / "nowhere").exists()
    grant = invoke("users", "grant-db", "app", "--config", str(config))
    assert grant.exit_code == 2 and "needs PostgreSQL" in grant.output


# ------------------------------------------------------------------------------------------------ --as


def exported(config: Path, tmp_path: Path, kind: str, *args: str) -> tuple[Any, list[dict[str, str]]]:
    out = tmp_path / f"{kind}-{len(list(tmp_path.iterdir()))}.csv"
    result = invoke("export", kind, "--config", str(config), "--out", str(out), *args)
    if result.exit_code != 0:
        return result, []
    with out.open(encoding="utf-8") as handle:
        return result, list(csv.DictReader(handle))


def test_export_as_a_user_writes_only_what_they_see(with_users: Path, tmp_path: Path) -> None:
    config = with_users
    everyone = store(config)
    result, rows = exported(config, tmp_path, "customers", "--as", "张三")
    assert result.exit_code == 0, result.output
    assert {r["customer_id"] for r in rows} == owned(config, "张三") and len(rows) == 2
    _, rows = exported(config, tmp_path, "customers", "--as", "王经理")  # a manager: the team east (张三 and self)
    assert {r["customer_id"] for r in rows} == owned(config, "张三", "王经理")
    _, rows = exported(config, tmp_path, "customers")  # no --as: the store's owner, everything
    assert len(rows) == everyone.height

    result, rows = exported(config, tmp_path, "customers", "--as", "审计")
    assert result.exit_code == 0 and "(masked)" in result.stdout
    assert len(rows) == everyone.height
    raw = {v for v in everyone["primary_phone"].to_list() + everyone["full_name"].to_list() if v}
    assert not raw & {v for r in rows for v in r.values()}
    assert {r["primary_phone"][:5] for r in rows} == {"'+86 "}  # masked, and formula-safe in CSV

    _, rows = exported(config, tmp_path, "customers", "--as", "客服")
    assert len(rows) == everyone.height and {r["segment"] for r in rows} == {""}
    assert {r["primary_phone"] for r in rows} == {"'" + p for p in everyone["primary_phone"].to_list()}

    _, rows = exported(config, tmp_path, "crosswalk", "--as", "李四")
    assert {r["source_key"] for r in rows} == {"3"}
    _, rows = exported(config, tmp_path, "crosswalk", "--as", "客服")
    assert rows == []

    unknown, _ = exported(config, tmp_path, "customers", "--as", "nobody")
    assert unknown.exit_code == 2 and "--as nobody: no user 'nobody'" in squeezed(unknown.output)
    events = json.loads(invoke("audit", "list", "--config", str(config), "--json", "--action", "export").stdout)
    assert len(events) == 7 and {e["details"]["masked"] for e in events} == {True, False}


def test_trace_as_a_user_shows_only_their_customers(with_users: Path) -> None:
    config = with_users
    mine = sorted(owned(config, "张三"))[0]
    traced = invoke("trace", mine, "--config", str(config), "--json", "--as", "张三")
    assert traced.exit_code == 0, traced.output
    found = json.loads(traced.stdout)
    assert found["customer"]["owner"] == "张三" and [r["source_key"] for r in found["source_rows"]]

    refused = invoke("trace", mine, "--config", str(config), "--as", "李四")
    assert refused.exit_code == 1 and f"no customer '{mine}' in the store that 李四 sees" in squeezed(refused.output)
    by_prefix = invoke("trace", mine[:8], "--config", str(config), "--as", "李四")
    assert by_prefix.exit_code == 1 and mine not in by_prefix.output.replace(mine[:8], "")

    masked = json.loads(invoke("trace", mine, "--config", str(config), "--json", "--as", "审计").stdout)
    assert "*" in masked["customer"]["primary_phone"] and masked["customer"]["birth_date"] is None
    assert all("*" in r["payload"]["mobile"] for r in masked["source_rows"])  # the mapping says it is a phone
    service = json.loads(invoke("trace", mine, "--config", str(config), "--json", "--as", "客服").stdout)
    assert service["source_rows"] == [] and {f["field"] for f in service["fields"]} <= {
        "full_name",
        "primary_phone",
        "primary_email",
        "owner",
        "name_pinyin",
        "family_name",
        "given_name",
    }


# ------------------------------------------------------------------------------------------------ the web page


@pytest.fixture
def web(with_users: Path) -> Iterator[Any]:
    """Opens the web page as a user (None: the store's owner)."""
    settings = load_settings(with_users)
    clients: list[TestClient] = []

    def open_as(name: str | None) -> TestClient:
        principal = None
        if name is not None:
            for session in session_of(with_users):
                principal = principal_of(session, settings, name)
        client = TestClient(create_app(settings, principal=principal), base_url="http://127.0.0.1:8765")
        clients.append(client.__enter__())
        return client

    yield open_as
    for client in clients:
        client.__exit__(None, None, None)


def test_the_web_page_runs_as_a_user(with_users: Path, web: Any) -> None:
    config = with_users
    everyone = store(config)
    mine, theirs = sorted(owned(config, "张三")), sorted(owned(config, "李四"))
    sales = web("张三")

    api = sales.get("/api/customers")
    assert api.status_code == 200 and {c["customer_id"] for c in api.json()} == set(mine)
    home = sales.get("/")
    assert home.status_code == 200 and "Customers of 张三" in home.text
    names = dict(zip(everyone["customer_id"], everyone["full_name"], strict=True))
    assert all(names[c] in home.text for c in mine) and names[theirs[0]] not in home.text
    assert sales.get(f"/customers/{mine[0]}").status_code == 200
    assert sales.get(f"/customers/{theirs[0]}").status_code == 404
    assert sales.get("/customers", params={"q": theirs[0]}, follow_redirects=False).status_code == 404
    assert sales.get("/items/1").status_code == 403

    page = sales.get(f"/customers/{mine[0]}").text
    assert "only an admin may unmerge" in page
    token = re.search(r'"X-CSRF-Token": "([0-9a-f]{64})"', page)
    assert token is not None
    before = store(config)
    refused = sales.post(f"/customers/{mine[0]}/unmerge", headers={CSRF_HEADER: token.group(1), "HX-Request": "true"})
    assert refused.status_code == 403 and "may not unmerge a customer" in refused.text
    assert store(config).equals(before)

    auditor = web("审计").get("/api/customers").json()
    assert len(auditor) == everyone.height and all("*" in (c["primary_phone"] or "*") for c in auditor)
    manager = web("王经理").get("/api/customers").json()
    assert {c["customer_id"] for c in manager} == set(mine)
    owner = web(None)
    assert owner.get("/").status_code == 200 and "Customers of" not in owner.get("/").text  # the review queue
    assert len(owner.get("/api/customers").json()) == everyone.height


def test_serve_refuses_an_unknown_user_before_listening(with_users: Path) -> None:
    unknown = invoke("serve", "--config", str(with_users), "--as", "nobody")
    assert unknown.exit_code == 2 and "no user 'nobody'" in unknown.output
    clash = invoke("serve", "--config", str(with_users), "--as", "张三", "--user", "李四")
    assert clash.exit_code == 2 and "--user and --as name different people" in squeezed(clash.output)

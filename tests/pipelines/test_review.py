"""The steward's review queue end to end: a run queues its possible matches, ``crmkit review accept / reject``
decide two of them, and later runs (full and incremental) merge the accepted pair, keep the rejected one apart,
keep the decisions, and open a decision again when a field of its rows is edited."""

from __future__ import annotations

import json
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

from .test_migrate import snapshot

runner = CliRunner()

A = [  # key, name, mobile, email, company
    ("A1", "张伟", "13800138000", "zhangwei@hx.cn", "齐铭钢管有限公司"),
    ("A2", "李娜", "13957215608", "lina@163.com", "正宇钢管"),
    ("A3", "王芳", "18653551234", "wangfang@qq.com", None),
    ("A4", "刘洋", "13511112222", "liuyang@126.com", "鲁信轴承"),
    ("A5", "陈静", "13688889999", "chenjing@sina.com", None),
    ("A6", "赵涛杰", "13781829855", "1183131131@qq.com", "鲁信轴承有限责任公司"),
    ("A7", "孙丽", "13611112233", "sunli@qq.com", None),
    ("A8", "周杰", "13711112244", "zhoujie@qq.com", "博远电子"),
]
B = [
    ("B1", "张伟", "13800138000", None, None),
    ("B2", "李娜", "13957215609", None, "正宇钢管"),  # one digit off: a possible match (p ≈ 0.99)
    ("B3", "王芳", "18653551234", "wangfang@qq.com", None),
    ("B4", "刘洋", "13511112223", None, None),  # one digit off, nothing else: p ≈ 0.47
    ("B6", "赵涛杰", "13711829866", None, "深圳鲁信轴承有限责任公司"),  # two digits off: another number
    ("B7", "孙丽", "13699998888", None, None),
    ("B8", "周洁", "13711112244", None, "博远电子"),
]


def write(folder: Path, name: str, rows: list[tuple[str, ...]]) -> None:
    lines = [
        json.dumps({"id": k, "name": n, "mobile": p, "email": e, "company": c}, ensure_ascii=False)
        for k, n, p, e, c in rows
    ]
    (folder / f"{name}.jsonl").write_text("\n".join(lines) + "\n", "utf-8")


def project(folder: Path, *, threshold: float = 0.995, incremental: bool = False, url: str | None = None) -> Path:
    """Two keyed JSON Lines sources; a high threshold at first, so that the near pairs are possible matches."""

    def source(name: str) -> dict[str, Any]:
        return {
            "name": name,
            "kind": "jsonl",
            "incremental": incremental,
            "params": {"path": str(folder / f"{name}.jsonl"), "key": "id"},
            "mapping": {"name": "full_name", "mobile": "phone", "email": "email", "company": "company"},
        }

    data = {
        "project": "review",
        "store": {"url": url or f"sqlite:///{folder / 'crm.db'}"},
        "reports_dir": str(folder / "reports"),
        "sources": [source("a"), source("b")],
        "match": {"threshold": threshold, "review_threshold": 0.3},
    }
    path = folder / "crmkit.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    return path


def run(config: Path, run_id: str) -> Any:
    result = run_steps(load_settings(config), run_id, dry_run=False)
    assert result.status == "succeeded", result.error
    return result


def owners(config: Path) -> dict[str, str]:
    """The customer of every loaded row, by source key."""
    engine = sa.create_engine(load_settings(config).store_url)
    with Session(engine) as session:
        crosswalk = crm_store.read_crosswalk(session)
    engine.dispose()
    return dict(zip(crosswalk["source_key"].to_list(), crosswalk["customer_id"].to_list(), strict=True))


def queue(config: Path, status: str = "all") -> dict[tuple[str, str], dict[str, Any]]:
    result = runner.invoke(app, ["review", "list", "--config", str(config), "--json", "--status", status])
    assert result.exit_code == 0, result.output
    return {(i["left"]["source_key"], i["right"]["source_key"]): i for i in json.loads(result.stdout)}


def decide(config: Path, verb: str, item: dict[str, Any], *extra: str) -> None:
    result = runner.invoke(app, ["review", verb, str(item["id"]), "--config", str(config), *extra])
    assert result.exit_code == 0, result.output


def test_decisions_are_honoured_by_later_runs_until_their_rows_change(tmp_path: Path) -> None:
    write(tmp_path, "a", A)
    write(tmp_path, "b", B)
    config = project(tmp_path)
    run(config, "r1")
    items = queue(config, "open")
    assert {("A2", "B2"), ("A4", "B4"), ("A6", "B6"), ("A7", "B7")} <= set(items)
    first = items["A4", "B4"]
    assert 0.3 <= first["probability"] < 0.995 and first["kind"] == "review" and first["status"] == "open"
    assert first["evidence"]["comparisons"]["name"]["level"] == "exact"
    listed = [
        i["id"] for i in json.loads(runner.invoke(app, ["review", "list", "--config", str(config), "--json"]).stdout)
    ]
    by_doubt = sorted(items.values(), key=lambda i: abs(i["probability"] - 0.5))
    assert listed == [i["id"] for i in by_doubt]  # most in doubt first

    shown = runner.invoke(app, ["review", "show", str(first["id"]), "--config", str(config)])
    assert shown.exit_code == 0 and "刘洋" in shown.stdout and "final" in shown.stdout
    table = runner.invoke(app, ["review", "list", "--config", str(config), "--limit", "2"])
    assert table.exit_code == 0 and "showing 2 of 4 open items" in " ".join(table.stdout.split())

    decide(config, "accept", items["A4", "B4"], "--note", "called him: same person", "--by", "alice")
    decide(config, "reject", items["A2", "B2"], "--by", "bob")
    unknown = runner.invoke(app, ["review", "accept", "999", "--config", str(config)])
    assert unknown.exit_code == 1 and "no review item 999" in unknown.output

    # the next run, with a lower threshold: A2/B2 (p ≈ 0.99) would merge now, as A6/B6 does
    config = project(tmp_path, threshold=0.9)
    run(config, "r2")
    ids = owners(config)
    assert ids["A4"] == ids["B4"]  # accepted: merged
    assert ids["A2"] != ids["B2"]  # rejected: kept apart
    assert ids["A6"] == ids["B6"]  # not decided: the threshold merged it
    items = queue(config)
    assert items["A4", "B4"]["status"] == items["A2", "B2"]["status"] == "decided"
    assert (
        items["A4", "B4"]["decision"]["decision"] == "match" and items["A4", "B4"]["decision"]["decided_by"] == "alice"
    )
    engine = sa.create_engine(load_settings(config).store_url)
    with Session(engine) as session:
        assert crm_store.read_decisions(session).height == 2
        actions = crm_store.read_audit_events(session)["action"].to_list()
        assert [a for a in actions if a.startswith("review.")] == ["review.accept", "review.reject"]
    engine.dispose()

    before = snapshot(load_settings(config).store_url)
    run(config, "r3")  # an identical run changes nothing, the queue included
    assert snapshot(load_settings(config).store_url) == before

    # A4's mobile is edited at the source: the decision was made on other values, it binds no more
    write(tmp_path, "a", [(k, n, "13511119999" if k == "A4" else p, e, c) for k, n, p, e, c in A])
    run(config, "r4")
    ids = owners(config)
    assert ids["A4"] != ids["B4"]
    reopened = queue(config)["A4", "B4"]
    assert reopened["status"] == "open" and "changed since alice decided match" in reopened["note"]
    assert queue(config)["A2", "B2"]["status"] == "decided"

    out = tmp_path / "queue.csv"
    exported = runner.invoke(app, ["review", "export", "--config", str(config), "--out", str(out)])
    assert exported.exit_code == 0, exported.output
    rows = pl.read_csv(out, infer_schema=False)
    assert rows.height == len(queue(config)) and {"id", "probability", "decision", "evidence"} <= set(rows.columns)


def test_an_incremental_run_honours_decisions(tmp_path: Path) -> None:
    write(tmp_path, "a", A)
    write(tmp_path, "b", B)
    config = project(tmp_path, incremental=True)
    run(config, "r1")
    items = queue(config, "open")
    decide(config, "accept", items["A4", "B4"])
    decide(config, "reject", items["A2", "B2"])

    write(tmp_path, "b", [*B, ("B9", "吴莉雨", "13612345678", None, None)])  # a.jsonl unchanged: not read again
    config = project(tmp_path, threshold=0.9, incremental=True)
    result = run(config, "r2")
    assert result.matching.get("incremental") is True
    ids = owners(config)
    assert ids["A4"] == ids["B4"] and ids["A2"] != ids["B2"]
    items = queue(config)
    assert items["A4", "B4"]["status"] == items["A2", "B2"]["status"] == "decided"

    # A6/B6 merged at the lower threshold (its item is stale now); a steward splits them: no source changed, but
    # the stored customers contradict a decision, so the run matches every record again
    assert items["A6", "B6"]["status"] == "stale" and ids["A6"] == ids["B6"]
    decide(config, "reject", items["A6", "B6"])
    result = run(config, "r3")
    assert result.matching.get("incremental") is False
    ids = owners(config)
    assert ids["A6"] != ids["B6"] and ids["A4"] == ids["B4"]


def test_review_commands_need_a_store_with_a_queue(tmp_path: Path) -> None:
    write(tmp_path, "a", A)
    write(tmp_path, "b", B)
    config = project(tmp_path)
    result = runner.invoke(app, ["review", "list", "--config", str(config)])
    assert result.exit_code == 1 and "no crmkit store" in result.output
    bad = runner.invoke(app, ["review", "list", "--config", str(config), "--status", "maybe"])
    assert bad.exit_code == 2 and "unknown status" in bad.output


@pytest.mark.postgres
def test_the_queue_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    write(tmp_path, "a", A)
    write(tmp_path, "b", B)
    config = project(tmp_path, url=pg_url)
    run(config, "r1")
    items = queue(config, "open")
    decide(config, "reject", items["A6", "B6"])
    config = project(tmp_path, threshold=0.9, url=pg_url)
    run(config, "r2")
    ids = owners(config)
    assert ids["A6"] != ids["B6"] and ids["A2"] == ids["B2"]

"""A small store for the web page's tests: two keyed JSON Lines sources whose run leaves open possible matches
in the review queue and merged customers to unmerge. Built once per session; each test gets its own copy. The
project requires a company of every customer, so a clean run (``cleaned``) finds the customers without one."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from sqlalchemy.orm import Session

import crm_store
from pipelines.migrate import run_steps
from pipelines.settings import load_settings

A = [  # key, name, mobile, email, company
    ("A1", "张伟", "13800138000", "zhangwei@hx.cn", "齐铭钢管有限公司"),
    ("A2", "李娜", "13957215608", "lina@163.com", "正宇钢管"),
    ("A3", "王芳", "18653551234", "wangfang@qq.com", None),
    ("A4", "刘洋", "13511112222", "liuyang@126.com", "鲁信轴承"),
    ("A6", "赵涛杰", "13781829855", "1183131131@qq.com", "鲁信轴承有限责任公司"),
    ("A7", "孙丽", "13611112233", "sunli@qq.com", None),
]
B = [
    ("B1", "张伟", "13800138000", None, None),  # the same person as A1: merged
    ("B2", "李娜", "13957215609", None, "正宇钢管"),  # one digit off: a possible match (p ≈ 0.99)
    ("B3", "王芳", "18653551234", "wangfang@qq.com", None),  # merged with A3
    ("B4", "刘洋", "13511112223", None, None),  # one digit off, nothing else: p ≈ 0.47
    ("B6", "赵涛杰", "13711829866", None, "深圳鲁信轴承有限责任公司"),  # two digits off: another number
    ("B7", "孙丽", "13699998888", None, None),
]


def _write(folder: Path, name: str, rows: list[tuple[str | None, ...]]) -> None:
    lines = [
        json.dumps({"id": k, "name": n, "mobile": p, "email": e, "company": c}, ensure_ascii=False)
        for k, n, p, e, c in rows
    ]
    (folder / f"{name}.jsonl").write_text("\n".join(lines) + "\n", "utf-8")


def _project(folder: Path, sources: Path, store: Path) -> Path:
    def source(name: str) -> dict[str, Any]:
        return {
            "name": name,
            "kind": "jsonl",
            "params": {"path": str(sources / f"{name}.jsonl"), "key": "id"},
            "mapping": {"name": "full_name", "mobile": "phone", "email": "email", "company": "company"},
        }

    data = {
        "project": "web",
        "store": {"url": f"sqlite:///{store}"},
        "reports_dir": str(folder / "reports"),
        "sources": [source("a"), source("b")],
        "match": {"threshold": 0.995, "review_threshold": 0.3},  # a high threshold: near pairs are to review
        # a company is required too: the customers without one are findings of a clean run (none runs here)
        "clean": {"required": {"default": ["phone|email", "company"]}},
    }
    path = folder / "crmkit.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    return path


@pytest.fixture(scope="session")
def built_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the two sources and ``crm.db`` after one run (about 4 s, once per session)."""
    folder = tmp_path_factory.mktemp("web_store")
    _write(folder, "a", A)
    _write(folder, "b", B)
    config = _project(folder, folder, folder / "crm.db")
    result = run_steps(load_settings(config), "r1", dry_run=False)
    assert result.status == "succeeded", result.error
    return folder


@pytest.fixture
def web_project(built_store: Path, tmp_path: Path) -> Path:
    """A project file over a copy of the built store, for one test."""
    for file in built_store.glob("crm.db*"):
        shutil.copy2(file, tmp_path / file.name)
    return _project(tmp_path, built_store, tmp_path / "crm.db")


@pytest.fixture
def store_session(web_project: Path) -> Iterator[Callable[[], Session]]:
    """Opens a new session on the test's store (each sees what was committed until then)."""
    engines: list[sa.Engine] = []

    def open_session() -> Session:
        engines.append(crm_store.open_store(load_settings(web_project).store_url))
        return Session(engines[-1])

    yield open_session
    for engine in engines:
        engine.dispose()


@pytest.fixture
def merged(store_session: Callable[[], Session]) -> tuple[str, list[str]]:
    """The customer holding source rows a:A1 and b:B1, and its rows (``source:key``, sorted)."""
    with store_session() as session:
        crosswalk = crm_store.read_crosswalk(session)
    owner = {(s, k): c for s, k, c in crosswalk.select("source", "source_key", "customer_id").iter_rows()}
    customer = owner["a", "A1"]
    rows = sorted(f"{s}:{k}" for (s, k), c in owner.items() if c == customer)
    assert rows == ["a:A1", "b:B1"]
    return customer, rows


@pytest.fixture
def cleaned(web_project: Path) -> list[str]:
    """Runs the clean flow once on the test's store; returns the customers its findings are about (sorted)."""
    from pipelines.clean import run_clean

    result = run_clean(load_settings(web_project), "clean-1")
    assert result.status == "succeeded", result.error
    assert result.counts["by_code"]["incomplete_record"]["findings"] == result.enqueued
    engine = crm_store.open_store(load_settings(web_project).store_url)
    with Session(engine) as session:
        items = crm_store.read_review_items(session, subject="finding")
    engine.dispose()
    return sorted(items["customer_id"].to_list())

"""A steward's unmerge and merge (``pipelines.steward``, ``crmkit unmerge`` / ``crmkit merge``): they rebuild the
golden records at once, later runs honour them, each undoes the other, and refusals are one clear message."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa
import yaml
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session
from typer.testing import CliRunner

import crm_store
from pipelines import steward
from pipelines.cli import app
from pipelines.migrate import run_steps
from pipelines.settings import ProjectSettings, load_settings

runner = CliRunner()

PEOPLE = [  # name, mobile, email, company
    ("张伟", "13800138000", "zhangwei@hx.cn", "齐铭钢管有限公司"),
    ("李娜", "13957215608", "lina@163.com", "正宇钢管"),
    ("王芳", "18653551234", "wangfang@qq.com", None),
    ("刘洋", "13511112222", "liuyang@126.com", "鲁信轴承"),
    ("陈静", "13688889999", "chenjing@sina.com", None),
    ("赵涛杰", "13781829855", "zhaotj@qq.com", "博远电子"),
]
Row = tuple[str, int, bool]  # key, person, has e-mail


def write(folder: Path, name: str, rows: list[Row]) -> None:
    lines = []
    for key, person, has_email in rows:
        n, phone, email, company = PEOPLE[person]
        record = {"id": key, "name": n, "mobile": phone, "email": email if has_email else None, "company": company}
        lines.append(json.dumps(record, ensure_ascii=False))
    (folder / f"{name}.jsonl").write_text("\n".join(lines) + "\n", "utf-8")


def project(
    folder: Path, *, url: str | None = None, incremental: bool = False, follow_ups: bool = False
) -> ProjectSettings:
    """Two keyed JSON Lines sources of people (``a``, ``b``); with ``follow_ups``, an activity source ``f`` whose
    rows belong to rows of ``b``."""

    def source(name: str) -> dict[str, Any]:
        return {
            "name": name,
            "kind": "jsonl",
            "incremental": incremental,
            "params": {"path": str(folder / f"{name}.jsonl"), "key": "id"},
            "mapping": {"name": "full_name", "mobile": "phone", "email": "email", "company": "company"},
        }

    data = {
        "project": "steward",
        "store": {"url": url or f"sqlite:///{folder / 'crm.db'}"},
        "reports_dir": str(folder / "reports"),
        "sources": [source("a"), source("b")],
    }
    if follow_ups:
        data["sources"].append(
            {
                "name": "f",
                "kind": "jsonl",
                "params": {"path": str(folder / "f.jsonl"), "key": "fid"},
                "activity": {"parent": "b", "parent_key": "parent", "occurred_at": "when", "summary": "text"},
            }
        )
    path = folder / "crmkit.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    return load_settings(path)


def run(settings: ProjectSettings, run_id: str) -> Any:
    result = run_steps(settings, run_id, dry_run=False)
    assert result.status == "succeeded", result.error
    return result


def read(settings: ProjectSettings, fn: Any, **kwargs: Any) -> Any:
    engine = sa.create_engine(settings.store_url)
    try:
        with Session(engine) as session:
            return fn(session, **kwargs)
    finally:
        engine.dispose()


def owners(settings: ProjectSettings) -> dict[str, str]:
    """The customer of every loaded row, by ``source:key``."""
    crosswalk = read(settings, crm_store.read_crosswalk)
    return {f"{s}:{k}": c for s, k, c in crosswalk.select("source", "source_key", "customer_id").iter_rows()}


def state(settings: ProjectSettings) -> dict[str, list[tuple[Any, ...]]]:
    """The current customers' ids and golden fields, the crosswalk, and the current customers' field provenance,
    contact points and addresses (what an unmerge then a merge must give back)."""

    def take(session: Session) -> dict[str, list[tuple[Any, ...]]]:
        customers = crm_store.read_customers(session).select("customer_id", *crm_store.GOLDEN_COLUMNS)
        current = customers["customer_id"].implode()
        details = {
            "provenance": crm_store.read_provenance(session),
            "contact_point": crm_store.read_contact_points(session),
            "address": crm_store.read_addresses(session),
        }
        out = {name: sorted(f.filter(pl.col("customer_id").is_in(current)).rows()) for name, f in details.items()}
        out["customer"] = sorted(customers.rows())
        out["crosswalk"] = sorted(crm_store.read_crosswalk(session).drop("first_run_id").rows())
        return out

    return read(settings, take)


def test_unmerge_splits_rows_off_later_runs_keep_them_apart_and_merge_undoes_it(tmp_path: Path) -> None:
    write(tmp_path, "a", [("A1", 0, True), ("A2", 1, True), ("A3", 2, True)])
    write(tmp_path, "b", [("B1", 0, False), ("B2", 1, False), ("B3", 0, True)])
    settings = project(tmp_path)
    run(settings, "r1")
    before = state(settings)
    ids = owners(settings)
    zhang = ids["a:A1"]
    assert ids["b:B1"] == ids["b:B3"] == zhang and ids["b:B2"] == ids["a:A2"] != zhang

    result = steward.unmerge(settings, zhang[:8], rows=[("b", "B3")], actor="alice", note="his son")
    kept, new = result.parts
    assert result.basis == "rows" and result.customer_ids == [zhang, new.customer_id]
    assert kept.rows == ["a:A1", "b:B1"] and new.rows == ["b:B3"] and new.new and not kept.new
    assert new.golden["full_name"] == "张伟" and new.golden["primary_email"] == "zhangwei@hx.cn"
    assert kept.golden["primary_email"] == "zhangwei@hx.cn"  # from A1 now (B3 is gone)
    assert result.decisions == {"no_match": 2, "match": 1} and not result.bounded
    customers = read(settings, crm_store.read_customers).to_dicts()
    split = next(c for c in customers if c["customer_id"] == new.customer_id)
    assert split["split_from"] == zhang
    audit = read(settings, crm_store.read_audit_events, action=steward.UNMERGE_ACTION).row(-1, named=True)
    assert audit["actor"] == "alice" and json.loads(audit["details"])["note"] == "his son"
    assert json.loads(audit["target"]) == {"customer_id": zhang, "customers": [zhang, new.customer_id]}
    events = read(settings, crm_store.read_merge_events, customer_ids=[zhang])
    assert events.filter(pl.col("members").str.contains("B3"))["undone_at"].is_not_null().all()
    after_unmerge = state(settings)

    run(settings, "r2")  # the next run honours the split: same customers, same golden records
    assert owners(settings) == {**ids, "b:B3": new.customer_id}
    for name in ("customer", "provenance", "contact_point"):
        assert state(settings)[name] == after_unmerge[name]

    merged = steward.merge(settings, [new.customer_id, zhang], actor="bob")
    assert merged.customer_id == zhang and merged.merged == [new.customer_id] and merged.restored_event_id is not None
    again = state(settings)
    for name in ("customer", "provenance", "contact_point", "address"):
        assert again[name] == before[name]
    run(settings, "r3")  # the next run keeps them together
    assert owners(settings) == ids
    retired = read(settings, crm_store.read_customer, customer_id=new.customer_id).row(0, named=True)
    assert retired["retired_at"] is not None and retired["merged_into"] == zhang


def test_merge_joins_customers_runs_keep_them_and_unmerge_restores_them(tmp_path: Path) -> None:
    write(tmp_path, "a", [("A1", 2, True), ("A2", 3, True)])
    write(tmp_path, "b", [("B1", 4, True)])
    settings = project(tmp_path)
    run(settings, "r1")
    ids = owners(settings)
    before = state(settings)
    result = steward.merge(settings, [ids["a:A1"], ids["a:A2"], ids["b:B1"]], actor="carol", note="one family")
    assert result.customer_id == min(ids.values()) and result.customer.rows == ["a:A1", "a:A2", "b:B1"]
    assert sorted(result.merged) == sorted(set(ids.values()) - {result.customer_id}) and result.decisions == 2
    run(settings, "r2")
    assert set(owners(settings).values()) == {result.customer_id}
    with pytest.raises(steward.RetiredCustomerError, match=f"its rows are in customer {result.customer_id}"):
        steward.unmerge(settings, result.merged[0], actor="carol")

    undone = steward.unmerge(settings, result.customer_id, actor="carol")  # by history: the three customers again
    assert undone.basis == "history" and sorted(undone.customer_ids) == sorted(ids.values())
    assert state(settings)["customer"] == before["customer"] and owners(settings) == ids
    run(settings, "r3")
    assert owners(settings) == ids
    actions = read(settings, crm_store.read_audit_events)["action"].to_list()
    assert [a for a in actions if a.startswith("customer.")] == ["customer.merge", "customer.unmerge"]


def test_an_incremental_run_honours_an_unmerge(tmp_path: Path) -> None:
    write(tmp_path, "a", [("A1", 0, True), ("A2", 1, True)])
    write(tmp_path, "b", [("B1", 0, False), ("B2", 1, False)])
    settings = project(tmp_path, incremental=True)
    run(settings, "r1")
    ids = owners(settings)
    result = steward.unmerge(settings, ids["a:A1"], rows=["b:B1"], actor="alice")
    write(tmp_path, "b", [("B1", 0, False), ("B2", 1, False), ("B9", 5, True)])  # a.jsonl unchanged: not read
    assert run(settings, "r2").matching.get("incremental") is True
    now = owners(settings)
    assert now["a:A1"] == ids["a:A1"] and now["b:B1"] == result.parts[1].customer_id and now["a:A2"] == now["b:B2"]


def test_refusals(tmp_path: Path) -> None:
    write(tmp_path, "a", [("A1", 0, True), ("A2", 1, True)])
    write(tmp_path, "b", [("B1", 0, False)])
    settings = project(tmp_path)
    run(settings, "r1")
    ids = owners(settings)
    with pytest.raises(steward.CustomerNotFoundError):
        steward.unmerge(settings, "no-such-customer", actor="x")
    with pytest.raises(steward.NothingToUnmergeError, match="one source row"):
        steward.unmerge(settings, ids["a:A2"], actor="x")
    with pytest.raises(steward.NothingToUnmergeError, match="--rows"):
        steward.unmerge(settings, ids["a:A1"], actor="x")  # matched as one in one run: no history
    with pytest.raises(ValueError, match="has no row a:A2"):
        steward.unmerge(settings, ids["a:A1"], rows=["a:A2"], actor="x")
    with pytest.raises(ValueError, match="every row"):
        steward.unmerge(settings, ids["a:A1"], rows=["a:A1", "b:B1"], actor="x")
    with pytest.raises(ValueError, match="two or more"):
        steward.merge(settings, [ids["a:A1"], ids["b:B1"]], actor="x")
    assert read(settings, crm_store.read_audit_events, action=steward.UNMERGE_ACTION).is_empty()


def test_the_cli_and_a_follow_up_that_moves_with_its_row(tmp_path: Path) -> None:
    write(tmp_path, "a", [("A1", 0, True), ("A2", 1, True)])
    write(tmp_path, "b", [("B1", 0, False)])
    follow_up = {"fid": "F1", "parent": "B1", "when": "2024-05-01 10:00", "text": "called"}
    (tmp_path / "f.jsonl").write_text(json.dumps(follow_up) + "\n", "utf-8")
    settings = project(tmp_path, follow_ups=True)
    run(settings, "r1")
    config = str(tmp_path / "crmkit.yaml")
    ids = owners(settings)
    zhang = ids["a:A1"]

    done = runner.invoke(app, ["unmerge", zhang, "--config", config, "--rows", "b:B1", "--by", "dana", "--note", "no"])
    assert done.exit_code == 0, done.output
    split = owners(settings)["b:B1"]
    assert split != zhang and "Unmerged customer" in done.stdout and split in done.stdout and "张伟" in done.stdout
    assert read(settings, crm_store.read_activities)["customer_id"].to_list() == [split]  # with its parent row
    contact = dict(read(settings, crm_store.read_customers).select("customer_id", "last_contact_at").iter_rows())
    assert contact[zhang] is None and str(contact[split]) == "2024-05-01 02:00:00+00:00"
    again = runner.invoke(app, ["unmerge", zhang, "--config", config])
    assert again.exit_code == 1 and "one source row" in again.output

    joined = runner.invoke(app, ["merge", split, zhang, "--config", config, "--by", "dana"])
    assert joined.exit_code == 0, joined.output
    assert "an unmerge undone" in " ".join(joined.stdout.split()) and set(owners(settings).values()) == {
        zhang,
        ids["a:A2"],
    }
    assert read(settings, crm_store.read_activities)["customer_id"].to_list() == [zhang]
    retired = runner.invoke(app, ["merge", split, ids["a:A2"], "--config", config])
    assert retired.exit_code == 1 and "retired" in retired.output and zhang in retired.output
    unknown = runner.invoke(app, ["unmerge", "0000000000", "--config", config])
    assert unknown.exit_code == 1 and "no customer" in unknown.output
    actors = read(settings, crm_store.read_audit_events).filter(pl.col("action").str.starts_with("customer."))
    assert actors["actor"].to_list() == ["dana", "dana"]


@pytest.mark.parametrize(
    "store", [pytest.param("postgres", marks=pytest.mark.postgres), pytest.param("mariadb", marks=pytest.mark.mariadb)]
)
def test_unmerge_and_merge_on_a_server(store: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    url = str(request.getfixturevalue("pg_url" if store == "postgres" else "mariadb_url"))
    write(tmp_path, "a", [("A1", 0, True), ("A2", 1, True)])
    write(tmp_path, "b", [("B1", 0, False), ("B2", 0, True)])
    settings = project(tmp_path, url=url)
    run(settings, "r1")
    before, ids = state(settings), owners(settings)
    result = steward.unmerge(settings, ids["a:A1"], rows=["b:B2", "b:B1"], actor="erin")
    assert [p.rows for p in result.parts] == [["b:B1", "b:B2"], ["a:A1"]]  # two rows of three keep the id
    run(settings, "r2")
    assert owners(settings)["a:A1"] == result.parts[1].customer_id
    steward.merge(settings, result.customer_ids, actor="erin")
    assert state(settings)["customer"] == before["customer"] and owners(settings) == ids


# ------------------------------------------------------------------------------------------------ the property


@st.composite
def populations(draw: st.DrawFn) -> tuple[list[Row], list[Row]]:
    """Two sources of 2 to 4 people: each person 1 to 4 rows spread over the sources, some without e-mail (a
    source may be left empty: :func:`both_sources` filters those out, an empty file has no header)."""
    people = draw(st.lists(st.integers(0, len(PEOPLE) - 1), min_size=2, max_size=4, unique=True))
    a: list[Row] = []
    b: list[Row] = []
    for person in people:
        counts = draw(st.tuples(st.integers(0, 2), st.integers(0, 2)).filter(lambda c: sum(c) > 0))
        for side, count in zip((a, b), counts, strict=True):
            for _ in range(count):
                side.append((f"{'AB'[side is b]}{len(side) + 1}", person, draw(st.booleans())))
    return a, b


def both_sources(population: tuple[list[Row], list[Row]]) -> bool:
    return bool(population[0]) and bool(population[1])


@hypothesis_settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(population=populations().filter(both_sources), data=st.data())
def test_unmerge_then_merge_returns_the_store_to_the_same_state(
    population: tuple[list[Row], list[Row]], data: st.DataObject
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        write(tmp, "a", population[0])
        write(tmp, "b", population[1])
        settings = project(tmp)
        run(settings, "r1")
        before = state(settings)
        rows_of: dict[str, list[str]] = {}
        for row, cid in owners(settings).items():
            rows_of.setdefault(cid, []).append(row)
        customers = sorted(rows_of)

        big = sorted(c for c in customers if len(rows_of[c]) > 1)
        if big:  # split some rows off a customer, then merge the parts again
            cid = data.draw(st.sampled_from(big))
            rows = data.draw(
                st.lists(st.sampled_from(sorted(rows_of[cid])), min_size=1, max_size=len(rows_of[cid]) - 1, unique=True)
            )
            split = steward.unmerge(settings, cid, rows=rows, actor="prop")
            assert sorted(r for p in split.parts for r in p.rows) == sorted(rows_of[cid])
            steward.merge(settings, list(reversed(split.customer_ids)), actor="prop")
            assert state(settings) == before
        if len(customers) > 1:  # merge customers, then unmerge by history
            chosen = data.draw(st.lists(st.sampled_from(customers), min_size=2, max_size=3, unique=True))
            joined = steward.merge(settings, chosen, actor="prop")
            steward.unmerge(settings, joined.customer_id, actor="prop")
            again = state(settings)
            assert again["customer"] == before["customer"] and again["crosswalk"] == before["crosswalk"]
            assert again["provenance"] == before["provenance"]

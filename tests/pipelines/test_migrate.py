"""End-to-end guarantees of the migrate flow: the ledger balances, bad input is data, re-runs change nothing,
golden records trace back to their rows, and reports never echo raw personal data."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

import crm_store
from connectors import get_connector
from pipelines.migrate import migrate, run_steps
from pipelines.settings import load_settings

from .conftest import ROOT, retarget


def run(config: Path, *, dry_run: bool = False, run_id: str = "run-1"):
    return run_steps(load_settings(config), run_id, dry_run)


def snapshot(url: str) -> dict[str, list[tuple]]:
    """Every row of every table but the runs' own records (pipeline_run, and its audit events), in a stable order."""
    engine = sa.create_engine(url)
    runs = ("pipeline_run", "audit_event", "audit_head")
    tables = [t for t in crm_store.Base.metadata.sorted_tables if t.name not in runs]
    try:
        with engine.connect() as conn:
            return {t.name: sorted(map(tuple, conn.execute(sa.select(t)).all()), key=repr) for t in tables}
    finally:
        engine.dispose()


@pytest.mark.slow  # through Prefect (a temporary server, a flow run)
def test_demo_runs_through_the_prefect_flow_and_its_ledger_balances(tmp_path: Path) -> None:
    config = retarget(ROOT / "config" / "demo.yaml", tmp_path)
    result = migrate(config, run_id="demo-run")
    assert result.status == "succeeded"
    assert result.ledger and all(row["balanced"] for row in result.ledger)
    assert {row["source"] for row in result.ledger} == {"sales_workbook", "legacy_crm", "web_signups"}
    for row in result.ledger:
        assert row["read"] == row["loaded"] + row["quarantined"] + row["skipped"] > 0
    report = json.loads((tmp_path / "reports" / "demo-run" / "report.json").read_text("utf-8"))
    assert [
        {k: r[k] for k in ("source", "read", "loaded", "quarantined", "skipped", "balanced")} for r in report["ledger"]
    ] == [{k: r[k] for k in ("source", "read", "loaded", "quarantined", "skipped", "balanced")} for r in result.ledger]
    assert (tmp_path / "reports" / "latest" / "report.html").exists()
    # The store agrees with the ledger: every row read is in source_record with its outcome.
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'crm.db'}")
    with Session(engine) as session:
        counts = crm_store.ledger_counts(session).sort("source")
    engine.dispose()
    for row in result.ledger:
        stored = counts.filter(pl.col("source") == row["source"]).row(0, named=True)
        assert (stored["loaded"], stored["quarantined"], stored["skipped"]) == (
            row["loaded"],
            row["quarantined"],
            row["skipped"],
        )


def test_every_row_is_accounted_for_with_a_reason(project: Path) -> None:
    result = run(project)
    assert all(row["balanced"] for row in result.ledger)
    url = load_settings(project).store_url
    engine = sa.create_engine(url)
    with Session(engine) as session:
        outcomes = crm_store.read_outcomes(session)
    engine.dispose()
    assert outcomes.height == sum(row["read"] for row in result.ledger)
    assert outcomes.filter(pl.col("status") != "loaded")["reason"].null_count() == 0
    assert outcomes.filter(pl.col("status") == "loaded")["customer_id"].null_count() == 0
    assert (
        outcomes.filter(pl.col("status") != "loaded")["customer_id"].null_count()
        == outcomes.filter(pl.col("status") != "loaded").height
    )


def test_broken_inputs_are_quarantined_or_fail_their_source_alone(sample_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(sample_dir, data)
    # 1. a truncated workbook: the whole source fails, with a message naming the file.
    xlsx = data / "sales.xlsx"
    xlsx.write_bytes(xlsx.read_bytes()[: xlsx.stat().st_size // 2])
    # 2. bytes that are no GB18030 in the middle of the legacy CSV: that row is quarantined, naming the line.
    csv_path = data / "legacy_crm.csv"
    lines = csv_path.read_bytes().split(b"\r\n")
    lines[3] = lines[3].replace(b",", b",\xff\xfe", 1)
    csv_path.write_bytes(b"\r\n".join(lines))
    # 3. a malformed JSON line (the generator already writes one; add another).
    jsonl = data / "signups.jsonl"
    jsonl.write_text(jsonl.read_text("utf-8") + '{"name": "半截\n', "utf-8")
    broken_line = len(jsonl.read_text("utf-8").splitlines())

    config = retarget(data / "crmkit.yaml", tmp_path)
    result = run(config)

    ledger = {row["source"]: row for row in result.ledger}
    assert all(row["balanced"] for row in result.ledger)
    assert ledger["sales_workbook"]["error"] and "sales.xlsx" in ledger["sales_workbook"]["error"]
    assert ledger["sales_workbook"]["read"] == 0
    assert ledger["legacy_crm"]["loaded"] > 0 and ledger["web_signups"]["loaded"] > 0

    engine = sa.create_engine(load_settings(config).store_url)
    with Session(engine) as session:
        quarantine = crm_store.read_quarantine(session)
    engine.dispose()
    bad_csv = quarantine.filter((pl.col("source") == "legacy_crm") & (pl.col("source_key") == "4"))
    assert bad_csv.height == 1 and "bad_encoding" in bad_csv["reasons"][0]
    assert "line 4" in json.dumps(bad_csv["details"].to_list(), ensure_ascii=False)
    bad_json = quarantine.filter((pl.col("source") == "web_signups") & (pl.col("source_key") == str(broken_line)))
    assert bad_json.height == 1 and "malformed_row" in bad_json["reasons"][0]

    report = json.loads((result.report_path.parent / "report.json").read_text("utf-8"))
    failed = [row for row in report["ledger"] if row["error"]]
    assert [row["source"] for row in failed] == ["sales_workbook"]


def test_a_second_identical_run_changes_nothing(project: Path) -> None:
    url = load_settings(project).store_url
    first = run(project, run_id="first")
    before = snapshot(url)
    second = run(project, run_id="second")
    assert snapshot(url) == before
    assert first.totals == second.totals


def test_every_golden_record_traces_to_its_rows_and_every_field_to_one_row(project: Path) -> None:
    run(project)
    engine = sa.create_engine(load_settings(project).store_url)
    with Session(engine) as session:
        customers = crm_store.read_customers(session)
        crosswalk = crm_store.read_crosswalk(session)
        provenance = crm_store.read_provenance(session)
        outcomes = crm_store.read_outcomes(session)
    engine.dispose()
    assert customers.height > 0
    # every customer has at least one source row, every loaded row one customer
    assert set(customers["customer_id"]) == set(crosswalk["customer_id"])
    assert crosswalk.select("source", "source_key").is_unique().all()
    # every golden field value comes from exactly one row of that same customer
    assert provenance.select("customer_id", "field").is_unique().all()
    traced = provenance.join(crosswalk, on=["source", "source_key"], how="left", suffix="_row")
    assert (traced["customer_id"] == traced["customer_id_row"]).all()
    payload = outcomes.filter(pl.col("status") == "loaded")
    assert traced.join(payload, on=["source", "source_key"], how="anti").height == 0
    for field, store_column in [
        ("full_name", "full_name"),
        ("primary_phone", "primary_phone"),
        ("company", "company"),
    ]:
        golden = customers.filter(pl.col(store_column).is_not_null()).select("customer_id", store_column)
        sourced = provenance.filter(pl.col("field") == field).select("customer_id", pl.col("value").alias(store_column))
        assert golden.sort("customer_id").equals(sourced.sort("customer_id")), field


def test_the_report_never_echoes_raw_email_or_phone(project: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = load_settings(project)
    caplog.set_level("DEBUG")
    result = run(project)
    texts = [
        (result.report_path.parent / "report.json").read_text("utf-8"),
        result.report_path.read_text("utf-8"),
        caplog.text,
    ]
    secrets = set()
    for source in settings.sources:
        mapped = [col for col, field in source.mapping.items() if field in ("phone", "email")]
        for batch in get_connector(source.kind)(source.connector_params(), source=source.name):
            for col in mapped:
                if col in batch.columns:
                    secrets.update(v.strip() for v in batch[col].drop_nulls() if len(v.strip()) >= 7)
    digits = {re.sub(r"\D", "", s) for s in secrets if "@" not in s}
    secrets |= {d for d in digits if len(d) >= 7} | {s.lower() for s in secrets}
    assert len(secrets) > 50
    for text in texts:
        leaked = sorted(s for s in secrets if s in text)
        assert not leaked, leaked[:5]


def test_a_dry_run_writes_the_report_but_not_the_store(project: Path) -> None:
    result = run(project, dry_run=True)
    assert result.dry_run and result.report_path.exists()
    assert not Path(load_settings(project).store_url.removeprefix("sqlite:///")).exists()


@pytest.mark.postgres
def test_migrate_into_postgresql(project: Path, tmp_path: Path, pg_url: str) -> None:
    config = retarget(project, tmp_path, store_url=pg_url, name="pg.yaml")
    first = run(config, run_id="pg-1")
    assert all(row["balanced"] for row in first.ledger)
    before = snapshot(pg_url)
    run(config, run_id="pg-2")
    assert snapshot(pg_url) == before


def test_code_tables_and_skip_rules_from_the_project_file(project: Path, tmp_path: Path) -> None:
    import yaml

    data = yaml.safe_load(project.read_text("utf-8"))
    legacy = next(s for s in data["sources"] if s["name"] == "legacy_crm")
    legacy["codes"] = {"status": {1: "active", 2: "inactive", 9: "deleted"}}
    legacy["skip"] = {"deleted": {"status": ["deleted"]}}
    config = tmp_path / "coded.yaml"
    config.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")

    result = run(config)
    engine = sa.create_engine(load_settings(config).store_url)
    with Session(engine) as session:
        outcomes = crm_store.read_outcomes(session, ["legacy_crm"])
        customers = crm_store.read_customers(session)
    engine.dispose()
    deleted = outcomes.filter(pl.col("reason") == "deleted")
    assert deleted.height > 0 and (deleted["status"] == "skipped").all()
    assert set(customers["status"].drop_nulls()) <= {"active", "inactive"}
    assert all(row["balanced"] for row in result.ledger)


def test_the_report_explains_matching_and_saves_the_model(project: Path) -> None:
    from rules.match import MatchModel

    result = run(project)
    report = json.loads((result.report_path.parent / "report.json").read_text("utf-8"))
    matching = report["matching"]
    assert {m["comparison"] for m in matching["model"]} >= {"name", "phone", "email"}
    assert matching["explanations"], "merged pairs are explained"
    steps = matching["explanations"][0]["steps"]
    assert steps[0]["step"] == "prior" and steps[-1]["step"] == "final"
    assert matching["review_count"] == len(matching["review"]) or len(matching["review"]) == 10
    model = MatchModel.from_json((result.report_path.parent / "match_model.json").read_text("utf-8"))
    assert model.prior == pytest.approx(matching["prior"])
    # the blocking rules the run chose, with their pairs and estimated recall, are in the report
    rules = {b["rule"]: b for b in matching["blocking"]}
    assert "_mobiles≤8" in rules and rules["_mobiles≤8"]["pairs"] > 0
    assert matching["blocking_recall"] is None or 0.5 < matching["blocking_recall"] <= 1
    html = (result.report_path.parent / "report.html").read_text("utf-8")
    assert "Blocking" in html and "_mobiles≤8" in html


def test_explained_merges_are_pairs_that_were_merged(project: Path) -> None:
    result = run(project)
    report = json.loads((result.report_path.parent / "report.json").read_text("utf-8"))
    merged = report["matching"]["explanations"][0]
    assert merged["probability"] >= load_settings(project).match.threshold


def test_field_quality_reconciles(project: Path) -> None:
    """Per field: valid never exceeds present, and values filled from another field are counted apart."""
    result = run(project)
    report = json.loads((result.report_path.parent / "report.json").read_text("utf-8"))
    fields = {f["field"]: f for f in report["fields"]}
    for f in fields.values():
        assert 0 <= f["valid"] <= f["present"], f
        assert f["validity"] is None or 0 <= f["validity"] <= 1, f
    assert fields["city"]["derived"] > 0, "cities parsed from addresses are counted as derived"
    gender = fields["gender"]
    unusable = gender["present"] - gender["valid"]
    assert unusable == sum(n for code, n in gender["issues"].items() if code != "empty") > 0, gender


def test_each_source_is_normalised_with_its_own_region(tmp_path: Path) -> None:
    from pipelines.steps import normalise

    (tmp_path / "a.csv").write_text("name,phone\nA,1\n", "utf-8")
    config = tmp_path / "p.yaml"
    config.write_text(
        "project: p\nsources:\n"
        "  - {name: uk, kind: csv, params: {path: a.csv}, defaults: {region: GB}}\n"
        "  - {name: cn, kind: csv, params: {path: a.csv}}\n",
        "utf-8",
    )
    settings = load_settings(config)
    candidates = pl.DataFrame(
        {"_source": ["uk", "cn", "uk"], "_source_key": ["1", "1", "2"], "phone": ["07911 123456", "13812345678", None]}
    )
    out = normalise(settings, candidates)
    assert out["_source_key"].to_list() == ["1", "1", "2"]  # row order kept
    assert out["phone"].to_list() == ["+447911123456", "+8613812345678", None]


def test_a_value_too_long_for_the_store_quarantines_its_row_not_the_run(tmp_path: Path) -> None:
    long_company = "聊城" + "华兴" * 150 + "有限公司"  # 306 characters: the store keeps 255
    rows = [
        "name,phone,company,city",
        f"张伟,13812345678,{long_company},聊城",
        "李娜,13912345678,聊城华兴科技有限公司," + "城" * 70,  # a 70-character city: the store keeps 64
        "王芳,13712345678,聊城华兴科技有限公司,聊城",
    ]
    (tmp_path / "a.csv").write_text("\n".join(rows) + "\n", "utf-8")
    config = tmp_path / "p.yaml"
    config.write_text(
        "project: p\n"
        f"store: {{url: 'sqlite:///{tmp_path / 'crm.db'}'}}\n"
        f"reports_dir: {tmp_path / 'reports'}\n"
        "sources:\n"
        "  - name: a\n    kind: csv\n    params: {path: a.csv}\n"
        "    mapping: {name: full_name, phone: phone, company: company, city: city}\n",
        "utf-8",
    )
    result = run_steps(load_settings(config), "run-1", False)
    assert result.status == "partial"  # loaded, but 2 of 3 rows quarantined: more than max_quarantine_share
    ledger = {row["source"]: row for row in result.ledger}
    assert (ledger["a"]["loaded"], ledger["a"]["quarantined"]) == (1, 2)
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'crm.db'}")
    with Session(engine) as session:
        quarantine = crm_store.read_quarantine(session)
    engine.dispose()
    assert sorted(quarantine["source_key"]) == ["2", "3"]
    assert all("length_out_of_range" in reasons for reasons in quarantine["reasons"])

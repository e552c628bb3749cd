from __future__ import annotations

import csv
from pathlib import Path

from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.migrate import run_steps
from pipelines.settings import load_settings

runner = CliRunner()


def test_an_invalid_project_file_exits_2_naming_the_yaml_path(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("project: demo\nsources:\n  - {name: a, kind: xls, params: {path: x.csv}}\n", "utf-8")
    result = runner.invoke(app, ["migrate", str(config)])
    assert result.exit_code == 2
    assert "sources[0].kind: 'xls' is not a connector" in result.output
    assert "Traceback" not in result.output


def test_migrate_dry_run_through_the_cli(project: Path) -> None:
    result = runner.invoke(app, ["migrate", str(project), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "dry run" in result.output and "balanced" in result.output
    assert "Report:" in result.output
    assert not (project.parent / "crm.db").exists()


def test_export_crosswalk_has_one_row_per_source_row(project: Path, tmp_path: Path) -> None:
    outcome = run_steps(load_settings(project), "run-x", False)
    out = tmp_path / "audit" / "crosswalk.csv"
    result = runner.invoke(app, ["export", "crosswalk", "--config", str(project), "--out", str(out)])
    assert result.exit_code == 0, result.output
    with out.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["source", "source_key", "status", "customer_id", "reason"]
    assert len(rows) == sum(row["read"] for row in outcome.ledger)
    for row in rows:
        assert row["status"] in {"loaded", "quarantined", "skipped"}
        assert bool(row["customer_id"]) == (row["status"] == "loaded")
        assert bool(row["reason"]) == (row["status"] != "loaded")


def test_sample_writes_the_sources_truth_and_a_project_file(tmp_path: Path) -> None:
    result = runner.invoke(app, ["sample", "--entities", "20", "--out", str(tmp_path / "s"), "--seed", "3"])
    assert result.exit_code == 0, result.output
    names = {p.name for p in (tmp_path / "s").iterdir()}
    assert {"sales.xlsx", "legacy_crm.csv", "signups.jsonl", "truth.csv", "crmkit.yaml"} <= names
    load_settings(tmp_path / "s" / "crmkit.yaml")


def test_normalise_prints_one_json_object_per_input_line() -> None:
    import json

    result = runner.invoke(app, ["normalise", "phone"], input="０６３５-８１２３４５６\n1.3800138e+10\nhello\n")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [(r["input"], r["value"]) for r in lines] == [
        ("０６３５-８１２３４５６", "+866358123456"),
        ("1.3800138e+10", "+8613800138000"),
        ("hello", None),
    ]
    assert lines[0]["parts"]["type"] == "landline" and lines[1]["parts"]["type"] == "mobile"
    assert lines[2]["issues"] and set(lines[0]) == {"input", "value", "issues", "parts"}

    names = runner.invoke(app, ["normalise", "name"], input="張偉先生\n")
    parts = json.loads(names.output)["parts"]
    assert json.loads(names.output)["value"] == "张伟"
    assert (parts["family"], parts["given"], parts["title"], parts["pinyin"]) == ("张", "伟", "先生", "zhang wei")


def test_normalise_rejects_an_unknown_kind_listing_the_known_ones() -> None:
    result = runner.invoke(app, ["normalise", "shoe-size"], input="42\n")
    assert result.exit_code == 2
    assert "phone" in result.output and "email" in result.output

"""The clean flow and its commands: ``crmkit clean`` on a migrated store, ``crmkit runs``, and what ``crmkit
schedule`` says without a Prefect server. The real-server test is ``test_schedule.py``."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import socket
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa
import yaml
from sqlalchemy.orm import Session
from typer.testing import CliRunner

import crm_store
from crm_store.lock import LockHolder, insert_run_lock
from pipelines.clean import run_clean
from pipelines.cli import app
from pipelines.migrate import run_steps
from pipelines.settings import SettingsError, load_settings

runner = CliRunner()

CLEAN = {"stale_months": 18, "required": {"default": ["phone|email"], "VIP": ["phone", "email", "company"]}}
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
PHONE = re.compile(r"\+?\d{11,13}")


def with_clean(config: Path, clean: dict[str, Any] | None = None) -> Path:
    data = yaml.safe_load(config.read_text("utf-8"))
    data["clean"] = clean or CLEAN
    config.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")
    return config


@pytest.fixture
def migrated(project: Path) -> Path:
    """The sample project migrated once, with a clean section; three customers made stale and one contact point
    invalid, so every check has something to find."""
    with_clean(project)
    assert run_steps(load_settings(project), "run-1", False).status == "succeeded"
    engine = sa.create_engine(load_settings(project).store_url)
    with engine.begin() as conn:
        ids = conn.execute(sa.text("select customer_id from customer order by customer_id limit 3")).scalars().all()
        for cid in ids:
            conn.execute(
                sa.text("update customer set last_contact_at = :at where customer_id = :id"),
                {"at": dt.datetime(2020, 5, 17), "id": cid},
            )
        conn.execute(
            sa.text(
                "update contact_point set valid = false where kind = 'phone' and customer_id = "
                "(select min(customer_id) from contact_point where kind = 'phone')"
            )
        )
    engine.dispose()
    return project


def store_values(config: Path) -> tuple[set[str], set[str]]:
    """Every phone number and e-mail address in the store's contact points."""
    engine = crm_store.open_store(load_settings(config).store_url)
    with Session(engine) as session:
        points = crm_store.read_contact_points(session)
    engine.dispose()
    phones = set(points.filter(pl.col("kind") == "phone")["value"])
    emails = set(points.filter(pl.col("kind") == "email")["value"])
    return phones, emails


def runs_of(config: Path) -> list[dict[str, Any]]:
    result = runner.invoke(app, ["runs", "--config", str(config), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_clean_run_finds_each_problem_and_writes_a_masked_report(migrated: Path) -> None:
    settings = load_settings(migrated)
    result = run_clean(settings, "clean-1", now=dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
    assert result.status == "succeeded", result.error
    counts = result.counts
    assert counts["by_code"]["stale_record"]["customers"] == 3
    assert counts["by_code"]["invalid_contact_point"]["findings"] >= 1
    assert counts["by_code"]["incomplete_record"]["findings"] >= 1  # the sample has VIPs without a company
    assert result.enqueued == counts["findings"] == result.review["new"]  # every finding is a new review item

    folder = settings.reports_path / "clean-1"
    assert result.report_path == folder / "clean.html"
    report = json.loads((folder / "clean.json").read_text("utf-8"))
    assert report["totals"]["findings"] == counts["findings"] == len(report["findings"])
    assert report["settings"]["stale_months"] == 18 and report["settings"]["required"] == CLEAN["required"]
    invalid = [f for f in report["findings"] if f["code"] == "invalid_contact_point"]
    assert invalid and all("*" in f["value"] for f in invalid)
    phones, emails = store_values(migrated)
    for name in ("clean.json", "clean.html"):
        text = (folder / name).read_text("utf-8")
        leaked = [v for v in phones | emails if v in text or v.removeprefix("+86") in text]
        assert not leaked, (name, leaked[:3])
    html = (folder / "clean.html").read_text("utf-8")
    assert "stale_record" in html and "http" not in html.replace("http-equiv", "")  # self-contained

    engine = crm_store.open_store(settings.store_url)
    with Session(engine) as session:
        row = crm_store.read_run(session, "clean-1")
    engine.dispose()
    assert row is not None and row["status"] == "succeeded" and row["report_path"] == str(result.report_path)
    assert row["ledger"]["flow"] == "clean" and row["ledger"]["findings"] == counts["findings"]
    assert row["ledger"]["enqueued"] == counts["findings"] and row["ledger"]["review"] == result.review
    assert report["review"]["open"] == counts["findings"]


@pytest.mark.slow  # through Prefect (a temporary server, a flow run)
def test_crmkit_clean_then_runs_lists_both_runs_newest_first(migrated: Path) -> None:
    result = runner.invoke(app, ["clean", "--config", str(migrated)])
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    assert "stale_record" in output and "customers checked" in output and "Report:" in output
    assert "findings open for a steward" in output
    assert "Traceback" not in result.output

    history = runs_of(migrated)
    assert [run["flow"] for run in history] == ["clean", "migrate"]
    clean, migrate = history
    assert clean["status"] == "succeeded" and clean["findings"] > 0 and clean["customers"] > 0
    assert clean["report_path"].endswith("clean.html") and Path(clean["report_path"]).exists()
    assert clean["rows_read"] is None
    assert migrate["run_id"] == "run-1" and migrate["status"] == "succeeded"
    assert migrate["rows_read"] == migrate["rows_loaded"] + migrate["rows_quarantined"] + migrate["rows_skipped"] > 0
    assert migrate["customers"] > 0 and migrate["report_path"].endswith("report.html")
    assert set(clean) == set(migrate) >= {"run_id", "started_at", "finished_at", "status", "report_path", "error"}
    assert clean["started_at"] >= migrate["started_at"]

    limited = runner.invoke(app, ["runs", "--config", str(migrated), "--json", "--limit", "1"])
    assert [run["flow"] for run in json.loads(limited.output)] == ["clean"]
    table = runner.invoke(app, ["runs", "--config", str(migrated)], env={"COLUMNS": "250"})
    assert table.exit_code == 0, table.output
    assert "run-1" in table.output and clean["run_id"] in table.output and "succeeded" in table.output


@pytest.mark.slow  # through Prefect (a temporary server, a flow run)
def test_clean_and_runs_need_an_existing_store(project: Path) -> None:
    for args in (["clean", "--config", str(project)], ["runs", "--config", str(project)]):
        result = runner.invoke(app, args)
        assert result.exit_code == 1, result.output
        assert "no crmkit store at" in result.output and "Traceback" not in result.output
    assert not (project.parent / "crm.db").exists()


@pytest.mark.slow  # through Prefect (a temporary server, a flow run)
def test_clean_is_refused_while_another_run_holds_the_store(migrated: Path) -> None:
    engine = crm_store.open_store(load_settings(migrated).store_url)
    now = dt.datetime.now(dt.UTC)
    with Session(engine) as session, session.begin():
        insert_run_lock(session, LockHolder("migrating", os.getpid(), socket.gethostname(), now, now))
    engine.dispose()
    result = runner.invoke(app, ["clean", "--config", str(migrated)])
    assert result.exit_code == 1, result.output
    assert "migrating" in result.output and "Traceback" not in result.output
    assert [run["run_id"] for run in runs_of(migrated)] == ["run-1"]  # nothing recorded


def test_an_invalid_clean_section_names_its_yaml_path(project: Path) -> None:
    with_clean(project, {"required": {"VIP": ["phone", "emial"]}, "stale_months": 0})
    with pytest.raises(SettingsError) as raised:
        load_settings(project)
    problems = " ".join(raised.value.problems)
    assert "clean.stale_months" in problems and "'emial'" in problems
    result = runner.invoke(app, ["clean", "--config", str(project)])
    assert result.exit_code == 2 and "clean.required" in result.output


def test_schedule_without_a_prefect_server_says_how_to_get_one(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    result = runner.invoke(app, ["schedule", str(project), "--cron", "0 2 * * *"])
    assert result.exit_code == 1, result.output
    output = " ".join(result.output.split())
    assert "needs a Prefect server" in output and "prefect server start" in output and "PREFECT_API_URL" in output


def test_schedule_rejects_a_bad_cron_or_time_zone_before_anything_starts(project: Path) -> None:
    bad_cron = runner.invoke(app, ["schedule", str(project), "--cron", "0 99 * * *"])
    assert bad_cron.exit_code == 2, bad_cron.output
    assert "Invalid cron string" in " ".join(bad_cron.output.split())
    bad_zone = runner.invoke(app, ["schedule", str(project), "--cron", "0 2 * * *", "--timezone", "Mars/Base"])
    assert bad_zone.exit_code == 2, bad_zone.output
    assert "Invalid timezone" in " ".join(bad_zone.output.split()) and "Traceback" not in bad_zone.output
    bad_name = runner.invoke(app, ["schedule", str(project), "--cron", "0 2 * * *", "--name", "a/b"])
    assert bad_name.exit_code == 2 and "--name 'a/b'" in bad_name.output, bad_name.output

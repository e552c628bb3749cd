"""The clean run's findings in the steward's review queue: each finding is a review item with its masked evidence,
``crmkit review list / show / accept / reject`` work on it, and later clean runs keep a decided finding out of the
open queue until the customer's values behind it change. Also ``crmkit runs`` with a recorded schedule."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session
from typer.testing import CliRunner

import crm_store
from pipelines.clean import run_clean
from pipelines.cli import app
from pipelines.runs import next_runs
from pipelines.settings import load_settings

from .test_clean import migrated, store_values

__all__ = ["migrated"]  # the fixture, shared with test_clean.py

runner = CliRunner()
NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)


def cli(*args: str) -> str:
    result = runner.invoke(app, list(args), env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    return result.output


def findings_in_queue(config: Path, status: str = "all") -> dict[str, dict[str, Any]]:
    """The queue's findings by ``code:customer_id:field``, as ``crmkit review list --json`` gives them."""
    items = json.loads(cli("review", "list", "--config", str(config), "--json", "--status", status, "--limit", "1000"))
    found = [i for i in items if i["subject"] == "finding"]
    return {f"{i['evidence']['code']}:{i['customer_id']}:{i['evidence']['field']}": i for i in found}


def execute(config: Path, sql: str, **params: Any) -> None:
    engine = sa.create_engine(load_settings(config).store_url)
    with engine.begin() as conn:
        conn.execute(sa.text(sql), params)
    engine.dispose()


def test_findings_are_review_items_and_decisions_keep_them_out_of_the_next_runs(migrated: Path) -> None:
    settings = load_settings(migrated)
    first = run_clean(settings, "clean-1", now=NOW)
    assert first.status == "succeeded", first.error
    total = first.counts["findings"]
    listed_first = json.loads(cli("review", "list", "--config", str(migrated), "--json", "--limit", "1000"))
    pairs_open = sum(1 for i in listed_first if i["subject"] == "pair")
    assert first.review == {
        "open": total,
        "decided": 0,
        "new": total,
        "changed": 0,
        "stale": 0,
        "pairs_open": pairs_open,
    }
    assert first.enqueued == total

    queued = findings_in_queue(migrated, "open")
    assert len(queued) == total
    codes = {key.split(":")[0] for key in queued}
    assert {"stale_record", "incomplete_record", "invalid_contact_point"} <= codes
    for item in queued.values():
        assert item["left"] is None and item["right"] is None and item["probability"] is None
        assert item["kind"] in ("stale", "incomplete", "invalid_contact") and item["status"] == "open"
        assert item["first_run_id"] == "clean-1" and item["evidence"]["description"]
    # the queue's evidence is masked like the report: no phone number or e-mail address of the store in it
    listed = cli("review", "list", "--config", str(migrated), "--json", "--status", "all", "--limit", "1000")
    phones, emails = store_values(migrated)
    assert not [v for v in phones | emails if v in listed or v.removeprefix("+86") in listed]
    # findings come after the possible matches, open ones in one table
    table = cli("review", "list", "--config", str(migrated), "--limit", "1000")
    assert "stale_record" in table and "customer " in table

    stale = next(i for k, i in queued.items() if k.startswith("stale_record:"))
    incomplete = next(i for k, i in queued.items() if k.startswith("incomplete_record:"))
    invalid = next(i for k, i in queued.items() if k.startswith("invalid_contact_point:"))

    # show: what was found, and the customer's record and contact points as stored (unmasked: stewards see them)
    shown = " ".join(cli("review", "show", str(invalid["id"]), "--config", str(migrated)).split())
    assert "invalid_contact_point" in shown and invalid["customer_id"] in shown and "Contact points" in shown
    engine = crm_store.open_store(settings.store_url)
    with Session(engine) as session:
        points = crm_store.read_customer_contact_points(session, invalid["customer_id"])
    engine.dispose()
    bad = next(p for p in points if not p["valid"])
    assert bad["value"] in shown

    out = cli("review", "accept", str(stale["id"]), "--config", str(migrated), "--by", "alice", "--note", "gone")
    assert "confirm by alice" in " ".join(out.split())
    out = cli("review", "reject", str(incomplete["id"]), "--config", str(migrated), "--by", "bob")
    assert "dismiss by bob" in " ".join(out.split())

    # the next clean run finds the same: the two decided findings are not asked again
    second = run_clean(settings, "clean-2", now=NOW)
    assert second.review == {
        "open": total - 2,
        "decided": 2,
        "new": 0,
        "changed": 0,
        "stale": 0,
        "pairs_open": pairs_open,
    }
    after = findings_in_queue(migrated)
    assert after[_key(stale)]["status"] == after[_key(incomplete)]["status"] == "decided"
    assert after[_key(stale)]["decision"]["decision"] == "confirm"
    assert after[_key(incomplete)]["decision"] == {**after[_key(incomplete)]["decision"], "decision": "dismiss"}
    assert _key(stale) not in findings_in_queue(migrated, "open")
    report = json.loads((settings.reports_path / "clean-2" / "clean.json").read_text("utf-8"))
    assert report["review"]["decided"] == 2 and "2 confirmed or dismissed earlier" in report["review"]["note"]

    # the stale customer was last contacted on another (still old) day: its fingerprint changed, it is asked again
    execute(
        migrated,
        "update customer set last_contact_at = :at where customer_id = :id",
        at=dt.datetime(2019, 3, 4),
        id=stale["customer_id"],
    )
    # the invalid contact point was corrected: the open finding is not found any more and becomes stale
    execute(
        migrated,
        "update contact_point set valid = true where customer_id = :id and value = :value",
        id=invalid["customer_id"],
        value=bad["value"],
    )
    third = run_clean(settings, "clean-3", now=NOW)
    assert third.review["changed"] == 1 and third.review["stale"] == 1 and third.review["decided"] == 1
    after = findings_in_queue(migrated)
    reopened = after[_key(stale)]
    assert reopened["status"] == "open" and "changed since alice decided confirm" in reopened["note"]
    assert after[_key(incomplete)]["status"] == "decided"
    assert after[_key(invalid)]["status"] == "stale"

    history = json.loads(cli("runs", "--config", str(migrated), "--json"))
    assert [(r["run_id"], r["review_open"]) for r in history[:3]] == [
        ("clean-3", third.enqueued),
        ("clean-2", total - 2),
        ("clean-1", total),
    ]


def _key(item: dict[str, Any]) -> str:
    return f"{item['evidence']['code']}:{item['customer_id']}:{item['evidence']['field']}"


def test_a_finding_is_exported_with_its_decision(migrated: Path, tmp_path: Path) -> None:
    run_clean(load_settings(migrated), "clean-1", now=NOW)
    (key, item), *_ = findings_in_queue(migrated, "open").items()
    cli("review", "reject", str(item["id"]), "--config", str(migrated), "--by", "bob", "--note", "known")
    out = tmp_path / "queue.json"
    cli("review", "export", "--config", str(migrated), "--out", str(out))
    rows = {r["id"]: r for r in json.loads(out.read_text("utf-8"))}
    row = rows[item["id"]]
    assert row["subject"] == "finding" and row["customer_id"] == item["customer_id"]
    assert row["decision"] == "dismiss" and row["decided_by"] == "bob" and row["left_source"] is None
    assert row["finding"].startswith(key.split(":")[0])


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        (dt.datetime(2026, 12, 1, 17, 59, tzinfo=dt.UTC), dt.datetime(2026, 12, 2, 2, 0)),  # 01:59 in Shanghai
        (dt.datetime(2026, 12, 1, 18, 30, tzinfo=dt.UTC), dt.datetime(2026, 12, 3, 2, 0)),  # 02:30: tomorrow's
    ],
)
def test_next_runs_are_read_in_the_schedules_time_zone(after: dt.datetime, expected: dt.datetime) -> None:
    (found,) = next_runs("0 2 * * *", "Asia/Shanghai", after=after)
    assert found.replace(tzinfo=None) == expected and found.utcoffset() == dt.timedelta(hours=8)
    assert next_runs("0 2 * * *", "Asia/Shanghai", after=after, count=3)[2] - found == dt.timedelta(days=2)


def test_runs_shows_the_recorded_schedule_and_its_next_run(migrated: Path) -> None:
    engine = crm_store.open_store(load_settings(migrated).store_url)
    with Session(engine) as session, session.begin():
        crm_store.record_schedule(
            session,
            name="migrate-and-clean/nightly",
            project="sample",
            flow="migrate-and-clean",
            cron="0 2 * * *",
            timezone="Asia/Shanghai",
            served_by="ops",
            host="crm-1",
        )
    (expected,) = next_runs("0 2 * * *", "Asia/Shanghai", after=dt.datetime.now(dt.UTC))
    shown = " ".join(cli("runs", "--config", str(migrated)).split())
    assert (
        f"Schedule migrate-and-clean/nightly: 0 2 * * * (Asia/Shanghai) · next run {expected:%Y-%m-%d} 02:00" in shown
    )
    assert "served by ops on crm-1" in shown
    with Session(engine) as session, session.begin():
        crm_store.stop_schedule(session, "migrate-and-clean/nightly")
    engine.dispose()
    shown = " ".join(cli("runs", "--config", str(migrated)).split())
    assert "stopped" in shown and "schedule paused" in shown and "next run" not in shown

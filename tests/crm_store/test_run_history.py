"""Readers behind ``crmkit runs`` and ``crmkit clean``: run history newest first, contact points with validity."""

from __future__ import annotations

import datetime as dt

import polars as pl
from sqlalchemy.orm import Session

import crm_store


def at(hour: int) -> dt.datetime:
    return dt.datetime(2026, 12, 1, hour, tzinfo=dt.UTC)


def test_read_runs_is_newest_first_with_ledgers_as_json_text(session: Session) -> None:
    with session.begin():
        crm_store.start_run(session, "run-a", "demo", "h1", False, {"python": "3.11"}, now=at(1))
        crm_store.finish_run(session, "run-a", "succeeded", [{"source": "s", "read": 2}], "r/a.html", now=at(2))
        crm_store.start_run(session, "run-b", "demo", "h1", False, None, now=at(3))
        crm_store.finish_run(session, "run-b", "failed", {"flow": "clean", "findings": 4}, None, error="x", now=at(4))
        crm_store.start_run(session, "run-c", "demo", "h2", False, None, now=at(5))
    runs = crm_store.read_runs(session)
    assert runs["run_id"].to_list() == ["run-c", "run-b", "run-a"]
    assert runs.schema["started_at"] == pl.Datetime("us", "UTC") and runs["started_at"][2] == at(1)
    assert runs["status"].to_list() == ["running", "failed", "succeeded"]
    assert runs["ledger"].to_list() == [None, '{"findings":4,"flow":"clean"}', '[{"read":2,"source":"s"}]']
    assert runs["report_path"].to_list() == [None, None, "r/a.html"] and runs["error"][1] == "x"
    assert crm_store.read_runs(session, limit=1)["run_id"].to_list() == ["run-c"]


def test_read_contact_points_gives_every_point_with_its_validity(session: Session) -> None:
    customers = pl.DataFrame({"customer_id": ["c1"], "kind": ["person"], "full_name": ["张伟"]})
    points = pl.DataFrame(
        {
            "customer_id": ["c1", "c1"],
            "kind": ["phone", "email"],
            "value": ["+8613800138000", "bad@"],
            "valid": [True, False],
        }
    )
    empty = pl.DataFrame()  # no addresses, no provenance
    with session.begin():
        crm_store.upsert_customers(session, customers, now=at(1))
        crm_store.replace_customer_details(session, ["c1"], points, empty, empty)
    found = crm_store.read_contact_points(session)
    assert found.columns == ["customer_id", "kind", "value", "valid", "source", "source_key"]
    assert found.select("kind", "value", "valid").rows() == [
        ("email", "bad@", False),
        ("phone", "+8613800138000", True),
    ]

"""The web page's clean findings and runs view through FastAPI's TestClient: a finding is shown with its customer
and decided with confirm / dismiss / skip (never with a pair's decisions), and ``/runs`` shows the schedule
``crmkit schedule`` recorded, its next run, and the run history."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

import crm_store
from pipelines.settings import load_settings
from pipelines.web import CSRF_HEADER, create_app

Client = Callable[..., TestClient]
ZONE = "Asia/Shanghai"


@pytest.fixture
def client(web_project: Path) -> Iterator[Client]:
    with ExitStack() as stack:

        def open_client(user: str = "steward-1", **options: Any) -> TestClient:
            app = create_app(load_settings(web_project), user=user, **options)
            return stack.enter_context(TestClient(app, base_url="http://127.0.0.1:8765"))

        yield open_client


def token(page: str) -> str:
    found = re.search(r'"X-CSRF-Token": "([0-9a-f]{64})"', page)
    assert found, "the page carries no CSRF token"
    return found.group(1)


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def queue_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr id="item-(\d+)">', html)]


def next_two_am(now: dt.datetime) -> dt.datetime:
    """The next 02:00 in Shanghai (no daylight saving time) after ``now``, worked out by hand."""
    local = now.astimezone(ZoneInfo(ZONE))
    at = local.replace(hour=2, minute=0, second=0, microsecond=0)
    return at if at > local else at + dt.timedelta(days=1)


def test_a_finding_is_shown_with_its_customer_and_decided_with_its_own_decisions(
    client: Client, cleaned: list[str], store_session: Callable[[], Session]
) -> None:
    web = client(user="li.steward")
    page = web.get("/")
    ids = queue_ids(page.text)
    with store_session() as session:
        subjects = [crm_store.read_review_item(session, i)["subject"] for i in ids]  # type: ignore[index]
    assert subjects == ["pair"] * 4 + ["finding"] * len(cleaned)  # possible matches first, then the findings
    assert f"showing {4 + len(cleaned)} of {4 + len(cleaned)} open items" in text(page.text)
    assert "incomplete_record" in text(page.text)

    finding = ids[4]
    shown = web.get(f"/items/{finding}")
    assert shown.status_code == 200
    words = text(shown.text)
    assert f"Finding {finding}: incomplete_record" in words and "phone|email|company" not in words
    assert "company is empty (required by the default requirements)" in words
    assert re.search(r'<tr class="differs"><th>company</th><td>–</td></tr>', shown.text)  # the field concerned
    assert "Contact points" in words and "Confirm: a real problem" in words and "Dismiss: not a problem" in words
    assert '"decision": "match"' not in shown.text  # a finding offers no pair decisions

    refused = web.post(f"/items/{finding}/decide", data={"decision": "match"}, headers={CSRF_HEADER: token(page.text)})
    assert refused.status_code == 400 and refused.headers["HX-Retarget"] == "#flash"
    assert "is a finding; it takes confirm, dismiss, skip" in text(refused.text)
    answer = web.post(
        f"/items/{finding}/decide",
        data={"decision": "dismiss", "note": "walk-in customer"},
        headers={CSRF_HEADER: token(page.text)},
    )
    assert answer.status_code == 200 and f"Item {finding}: dismissed, recorded for li.steward." in text(answer.text)
    assert answer.headers["HX-Push-Url"] == f"/items/{ids[0]}"  # the next open item most in doubt
    with store_session() as session:
        decided = crm_store.read_review_item(session, finding)
        events = crm_store.read_audit_events(session).to_dicts()
    assert decided is not None and decided["status"] == "decided"
    assert [(d["decision"], d["note"]) for d in decided["decisions"]] == [("dismiss", "walk-in customer")]
    assert [e["action"] for e in events if e["action"].startswith("review.")] == ["review.reject"]
    assert json.loads(events[-1]["target"])["customer_id"] == decided["customer_id"]

    assert finding not in queue_ids(web.get("/").text)
    assert queue_ids(web.get("/?status=decided").text) == [finding]
    customer = text(web.get(f"/customers/{decided['customer_id']}").text)
    assert "Clean findings" in customer and "incomplete_record (phone|email|company)" not in customer
    assert "incomplete_record (company): company is empty" in customer and "decided clean-1" in customer


def test_the_runs_page_shows_the_schedule_its_next_run_and_the_history(
    client: Client, cleaned: list[str], store_session: Callable[[], Session]
) -> None:
    web = client()
    assert "No schedule" in text(web.get("/runs").text)
    with store_session() as session, session.begin():
        crm_store.record_schedule(
            session,
            name="migrate-and-clean/web",
            project="web",
            flow="migrate-and-clean",
            cron="0 2 * * *",
            timezone=ZONE,
            served_by="ops",
            host="crm-1",
        )
    expected = next_two_am(dt.datetime.now(dt.UTC))
    page = web.get("/runs")
    assert page.status_code == 200
    found = re.search(r'<span class="next-run" data-at="([^"]+)">([^<]+)</span>', page.text)
    assert found, page.text
    assert dt.datetime.fromisoformat(found.group(1)) == expected
    assert found.group(2) == f"{expected:%Y-%m-%d} 02:00 CST"
    words = text(page.text)
    assert "migrate-and-clean/web 0 2 * * * Asia/Shanghai" in words and "by ops on crm-1" in words
    history = re.findall(r'<tr id="run-([^"]+)">', page.text)
    assert history == ["clean-1", "r1"]  # newest first
    clean_row = re.search(r'<tr id="run-clean-1">(.*?)</tr>', page.text, re.S)
    assert clean_row is not None
    cells = re.findall(r"<td[^>]*>(.*?)</td>", clean_row.group(1), re.S)
    assert [c.strip() for c in cells[:2]] == ["clean-1", "clean"] and cells[3].strip().startswith("succeeded")
    assert [c.strip() for c in cells[-2:]] == [str(len(cleaned))] * 2  # findings, and open for review

    with store_session() as session, session.begin():
        crm_store.stop_schedule(session, "migrate-and-clean/web")
    stopped = web.get("/runs")
    assert 'class="next-run"' not in stopped.text and "paused: stopped" in text(stopped.text)

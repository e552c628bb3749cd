"""Every route of the steward's web page through FastAPI's TestClient, against a real (copied) SQLite store: what
each page shows, that decisions and unmerges reach the store with their audit events, and the CSRF and host
checks."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from typer.testing import CliRunner

import crm_store
from pipelines.cli import app as cli
from pipelines.settings import load_settings
from pipelines.web import CSRF_HEADER, SESSION_COOKIE, create_app

Client = Callable[..., TestClient]


@pytest.fixture
def client(web_project: Path) -> Iterator[Client]:
    """Opens a browser-like client on the test's store (its own cookies); the apps are shut down after the test."""
    with ExitStack() as stack:

        def open_client(user: str = "steward-1", base_url: str = "http://127.0.0.1:8765", **options: Any) -> TestClient:
            app = create_app(load_settings(web_project), user=user, **options)
            return stack.enter_context(TestClient(app, base_url=base_url))

        yield open_client


def token(page: str) -> str:
    found = re.search(r'"X-CSRF-Token": "([0-9a-f]{64})"', page)
    assert found, "the page carries no CSRF token"
    return found.group(1)


def text(html: str) -> str:
    """The page's words, tags removed, whitespace squeezed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def queue_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr id="item-(\d+)">', html)]


def open_items(session: Session) -> dict[tuple[str, str], dict[str, object]]:
    items = crm_store.read_review_items(session, status="open")
    return {(r["left_key"], r["right_key"]): r for r in items.iter_rows(named=True)}


def test_the_queue_lists_open_items_most_in_doubt_first_with_filters(
    client: Client, store_session: Callable[[], Session]
) -> None:
    web = client()
    page = web.get("/")
    assert page.status_code == 200
    ids = queue_ids(page.text)
    with store_session() as session:
        items = crm_store.read_review_items(session, status="open")
    assert len(ids) == items.height >= 3
    doubt = {r["id"]: abs(r["probability"] - 0.5) for r in items.iter_rows(named=True)}
    assert [doubt[i] for i in ids] == sorted(doubt.values())  # most in doubt first
    words = text(page.text)
    assert f"showing {len(ids)} of {len(ids)} open items" in words
    assert "a:A4" in words and "b:B4" in words
    assert f'href="/items/{ids[0]}" data-key="n"' in page.text  # n opens the first one

    limited = web.get("/?limit=2")
    assert queue_ids(limited.text) == ids[:2] and f"showing 2 of {len(ids)} open items" in text(limited.text)
    assert queue_ids(web.get("/?status=decided").text) == []
    assert "No decided items in the review queue." in text(web.get("/?status=decided").text)
    assert sorted(queue_ids(web.get("/?status=all").text)) == sorted(ids)
    assert queue_ids(web.get("/?status=nonsense").text) == ids  # an unknown filter shows the open items


def test_an_item_shows_both_rows_the_differences_and_the_evidence_waterfall(
    client: Client, store_session: Callable[[], Session]
) -> None:
    web = client()
    with store_session() as session:
        item = open_items(session)["A2", "B2"]
    page = web.get(f"/items/{item['id']}")
    assert page.status_code == 200
    html = page.text
    assert "a:A2" in html and "b:B2" in html
    phone = re.search(r'<tr class="differs"><th>phone</th><td>([^<]+)</td><td>([^<]+)</td></tr>', html)
    assert phone and phone.groups() == ("+8613957215608", "+8613957215609")  # unmasked, highlighted
    assert "<tr><th>full_name</th><td>李娜</td><td>李娜</td></tr>" in html  # equal values: not highlighted
    waterfall = html[html.index('class="waterfall"') :]
    for step in ("prior", "name", "phone", "company", "final"):
        assert f"<th>{step}</th>" in waterfall
    assert waterfall.count("<svg") >= 2 * 5  # a bar per step and a probability bar per step
    assert f"{item['probability']:.4f}" in text(waterfall)  # the final running probability is the item's
    for key, decision in (("a", "match"), ("r", "no_match"), ("s", "skip")):
        assert re.search(
            rf'data-key="{key}" hx-post="/items/{item["id"]}/decide" hx-vals=\'{{"decision": "{decision}"}}\'', html
        )
    customers = re.findall(r'href="/customers/([0-9a-f-]{36})"', html)
    assert len(customers) == 2

    missing = web.get("/items/99999")
    assert missing.status_code == 404 and "No review item 99999." in missing.text


def test_a_decision_is_recorded_with_its_audit_event_and_the_next_item_follows(
    client: Client, store_session: Callable[[], Session]
) -> None:
    web = client(user="li.steward")
    page = web.get("/")
    ids = queue_ids(page.text)
    first, second = ids[0], ids[1]
    answer = web.post(
        f"/items/{first}/decide",
        data={"decision": "match", "note": "same person"},
        headers={CSRF_HEADER: token(page.text)},
    )
    assert answer.status_code == 200
    assert answer.headers["HX-Push-Url"] == f"/items/{second}"  # the next item most in doubt
    assert f"Possible match {second}" in text(answer.text) and "<html" not in answer.text  # a fragment
    assert f"Item {first}: match, recorded for li.steward." in text(answer.text)
    with store_session() as session:
        decided = crm_store.read_review_item(session, first)
        events = crm_store.read_audit_events(session, action="review.accept")
    assert decided is not None and decided["status"] == "decided"
    [decision] = decided["decisions"]
    assert (decision["decision"], decision["decided_by"], decision["note"]) == ("match", "li.steward", "same person")
    assert events.height == 1 and events["actor"].to_list() == ["li.steward"]

    rejected = web.post(
        f"/items/{second}/decide", data={"decision": "no_match"}, headers={CSRF_HEADER: token(page.text)}
    )
    assert rejected.status_code == 200
    skipped = web.post(f"/items/{ids[2]}/decide", data={"decision": "skip"}, headers={CSRF_HEADER: token(page.text)})
    assert skipped.status_code == 200
    with store_session() as session:
        assert crm_store.read_review_item(session, second)["decisions"][0]["decision"] == "no_match"  # type: ignore[index]
        assert crm_store.read_review_item(session, ids[2])["status"] == "open"  # type: ignore[index]
    queue = web.get("/?status=decided")
    assert sorted(queue_ids(queue.text)) == sorted([first, second])
    assert "no match (li.steward)" in text(queue.text)


def test_deciding_the_last_open_item_says_the_queue_is_done(client: Client) -> None:
    web = client()
    page = web.get("/")
    for item_id in queue_ids(page.text):
        answer = web.post(
            f"/items/{item_id}/decide", data={"decision": "no_match"}, headers={CSRF_HEADER: token(page.text)}
        )
        assert answer.status_code == 200
    assert answer.headers["HX-Push-Url"] == "/"
    assert "Nothing left to review" in answer.text
    assert queue_ids(web.get("/").text) == []


def test_bad_decisions_are_refused_and_nothing_is_recorded(
    client: Client, store_session: Callable[[], Session]
) -> None:
    web = client()
    page = web.get("/")
    item_id = queue_ids(page.text)[0]
    good = {CSRF_HEADER: token(page.text)}

    missing_token = web.post(f"/items/{item_id}/decide", data={"decision": "match"})
    assert missing_token.status_code == 403 and "reload" in missing_token.text
    assert missing_token.headers["HX-Retarget"] == "#flash"  # htmx shows it in the message area
    wrong_token = web.post(f"/items/{item_id}/decide", data={"decision": "match"}, headers={CSRF_HEADER: "0" * 64})
    assert wrong_token.status_code == 403
    other_browser = client()  # a token is bound to its browser's session cookie
    stolen = other_browser.post(f"/items/{item_id}/decide", data={"decision": "match"}, headers=good)
    assert stolen.status_code == 403
    assert web.post(f"/items/{item_id}/decide", data={"decision": "maybe"}, headers=good).status_code == 400
    assert (
        web.post(f"/items/{item_id}/decide", data={"decision": "match", "note": "x" * 2001}, headers=good).status_code
        == 400
    )
    unknown = web.post("/items/99999/decide", data={"decision": "match"}, headers=good)
    assert unknown.status_code == 404 and "No review item 99999." in unknown.text
    with store_session() as session:
        assert crm_store.read_decisions(session).height == 0
        actions = crm_store.read_audit_events(session)["action"].to_list()
    assert not [a for a in actions if a.startswith("review.")]  # a run writes its own events


def test_the_session_cookie_is_http_only_and_same_site_strict(client: Client) -> None:
    page = client().get("/")
    cookie = page.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=") and "HttpOnly" in cookie and "SameSite=strict" in cookie


def test_a_customer_page_shows_the_record_its_rows_and_history(
    client: Client, store_session: Callable[[], Session], merged: tuple[str, list[str]]
) -> None:
    customer_id, rows = merged
    web = client(user="li.steward")
    page = web.get("/")
    with store_session() as session:
        item = open_items(session)["A2", "B2"]
    web.post(
        f"/items/{item['id']}/decide",
        data={"decision": "no_match", "note": "两个人"},
        headers={CSRF_HEADER: token(page.text)},
    )

    answer = web.get(f"/customers/{customer_id}")
    assert answer.status_code == 200
    html, words = answer.text, text(answer.text)
    assert "张伟" in words and "+8613800138000" in words and customer_id in words  # real values
    assert "<th>a:A1</th>" in html and "<th>b:B1</th>" in html
    for row in rows:
        assert f'name="rows" value="{row}"' in html  # rows to split off
    assert f'hx-post="/customers/{customer_id}/unmerge"' in html and "hx-confirm" in html
    assert "a:A1, b:B1" in words  # the merge event
    assert "Where each field came from" in words

    with store_session() as session:
        crosswalk = crm_store.read_crosswalk(session)
    a2 = crosswalk.filter(crosswalk["source_key"] == "A2")["customer_id"].item()
    other = web.get(f"/customers/{a2}")  # its row's decision is in its history
    assert other.status_code == 200
    other_words = text(other.text)
    assert "review.reject" in other_words and "两个人" in other_words and "li.steward" in other_words
    assert f'href="/items/{item["id"]}"' in other.text
    assert "One source row: nothing to unmerge." in other_words

    assert web.get("/customers/no-such-customer").status_code == 404
    found = web.get(f"/customers?q={customer_id[:8]}", follow_redirects=False)
    assert found.status_code == 303 and found.headers["location"] == f"/customers/{customer_id}"
    assert web.get(f"/customers?q={customer_id}", follow_redirects=False).headers["location"].endswith(customer_id)
    assert web.get("/customers?q=zz").status_code == 404


def test_unmerge_splits_the_customer_through_the_steward_function(
    client: Client, merged: tuple[str, list[str]], store_session: Callable[[], Session]
) -> None:
    customer_id, _ = merged
    web = client(user="li.steward")
    page = web.get(f"/customers/{customer_id}")
    headers = {CSRF_HEADER: token(page.text)}
    refused = web.post(f"/customers/{customer_id}/unmerge", data={"rows": "b:B1"})
    assert refused.status_code == 403
    # matched as one in a single run: no history says what it was made of, so the rows to split off are needed
    no_history = web.post(f"/customers/{customer_id}/unmerge", data={"note": "two people"}, headers=headers)
    assert no_history.status_code == 409 and no_history.headers["HX-Retarget"] == "#flash"
    assert "Not unmerged: no history says which customers" in text(no_history.text)
    unknown_row = web.post(f"/customers/{customer_id}/unmerge", data={"rows": "b:B9"}, headers=headers)
    assert unknown_row.status_code == 409 and "has no row b:B9" in text(unknown_row.text)
    with store_session() as session:
        assert crm_store.read_audit_events(session, action="customer.unmerge").height == 0

    answer = web.post(f"/customers/{customer_id}/unmerge", data={"rows": "b:B1", "note": "two people"}, headers=headers)
    assert answer.status_code == 200, answer.text
    words = text(answer.text)
    assert "Unmerged by li.steward into 2 customers" in words and "(keeps the id): a:A1" in words
    with store_session() as session:
        crosswalk = crm_store.read_crosswalk(session)
        events = crm_store.read_audit_events(session, action="customer.unmerge")
    owner = dict(zip(crosswalk["source_key"].to_list(), crosswalk["customer_id"].to_list(), strict=True))
    assert owner["A1"] == customer_id != owner["B1"]
    assert events["actor"].to_list() == ["li.steward"]
    history = web.get(f"/customers/{customer_id}")
    assert "customer.unmerge" in text(history.text) and "two people" in text(history.text)
    assert "One source row: nothing to unmerge." in text(history.text)
    split_off = web.get(f"/customers/{owner['B1']}")
    assert split_off.status_code == 200 and f'split from <a href="/customers/{customer_id}">' in split_off.text
    again = web.post(f"/customers/{customer_id}/unmerge", data={}, headers=headers)
    assert again.status_code == 409 and "one source row" in text(again.text)


def test_pages_answer_only_local_host_names_and_carry_security_headers(client: Client) -> None:
    local = client(base_url="http://localhost:8765")
    answer = local.get("/")
    assert answer.status_code == 200
    assert "default-src 'self'" in answer.headers["content-security-policy"]
    assert answer.headers["cache-control"] == "no-store" and answer.headers["x-frame-options"] == "DENY"
    rebound = client(base_url="http://attacker.example")
    assert rebound.get("/").status_code == 400  # DNS rebinding: another name for 127.0.0.1 is refused
    anyone = client(base_url="http://crm-box.lan", allowed_hosts=None)
    assert anyone.get("/").status_code == 200


def test_the_page_works_offline_with_the_vendored_htmx(client: Client) -> None:
    web = client()
    page = web.get("/").text
    assert re.findall(r'(?:src|href)="(https?:)?//', page) == []  # nothing from another site
    assert '<script src="/static/htmx.min.js">' in page
    htmx = web.get("/static/htmx.min.js")
    assert htmx.status_code == 200 and htmx.text.startswith("/*! htmx 2.0.4 |") and "0BSD" in htmx.text[:400]
    assert "var htmx=function()" in htmx.text
    assert web.get("/static/crmkit.js").status_code == 200 and web.get("/static/crmkit.css").status_code == 200


def test_a_store_without_a_queue_says_so(client: Client, web_project: Path) -> None:
    settings = load_settings(web_project)
    engine = crm_store.open_store(settings.store_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("drop table review_decision")
        conn.exec_driver_sql("drop table review_item")
    engine.dispose()
    web = client()
    assert "No review queue yet: run crmkit migrate." in text(web.get("/").text)
    assert web.get("/items/1").status_code == 404


def test_crmkit_serve_listens_on_localhost_and_refuses_a_missing_store(
    web_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    calls: list[dict[str, Any]] = []

    def run(app: Any, **options: Any) -> None:  # uvicorn's server is not started: the app is shut down at once
        calls.append({"app": app, **options})
        app.state.engine.dispose()

    monkeypatch.setattr(uvicorn, "run", run)
    runner = CliRunner()
    result = runner.invoke(cli, ["serve", "--config", str(web_project), "--user", "ops"])
    assert result.exit_code == 0, result.output
    assert "http://127.0.0.1:8765/" in result.output
    [call] = calls
    assert (call["host"], call["port"]) == ("127.0.0.1", 8765)
    assert call["app"].state.actor == "ops"

    result = runner.invoke(cli, ["serve", "--config", str(web_project), "--host", "0.0.0.0", "--port", "9000"])
    assert result.exit_code == 0 and "anyone who can reach this address" in result.output
    assert (calls[-1]["host"], calls[-1]["port"]) == ("0.0.0.0", 9000)

    (tmp_path / "crm.db").unlink()
    missing = runner.invoke(cli, ["serve", "--config", str(web_project)])
    assert missing.exit_code == 1 and "no crmkit store" in missing.output

"""The review page in a real browser: Playwright drives Debian's headless chromium against ``crmkit serve``'s app
on a free port. After a migrate and a clean run, with the nightly schedule recorded as ``crmkit schedule`` records
it, a steward opens the queue, presses ``a`` on one possible match and ``r`` on the next, ``r`` (dismiss) on a
clean finding, opens a merged customer, ticks a row and clicks unmerge, and reads the next scheduled run on the runs
page. Then the next scheduled run runs (the two steps the ``migrate-and-clean`` deployment runs: the migrate, then
the clean flow) and the pages must show all four honoured: the accepted pair in one customer, the rejected pair and
the unmerged rows apart, the dismissed finding still decided. The test also takes the README's screenshots
(``docs/img/`` with ``make screenshots``).

Skipped when chromium (``apt-get install -y chromium``) or the ``playwright`` package is missing, unless
``CRMKIT_REQUIRE_SERVICES=1`` (CI), where that is a failure. Browsers are never downloaded (no ``playwright
install``): the test launches ``/usr/bin/chromium``.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import uvicorn
from sqlalchemy.orm import Session

import crm_store
from pipelines.clean import run_clean
from pipelines.migrate import run_steps
from pipelines.settings import load_settings
from pipelines.web import create_app

ROOT = Path(__file__).resolve().parents[3]
MAX_PNG = 150_000
ACTOR = "wang.steward"
ZONE = "Asia/Shanghai"


def _missing(reason: str) -> None:
    if os.environ.get("CRMKIT_REQUIRE_SERVICES", "") not in ("", "0", "false"):
        pytest.fail(f"CRMKIT_REQUIRE_SERVICES is set and {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def chromium() -> str:
    """The path of Debian's chromium."""
    path = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    if path is None:
        _missing("chromium is not installed (apt-get install -y chromium): the browser test needs it")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _missing("the playwright package is not installed (pip install -e '.[dev]')")
    assert path is not None
    return path


@pytest.fixture
def server(web_project: Path) -> Iterator[str]:
    """``crmkit serve``'s app over the test's store, served by uvicorn on a free local port in a thread."""
    app = create_app(load_settings(web_project), user=ACTOR)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


def _owners(open_session: Callable[[], Session]) -> dict[str, str]:
    with open_session() as session:
        crosswalk = crm_store.read_crosswalk(session)
    return dict(zip(crosswalk["source_key"].to_list(), crosswalk["customer_id"].to_list(), strict=True))


def _next_two_am(now: dt.datetime) -> dt.datetime:
    """The next 02:00 in Shanghai (no daylight saving time) after ``now``, worked out by hand."""
    local = now.astimezone(ZoneInfo(ZONE))
    at = local.replace(hour=2, minute=0, second=0, microsecond=0)
    return at if at > local else at + dt.timedelta(days=1)


@pytest.mark.slow
def test_a_steward_reviews_in_a_browser_and_the_next_scheduled_run_honours_it(
    chromium: str,
    server: str,
    merged: tuple[str, list[str]],
    cleaned: list[str],
    web_project: Path,
    store_session: Callable[[], Session],
    screenshots: Path,
) -> None:
    from playwright.sync_api import expect, sync_playwright

    customer_id, _ = merged
    with store_session() as session, session.begin():  # as `crmkit schedule` records the deployment it serves
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
    open_items = 4 + len(cleaned)
    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 760}, locale="en-GB")
            page.set_default_timeout(10_000)
            page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
            page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
            page.on(
                "request", lambda r: None if r.url.startswith(server) else problems.append(f"left the machine: {r.url}")
            )

            # the queue, most in doubt first
            page.goto(server + "/")
            expect(page.locator("p.summary")).to_contain_text(f"showing {open_items} of {open_items} open items")
            ids = [
                int(i.removeprefix("item-"))
                for i in page.locator("table.queue tbody tr").evaluate_all("rs => rs.map(r => r.id)")
            ]
            page.screenshot(
                path=screenshots / "review-queue.png", caret="initial"
            )  # "hide" injects a style the CSP refuses

            # n opens the first item; a decides "match", and the next item loads in its place
            page.keyboard.press("n")
            page.wait_for_url(f"**/items/{ids[0]}")
            expect(page.locator("table.waterfall")).to_be_visible()
            page.screenshot(path=screenshots / "review-item.png", caret="initial", full_page=True)
            page.keyboard.press("a")
            expect(page.locator("main .message.ok")).to_contain_text(f"Item {ids[0]}: match, recorded for {ACTOR}.")
            page.wait_for_url(f"**/items/{ids[1]}")
            expect(page.locator("h1")).to_contain_text(f"Possible match {ids[1]}")

            # a note typed in the field is text, not a shortcut; r then decides "no match"
            page.locator("#note").fill("different people: checked the phone")
            page.locator("#note").press("Escape")
            page.keyboard.press("r")
            expect(page.locator("main .message.ok")).to_contain_text(f"Item {ids[1]}: no match")
            page.wait_for_url(f"**/items/{ids[2]}")

            with store_session() as session:
                first, second = (crm_store.read_review_item(session, i) for i in ids[:2])
            assert first is not None and second is not None
            assert [(d["decision"], d["decided_by"]) for d in first["decisions"]] == [("match", ACTOR)]
            assert [(d["decision"], d["note"]) for d in second["decisions"]] == [
                ("no_match", "different people: checked the phone")
            ]
            assert first["status"] == second["status"] == "decided"
            assert first["subject"] == second["subject"] == "pair"

            # a clean finding: the customer is shown with the field it lacks; r dismisses it (not a problem)
            finding = ids[4]
            page.goto(f"{server}/items/{finding}")
            expect(page.locator("h1")).to_contain_text(f"Finding {finding}: incomplete_record")
            expect(page.locator("table.record tr.differs th")).to_have_text("company")
            page.screenshot(path=screenshots / "review-finding.png", caret="initial", full_page=True)
            page.keyboard.press("r")
            expect(page.locator("main .message.ok")).to_contain_text(
                f"Item {finding}: dismissed, recorded for {ACTOR}."
            )

            # a merged customer: unmerge it (after the confirmation dialog)
            page.goto(f"{server}/customers/{customer_id}")
            expect(page.locator("h1")).to_contain_text("张伟")
            page.get_by_label("b:B1").check()  # split this row off
            page.once("dialog", lambda dialog: dialog.accept())
            page.get_by_role("button", name="Unmerge").click()
            expect(page.locator("#unmerge-result")).to_contain_text(f"Unmerged by {ACTOR}")

            # the runs page says when the next scheduled run is: 02:00 in the project's time zone
            expected = _next_two_am(dt.datetime.now(dt.UTC))
            page.get_by_role("link", name="Runs").click()
            page.wait_for_url("**/runs")
            next_run = page.locator("table.schedules .next-run")
            expect(next_run).to_have_text(f"{expected:%Y-%m-%d} 02:00 CST")
            assert dt.datetime.fromisoformat(str(next_run.get_attribute("data-at"))) == expected
            expect(page.locator("table.runs tbody tr")).to_have_count(2)  # r1 and clean-1

            # the next scheduled run: the deployment's migrate, then its clean flow
            settings = load_settings(web_project)
            assert run_steps(settings, "r2", dry_run=False).status == "succeeded"
            cleaned_again = run_clean(settings, "clean-2")
            assert cleaned_again.status == "succeeded", cleaned_again.error
            page.reload()
            expect(page.locator("#run-clean-2")).to_contain_text("succeeded")
            expect(page.locator("#run-r2")).to_contain_text("succeeded")
            expect(page.locator("table.runs tbody tr")).to_have_count(4)

            # all four honoured: the decided items are still decided, the finding is not asked again
            page.goto(server + "/?status=decided")
            decided = {
                int(i.removeprefix("item-"))
                for i in page.locator("table.queue tbody tr").evaluate_all("rs => rs.map(r => r.id)")
            }
            assert {ids[0], ids[1], finding} <= decided
            page.goto(server + "/")
            expect(page.locator(f"#item-{finding}")).to_have_count(0)
            expect(page.locator(f"#item-{ids[0]}")).to_have_count(0)
            # the accepted pair is one customer now: its page lists both rows
            with store_session() as session:
                accepted = crm_store.read_review_item(session, ids[0])
            assert accepted is not None
            left, right = (f"{accepted[f'{s}_source']}:{accepted[f'{s}_key']}" for s in ("left", "right"))
            owners = _owners(store_session)
            page.goto(f"{server}/customers/{owners[accepted['left_key']]}")
            expect(page.locator("table.rows thead")).to_contain_text(left)
            expect(page.locator("table.rows thead")).to_contain_text(right)
        finally:
            browser.close()

    with store_session() as session:
        rejected = crm_store.read_review_item(session, ids[1])
        dismissed = crm_store.read_review_item(session, finding)
    assert rejected is not None and dismissed is not None
    assert owners[accepted["left_key"]] == owners[accepted["right_key"]]  # accepted: merged by the next run
    assert owners[rejected["left_key"]] != owners[rejected["right_key"]]  # rejected: kept apart
    assert owners["A1"] == customer_id != owners["B1"]  # unmerged: still apart
    assert dismissed["status"] == "decided" and dismissed["last_run_id"] == "clean-1"  # nothing new to ask
    assert cleaned_again.review["decided"] == 1  # the dismissed finding, found again and not asked again
    assert problems == [], "\n".join(problems)
    for name in ("review-queue.png", "review-item.png", "review-finding.png"):
        size = (screenshots / name).stat().st_size
        assert 0 < size < MAX_PNG, f"{name}: {size:,} bytes"

"""The review page in a real browser: Playwright drives Debian's headless chromium against ``crmkit serve``'s app
on a free port. A steward opens the queue, presses ``a`` on one possible match and ``r`` on the next, opens a
merged customer, ticks a row and clicks unmerge; the store must hold all three. The test also takes the README's
screenshots (``docs/img/``).

Skipped when chromium (``apt-get install -y chromium``) or the ``playwright`` package is missing, unless
``CRMKIT_REQUIRE_SERVICES=1`` (CI), where that is a failure. Browsers are never downloaded (no ``playwright
install``): the test launches ``/usr/bin/chromium``.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import uvicorn
from sqlalchemy.orm import Session

import crm_store
from pipelines.settings import load_settings
from pipelines.web import create_app

ROOT = Path(__file__).resolve().parents[3]
SCREENSHOTS = ROOT / "docs" / "img"
MAX_PNG = 150_000
ACTOR = "wang.steward"


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


def test_a_steward_reviews_two_pairs_and_unmerges_a_customer_in_a_browser(
    chromium: str,
    server: str,
    merged: tuple[str, list[str]],
    store_session: Callable[[], Session],
) -> None:
    from playwright.sync_api import expect, sync_playwright

    customer_id, _ = merged
    problems: list[str] = []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
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
            expect(page.locator("p.summary")).to_contain_text("showing 4 of 4 open items")
            ids = [
                int(i.removeprefix("item-"))
                for i in page.locator("table.queue tbody tr").evaluate_all("rs => rs.map(r => r.id)")
            ]
            page.screenshot(
                path=SCREENSHOTS / "review-queue.png", caret="initial"
            )  # "hide" injects a style the CSP refuses

            # n opens the first item; a decides "match", and the next item loads in its place
            page.keyboard.press("n")
            page.wait_for_url(f"**/items/{ids[0]}")
            expect(page.locator("table.waterfall")).to_be_visible()
            page.screenshot(path=SCREENSHOTS / "review-item.png", caret="initial", full_page=True)
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

            # a merged customer: unmerge it (after the confirmation dialog)
            page.goto(f"{server}/customers/{customer_id}")
            expect(page.locator("h1")).to_contain_text("张伟")
            page.get_by_label("b:B1").check()  # split this row off
            page.once("dialog", lambda dialog: dialog.accept())
            page.get_by_role("button", name="Unmerge").click()
            expect(page.locator("#unmerge-result")).to_contain_text(f"Unmerged by {ACTOR}")
        finally:
            browser.close()

    owners = _owners(store_session)
    assert owners["A1"] == customer_id != owners["B1"]
    assert problems == [], "\n".join(problems)
    for name in ("review-queue.png", "review-item.png"):
        size = (SCREENSHOTS / name).stat().st_size
        assert 0 < size < MAX_PNG, f"{name}: {size:,} bytes"

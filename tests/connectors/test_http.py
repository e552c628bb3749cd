"""HTTP API connector against a real local server (127.0.0.1, ephemeral port, stopped after each test)."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import httpx
import polars as pl
import pytest

import connectors._http as http_connector
from connectors import HttpParams, SourceError, get_connector

TOKEN = "tok-9c1f-very-secret"
PAGES = {
    1: [{"id": 101, "name": "张伟", "mobile": "13800138000"}, {"id": 102, "name": "李娜", "mobile": None}],
    2: [{"id": 103, "name": "王芳", "vip": True}, "not an object"],
    3: [{"id": 105, "name": "刘洋", "score": 1.50}],
}


@dataclass
class Api:
    base: str
    requests: list[str] = field(default_factory=list)
    auth: list[str | None] = field(default_factory=list)
    failures: dict[str, list[int]] = field(default_factory=dict)  # path + page -> statuses to answer first


@pytest.fixture
def api() -> Iterator[Api]:
    state = Api(base="")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
            pass

        def _send(self, status: int, body: object, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            state.requests.append(self.path)
            state.auth.append(self.headers.get("Authorization"))
            if len(state.requests) > 50:  # a runaway client must not loop forever
                self._send(500, {"error": "too many requests in this test"})
                return
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self._send(401, {"error": "unauthorized"})
                return
            url = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            page = int(query.get("page", query.get("after", "1")))
            pending = state.failures.get(f"{url.path}:{page}")
            if pending:
                status = pending.pop(0)
                self._send(status, {"error": "busy"}, {"Retry-After": "1"} if status == 429 else None)
                return
            records = PAGES.get(page, [])
            if url.path == "/customers":
                assert query.get("per_page") == "2" and query.get("region") == "cn"
                self._send(200, {"data": {"items": records}, "total": 5})
            elif url.path == "/linked":
                nxt = f"/linked?after={page + 1}" if page < 3 else None
                self._send(200, {"items": records, "links": {"next": nxt}})
            elif url.path == "/list":
                self._send(200, records)
            elif url.path == "/html":
                self.send_response(200)
                self.send_header("Content-Length", "9")
                self.end_headers()
                self.wfile.write(b"<html>\n<b")
            else:
                self._send(404, {"error": "not found"})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Waits between attempts, recorded instead of slept."""
    recorded: list[float] = []
    monkeypatch.setattr(http_connector, "_sleep", recorded.append)
    return recorded


def read(**params: object) -> pl.DataFrame:
    batches = list(get_connector("http")(HttpParams.model_validate(params), source="crm_api"))
    return pl.concat(batches, how="diagonal")


def test_page_numbers_retries_and_token(
    api: Api, waits: list[float], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("CRM_API_TOKEN", TOKEN)
    api.failures = {"/customers:1": [429], "/customers:2": [503]}
    df = read(
        url=f"{api.base}/customers",
        token_env="CRM_API_TOKEN",
        query={"region": "cn"},
        records_path="data.items",
        page_param="page",
        page_size_param="per_page",
        page_size=2,
        key="id",
        backoff=0.25,
    )
    # page 1: 429 then 200; page 2: 503 then 200; page 3; page 4 is empty and ends the read
    assert len(api.requests) == 6
    assert [p.split("?")[1].split("&")[1] for p in api.requests] == [
        "page=1",
        "page=1",
        "page=2",
        "page=2",
        *(f"page={n}" for n in (3, 4)),
    ]
    assert set(api.auth) == {f"Bearer {TOKEN}"}
    assert waits == [1.0, 0.25]  # Retry-After honoured; otherwise backoff * 2**attempt
    assert df["_source_key"].to_list() == ["101", "102", "103", "2:2", "105"]
    assert df["name"].to_list() == ["张伟", "李娜", "王芳", None, "刘洋"]
    assert df["mobile"].to_list() == ["13800138000", None, None, None, None]
    assert df["vip"][2] == "true" and df["score"][4] == "1.5"
    assert df["_error_code"].to_list() == [None, None, None, "malformed_row", None]
    assert df["_raw_line"][3] == '"not an object"'
    assert TOKEN not in caplog.text
    assert "HTTP 429" in caplog.text and "HTTP 503" in caplog.text


def test_next_links_and_page_index_keys(api: Api, waits: list[float], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_API_TOKEN", TOKEN)
    df = read(url=f"{api.base}/linked", token_env="CRM_API_TOKEN", records_path="items", next_path="links.next")
    assert len(api.requests) == 3
    assert df["_source_key"].to_list() == ["1:1", "1:2", "2:1", "2:2", "3:1"]
    assert waits == []


def test_max_pages_and_single_page(api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("CRM_API_TOKEN", TOKEN)
    df = read(
        url=f"{api.base}/linked", token_env="CRM_API_TOKEN", records_path="items", next_path="links.next", max_pages=2
    )
    assert df.height == 4 and "stopped after max_pages=2" in caplog.text
    assert read(url=f"{api.base}/list?page=3", token_env="CRM_API_TOKEN")["name"].to_list() == ["刘洋"]
    assert len(api.requests) == 3


def test_retries_exhausted(api: Api, waits: list[float], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_API_TOKEN", TOKEN)
    api.failures = {"/list:1": [503, 502, 500, 503]}
    with pytest.raises(SourceError, match=r"/list: page 1: HTTP 500 after 3 attempts"):
        read(url=f"{api.base}/list", token_env="CRM_API_TOKEN", retries=2, backoff=0.5)
    assert len(api.requests) == 3
    assert waits == [0.5, 1.0]


def test_token_problems_never_show_the_token(
    api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(SourceError, match="environment variable CRM_API_TOKEN \\(token_env\\) is not set"):
        read(url=f"{api.base}/list", token_env="CRM_API_TOKEN")
    assert api.requests == []
    monkeypatch.setenv("CRM_API_TOKEN", TOKEN + "-wrong")
    with pytest.raises(SourceError) as info:
        read(url=f"{api.base}/list", token_env="CRM_API_TOKEN")
    assert "page 1: HTTP 401 Unauthorized (check the token in $CRM_API_TOKEN)" in str(info.value)
    assert TOKEN not in str(info.value) and TOKEN not in caplog.text
    assert len(api.requests) == 1


def test_bad_pages(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_API_TOKEN", TOKEN)
    with pytest.raises(SourceError, match=r"/html: page 1: invalid JSON at line 1, column 1"):
        read(url=f"{api.base}/html", token_env="CRM_API_TOKEN")
    with pytest.raises(SourceError, match=r"page 1: records_path 'data.rows': data has no key 'rows'"):
        read(url=f"{api.base}/customers?per_page=2&region=cn", token_env="CRM_API_TOKEN", records_path="data.rows")
    with pytest.raises(SourceError, match=r"/nope: page 1: HTTP 404 Not Found"):
        read(url=f"{api.base}/nope", token_env="CRM_API_TOKEN")


def test_unreachable_server_is_retried_then_fails(waits: list[float]) -> None:
    with pytest.raises(
        SourceError, match=r"http://127.0.0.1:1/x\?api_key=\*\*\*: page 1: no answer \(ConnectError: .+\) after 2"
    ):
        read(url="http://127.0.0.1:1/x?api_key=abc123", retries=1, timeout=2)
    assert waits == [0.5]


def test_params_checks() -> None:
    with pytest.raises(ValueError, match="at most one of page_param and next_path"):
        HttpParams.model_validate({"url": "http://x", "page_param": "p", "next_path": "next"})
    with pytest.raises(ValueError, match="page_size_param needs page_param"):
        HttpParams.model_validate({"url": "http://x", "page_size_param": "n"})
    with pytest.raises(ValueError, match="tokn_env"):
        HttpParams.model_validate({"url": "http://x", "tokn_env": "T"})


def test_a_callers_client_carries_the_requests_and_stays_open(monkeypatch: pytest.MonkeyPatch) -> None:
    """A proxy, client certificates or a mock transport: the caller's ``httpx.Client`` sends every page, with the
    token and ``Accept`` header per request, and is left open for its owner."""
    monkeypatch.setenv("CRM_API_TOKEN", TOKEN)
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        page = int(request.url.params["page"])
        return httpx.Response(200, json={"items": [{"id": f"c{page}", "name": "张伟"}] if page < 3 else []})

    with httpx.Client(transport=httpx.MockTransport(answer), base_url="https://crm.example") as client:
        params = HttpParams(url="https://crm.example/customers", token_env="CRM_API_TOKEN", records_path="items")
        params = params.model_copy(update={"page_param": "page", "key": "id"})
        batches = list(get_connector("http")(params, source="crm_api", client=client))
        assert not client.is_closed
    df = pl.concat(batches)
    assert df["_source_key"].to_list() == ["c1", "c2"]
    assert [r.url.params["page"] for r in seen] == ["1", "2", "3"]
    assert {r.headers["Authorization"] for r in seen} == {f"Bearer {TOKEN}"}
    assert {r.headers["Accept"] for r in seen} == {"application/json"}

"""HTTP connector: what an API answers badly fails its source with a message, never the run, and loses no page (#11).

Each test is a defect the fuzz corpus's ``http`` cases found (``tests/fuzz``): before, the answer escaped the
connector as an exception that stopped the whole run (a deep body, a broken gzip, a redirect loop, a next link
that is not a URL, a lone surrogate in a key, a charset that is no text encoding), ran the process out of memory
(an endless body) or hung it (a trickled body), read ten thousand copies of one page (a server ignoring the page
number), silently lost pages (a next link that is an object, an empty page with a next link), silently replaced
undecodable bytes with U+FFFD, or sent the bearer token to whatever host a next link named. The server is an
``httpx.MockTransport`` (an in-memory seam): answers are built per request, bodies streamed as a server sends them.
"""

from __future__ import annotations

import codecs
import gzip
import itertools
import json
import logging
import time
import tracemalloc
from collections.abc import Callable, Iterator

import httpx
import polars as pl
import pytest

import connectors._http as http_connector
from connectors import HttpParams, SourceError, get_connector

TOKEN = "tok-51d2-very-secret"
GOOD = [{"id": "c1", "name": "张伟"}, {"id": "c2", "name": "李娜"}]
URL = "https://crm.example/customers"


@pytest.fixture(autouse=True)
def no_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http_connector, "_sleep", lambda seconds: None)


def read(answer: Callable[[httpx.Request], httpx.Response], **params: object) -> pl.DataFrame:
    """Every batch of a read of ``URL`` (and the params) through a client whose server is ``answer``."""
    model = HttpParams.model_validate({"url": URL, "retries": 1, **params})
    # https is the mock server; another scheme reaches httpx's own transport, which refuses what is not HTTP
    with httpx.Client(mounts={"https://": httpx.MockTransport(answer)}, follow_redirects=True) as client:
        batches = list(get_connector("http")(model, source="crm_api", client=client))
    return pl.concat(batches, how="diagonal") if batches else pl.DataFrame()


def body(
    data: bytes | str, content_type: str | None = "application/json", **headers: str
) -> Callable[..., httpx.Response]:
    """A server answering every request 200 with ``data``."""
    raw = data.encode() if isinstance(data, str) else data
    sent = {**({"Content-Type": content_type} if content_type else {}), **headers}
    return lambda request: httpx.Response(200, headers=sent, content=raw)


# ------------------------------------------------------------------------------------------------- bodies


def test_json_nested_too_deeply_fails_the_source() -> None:
    """Was a RecursionError out of the connector: the whole run stopped."""
    with pytest.raises(SourceError, match=r"/customers: page 1: invalid JSON: nested too deeply"):
        read(body("[" * 100_000 + "]" * 100_000))
    with pytest.raises(SourceError, match=r"page 1: invalid JSON: nested too deeply"):
        read(body('[{"name": ' + '{"a":' * 999 + "1" + "}" * 999 + "}]"))


@pytest.mark.parametrize("charset", ["base64", "rot13", "no-such-codec"])
def test_a_charset_that_is_no_text_encoding_is_ignored(charset: str, caplog: pytest.LogCaptureFixture) -> None:
    """Was an AssertionError, a TypeError or a LookupError out of httpx's ``response.text``: the run stopped."""
    df = read(body(json.dumps(GOOD), f"application/json; charset={charset}"))
    assert df["name"].to_list() == ["张伟", "李娜"]
    assert f"Content-Type charset {charset!r} is no text encoding Python knows: read as UTF-8" in caplog.text


def test_a_charset_that_never_decodes_fails_the_source() -> None:
    """Was a UnicodeError out of httpx: the run stopped."""
    with pytest.raises(SourceError, match=r"page 1: the body does not decode as undefined"):
        read(body(json.dumps(GOOD), "application/json; charset=undefined"))


def test_undecodable_bytes_fail_the_page_instead_of_becoming_replacement_characters() -> None:
    """Were silently read as U+FFFD (httpx decodes with ``errors="replace"``) and loaded: now the page fails, as a
    JSON file that does not decode does; a declared charset and a byte-order mark are honoured."""
    data = json.dumps(GOOD, ensure_ascii=False).encode()
    broken = data[:20] + b"\xff\xfe" + data[20:]
    with pytest.raises(SourceError, match=r"page 1: the body is not valid utf-8 \(JSON's encoding\): bytes b'\\xff'"):
        read(body(broken))
    with pytest.raises(SourceError, match=r"page 1: the body is not valid utf-8 \(JSON's encoding\)"):
        read(body(json.dumps(GOOD, ensure_ascii=False).encode("gb18030")))  # GB18030 sent without a charset
    text = json.dumps(GOOD, ensure_ascii=False)
    assert read(body(text.encode("gbk"), "application/json; charset=gbk"))["name"].to_list() == ["张伟", "李娜"]
    # a byte-order mark (was "invalid JSON at line 1, column 1"), whatever the charset says
    assert read(body(codecs.BOM_UTF8 + text.encode()))["name"].to_list() == ["张伟", "李娜"]
    utf16 = codecs.BOM_UTF16_LE + text.encode("utf-16-le")
    assert read(body(utf16, "application/json; charset=utf-8"))["name"].to_list() == ["张伟", "李娜"]


def test_a_broken_content_encoding_fails_the_source() -> None:
    """Was an httpx.DecodingError out of the connector: the run stopped."""
    with pytest.raises(SourceError, match=r"page 1: the body does not decode as its Content-Encoding says"):
        read(body(json.dumps(GOOD), **{"Content-Encoding": "gzip"}))
    packed = gzip.compress(json.dumps(GOOD).encode())
    assert read(body(packed, **{"Content-Encoding": "gzip"})).height == 2


def test_an_endless_body_or_a_gzip_bomb_stops_at_max_page_bytes() -> None:
    """An endless body was read until the process ran out of memory (MemoryError, or a polars panic on a huge
    value); a gzip bomb was unpacked whole."""

    def endless(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=itertools.chain([b"["], itertools.repeat(b'{"name": "x"},' * 1000)))

    with pytest.raises(SourceError, match=r"page 1: the body is over max_page_bytes=1,000,000 bytes \(decompressed\)"):
        read(endless, max_page_bytes=1_000_000)
    bomb = gzip.compress(b"[" + b" " * 5_000_000 + b"]")
    assert len(bomb) < 10_000
    with pytest.raises(SourceError, match=r"over max_page_bytes=1,000,000 bytes"):
        read(body(bomb, **{"Content-Encoding": "gzip"}), max_page_bytes=1_000_000)
    assert HttpParams(url=URL).max_page_bytes == 100_000_000


def test_a_streamed_gzip_body_is_unpacked_a_megabyte_at_a_time() -> None:
    """httpx unpacked each chunk it read whole: a bomb's chunk became tens of megabytes in one allocation before
    max_page_bytes was checked (a fuzz child capped at 2 GiB of address space failed there with a MemoryError)."""
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}

    def streamed(*pieces: bytes) -> Callable[[httpx.Request], httpx.Response]:
        return lambda request: httpx.Response(200, headers=headers, content=iter(pieces))

    bomb = gzip.compress(b"[" + b" " * 60_000_000 + b"]")
    tracemalloc.start()
    try:
        with pytest.raises(SourceError, match=r"over max_page_bytes=5,000,000 bytes \(decompressed\)"):
            read(streamed(bomb), max_page_bytes=5_000_000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000, peak
    packed = gzip.compress(json.dumps(GOOD).encode())
    assert read(streamed(packed[:10], packed[10:]))["name"].to_list() == ["张伟", "李娜"]
    with pytest.raises(SourceError, match=r"page 1: the body does not decode as its Content-Encoding says"):
        read(streamed(b"not gzip at all"))


def test_a_body_that_trickles_in_counts_as_no_answer() -> None:
    """A byte at a time, each within the read timeout: the read never timed out and hung the run for as long as the
    server went on. ``timeout`` now bounds the whole page, and a slow page is retried like a silent one."""
    started: list[float] = []

    def trickle(request: httpx.Request) -> httpx.Response:
        started.append(time.monotonic())

        def drip() -> Iterator[bytes]:
            yield b"["
            for _ in range(200):
                time.sleep(0.01)
                yield b" "
            yield b"]"

        return httpx.Response(200, content=drip())

    begun = time.monotonic()
    with pytest.raises(SourceError, match=r"page 1: the body took over timeout=0.3 s to arrive after 2 attempts"):
        read(trickle, timeout=0.3)
    assert len(started) == 2 and time.monotonic() - begun < 1.5


def test_a_retry_after_of_non_ascii_digits_is_no_wait() -> None:
    """``Retry-After: ²`` (a latin-1 byte; ``"²".isdigit()`` is true, ``float("²")`` fails) was a ValueError out of
    the connector: the run stopped."""
    answers = iter(
        [httpx.Response(429, headers={"Retry-After": "\u00b2".encode("latin-1")}), httpx.Response(200, json=GOOD)]
    )
    assert read(lambda request: next(answers)).height == 2


def test_an_empty_body_or_a_status_that_is_not_2xx_is_not_a_page() -> None:
    """A 301 without a Location (or any 1xx/3xx the client does not follow) was parsed as a page of records."""
    with pytest.raises(SourceError, match=r"page 1: HTTP 301 Moved Permanently, not a page of records \(2xx\)"):
        read(lambda request: httpx.Response(301, json=GOOD))
    with pytest.raises(SourceError, match=r"page 1: the body is empty, not JSON"):
        read(lambda request: httpx.Response(204))
    with pytest.raises(SourceError, match=r"page 1: invalid JSON \(Content-Type 'text/html'\) at line 1, column 1"):
        read(body("<html>login</html>", "text/html"))


# ------------------------------------------------------------------------------------------------- redirects


def test_a_redirect_loop_or_a_redirect_out_of_http_fails_the_source() -> None:
    """Were httpx.TooManyRedirects and httpx.InvalidURL out of the connector (the run stopped), or retried as
    "no answer" (a redirect to ``ftp:``)."""
    loop = {"/customers": "/b", "/b": "/customers"}

    def redirect(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"Location": loop[request.url.path]})

    with pytest.raises(SourceError, match=r"page 1: too many redirects \(a redirect loop\?\)"):
        read(redirect)
    with pytest.raises(SourceError, match=r"page 1: a redirect leads out of HTTP \(UnsupportedProtocol"):
        read(lambda request: httpx.Response(302, headers={"Location": "ftp://crm.example/x"}))
    with pytest.raises(SourceError, match=r"page 1: the request failed \(InvalidURL"):
        read(lambda request: httpx.Response(302, headers={"Location": "javascript:alert(1)"}))


def test_a_url_that_is_not_one_is_refused_with_the_settings() -> None:
    with pytest.raises(ValueError, match=r"not a valid URL \(InvalidURL\)") as info:
        HttpParams.model_validate({"url": "http://secret@[::1"})
    assert "secret" not in str(info.value)


# ------------------------------------------------------------------------------------------------- pagination


def linked(links: list[object]) -> Callable[[httpx.Request], httpx.Response]:
    """Pages ``/customers``, ``?after=2`` …: page ``k`` holds one record and the next link ``links[k - 1]``."""

    def answer(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params.get("after", "1"))
        page_body = {"items": [{"id": f"c{page}"}], "next": links[page - 1]}
        return httpx.Response(200, content=json.dumps(page_body).encode())  # a lone surrogate as its escape

    return answer


@pytest.mark.parametrize(
    ("link", "what"),
    [
        ({"href": "?after=2"}, "an object"),
        (["?after=2"], "an array"),
        (True, "a boolean"),
        (2, "a number"),
    ],
)
def test_a_next_link_that_is_not_a_url_fails_the_source(link: object, what: str) -> None:
    """An object, an array or ``true`` silently ended the read after page 1 (its other pages lost, the ledger
    balanced); a number was requested as a relative path."""
    with pytest.raises(SourceError, match=rf"page 1: next_path 'next' holds {what}, not a URL") as info:
        read(linked([link, None]), records_path="items", next_path="next")
    if isinstance(link, dict):
        assert str(info.value).endswith("(a URL inside it: next_path 'next.href'?)")


@pytest.mark.parametrize(
    ("link", "problem"),
    [
        ("http://[::1", r"the next link is not a valid URL \(InvalidURL: Invalid port"),
        ("?x=" + "a" * 100_000, r"the next link is not a valid URL \(InvalidURL: URL too long\)"),
        ("?after=2\u0000", r"the next link is not a valid URL \(InvalidURL: Invalid non-printable"),
        ("?q=\ud800", r"the next link is not a valid URL \(UnicodeEncodeError"),
        ("ftp://crm.example/p", r"the next link 'ftp://crm.example/p' is not an http\(s\) URL"),
        ("javascript:alert(1)", r"the next link 'javascript:alert\(1\)' is not an http\(s\) URL"),
    ],
)
def test_a_next_link_that_is_no_http_url_fails_the_source(link: str, problem: str) -> None:
    """Were httpx.InvalidURL and UnicodeEncodeError out of the connector (the run stopped), or retried as "no
    answer" with the message naming the link instead of the source."""
    with pytest.raises(SourceError, match=rf"^https://crm.example/customers: page 1: {problem}"):
        read(linked([link, None]), records_path="items", next_path="next")


def test_an_empty_page_with_a_next_link_is_followed() -> None:
    """An empty page ended a next-link read even when it named a next page: the pages after it were lost."""

    def answer(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params.get("after", "1"))
        items = [] if page == 1 else [{"id": f"c{page}"}]
        return httpx.Response(200, json={"items": items, "next": f"?after={page + 1}" if page < 3 else None})

    df = read(answer, records_path="items", next_path="next")
    assert df["id"].to_list() == ["c2", "c3"]


def test_a_server_that_ignores_the_page_number_fails_at_the_second_page() -> None:
    """Each page the same as the first: the read went on to max_pages (10,000 requests, every record 10,000 times)."""
    requests: list[httpx.Request] = []

    def same(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(200, json=GOOD)

    with pytest.raises(SourceError, match=r"page 2 is the same as page 1 \(the server ignores page_param 'page'"):
        read(same, page_param="page")
    assert len(requests) == 2
    with pytest.raises(SourceError, match=r"page 3 \(.*after=1\) is the same as page 1 \(the next link leads back"):
        read(linked(["?after=2", "?after=1", None]), records_path="items", next_path="next")


def test_the_token_is_sent_only_to_the_origin_of_the_url(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A next link to another host got the bearer token: any page could send the token anywhere."""
    monkeypatch.setenv("CRM_API_TOKEN", TOKEN)
    seen: list[tuple[str, str | None]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.host, request.headers.get("Authorization")))
        if request.url.host == "crm.example":
            return httpx.Response(200, json={"items": GOOD, "next": "https://evil.example/steal"})
        return httpx.Response(200, json={"items": [{"id": "c3"}], "next": None})

    df = read(answer, records_path="items", next_path="next", token_env="CRM_API_TOKEN")
    assert df["id"].to_list() == ["c1", "c2", "c3"]
    assert seen == [("crm.example", f"Bearer {TOKEN}"), ("evil.example", None)]
    assert "page 2 (https://evil.example/steal) is on another origin: requested without the token" in caplog.text
    assert TOKEN not in caplog.text


# ------------------------------------------------------------------------------------------------- records


def test_a_key_with_a_lone_surrogate_is_quarantined(caplog: pytest.LogCaptureFixture) -> None:
    """Was a UnicodeEncodeError out of the connector (the key cannot be stored as text): the run stopped."""
    caplog.set_level(logging.WARNING)
    df = read(body('[{"id": "\\ud800", "name": "a"}, {"id": "ok", "name": "b"}]'), key="id")
    assert df.select("_source_key", "_error_code", "_error_detail").rows() == [
        ("1:1", "malformed_row", "key field 'id' holds a lone surrogate escape"),
        ("ok", None, None),
    ]

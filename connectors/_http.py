"""HTTP API connector: JSON pages of records, paginated by page number or by a next link, with retries.

An API is read as a file is: what it answers is data, not a crash. A page is bounded in size and time (an endless
or trickled body, a gzip bomb), decoded as it declares and never with silent replacement characters, and parsed
as JSON whatever its depth; a status, a broken answer, a redirect loop or a next link that is not a URL fails the
source with a message naming the page; a server that ignores the page number or a next link that never ends is
caught rather than read ten thousand times. The bearer token goes only to the origin of ``url``.
"""

from __future__ import annotations

import codecs
import contextlib
import dataclasses
import email.utils
import functools
import hashlib
import json
import logging
import os
import re
import ssl
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import polars as pl
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from connectors._encoding import byte_order_mark
from connectors._errors import SourceError
from connectors._frame import BATCH_ROWS
from connectors._json import RecordFrames, find_records, kind_of
from connectors._jsonl import _DECODER, _SURROGATE, _Number

logger = logging.getLogger(__name__)

#: Status codes that are retried (with backoff, honouring ``Retry-After``).
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_SECRET_QUERY = re.compile(r"(?i)([?&;#][^=&;#]*(?:token|key|secret|pass|pwd|sig|auth)[^=&;#]*=)[^&;#]*")
# Seam for tests: how the connector waits between attempts.
_sleep = time.sleep


def safe_http_url(url: str) -> str:
    """The URL without user info and with the values of token/key/secret/password-like query (and fragment)
    parameters hidden. User info runs to the last ``@`` before the path, so a password holding ``#``, ``?`` or
    ``@`` unencoded is dropped whole."""
    return _SECRET_QUERY.sub(r"\1***", _without_userinfo(url))


def _without_userinfo(url: str) -> str:
    """``url`` without its user info. ``user:password@`` runs to the last ``@`` (a password may hold ``/``, ``#``,
    ``?`` and ``@`` unencoded) unless what follows the ``:`` is a port and a path; else to the last ``@`` before
    the path."""
    head, sep, rest = url.partition("://")
    last = rest.rfind("@")
    if not sep or last < 0:
        return url
    plain_end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    user, colon, password = rest[:last].partition(":")
    port_then_path = "@" not in rest[:plain_end] and re.match(r"\d{1,5}(?:[/?#]|$)", password)
    if colon and not any(c in user for c in "/?#") and not port_then_path:
        return f"{head}://{rest[last + 1 :]}"
    at = rest.rfind("@", 0, plain_end)
    return f"{head}://{rest[at + 1 :]}" if at >= 0 else url


class HttpParams(BaseModel):
    """Which API to read and how to page through it.

    Attributes:
        url: The first page (``http://`` or ``https://``).
        token_env: Name of the environment variable holding a bearer token (sent as ``Authorization``); the
            token itself never appears in configuration, logs or errors.
        query: Extra query parameters sent with every page-number request.
        records_path: Dotted path to the list of records in each page's JSON; ``None``: the page is the list.
        key: Field of a record whose value is its ``_source_key``; ``None``: ``<page>:<index>``.
        page_param: Query parameter carrying the page number (1, 2, ...; stops at the first empty page).
        page_size_param: Query parameter carrying the page size (with ``page_param``).
        page_size: Value of ``page_size_param``.
        first_page: Number of the first page.
        next_path: Dotted path to the next page's URL in each page's JSON (absent, null, false or "" ends it; an
            http(s) URL, absolute or relative to the page; anything else fails the source).
        max_pages: Stop after this many pages (a warning says more may exist).
        max_page_bytes: Largest body of a page, in bytes as decompressed: a larger one fails the source (an
            endless body or a gzip bomb stops here, not in the machine's memory).
        timeout: Seconds per request: to connect, between two reads, and for the whole page (a body that
            trickles in counts as no answer).
        retries: Retries of a request answered 429 or 5xx (or not answered at all, or too slowly).
        backoff: First wait in seconds, doubled per retry, unless the server sends ``Retry-After``.
        max_wait: Longest wait between attempts, whatever ``Retry-After`` says.
    """

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    url: str = Field(pattern=r"^https?://", repr=False)
    token_env: str | None = Field(default=None, min_length=1)
    query: dict[str, str] = Field(default_factory=dict)
    records_path: str | None = Field(default=None, min_length=1)
    key: str | None = Field(default=None, min_length=1)
    page_param: str | None = Field(default=None, min_length=1)
    page_size_param: str | None = Field(default=None, min_length=1)
    page_size: int = Field(default=100, ge=1)
    first_page: int = Field(default=1, ge=0)
    next_path: str | None = Field(default=None, min_length=1)
    max_pages: int = Field(default=10_000, ge=1)
    max_page_bytes: int = Field(default=100_000_000, ge=1)
    timeout: float = Field(default=30.0, gt=0)
    retries: int = Field(default=4, ge=0)
    backoff: float = Field(default=0.5, ge=0)
    max_wait: float = Field(default=60.0, ge=0)

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        yield "url", safe_http_url(self.url)  # the URL may hold a password or a token: never in a repr
        yield from super().__repr_args__()

    @field_validator("url")
    @classmethod
    def _parses(cls, v: str) -> str:
        try:
            httpx.URL(v)
        except (httpx.InvalidURL, UnicodeError, ValueError) as exc:  # the message may quote the URL: not repeated
            raise ValueError(f"not a valid URL ({type(exc).__name__})") from None
        return v

    @model_validator(mode="after")
    def _one_pagination(self) -> HttpParams:
        if self.page_param is not None and self.next_path is not None:
            raise ValueError("give at most one of page_param and next_path")
        if self.page_size_param is not None and self.page_param is None:
            raise ValueError("page_size_param needs page_param")
        return self


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # not "²" (a latin-1 header byte), which float() refuses
        return float(value)
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, OverflowError):
        return None


@dataclass(frozen=True)
class _Answer:
    """What the server answered one request: its status, and for a 2xx its whole (decompressed) body."""

    status: int
    reason: str
    retry_after: float | None
    content_type: str | None
    charset: str | None
    body: bytes | None


class _Failed(Exception):
    """A request that failed: ``retry`` when another attempt may succeed (no answer, a broken or slow one)."""

    def __init__(self, problem: str, *, retry: bool) -> None:
        super().__init__(problem)
        self.problem = problem
        self.retry = retry


def _fetch(
    client: httpx.Client, url: str, query: dict[str, str], headers: dict[str, str], params: HttpParams
) -> _Answer:
    """One request; the body is read (and bounded by ``max_page_bytes`` and ``timeout``) only for a 2xx status.

    Raises:
        _Failed: No answer, a broken or too slow one, a body too large or in a broken ``Content-Encoding``, a
            redirect loop or a redirect out of HTTP.
    """
    deadline = time.monotonic() + params.timeout
    try:
        with client.stream("GET", url, params=query or None, headers=headers, timeout=params.timeout) as response:
            answer = _Answer(
                response.status_code,
                response.reason_phrase.strip(),
                _retry_after(response),
                response.headers.get("content-type"),
                response.charset_encoding,
                None,
            )
            if not 200 <= response.status_code < 300:
                return answer
            chunks: list[bytes] = []
            size = 0
            for chunk in _pieces(response):
                size += len(chunk)
                if size > params.max_page_bytes:
                    raise _Failed(
                        f"the body is over max_page_bytes={params.max_page_bytes:,} bytes (decompressed)", retry=False
                    )
                if time.monotonic() > deadline:
                    raise _Failed(f"the body took over timeout={params.timeout:g} s to arrive", retry=True)
                chunks.append(chunk)
            return dataclasses.replace(answer, body=b"".join(chunks))
    except httpx.TimeoutException as exc:
        raise _Failed(f"no answer within timeout={params.timeout:g} s ({type(exc).__name__})", retry=True) from None
    except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
        raise _Failed(f"no answer ({_short(exc)})", retry=True) from None
    except httpx.DecodingError as exc:
        raise _Failed(f"the body does not decode as its Content-Encoding says ({_short(exc)})", retry=False) from None
    except httpx.TooManyRedirects:
        raise _Failed("too many redirects (a redirect loop?)", retry=False) from None
    except httpx.UnsupportedProtocol as exc:
        raise _Failed(f"a redirect leads out of HTTP ({_short(exc)})", retry=False) from None
    except (httpx.HTTPError, httpx.InvalidURL, UnicodeError) as exc:  # a redirect to a URL that is not one
        raise _Failed(f"the request failed ({_short(exc)})", retry=False) from None


#: Bytes a gzip body is unpacked by at a time: httpx unpacks each chunk read whole (a bomb's 64 KB chunk becomes
#: 64 MB in one allocation, before ``max_page_bytes`` can be checked).
_INFLATE_STEP = 1 << 20


def _pieces(response: httpx.Response) -> Iterator[bytes]:
    """The body as decoded, a gzip body unpacked ``_INFLATE_STEP`` bytes at a time (other encodings, and a body a
    transport read already, as httpx decodes them).

    Raises:
        httpx.DecodingError: the body is not the gzip its ``Content-Encoding`` says.
    """
    gzip = response.headers.get("content-encoding", "").strip().lower() in ("gzip", "x-gzip")
    if not gzip or response.is_stream_consumed:
        yield from response.iter_bytes()
        return
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)  # a gzip header and trailer, as httpx reads it
    try:
        for raw in response.iter_raw():
            data = raw
            while True:
                piece = inflater.decompress(data, _INFLATE_STEP)
                data = inflater.unconsumed_tail
                if piece:
                    yield piece
                if not data and len(piece) < _INFLATE_STEP:
                    break
        rest = inflater.flush()
    except zlib.error as exc:
        raise httpx.DecodingError(str(exc)) from None
    if rest:
        yield rest


def _short(exc: BaseException) -> str:
    """``Type: message`` on one line, at most 300 characters, with any URL's secrets hidden."""
    text = safe_http_url(" ".join(str(exc).split()))
    return f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__


def _get(
    client: httpx.Client,
    url: str,
    query: dict[str, str],
    headers: dict[str, str],
    params: HttpParams,
    page: str,
    source: str,
) -> _Answer:
    """One page's answer (a 2xx with its body), retried on 429/5xx, no answer and a body too slow.

    Raises:
        SourceError: The page fails after all retries, or with another status, or in a way retrying cannot mend.
    """
    where = safe_http_url(params.url)
    for attempt in range(params.retries + 1):
        last = attempt == params.retries
        try:
            answer = _fetch(client, url, query, headers, params)
        except _Failed as failed:
            if not failed.retry:
                raise SourceError(source, where, None, f"{page}: {failed.problem}") from None
            problem = f"{page}: {failed.problem}"
            if last:
                raise SourceError(source, where, None, f"{problem} after {attempt + 1} attempts") from None
            wait = min(params.backoff * 2**attempt, params.max_wait)
            logger.warning("%s: %s; retry %s of %s in %.2fs", source, problem, attempt + 1, params.retries, wait)
            _sleep(wait)
            continue
        status = answer.status
        if status in RETRY_STATUSES:
            problem = f"{page}: HTTP {status}"
            if last:
                raise SourceError(source, where, None, f"{problem} after {attempt + 1} attempts") from None
            after = answer.retry_after
            wait = min(params.backoff * 2**attempt if after is None else after, params.max_wait)
            logger.warning("%s: %s; retry %s of %s in %.2fs", source, problem, attempt + 1, params.retries, wait)
            _sleep(wait)
            continue
        shown = f"HTTP {status} {answer.reason}".rstrip()
        if status in (401, 403):
            if "Authorization" not in headers and params.token_env is not None:
                hint = f" (the token in ${params.token_env} is sent only to the origin of the url)"
            elif params.token_env:
                hint = f" (check the token in ${params.token_env})"
            else:
                hint = " (no token_env set)"
            raise SourceError(source, where, None, f"{page}: {shown}{hint}")
        if status >= 400:
            raise SourceError(source, where, None, f"{page}: {shown}")
        if not 200 <= status < 300:
            raise SourceError(source, where, None, f"{page}: {shown}, not a page of records (2xx)")
        return answer
    raise AssertionError("unreachable")  # pragma: no cover


def _document(answer: _Answer, page: str, source: str, where: str) -> Any:
    """A page's body as parsed JSON (numbers as written).

    The body is decoded by its byte-order mark, else by the charset its ``Content-Type`` names (a text encoding
    Python knows), else as UTF-8, JSON's encoding; strictly: a byte that does not decode fails the source, as it
    does in a JSON file, rather than becoming a replacement character nobody sees.

    Raises:
        SourceError: The body is empty, does not decode, is not JSON or is nested too deeply.
    """
    body = answer.body or b""
    declared = answer.charset
    if declared is not None:
        try:
            text_codec = getattr(codecs.lookup(declared), "_is_text_encoding", True)
        except LookupError:
            text_codec = False
        if not text_codec:
            logger.warning(
                "%s: %s: Content-Type charset %r is no text encoding Python knows: read as UTF-8",
                source,
                page,
                declared,
            )
            declared = None
    bom = byte_order_mark(body)  # RFC 8259 lets a reader of JSON ignore one
    if bom is not None:
        encoding, size = bom
        body, how = body[size:], "its byte-order mark"
    else:
        encoding, how = (declared, "its Content-Type") if declared else ("utf-8", "JSON's encoding")
    try:
        text = body.decode(encoding)
    except UnicodeDecodeError as exc:
        bad = body[exc.start : exc.end]
        raise SourceError(
            source, where, None, f"{page}: the body is not valid {encoding} ({how}): bytes {bad!r} at byte {exc.start}"
        ) from None
    except UnicodeError as exc:  # a codec that never decodes (``undefined``)
        raise SourceError(source, where, None, f"{page}: the body does not decode as {encoding}: {exc}") from None
    if not text.strip():
        raise SourceError(source, where, None, f"{page}: the body is empty, not JSON")
    try:
        return _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        kind = f" (Content-Type {answer.content_type!r})" if answer.content_type else ""
        problem = f"{page}: invalid JSON{kind} at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        raise SourceError(source, where, None, problem) from None
    except RecursionError:
        raise SourceError(source, where, None, f"{page}: invalid JSON: nested too deeply") from None


def _next_url(document: object, url: str, params: HttpParams, page: str, source: str) -> str | None:
    """The next page's URL from ``next_path``, resolved against ``url``; None at the end (no link, null, false, "").

    Raises:
        SourceError: The value is not a link (a number, an object, a list, true), not a valid URL, or not http(s).
    """
    assert params.next_path is not None
    where = safe_http_url(params.url)
    link = _path_value(document, params.next_path)
    if link is None or link is False or link == "":
        return None
    if isinstance(link, _Number) or not isinstance(link, str):
        problem = f"{page}: next_path {params.next_path!r} holds {kind_of(link)}, not a URL"
        inner = next((k for k, v in link.items() if isinstance(v, str)), None) if isinstance(link, dict) else None
        if isinstance(link, _Number):
            problem += " (page numbers go in page_param)"
        elif inner is not None:
            problem += f" (a URL inside it: next_path {params.next_path + '.' + str(inner)!r}?)"
        raise SourceError(source, where, None, problem)
    shown = safe_http_url(link)[:200]
    try:
        link.encode("utf-8")  # a lone surrogate escape (``\ud800``) is no character of any URL
        joined = httpx.URL(url).join(link)
    except (httpx.InvalidURL, UnicodeError, ValueError) as exc:
        raise SourceError(source, where, None, f"{page}: the next link is not a valid URL ({_short(exc)})") from None
    if joined.scheme not in ("http", "https"):
        raise SourceError(source, where, None, f"{page}: the next link {shown!r} is not an http(s) URL")
    return str(joined)


def _origin(url: str) -> tuple[str, str, int | None]:
    parsed = httpx.URL(url)
    return parsed.scheme, parsed.host, parsed.port


def _path_value(document: object, path: str) -> object:
    node = document
    for part in path.split("."):
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """The TLS context of the clients :func:`read_http` makes, built once per process as httpx builds its default
    one: building it loads the CA bundle, 26-60 ms a client (most of reading a small API)."""
    return httpx.create_ssl_context()


def read_http(
    params: HttpParams, *, source: str, cursor: object | None = None, client: httpx.Client | None = None
) -> Iterator[pl.DataFrame]:
    """Read a paginated JSON API into raw text batches with lineage.

    Pages: with ``page_param``, page numbers from ``first_page`` until a page without records; with
    ``next_path``, the next link of each page (relative links resolved) until there is none; otherwise the
    one page at ``url``. A page the same as an earlier one ends the read with an error (a server that ignores
    the page number, a next link back), as does a next link that is not a URL. ``_source_key`` is the record's
    ``key`` field as text when ``key`` is set (a record without it, or with a lone surrogate escape in it, is
    ``malformed_row`` keyed ``<page>:<index>``), else ``<page>:<index>`` (both 1-based). Values are text as in
    the JSON connector; a record that is not an object is ``malformed_row``.

    Args:
        params: What to read.
        source: The source name written to ``_source``.
        cursor: Reserved for incremental reads; unused.
        client: The ``httpx.Client`` to send the requests through (a proxy, client certificates, a test's
            ``httpx.MockTransport``); it stays open. Default: a client of its own, closed at the end. The token
            (to the origin of ``url`` only), ``Accept`` header and ``timeout`` are sent with each request either
            way; redirects follow the client's setting (its own client follows them, and drops the token on a
            redirect to another origin).

    Raises:
        SourceError: The token variable is not set; a page fails after all retries, or with a 4xx status, or
            over ``max_page_bytes``; a page is not JSON (or not in its encoding) or has no list at
            ``records_path``; a page repeats an earlier one; a next link repeats or is not an http(s) URL.
    """
    del cursor
    where = safe_http_url(params.url)
    headers = {"Accept": "application/json"}
    if params.token_env is not None:
        token = os.environ.get(params.token_env)
        if not token:
            raise SourceError(source, where, None, f"environment variable {params.token_env} (token_env) is not set")
        headers["Authorization"] = f"Bearer {token}"
    frames = RecordFrames(source)
    pending: list[object] = []
    keys: list[str] = []
    problems: dict[int, str] = {}
    url = params.url
    origin = _origin(url)
    seen: set[str] = {url}
    bodies: dict[bytes, int] = {}  # digest of each page's body -> its page number
    elsewhere = False  # a page was requested from another origin (without the token)
    with (
        contextlib.nullcontext(client)
        if client is not None
        else httpx.Client(follow_redirects=True, verify=_tls_context())
    ) as session:
        for number in range(1, params.max_pages + 1):
            query = dict(params.query)
            if params.page_param is not None:
                query[params.page_param] = str(params.first_page + number - 1)
                if params.page_size_param is not None:
                    query[params.page_size_param] = str(params.page_size)
            page = f"page {number}" if url == params.url else f"page {number} ({safe_http_url(url)[:200]})"
            sent = headers
            if "Authorization" in headers and _origin(url) != origin:
                sent = {k: v for k, v in headers.items() if k != "Authorization"}
                if not elsewhere:
                    logger.warning("%s: %s is on another origin: requested without the token", source, page)
                elsewhere = True
            answer = _get(session, url, query, sent, params, page, source)
            digest = hashlib.sha256(answer.body or b"").digest()
            if digest in bodies:
                why = (
                    f"the server ignores page_param {params.page_param!r}, or repeats its last page past the end: "
                    "set max_pages to the number of pages"
                    if params.page_param is not None
                    else "the next link leads back to it"
                )
                raise SourceError(source, where, None, f"{page} is the same as page {bodies[digest]} ({why})")
            bodies[digest] = number
            document = _document(answer, page, source, where)
            records, problem = find_records(document, params.records_path)
            if records is None:
                raise SourceError(source, where, None, f"{page}: {problem}")
            logger.debug("%s: page %s: %s records", source, number, len(records))
            for index, record in enumerate(records, 1):
                fallback = f"{number}:{index}"
                if params.key is None:
                    keys.append(fallback)
                else:
                    value = record.get(params.key) if isinstance(record, dict) else None
                    usable = isinstance(value, str) and value != ""  # JSON numbers parse as text too
                    if isinstance(record, dict) and not usable:
                        problems[len(pending)] = f"key field {params.key!r} is missing or not a string/number"
                    elif usable and _SURROGATE.search(value):  # type: ignore[arg-type]
                        problems[len(pending)] = f"key field {params.key!r} holds a lone surrogate escape"
                        usable = False
                    keys.append(str(value) if usable else fallback)
                pending.append(record)
            if len(pending) >= BATCH_ROWS:
                yield frames.frame(pending, keys, problems)
                pending, keys, problems = [], [], {}
            if params.next_path is not None:
                link = _next_url(document, url, params, page, source)
                if link is None:
                    break
                if link in seen:
                    shown = safe_http_url(link)[:200]
                    raise SourceError(source, where, None, f"{page}: the next link repeats ({shown})")
                seen.add(link)
                url = link
            elif params.page_param is None or not records:
                break
        else:
            logger.warning("%s: stopped after max_pages=%s; more pages may exist", source, params.max_pages)
    if pending:
        yield frames.frame(pending, keys, problems)

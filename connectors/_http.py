"""HTTP API connector: JSON pages of records, paginated by page number or by a next link, with retries."""

from __future__ import annotations

import contextlib
import email.utils
import json
import logging
import os
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import polars as pl
from pydantic import BaseModel, ConfigDict, Field, model_validator

from connectors._errors import SourceError
from connectors._frame import BATCH_ROWS
from connectors._json import RecordFrames, find_records
from connectors._jsonl import _DECODER

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
        next_path: Dotted path to the next page's URL in each page's JSON (absent, null or "" ends it).
        max_pages: Stop after this many pages (a warning says more may exist).
        timeout: Seconds per request.
        retries: Retries of a request answered 429 or 5xx (or not answered at all).
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
    timeout: float = Field(default=30.0, gt=0)
    retries: int = Field(default=4, ge=0)
    backoff: float = Field(default=0.5, ge=0)
    max_wait: float = Field(default=60.0, ge=0)

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        yield "url", safe_http_url(self.url)  # the URL may hold a password or a token: never in a repr
        yield from super().__repr_args__()

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
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _get(
    client: httpx.Client,
    url: str,
    query: dict[str, str],
    headers: dict[str, str],
    params: HttpParams,
    page: int,
    source: str,
) -> Any:
    """One page's parsed JSON, retried on 429/5xx and transport errors."""
    where = safe_http_url(url)
    for attempt in range(params.retries + 1):
        last = attempt == params.retries
        try:
            response = client.get(url, params=query or None, headers=headers, timeout=params.timeout)
        except httpx.TransportError as exc:
            problem = f"page {page}: no answer ({type(exc).__name__})"
            if last:
                raise SourceError(source, where, None, f"{problem} after {attempt + 1} attempts") from None
            wait = min(params.backoff * 2**attempt, params.max_wait)
            logger.warning("%s: %s; retry %s of %s in %.2fs", source, problem, attempt + 1, params.retries, wait)
            _sleep(wait)
            continue
        status = response.status_code
        if status in RETRY_STATUSES:
            problem = f"page {page}: HTTP {status}"
            if last:
                raise SourceError(source, where, None, f"{problem} after {attempt + 1} attempts") from None
            after = _retry_after(response)
            wait = min(params.backoff * 2**attempt if after is None else after, params.max_wait)
            logger.warning("%s: %s; retry %s of %s in %.2fs", source, problem, attempt + 1, params.retries, wait)
            _sleep(wait)
            continue
        if status in (401, 403):
            hint = f" (check the token in ${params.token_env})" if params.token_env else " (no token_env set)"
            raise SourceError(source, where, None, f"page {page}: HTTP {status} {response.reason_phrase}{hint}")
        if status >= 400:
            raise SourceError(source, where, None, f"page {page}: HTTP {status} {response.reason_phrase}")
        try:
            return _DECODER.decode(response.text)
        except json.JSONDecodeError as exc:
            raise SourceError(
                source, where, None, f"page {page}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
            ) from None
    raise AssertionError("unreachable")  # pragma: no cover


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


def read_http(
    params: HttpParams, *, source: str, cursor: object | None = None, client: httpx.Client | None = None
) -> Iterator[pl.DataFrame]:
    """Read a paginated JSON API into raw text batches with lineage.

    Pages: with ``page_param``, page numbers from ``first_page`` until a page without records; with
    ``next_path``, the next link of each page (relative links resolved) until there is none; otherwise the
    one page at ``url``. ``_source_key`` is the record's ``key`` field as text when ``key`` is set (a record
    without it is ``malformed_row`` keyed ``<page>:<index>``), else ``<page>:<index>`` (both 1-based). Values
    are text as in the JSON connector; a record that is not an object is ``malformed_row``.

    Args:
        params: What to read.
        source: The source name written to ``_source``.
        cursor: Reserved for incremental reads; unused.
        client: The ``httpx.Client`` to send the requests through (a proxy, client certificates, a test's
            ``httpx.MockTransport``); it stays open. Default: a client of its own, closed at the end. The token,
            ``Accept`` header and ``timeout`` are sent with each request either way; redirects follow the client's
            setting (its own client follows them).

    Raises:
        SourceError: The token variable is not set, a page fails after all retries or with a 4xx status, a
            page is not JSON or has no list at ``records_path``, a next link repeats.
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
    seen: set[str] = set()
    with contextlib.nullcontext(client) if client is not None else httpx.Client(follow_redirects=True) as session:
        for number in range(1, params.max_pages + 1):
            query = dict(params.query)
            if params.page_param is not None:
                query[params.page_param] = str(params.first_page + number - 1)
                if params.page_size_param is not None:
                    query[params.page_size_param] = str(params.page_size)
            document = _get(session, url, query, headers, params, number, source)
            records, problem = find_records(document, params.records_path)
            if records is None:
                raise SourceError(source, safe_http_url(url), None, f"page {number}: {problem}")
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
                    keys.append(str(value) if usable else fallback)
                pending.append(record)
            if len(pending) >= BATCH_ROWS:
                yield frames.frame(pending, keys, problems)
                pending, keys, problems = [], [], {}
            if params.next_path is not None:
                link = _path_value(document, params.next_path)
                if not link or not isinstance(link, str) or not records:
                    break
                url = str(httpx.URL(url).join(link))
                if url in seen:
                    raise SourceError(source, safe_http_url(url), None, f"page {number}: the next link repeats")
                seen.add(url)
            elif params.page_param is None or not records:
                break
        else:
            logger.warning("%s: stopped after max_pages=%s; more pages may exist", source, params.max_pages)
    if pending:
        yield frames.frame(pending, keys, problems)

"""The fuzz child's HTTP server: answers the ``http`` cases of the corpus as each one's site spec says.

A case's file (written by `corpus.http_cases`) is a JSON *site spec*, not a body: the answers an API gives, good
and bad. The child serves them all from one `Site` (``http.server`` on 127.0.0.1, a free port, daemon threads),
under ``/<case file>/``: the case's source reads ``<base>/<case file>/<start>``.

Spec::

    {"start": "p?x=1",              # the source's URL, relative to the case's folder
     "page_key": "page",            # the query parameter whose value is ``{page}`` in templates (default "page")
     "routes": [                    # the first route that matches answers; then ``fallback`` (default: a 404)
        {"path": "p", "query": {"page": "2"}, "times": 1, "response": {...}}],
     "fallback": {...},
     "expected_read": 12}           # records the source holds when its pages are readable (None: unknown)

A route matches a request whose path (below the case's folder) is ``path`` and whose query holds each item of
``query`` (``"*"``: any value); with ``times`` it answers only that many requests of a run (`Site.reset`).

A response: ``status`` (default 200), ``reason``, ``headers`` (pairs), ``text`` (a UTF-8 body) or ``body`` (base64),
``template`` (replace
``{base}``, ``{other}`` (the same folder through ``localhost``: another origin), ``{page}`` and ``{next}`` in the
body), ``length`` (``"auto"``: a true Content-Length; ``"none"``: none, the body ends when the connection closes;
a number: a lie), ``chunked`` (Transfer-Encoding: chunked; ``"unterminated"``: no last chunk), ``stream``
(``{"chunk": base64, "count": n or null, "interval": s, "tail": base64}``: the chunk sent ``count`` times after
the body, then ``tail``; endless when ``count`` is null, until `STREAM_SECONDS`), ``delay`` (seconds before
answering), ``drop`` (``"before"``: close without answering; ``"after_headers"``: close after the headers),
``raw`` (base64: written to the socket instead of an HTTP answer).
"""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

#: The longest a streamed body (endless, or trickled) is sent: a client that never stops reading is cut here.
STREAM_SECONDS = 20.0
#: The longest an answer is delayed.
MAX_DELAY = 10.0


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (the connector stopping a body it will not read) is not an error here."""


class Site:
    """Serves every ``http`` case of ``corpus`` until `close`.

    Attributes:
        base: ``http://127.0.0.1:<port>``.
        other: The same server as another origin: ``http://localhost:<port>``.
    """

    def __init__(self, corpus: Path) -> None:
        self.corpus = corpus
        self._specs: dict[str, dict[str, Any]] = {}
        self._counts: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                site._answer(self)

        self._server = _Server(("127.0.0.1", 0), Handler)
        port = self._server.server_address[1]
        self.base = f"http://127.0.0.1:{port}"
        self.other = f"http://localhost:{port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="fuzz-http-site", daemon=True)
        self._thread.start()

    def url(self, case_file: str) -> str:
        """The source URL of a case: its folder and its spec's ``start``."""
        return f"{self.base}/{case_file}/{self.spec(case_file).get('start', 'p')}"

    def spec(self, case_file: str) -> dict[str, Any]:
        with self._lock:
            if case_file not in self._specs:
                self._specs[case_file] = json.loads((self.corpus / case_file).read_text("utf-8"))
            return self._specs[case_file]

    def reset(self, case_files: list[str]) -> None:
        """Forget how often each route of these cases answered: a case run again is answered as the first time."""
        with self._lock:
            self._counts = {k: v for k, v in self._counts.items() if k[0] not in case_files}

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # ----------------------------------------------------------------------------------------------- answering

    def _route(self, case_file: str, path: str, query: dict[str, str]) -> dict[str, Any]:
        spec = self.spec(case_file)
        for k, route in enumerate(spec.get("routes", [])):
            if route.get("path", "p") != path:
                continue
            wanted = route.get("query", {})
            if any(name not in query or (value != "*" and query[name] != value) for name, value in wanted.items()):
                continue
            with self._lock:
                count = self._counts.get((case_file, k), 0)
                if route.get("times") is not None and count >= route["times"]:
                    continue
                self._counts[case_file, k] = count + 1
            response: dict[str, Any] = route["response"]
            return response
        fallback: dict[str, Any] = spec.get("fallback") or {
            "status": 404,
            "headers": [["Content-Type", "application/json"]],
            "body": base64.b64encode(b'{"error": "not found"}').decode(),
        }
        return fallback

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        handler.close_connection = True
        url = urlsplit(handler.path)
        case_file, _, path = url.path.lstrip("/").partition("/")
        if not case_file or not (self.corpus / case_file).is_file():
            handler.send_error(404)
            return
        query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        response = self._route(case_file, path, query)
        page_key = self.spec(case_file).get("page_key", "page")
        try:
            page = int(query.get(page_key, "1"))
        except ValueError:
            page = 1
        delay = min(float(response.get("delay", 0)), MAX_DELAY)
        if delay:
            time.sleep(delay)
        if response.get("drop") == "before":
            with contextlib.suppress(OSError):
                handler.connection.shutdown(socket.SHUT_RDWR)
            return
        if "raw" in response:
            handler.wfile.write(base64.b64decode(response["raw"]))
            return
        body = response["text"].encode() if "text" in response else base64.b64decode(response.get("body", ""))
        if response.get("template"):
            case_base = f"{self.base}/{case_file}".encode()
            other = f"{self.other}/{case_file}".encode()
            for name, value in ((b"{base}", case_base), (b"{other}", other), (b"{page}", b"%d" % page)):
                body = body.replace(name, value)
            body = body.replace(b"{next}", b"%d" % (page + 1))
        handler.send_response(int(response.get("status", 200)), response.get("reason"))
        for name, value in response.get("headers", []):
            handler.send_header(name, value)
        stream = response.get("stream")
        chunked = response.get("chunked")
        length = response.get("length", "auto")
        if chunked:
            handler.send_header("Transfer-Encoding", "chunked")
        elif length == "auto" and not stream:
            handler.send_header("Content-Length", str(len(body)))
        elif isinstance(length, int):
            handler.send_header("Content-Length", str(length))
        handler.send_header("Connection", "close")
        handler.end_headers()
        if response.get("drop") == "after_headers":
            return

        def send(data: bytes) -> None:
            if not data:
                return
            handler.wfile.write(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)

        send(body)
        if stream:
            chunk = base64.b64decode(stream["chunk"])
            count, interval = stream.get("count"), float(stream.get("interval", 0))
            until = time.monotonic() + STREAM_SECONDS
            sent = 0
            while (count is None or sent < count) and time.monotonic() < until:
                send(chunk)
                sent += 1
                if interval:
                    handler.wfile.flush()
                    time.sleep(interval)
            send(base64.b64decode(stream.get("tail", "")))
        if chunked and chunked != "unterminated":
            handler.wfile.write(b"0\r\n\r\n")
        handler.wfile.flush()

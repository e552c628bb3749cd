"""The FastAPI application behind ``crmkit serve``: routes, the CSRF check, the host check and security headers.

Every write is a steward action that leaves an audit event: a decision through ``crm_store.decide``, an unmerge
through ``pipelines.steward.unmerge``. Reads go through ``crm_store``'s public readers (:mod:`._views`).

**CSRF.** The first page a browser loads sets a random session cookie (``HttpOnly``, ``SameSite=Strict``); every
page carries ``HMAC-SHA256(app secret, session)`` as the token, and htmx sends it back in the ``X-CSRF-Token``
header of each POST (``hx-headers`` on ``<body>``). A POST without a cookie, or whose header does not match, is
refused with 403. The secret is made when the app starts, so a restarted server asks for a page reload. Another
site can neither read the token nor set the header on a cross-site request.

**Users.** ``create_app(…, principal=…)`` (``crmkit serve --as USER``) runs the page as one user of the store: every
read goes through ``crm_store``'s readers with that principal (``crm_store.access`` decides what it sees; on
PostgreSQL each transaction also sets it for row-level security), the home page lists the user's customers, and the
review queue and every write (decide, unmerge) are for an admin only (403 otherwise).

**Hosts.** Bound to a loopback address (the default) the app answers only requests whose ``Host`` is
``127.0.0.1``, ``localhost`` or ``::1``, so a web page cannot reach it through DNS rebinding.
"""

from __future__ import annotations

import getpass
import hashlib
import hmac
import logging
import secrets
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.middleware.trustedhost import TrustedHostMiddleware

import crm_store
from crm_store.access import Principal, bind_principal, may_review
from pipelines.settings import ProjectSettings
from pipelines.web import _views

__all__ = ["CSRF_HEADER", "LOOPBACK_HOSTS", "SESSION_COOKIE", "create_app"]

log = logging.getLogger(__name__)

HERE: Final = Path(__file__).resolve().parent
SESSION_COOKIE: Final = "crmkit_session"
CSRF_HEADER: Final = "X-CSRF-Token"
#: Host names the app answers to when it is bound to a loopback address.
LOOPBACK_HOSTS: Final = ("127.0.0.1", "localhost", "::1", "[::1]")
#: Decisions as the page words them: a possible match's (match, no_match, skip) and a finding's (confirm, dismiss).
DECISIONS: Final = {
    "match": "match",
    "no_match": "no match",
    "skip": "skip",
    "confirm": "confirmed",
    "dismiss": "dismissed",
}
MAX_LIMIT: Final = 1000
MAX_NOTE: Final = 2000
#: The pages hold personal data: nothing is cached, framed, sent as a referrer, or loaded from another origin.
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in the environment or the password database
        return "unknown"


def create_app(
    settings: ProjectSettings,
    *,
    user: str | None = None,
    allowed_hosts: Sequence[str] | None = LOOPBACK_HOSTS,
    principal: Principal | None = None,
) -> FastAPI:
    """The steward's web page over the project's store (which must exist: it is never created here).

    Args:
        settings: the project whose store is shown.
        user: who the steward actions are recorded as (default: the operating-system user).
        allowed_hosts: the ``Host`` header values answered (default: loopback names only); None answers any.
        principal: the user the page runs as (None: the store's owner, who sees and may do everything); their name
            is also who steward actions are recorded for.

    Raises:
        crm_store.StoreNotFoundError: there is no store at the project's URL.
    """
    engine = crm_store.open_store(settings.store_url)
    actor = principal.user if principal is not None else user or _os_user()
    reviewer = may_review(principal)
    secret = secrets.token_bytes(32)
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.globals.update(actor=actor, project=settings.project, decision_words=DECISIONS)
    templates.env.globals.update(can_review=reviewer, role=principal.role if principal is not None else "admin")
    templates.env.filters["p"] = lambda v: "–" if v is None else f"{v:.3f}"
    templates.env.filters["dash"] = lambda v: "–" if v in (None, "") else v
    templates.env.filters["when"] = lambda v: "–" if v is None else f"{v:%Y-%m-%d %H:%M} UTC"

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        engine.dispose()

    app = FastAPI(
        title=f"crmkit: {settings.project}", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan
    )
    app.state.settings, app.state.engine, app.state.actor = settings, engine, actor
    if allowed_hosts is not None:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Callable[[Request], Any]) -> Response:
        response: Response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    # ------------------------------------------------------------------------------------------ helpers

    def token_of(session_id: str) -> str:
        return hmac.new(secret, session_id.encode(), hashlib.sha256).hexdigest()

    def render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
        """A page (or an htmx fragment), with the session cookie set when the browser has none yet."""
        session_id = request.cookies.get(SESSION_COOKIE)
        new = session_id is None or len(session_id) != 43
        if new:
            session_id = secrets.token_urlsafe(32)
        assert session_id is not None
        response = templates.TemplateResponse(
            request, name, {"csrf_token": token_of(session_id), **context}, status_code=status_code
        )
        if new:
            response.set_cookie(SESSION_COOKIE, session_id, httponly=True, samesite="strict", path="/")
        return response

    def csrf_ok(request: Request) -> bool:
        session_id = request.cookies.get(SESSION_COOKIE)
        sent = request.headers.get(CSRF_HEADER, "")
        return bool(session_id) and hmac.compare_digest(sent, token_of(session_id or ""))

    def problem(request: Request, message: str, status_code: int) -> HTMLResponse:
        """An htmx request's error: a message shown in the page's flash area (``HX-Retarget``), not in place."""
        response = render(request, "_message.html", {"level": "error", "message": message}, status_code)
        response.headers["HX-Retarget"] = "#flash"
        response.headers["HX-Reswap"] = "innerHTML"
        return response

    def refused(request: Request) -> HTMLResponse:
        log.warning("refused a POST to %s without a valid CSRF token", request.url.path)
        return problem(request, "This page is out of date (or the server restarted): reload it.", 403)

    async def form(request: Request) -> dict[str, list[str]]:
        body = (await request.body()).decode("utf-8", errors="replace")
        return parse_qs(body, keep_blank_values=False)

    @contextmanager
    def session() -> Iterator[Session]:
        with Session(engine) as s:
            yield bind_principal(s, principal) if principal is not None else s

    def forbidden(request: Request, what: str) -> HTMLResponse:
        """A read-only user asked for the review queue or a write: 403 (a message in the flash area for htmx)."""
        assert principal is not None
        log.warning("refused %s to %s (%s)", request.url.path, principal.user, principal.role)
        message = f"{principal.user} ({principal.role}) may not {what}: only an admin may."
        if request.headers.get("HX-Request"):
            return problem(request, message, 403)
        return render(request, "message.html", {"level": "error", "message": message}, 403)

    def not_found(request: Request, message: str) -> HTMLResponse:
        return render(request, "message.html", {"level": "error", "message": message}, 404)

    # ------------------------------------------------------------------------------------------- routes

    @app.get("/", response_class=HTMLResponse)
    def queue(request: Request, status: str = "open", limit: int = 50) -> HTMLResponse:
        """The review queue: the items of a status, most in doubt first (a read-only user: their customers)."""
        if not reviewer:
            with session() as s:
                mine = _views.customers_view(s, principal, max(1, min(limit, MAX_LIMIT)))
            return render(request, "customers.html", mine)
        if status not in _views.STATUSES:
            status = "open"
        limit = max(1, min(limit, MAX_LIMIT))
        with session() as s:
            if not _views.has_queue(s):
                return render(
                    request, "message.html", {"level": "info", "message": "No review queue yet: run crmkit migrate."}
                )
            view = _views.queue_view(s, status, limit)
        return render(request, "queue.html", {**view, "status": status, "limit": limit})

    @app.get("/items/{item_id}", response_class=HTMLResponse)
    def item(request: Request, item_id: int) -> HTMLResponse:
        """One item: a possible match (both rows side by side, the evidence waterfall) or a clean finding (what was
        found, the customer's record and contact points), with the decision buttons."""
        if not reviewer:
            return forbidden(request, "read the review queue")
        with session() as s:
            view = _views.item_view(s, settings, item_id) if _views.has_queue(s) else None
        if view is None:
            return not_found(request, f"No review item {item_id}.")
        return render(request, "item.html", view)

    @app.post("/items/{item_id}/decide", response_class=HTMLResponse)
    async def decide(request: Request, item_id: int) -> HTMLResponse:
        """Record a decision (``decision`` = match, no_match or skip on a possible match; confirm, dismiss or skip on
        a finding; optional ``note``) and show the next item."""
        if not csrf_ok(request):
            return refused(request)
        if not reviewer:
            return forbidden(request, "decide on a possible match")
        values = await form(request)
        decision = (values.get("decision") or [""])[0]
        note = (values.get("note") or [""])[0].strip() or None
        if decision not in DECISIONS:
            return problem(request, f"Unknown decision {decision!r}.", 400)
        if note is not None and len(note) > MAX_NOTE:
            return problem(request, f"The note is over {MAX_NOTE} characters.", 400)

        def work() -> tuple[dict[str, Any] | None, dict[str, Any] | None, str | None]:
            with session() as s:
                try:
                    done = crm_store.decide(s, item_id, decision, by=actor, note=note)  # type: ignore[arg-type]
                except crm_store.ReviewItemNotFoundError:
                    return None, None, None
                except ValueError as exc:  # a finding's decision on a pair, or the other way round
                    return None, None, str(exc).removeprefix("decide: ")
                s.commit()
                following = _views.next_open_item(s, after=item_id)
                view = _views.item_view(s, settings, following) if following is not None else None
                return done, view, None

        done, view, refusal = await run_in_threadpool(work)
        if refusal is not None:
            return problem(request, f"Not recorded: {refusal}.", 400)
        if done is None:
            return problem(request, f"No review item {item_id}.", 404)
        log.info("review item %s: %s by %s (web)", item_id, decision, actor)
        flash = f"Item {item_id}: {DECISIONS[decision]}, recorded for {actor}."
        if view is None:
            response = render(request, "_done.html", {"flash": flash})
            response.headers["HX-Push-Url"] = "/"
        else:
            response = render(request, "_item.html", {**view, "flash": flash})
            response.headers["HX-Push-Url"] = f"/items/{view['item']['id']}"
        return response

    @app.get("/customers", response_class=HTMLResponse, response_model=None)
    def find_customer(request: Request, q: str = "") -> Response:
        """Look a customer up by its id or the first 6+ characters of it."""
        text = q.strip()
        with session() as s:
            exact = not crm_store.read_customer(s, text, principal=principal).is_empty() if text else False
            candidates = [] if exact or not text else crm_store.find_customer_ids(s, text, principal=principal)
        if exact or len(candidates) == 1:
            return RedirectResponse(f"/customers/{text if exact else candidates[0]}", status_code=303)
        message = (
            f"{len(candidates)} customers start with that: give more of the id."
            if candidates
            else "No customer has that id (give the whole id or its first 6+ characters)."
        )
        return render(request, "message.html", {"level": "error", "message": message, "candidates": candidates}, 404)

    @app.get("/customers/{customer_id}", response_class=HTMLResponse)
    def customer(request: Request, customer_id: str) -> HTMLResponse:
        """A customer: golden record, source rows, field origins, history, the unmerge button."""
        with session() as s:
            view = _views.customer_view(s, settings, customer_id, principal)
        if view is None:
            return not_found(request, "No such customer.")
        return render(request, "customer.html", view)

    @app.post("/customers/{customer_id}/unmerge", response_class=HTMLResponse)
    async def unmerge(request: Request, customer_id: str) -> HTMLResponse:
        """Unmerge a customer (all its rows, or the ``rows`` ticked, as ``source:key``) through
        ``pipelines.steward.unmerge``; it records its own audit event."""
        if not csrf_ok(request):
            return refused(request)
        if not reviewer:
            return forbidden(request, "unmerge a customer")
        values = await form(request)
        rows = values.get("rows") or None
        note = (values.get("note") or [""])[0].strip() or None

        def work() -> Any:
            from pipelines import steward  # the migrate machinery it needs is imported on the first unmerge

            return steward.unmerge(settings, customer_id, rows=rows, actor=actor, note=note)

        try:
            result = await run_in_threadpool(work)
        except crm_store.RunLockedError as exc:
            return problem(request, f"Not unmerged: a run is writing the store ({exc}); try again when it ends.", 409)
        except (LookupError, ValueError) as exc:  # no such customer, retired, one row, no history, unknown rows
            return problem(request, f"Not unmerged: {exc}", 409)
        log.info("customer %s unmerged by %s (web) into %s", customer_id, actor, ", ".join(result.customer_ids))
        return render(
            request,
            "_unmerged.html",
            {"customer_id": customer_id, "parts": result.parts, "notes": result.notes},
        )

    @app.get("/api/customers")
    def customers_api(limit: int = MAX_LIMIT) -> list[dict[str, Any]]:
        """The current customers the page's user sees, as they see them (JSON; at most ``limit``, by name)."""
        with session() as s:
            view = _views.customers_view(s, principal, max(1, min(limit, MAX_LIMIT)))
        return [{k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in c.items()} for c in view["customers"]]

    @app.get("/runs", response_class=HTMLResponse)
    def runs(request: Request) -> HTMLResponse:
        """The schedules ``crmkit schedule`` serves with their next run, and the newest runs with their reports."""
        if not reviewer:
            return forbidden(request, "see the runs")
        with session() as s:
            view = _views.runs_view(s)
        return render(request, "runs.html", view)

    return app

"""``crmkit serve``: the data steward's web page on this machine (:mod:`pipelines.web`).

FastAPI and uvicorn are imported inside the command, so ``crmkit --help`` starts fast.
"""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

__all__ = ["web_app"]

web_app = typer.Typer()
console = Console(stderr=False, highlight=False)
err = Console(stderr=True, highlight=False)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@web_app.command()
def serve(
    config: Annotated[Path, typer.Option("--config", help="The YAML project file.", show_default=False)],
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on. Anything but a loopback address shares the data.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")] = 8765,
    user: Annotated[
        str | None,
        typer.Option(
            "--user", help="Who decisions and unmerges are recorded for (default: the operating-system user)."
        ),
    ] = None,
    as_user: Annotated[
        str | None,
        typer.Option(
            "--as",
            help="Run the page as this user of the store (crmkit users list): it shows only what their role and "
            "team see; the review queue and every change are an admin's.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve the review page: the queue most in doubt first, each possible match side by side with its evidence
    (keys a = match, r = no match, s = skip), customers with their history and an unmerge button.

    Listens on 127.0.0.1 only unless --host says otherwise; stop it with Ctrl-C. Exit code 1: no store yet.
    """
    import uvicorn

    import crm_store
    from pipelines._logging import install_redaction
    from pipelines.cli import _fail, _load
    from pipelines.web import LOOPBACK_HOSTS, create_app

    settings = _load(config)
    local = _is_loopback(host)
    if as_user is not None and user is not None and user != as_user:
        raise _fail("--user and --as name different people: the page records its actions for the --as user", 2)
    try:
        principal = _principal(settings, as_user)
        app = create_app(settings, user=user, allowed_hosts=LOOPBACK_HOSTS if local else None, principal=principal)
    except crm_store.StoreNotFoundError as exc:
        raise _fail(str(exc)) from None
    if not local:
        err.print(
            f"[bold yellow]crmkit:[/] listening on {escape(host)}: anyone who can reach this address sees the "
            "customers' data and can decide as you (there is no login)"
        )
    shown = f"[{host}]" if ":" in host else host
    console.print(
        f"Review page for [bold]{escape(settings.project)}[/]: http://{escape(shown)}:{port}/  (Ctrl-C stops it)"
    )
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s:     %(name)s: %(message)s")
    logging.getLogger("pipelines").setLevel(logging.INFO)  # each decision and unmerge: who, which item (no values)
    install_redaction()
    uvicorn.run(app, host=host, port=port, log_level="info", server_header=False)


def _principal(settings: Any, name: str | None) -> Any:
    """The principal of the store's user ``name`` (None: the store's owner); an unknown user exits 2."""
    if name is None:
        return None
    from sqlalchemy.orm import Session

    import crm_store
    from pipelines.cli_users import principal_of

    engine = crm_store.open_store(settings.store_url)
    try:
        with Session(engine) as session:
            return principal_of(session, settings, name)
    finally:
        engine.dispose()

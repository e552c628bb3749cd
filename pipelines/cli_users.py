"""``crmkit users add|list|remove|grant-db``: who may read the store, with which role and team, and
:func:`principal_of`: the principal ``--as USER`` runs a read command (``export``, ``trace``, ``serve``) as.

``pipelines.cli`` adds these commands to ``crmkit``. ``crm_store.access`` keeps the users and decides what each
role sees; this module builds a user's principal with ``rules.mask`` as its masker and the project's source
mappings (so an auditor sees a raw phone cell as ``138****8000``: the store does not know the rules). Heavy imports
stay inside the commands, so ``crmkit --help`` starts fast.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from crm_store.access import Principal
    from pipelines.settings import ProjectSettings

__all__ = ["AsOption", "principal_of", "users_app"]

users_app = typer.Typer(
    help="Users of the store: their role (sales, manager, service, auditor, admin) and team decide what they see.",
    no_args_is_help=True,
)
console = Console(stderr=False, highlight=False)
err = Console(stderr=True, highlight=False)

ConfigOption = Annotated[Path, typer.Option("--config", help="The YAML project file.", show_default=False)]
ByOption = Annotated[
    str | None, typer.Option("--by", help="Who does this, for the audit trail (default: the login name).")
]
#: ``--as USER`` of the read commands.
AsOption = Annotated[
    str | None,
    typer.Option(
        "--as",
        help="Read as this user of the store (crmkit users list): only what their role and team see.",
        show_default=False,
    ),
]
ROLE_HELP = (
    "sales: own customers · manager: the customers of their team's users · service: every customer's contact "
    "fields and service records · auditor: everything, read-only, personal data masked · admin: everything"
)


def _fail(message: str, code: int = 1) -> typer.Exit:
    from rules.mask import redact_secrets

    err.print(f"[bold red]crmkit:[/] {escape(redact_secrets(message) or '')}")
    return typer.Exit(code)


def principal_of(session: Session, settings: ProjectSettings, name: str | None) -> Principal | None:
    """The principal of the store's user ``name`` (None for None: the store's owner), masking with ``rules.mask``
    and the project's mappings; an unknown user exits 2 naming the known ones."""
    if name is None:
        return None
    import crm_store
    from rules.mask import mask_value

    fields = {source.name: dict(source.mapping) for source in settings.sources}
    try:
        return crm_store.load_principal(session, name, mask=mask_value, payload_fields=fields)
    except crm_store.UnknownUserError as exc:
        raise _fail(f"--as {name}: {exc}", 2) from None


def _by(by: str | None) -> str:
    from crm_store.audit import os_user

    who = (by or os_user()).strip()
    if not who or len(who) > 128:
        raise _fail("--by must be 1 to 128 characters", 2)
    return who


def _writable(config: Path) -> Any:
    """An engine on the project's existing store, upgraded to the latest schema (an older store gains its users
    table); a missing store exits 1."""
    import crm_store
    from pipelines.cli import _load

    settings = _load(config)
    try:
        crm_store.open_store(settings.store_url).dispose()  # never creates a store
        return crm_store.init_store(settings.store_url)
    except crm_store.StoreNotFoundError as exc:
        raise _fail(str(exc)) from None


@users_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="The user's name: the owner value of their customers (张三).")],
    config: ConfigOption,
    role: Annotated[str, typer.Option("--role", help=ROLE_HELP, show_default=False)],
    team: Annotated[
        str | None, typer.Option("--team", help="The user's team (a manager needs one).", show_default=False)
    ] = None,
    by: ByOption = None,
) -> None:
    """Add a user (or change an existing user's role and team); recorded in the audit trail (users.add,
    users.change). Exit code 2: an unknown role, a manager without a team, a blank or overlong name."""
    from sqlalchemy.orm import Session

    import crm_store

    who = _by(by)
    engine = _writable(config)
    try:
        with Session(engine) as session, session.begin():
            done = crm_store.add_user(session, name, role, team, by=who)
    except ValueError as exc:
        raise _fail(str(exc), 2) from None
    finally:
        engine.dispose()
    where = f", team {escape(team)}" if team else ""
    if done == "unchanged":
        console.print(f"user {escape(name)} is already {role}{where}: nothing changed")
        return
    console.print(f"{done} user {escape(name)} ({role}{where}) · audit event users.{done.removesuffix('ed')}")


@users_app.command("remove")
def remove(
    name: Annotated[str, typer.Argument(help="The user to remove.")],
    config: ConfigOption,
    by: ByOption = None,
) -> None:
    """Remove a user; their customers keep their owner (crmkit owners transfer moves them). Recorded in the audit
    trail (users.remove). Exit code 1: no such user."""
    from sqlalchemy.orm import Session

    import crm_store

    who = _by(by)
    engine = _writable(config)
    try:
        with Session(engine) as session, session.begin():
            removed = crm_store.remove_user(session, name, by=who)
    except crm_store.UnknownUserError as exc:
        raise _fail(str(exc.args[0])) from None
    finally:
        engine.dispose()
    console.print(f"removed user {escape(name)} ({removed['role']}) · audit event users.remove")


@users_app.command("list")
def list_users(
    config: ConfigOption,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Every user with their role, team and current customers, and the owners no user stands for (their customers
    are seen by service, auditor and admin only)."""
    import sqlalchemy as sa

    import crm_store
    from pipelines.cli import _store_session

    with _store_session(config) as (_, session):
        if not sa.inspect(session.connection()).has_table("app_user"):
            raise _fail("the store has no users yet: crmkit users add (or crmkit migrate) upgrades it")
        users = crm_store.read_users(session)
        owners = crm_store.read_owner_counts(session)
    names = set(users["name"].to_list())
    orphans = [
        (row["owner"], row["customers"])
        for row in owners.iter_rows(named=True)
        if row["owner"] is not None and row["owner"] not in names and row["customers"]
    ]
    if as_json:
        rows = [
            {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in row.items()}
            for row in users.iter_rows(named=True)
        ]
        document = {"users": rows, "owners_without_user": [{"owner": o, "customers": n} for o, n in orphans]}
        sys.stdout.write(json.dumps(document, ensure_ascii=False, indent=2) + "\n")
        return
    table = Table(title=f"Users ({users.height})", title_justify="left")
    for column in ("name", "role", "team", "customers", "added by"):
        table.add_column(column, justify="right" if column == "customers" else "left")
    for row in users.iter_rows(named=True):
        team = "–" if row["team"] is None else escape(row["team"])
        table.add_row(escape(row["name"]), row["role"], team, f"{row['customers']:,}", escape(row["created_by"]))
    console.print(table)
    if orphans:
        shown = ", ".join(f"{escape(o)} ({n:,})" for o, n in orphans[:10])
        more = f" and {len(orphans) - 10} more" if len(orphans) > 10 else ""
        console.print(f"owners without a user (only service, auditor and admin see their customers): {shown}{more}")


@users_app.command("grant-db")
def grant_db(
    role: Annotated[str, typer.Argument(help="A PostgreSQL login role that does not own the store's tables.")],
    config: ConfigOption,
    write: Annotated[
        bool, typer.Option("--write", help="Also INSERT/UPDATE/DELETE (decisions, unmerges by an admin user).")
    ] = False,
) -> None:
    """Let a PostgreSQL login role use the store as the application, under row-level security: it reads only what
    the user its connection names (crmkit.user, set per transaction) may see. Run with the store URL of the tables'
    owner; create the role first (CREATE ROLE crmkit_app LOGIN PASSWORD '…'). Exit code 2: not PostgreSQL, or the
    role owns the tables, is a superuser or bypasses row-level security; 1: no such role."""
    import crm_store
    from pipelines.cli import _load

    settings = _load(config)
    try:
        engine = crm_store.open_store(settings.store_url)
    except crm_store.StoreNotFoundError as exc:
        raise _fail(str(exc)) from None
    try:
        statements = crm_store.grant_database_role(engine, role, write=write)
    except ValueError as exc:
        raise _fail(str(exc), 2) from None
    except LookupError as exc:
        raise _fail(str(exc.args[0])) from None
    finally:
        engine.dispose()
    for statement in statements:
        console.print(escape(statement) + ";", soft_wrap=True)
    console.print(
        f"{escape(role)} may now use the store; connect the app as {escape(role)} (store.url) and run reads with "
        "--as USER: row-level security shows it only that user's rows"
    )

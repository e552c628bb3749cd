"""``crmkit audit verify|list`` (the store's hash-chained audit trail) and ``crmkit owners list|transfer`` (moving a
salesperson's customers to another), and :func:`audit_export`: the audit event every export of customer data writes.

``pipelines.cli`` adds these commands to ``crmkit``. The work is done by ``crm_store.audit`` and
``crm_store.owners``; heavy imports stay inside the commands, so ``crmkit --help`` starts fast.
"""

from __future__ import annotations

import json
import re
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    import sqlalchemy as sa

__all__ = ["audit_app", "audit_export", "owners_app"]

audit_app = typer.Typer(
    help="The store's tamper-evident audit trail: verify its hash chain, list its events.", no_args_is_help=True
)
owners_app = typer.Typer(
    help="Customer owners: how many customers each holds; move every customer of one owner to another.",
    no_args_is_help=True,
)
console = Console(stderr=False, highlight=False)
err = Console(stderr=True, highlight=False)

ConfigOption = Annotated[Path, typer.Option("--config", help="The YAML project file.", show_default=False)]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
_ANCHOR = re.compile(r"^(\d+):([0-9a-f]{64})$")


def _fail(message: str, code: int = 1) -> typer.Exit:
    from rules.mask import redact_secrets

    err.print(f"[bold red]crmkit:[/] {escape(redact_secrets(message))}")
    return typer.Exit(code)


def _open(config: Path) -> tuple[Any, Any]:
    """The project's settings and an engine on its existing store (never created here: a missing store exits 1)."""
    import crm_store
    from pipelines.cli import _load

    settings = _load(config)
    try:
        return settings, crm_store.open_store(settings.store_url)
    except crm_store.StoreNotFoundError as exc:
        raise _fail(str(exc)) from None


def _has_chain(engine: sa.Engine) -> bool:
    import sqlalchemy as sa

    columns = {c["name"] for c in sa.inspect(engine).get_columns("audit_event")} if _has(engine, "audit_event") else ()
    return "seq" in columns


def _has(engine: sa.Engine, table: str) -> bool:
    import sqlalchemy as sa

    return sa.inspect(engine).has_table(table)


# ------------------------------------------------------------------------------------------------ audit


@audit_app.command("verify")
def verify(
    config: ConfigOption,
    anchor: Annotated[
        list[str] | None,
        typer.Option(
            "--anchor",
            help="SEQ:HASH of an event noted earlier (outside the store); it must still be in the chain. Repeatable.",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Recompute the audit trail's hash chain and report the first broken event.

    Exit code 0: intact (the last seq and hash are printed: note them elsewhere, and pass them as --anchor later
    to prove the history was not rewritten since); 1: broken (an event changed, deleted, inserted or reordered, or
    the chain cut short), or no store.
    """
    from sqlalchemy.orm import Session

    import crm_store

    anchors: dict[int, str] = {}
    for text in anchor or []:
        found = _ANCHOR.match(text.strip().lower())
        if found is None:
            raise _fail(f"--anchor {text!r}: expected SEQ:HASH (a number, a colon, 64 hex digits)", 2)
        anchors[int(found[1])] = found[2]
    _, engine = _open(config)
    try:
        if not _has_chain(engine):
            raise _fail("the store has no hash-chained audit trail yet: open it with this crmkit (crmkit migrate)")
        with Session(engine) as session:
            report = crm_store.verify_chain(session, anchors=anchors)
    finally:
        engine.dispose()
    if as_json:
        document = {
            "intact": report.intact,
            "events": report.events,
            "last_seq": report.last_seq,
            "last_hash": report.last_hash,
            "problem_count": report.problem_count,
            "problems": [
                {"seq": p.seq, "event_id": p.event_id, "action": p.action, "problem": p.problem}
                for p in report.problems
            ],
        }
        sys.stdout.write(json.dumps(document, ensure_ascii=False, indent=2) + "\n")
    elif report.intact:
        checked = f", {len(anchors)} anchor(s) found" if anchors else ""
        console.print(f"audit trail intact: {report.events:,} events{checked}")
        # soft_wrap: a hash is never broken across lines (it is copied)
        console.print(f"last event: seq {report.last_seq}, hash {report.last_hash}", soft_wrap=True)
        console.print(
            f"note it elsewhere; later: crmkit audit verify --anchor {report.last_seq}:{report.last_hash}",
            soft_wrap=True,
        )
    else:
        first = report.first
        assert first is not None
        err.print(f"[bold red]audit trail BROKEN[/] at {escape(first.describe())}")
        for problem in report.problems[1:]:
            err.print(f"  also {escape(problem.describe())}")
        more = report.problem_count - len(report.problems)
        if more > 0:
            err.print(f"  … and {more:,} more problems")
        err.print(f"{report.events:,} events checked")
    if not report.intact:
        raise typer.Exit(1)


def _cell(value: Any, width: int = 60) -> str:
    text = "–" if value is None else str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


@audit_app.command("list")
def list_events(
    config: ConfigOption,
    limit: Annotated[int, typer.Option("--limit", min=0, help="The newest N events (0: all).")] = 50,
    action: Annotated[
        list[str] | None, typer.Option("--action", help="Only these actions (repeatable).", show_default=False)
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """The audit trail's events, oldest first: seq, when (UTC), who, what (action), on what (target), details."""
    from sqlalchemy.orm import Session

    import crm_store

    _, engine = _open(config)
    try:
        if not _has_chain(engine):
            raise _fail("the store has no hash-chained audit trail yet: open it with this crmkit (crmkit migrate)")
        with Session(engine) as session:
            events = crm_store.read_audit_trail(session, limit=limit or None, actions=action)
    finally:
        engine.dispose()
    if as_json:
        rows = [
            {
                **row,
                "at": row["at"].isoformat() if row["at"] is not None else None,
                "target": None if row["target"] is None else json.loads(row["target"]),
                "details": None if row["details"] is None else json.loads(row["details"]),
            }
            for row in events.iter_rows(named=True)
        ]
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
        return
    table = Table(title=f"Audit trail ({events.height:,} events shown)", title_justify="left")
    for name in ("seq", "at (UTC)", "actor", "action", "target", "details"):
        table.add_column(name, justify="right" if name == "seq" else "left", overflow="fold")
    for row in events.iter_rows(named=True):
        table.add_row(
            str(row["seq"]),
            row["at"].strftime("%Y-%m-%d %H:%M:%S"),
            escape(row["actor"]),
            escape(row["action"]),
            escape(_cell(row["target"])),
            escape(_cell(row["details"], 80)),
        )
    console.print(table)


def audit_export(store_url: str, out: Path, *, kind: str, fmt: str, rows: int, masked: bool) -> int:
    """Record an export of the store's data in its audit trail (``export``: the kind, file name, format, rows,
    masked or not; the operating-system user). No export leaves without its event: when it cannot be recorded
    (the store busy, say) the file is removed and the command fails (exit code 1).

    Returns:
        The audit event's id.
    """
    from sqlalchemy.orm import Session

    import crm_store
    from crm_store.audit import os_user

    details = {"file": out.name, "format": fmt, "rows": rows, "masked": masked}
    engine = None
    why = "is a run writing the store? try again"
    try:
        engine = crm_store.open_store(store_url)
        if not _has_chain(engine):
            why = "the store is older than this crmkit: crmkit migrate upgrades it"
            raise LookupError("no hash-chained audit trail")
        with Session(engine) as session, session.begin():
            return crm_store.record_audit_event(
                session, actor=os_user()[:128], action="export", target={"kind": kind}, details=details
            )
    except Exception as exc:
        out.unlink(missing_ok=True)
        raise _fail(
            f"the export could not be recorded in the store's audit trail ({type(exc).__name__}: {why}), so "
            f"{out.name} was removed"
        ) from None
    finally:
        if engine is not None:
            engine.dispose()


# ------------------------------------------------------------------------------------------------ owners


@owners_app.command("list")
def list_owners(config: ConfigOption, as_json: JsonOption = False) -> None:
    """Every owner with their customers (current ones), retired customers, and how many they hold through a
    transfer (an override that runs keep)."""
    from sqlalchemy.orm import Session

    import crm_store

    _, engine = _open(config)
    try:
        with Session(engine) as session:
            owners = crm_store.read_owner_counts(session)
    finally:
        engine.dispose()
    if as_json:
        sys.stdout.write(json.dumps(owners.to_dicts(), ensure_ascii=False, indent=2) + "\n")
        return
    table = Table(title="Owners", title_justify="left")
    for name in ("owner", "customers", "retired", "transferred"):
        table.add_column(name, justify="left" if name == "owner" else "right")
    for row in owners.iter_rows(named=True):
        name = "(none)" if row["owner"] is None else escape(row["owner"])
        table.add_row(name, f"{row['customers']:,}", f"{row['retired']:,}", f"{row['overridden']:,}")
    console.print(table)


@owners_app.command("transfer")
def transfer(
    from_owner: Annotated[str, typer.Argument(metavar="FROM", help="The owner whose customers move.")],
    to_owner: Annotated[str, typer.Argument(metavar="TO", help="The owner they move to.")],
    config: ConfigOption,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count the customers that would move; change nothing.")
    ] = False,
    by: Annotated[
        str | None, typer.Option("--by", help="Who does this, for the audit trail (default: the login name).")
    ] = None,
    wait: Annotated[
        float, typer.Option("--wait", min=0, help="Seconds to wait for a run that holds the store's run lock.")
    ] = 0.0,
) -> None:
    """Move every customer whose owner is FROM to TO (a salesperson leaves, the customers stay).

    In one transaction under the store's run lock: each customer's owner becomes TO (its golden record version + 1),
    an override keeps it so that no later run gives it back to FROM, and one owners.transfer audit event records
    who moved how many customers, and which. Exit code 1: FROM owns no customer, or another run holds the store.
    """
    from sqlalchemy.orm import Session

    import crm_store
    from crm_store.audit import os_user

    who = (by or os_user()).strip()
    if not from_owner.strip() or not to_owner.strip():
        raise _fail("FROM and TO must not be blank", 2)
    settings, engine = _open(config)
    engine.dispose()
    engine = crm_store.init_store(settings.store_url)  # an older store gains the override table first
    try:
        lock = (
            None
            if dry_run
            else crm_store.acquire_run_lock(engine, f"owners-{uuid.uuid4().hex[:12]}", wait_seconds=wait)
        )
        try:
            with Session(engine) as session, session.begin():
                moved = crm_store.transfer_owner(session, from_owner, to_owner, by=who, dry_run=dry_run)
                if not moved.count:
                    owners = crm_store.read_owner_counts(session)
        finally:
            if lock is not None:
                lock.release()
    except crm_store.RunLockedError as exc:
        raise _fail(str(exc)) from None
    except ValueError as exc:
        raise _fail(str(exc), 2) from None
    finally:
        engine.dispose()
    if not moved.count:
        known = ", ".join(
            f"{o} ({n})" for o, n in owners.select("owner", "customers").drop_nulls("owner").head(10).rows()
        )
        raise _fail(f"no customer has the owner {from_owner!r}; owners: {known or 'none'} (crmkit owners list)")
    retired = f" ({moved.retired:,} of them retired)" if moved.retired else ""
    if dry_run:
        console.print(
            f"would move {moved.count:,} customers{retired} from {escape(from_owner)} to {escape(to_owner)} "
            "(dry run: nothing changed)"
        )
        return
    console.print(
        f"moved {moved.count:,} customers{retired} from {escape(from_owner)} to {escape(to_owner)}; "
        f"later runs keep them with {escape(to_owner)} · audit event #{moved.audit_event_id} (owners.transfer)"
    )

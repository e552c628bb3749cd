"""``crmkit unmerge`` and ``crmkit merge``: a data steward splits a customer or joins customers, on the command line.

``pipelines.cli`` adds these commands to ``crmkit`` (``app.add_typer(steward_app)``); the work is done by
:mod:`pipelines.steward` (the web page calls the same functions). The CLI's shared helpers are imported inside the
commands (``pipelines.cli`` imports this module), and so are the heavy modules, so ``crmkit --help`` starts fast.
"""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from pipelines.steward import Part

__all__ = ["steward_app"]

steward_app = typer.Typer()

ConfigOption = Annotated[Path, typer.Option("--config", help="The YAML project file.", show_default=False)]
ByOption = Annotated[
    str | None, typer.Option("--by", help="Who does it (default: the operating-system user).", show_default=False)
]
NoteOption = Annotated[str | None, typer.Option("--note", help="Why: kept with the decisions and in the audit trail.")]
#: Golden fields shown for each customer, by store name.
SHOWN = ("full_name", "primary_phone", "primary_email", "company", "city")


def _who(by: str | None) -> str:
    if by:
        return by
    try:
        return getpass.getuser()
    except Exception:  # no user name in the environment or the password database
        return "unknown"


def _act(work: Any) -> Any:
    """Run a steward action; a refusal (unknown or retired id, nothing to unmerge, a run holding the store, no
    store) is one message and exit code 1."""
    import crm_store
    from pipelines.cli import _fail

    try:
        return work()
    except (LookupError, ValueError, crm_store.RunLockedError) as exc:
        raise _fail(str(exc)) from None


def _print_parts(parts: list[Part], labels: list[str]) -> None:
    """One small table per customer: its id as the title, its rows and main golden fields (fits any width)."""
    from rich.markup import escape
    from rich.table import Table

    from pipelines.cli import console

    for part, label in zip(parts, labels, strict=True):
        table = Table(title=f"customer {escape(part.customer_id)} ({label})", title_justify="left", show_header=False)
        table.add_column("field", style="bold")
        table.add_column("value")
        table.add_row("rows", escape(", ".join(part.rows)))
        for name in SHOWN:
            table.add_row(name, escape(str(part.golden.get(name) or "–")))
        console.print(table)


@steward_app.command("unmerge")
def unmerge(
    customer_id: Annotated[
        str, typer.Argument(help="The customer's id (or its first 6+ characters).", show_default=False)
    ],
    config: ConfigOption,
    rows: Annotated[
        str | None,
        typer.Option(
            "--rows",
            help="Split off these rows as one customer: source:key,source:key… (default: undo the customer's "
            "latest merge, restoring the customers it was made of).",
            show_default=False,
        ),
    ] = None,
    by: ByOption = None,
    note: NoteOption = None,
) -> None:
    """Split a customer into the customers it was made of, or split off --rows. The part with most rows keeps the
    id, the others get new ids (split_from). Later runs keep the parts apart; crmkit merge undoes it. Exit code 1:
    no such customer, a retired one, one with a single row, or no history to restore (give --rows)."""
    from rich.markup import escape

    from pipelines import steward
    from pipelines.cli import _load, console

    settings = _load(config)
    wanted = [r.strip() for r in rows.split(",") if r.strip()] if rows is not None else None
    who = _who(by)
    result = _act(lambda: steward.unmerge(settings, customer_id, rows=wanted, actor=who, note=note))
    how = "the rows given split off" if result.basis == "rows" else "its earlier customers restored"
    console.print(f"Unmerged customer [bold]{escape(result.customer_id)}[/] by {escape(who)}: {how}")
    labels = ["kept id" if not p.new else "new" for p in result.parts]
    _print_parts(result.parts, labels)
    console.print(
        f"Recorded {result.decisions['no_match']:,} no_match and {result.decisions['match']:,} match decisions: "
        "later runs keep the parts apart (crmkit merge undoes it)"
    )
    for line in result.notes:
        console.print(f"[yellow]note:[/] {escape(line)}")


@steward_app.command("merge")
def merge(
    customer_ids: Annotated[
        list[str], typer.Argument(help="Two or more customer ids (or their first 6+ characters).", show_default=False)
    ],
    config: ConfigOption,
    by: ByOption = None,
    note: NoteOption = None,
) -> None:
    """Merge customers into one: the one with most rows keeps its id (ties: the oldest), the others are retired into
    it (merged_into), and later runs keep them together; after an unmerge it restores the customer as it was. Exit
    code 1: no such customer, a retired one, or fewer than two."""
    from rich.markup import escape

    from pipelines import steward
    from pipelines.cli import _load, console

    settings = _load(config)
    who = _who(by)
    result = _act(lambda: steward.merge(settings, customer_ids, actor=who, note=note))
    how = " (an unmerge undone)" if result.restored_event_id is not None else ""
    console.print(
        f"Merged {len(result.merged) + 1} customers into [bold]{escape(result.customer_id)}[/] by {escape(who)}{how}; "
        f"retired: {escape(', '.join(result.merged))}"
    )
    _print_parts([result.customer], ["kept id"])
    console.print(f"Recorded {result.decisions:,} match decisions: later runs keep the rows together")

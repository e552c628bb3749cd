"""``crmkit review``: the data steward's review queue on the command line.

The queue holds possible matches (pairs of source rows, from ``crmkit migrate``) and findings about one customer
(stale, incomplete, invalid contacts, from ``crmkit clean`` and the scheduled runs). ``list`` shows the possible
matches most in doubt first, then the findings; ``show`` one pair's two rows side by side with the evidence, or a
finding with its customer's record and contact points; ``accept`` / ``reject`` / ``skip`` record a decision (with
an audit event) that later runs honour; ``export`` writes the queue to CSV, XLSX or JSON. The queue's logic is
shared with the web page (``pipelines._review``). Heavy imports stay inside the commands, so ``crmkit --help``
starts fast.
"""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Final

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

__all__ = ["review_app"]

review_app = typer.Typer(
    help="Review possible matches and clean findings: list, show, accept, reject or skip them, export the queue.",
    no_args_is_help=True,
)

console = Console(stderr=False, highlight=False)
err = Console(stderr=True, highlight=False)

STATUSES: Final = ("open", "decided", "stale", "all")
#: Columns of ``crmkit review export``.
EXPORT_COLUMNS: Final = (
    "id",
    "subject",
    "probability",
    "kind",
    "status",
    "left_source",
    "left_key",
    "right_source",
    "right_key",
    "customer_id",
    "finding",
    "decision",
    "decided_by",
    "decided_at",
    "note",
    "evidence",
    "last_run_id",
)
ConfigOption = Annotated[Path, typer.Option("--config", help="The YAML project file.", show_default=False)]
ItemArg = Annotated[
    int, typer.Argument(help="The review item's id (crmkit review list shows them).", show_default=False)
]
NoteOption = Annotated[str | None, typer.Option("--note", help="Why: kept with the decision and in the audit trail.")]
ByOption = Annotated[
    str | None, typer.Option("--by", help="Who decides (default: the operating-system user).", show_default=False)
]
StatusOption = Annotated[str, typer.Option("--status", help="open, decided, stale or all.")]


def _fail(message: str, code: int = 1) -> typer.Exit:
    from rich.markup import escape as esc

    from rules.mask import redact_secrets

    err.print(f"[bold red]crmkit:[/] {esc(redact_secrets(message))}")
    return typer.Exit(code)


@contextmanager
def _queue(config: Path) -> Iterator[tuple[Any, Any]]:
    """The project's settings and a session on its store's review queue (a store is never created here)."""
    import sqlalchemy as sa
    from sqlalchemy.orm import Session

    import crm_store
    from crm_store.store import shown_url
    from pipelines.cli import _load

    settings = _load(config)
    try:
        engine = crm_store.open_store(settings.store_url)
    except crm_store.StoreNotFoundError as exc:
        raise _fail(str(exc)) from None
    try:
        if not sa.inspect(engine).has_table("review_item"):
            raise _fail(f"the store at {shown_url(settings.store_url)} has no review queue yet: run crmkit migrate")
        with Session(engine) as session:
            yield settings, session
    finally:
        engine.dispose()


def _status_filter(status: str) -> str | None:
    if status not in STATUSES:
        raise _fail(f"unknown status {status!r}; known: {', '.join(STATUSES)}", 2)
    return None if status == "all" else status


def _items(session: Any, status: str | None) -> list[dict[str, Any]]:
    from pipelines._review import queue_items

    return queue_items(session, status)


def _side(side: dict[str, Any]) -> str:
    return f"{side['source']}:{side['source_key']}"


def _finding_text(item: dict[str, Any]) -> str:
    """A finding in one line, masked as its evidence is: ``code field: detail``."""
    evidence = item["evidence"] or {}
    field = f" ({evidence['field']})" if evidence.get("field") else ""
    return f"{evidence.get('code', item['kind'])}{field}: {evidence.get('detail', '')}"


@review_app.command("list")
def list_items(
    config: ConfigOption,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON array of the items instead of a table.")
    ] = False,
    status: StatusOption = "open",
    limit: Annotated[int, typer.Option("--limit", min=1, help="Show at most this many items.")] = 50,
) -> None:
    """The possible matches, most in doubt first (probability nearest 0.5), then the clean findings; skipped ones
    after the others. ``--json``: an array of items (``id``, ``subject`` pair|finding, ``probability``, ``left`` and
    ``right`` = {source, source_key} of a pair, ``customer_id`` of a finding, ``evidence``, ``decision`` …)."""
    wanted = _status_filter(status)
    with _queue(config) as (_, session):
        items = _items(session, wanted)
    shown = items[:limit]
    if as_json:
        sys.stdout.write(json.dumps(shown, ensure_ascii=False, indent=2) + "\n")
        return
    what = "items" if status == "all" else f"{status} items"
    if not items:
        console.print(f"No {what} in the review queue.")
        return
    table = Table(title=f"Review queue: {what}", title_justify="left")
    for name, justify in (("id", "right"), ("p", "right"), ("kind", "left"), ("status", "left")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    table.add_column("left row / customer")
    table.add_column("right row / finding")
    table.add_column("decision")
    for item in shown:
        decision = item["decision"]
        if item["subject"] == "pair":
            left, right = _side(item["left"]), _side(item["right"])
        else:
            left, right = f"customer {item['customer_id']}", _finding_text(item)
        table.add_row(
            str(item["id"]),
            "–" if item["probability"] is None else f"{item['probability']:.3f}",
            item["kind"],
            item["status"] + (" *" if item["note"] else ""),
            escape(left),
            escape(right),
            "–" if decision is None else escape(f"{decision['decision']} ({decision['decided_by']})"),
        )
    console.print(table)
    console.print(
        f"showing {len(shown):,} of {len(items):,} {what}"
        + (" (* has a note: review show ID)" if any(i["note"] for i in shown) else "")
    )


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _show_decisions(item: dict[str, Any]) -> None:
    for decision in item["decisions"]:
        note = f": {decision['note']}" if decision["note"] else ""
        console.print(
            escape(
                f"{decision['decided_at']:%Y-%m-%d %H:%M} {decision['decided_by']} decided {decision['decision']}{note}"
            )
        )


def _show_finding(item: dict[str, Any], subject: dict[str, Any]) -> None:
    """A finding: what was found (masked, as the report shows it), the customer's record and contact points now
    (unmasked values: stewards see the data), the decisions made on it."""
    evidence = item["evidence"] or {}
    console.print(
        f"[bold]Review item {item['id']}[/]: finding {escape(str(evidence.get('code', item['kind'])))} "
        f"({item['kind']}), {item['status']}, customer {escape(item['customer_id'])}"
    )
    if item["note"]:
        console.print(f"[yellow]note:[/] {escape(item['note'])}")
    console.print(escape(f"{evidence.get('description', '')} Found: {evidence.get('detail', '')}"))
    if not subject["found"]:
        console.print("[yellow]The customer is no longer in the store.[/]")
    else:
        record = Table(title="The customer now", title_justify="left")
        record.add_column("field", style="bold")
        record.add_column("value")
        for field in subject["fields"]:
            value = escape(field["value"] or "–")
            record.add_row(escape(field["name"]), f"[yellow]{value}[/]" if field["concerned"] else value)
        console.print(record)
        if subject["retired_at"] is not None:
            console.print("[yellow]The customer is retired (its rows are in another customer now).[/]")
        points = Table(title="Contact points", title_justify="left")
        for name in ("kind", "value", "valid", "source row"):
            points.add_column(name)
        for point in subject["contact_points"]:
            row = f"{point['source']}:{point['source_key']}" if point["source"] else "–"
            valid = "yes" if point["valid"] else "[yellow]no[/]"
            points.add_row(escape(point["kind"]), escape(point["value"]), valid, escape(row))
        console.print(points if subject["contact_points"] else "No contact points.")
    console.print("accept: a real problem (confirm) · reject: not a problem (dismiss) · skip: decide later")
    _show_decisions(item)


@review_app.command("show")
def show(item_id: ItemArg, config: ConfigOption) -> None:
    """One item. A possible match: both rows side by side, the evidence waterfall and the decisions made on it. A
    finding: what the clean run found, the customer's record and contact points now, the decisions made on it.

    Values are shown unmasked (stewards see the data): a pair's rows normalised as the matcher compared them,
    with the customers they are in now.
    """
    import crm_store
    from pipelines._review import canonical_values, finding_subject
    from rules.match import weight_to_prob

    with _queue(config) as (settings, session):
        item = crm_store.read_review_item(session, item_id)
        if item is None:
            raise _fail(_unknown(item_id))
        if item["subject"] == "finding":
            subject = finding_subject(session, item)
            _show_finding(item, subject)
            return
        rows = crm_store.read_pair_rows(session, item)
    values = canonical_values(settings, rows)
    p = "–" if item["probability"] is None else f"{item['probability']:.3f}"
    console.print(f"[bold]Review item {item_id}[/]: {item['kind']}, {item['status']}, match probability {p}")
    if item["note"]:
        console.print(f"[yellow]note:[/] {escape(item['note'])}")
    pair = Table(title="The two rows", title_justify="left")
    pair.add_column("field", style="bold")
    for row in rows:
        pair.add_column(escape(f"{row['source']}:{row['source_key']}"))
    pair.add_row("customer", *(escape(r["customer_id"] or r["status"] or "gone") for r in rows))
    fields = list(dict.fromkeys(f for v in values for f in v))
    for name in fields:
        left, right = (_cell(v.get(name)) for v in values)
        style = "" if left == right else "[yellow]"
        pair.add_row(escape(name), *(style + escape(x) for x in (left, right)))
    console.print(pair)
    evidence = item["evidence"] or {}
    if evidence.get("comparisons"):
        waterfall = Table(title=f"Evidence ({evidence.get('reason')})", title_justify="left")
        for name, justify in (("step", "left"), ("level", "left"), ("weight", "right"), ("probability", "right")):
            waterfall.add_column(name, justify=justify)  # type: ignore[arg-type]
        total = float(evidence.get("prior_weight") or 0.0)
        waterfall.add_row("prior", "", f"{total:+.2f}", f"{weight_to_prob(total):.4f}")
        for name, step in evidence["comparisons"].items():
            weight = float(step.get("weight") or 0.0)
            total += weight
            waterfall.add_row(
                escape(name), escape(str(step.get("level"))), f"{weight:+.2f}", f"{weight_to_prob(total):.4f}"
            )
        related = evidence.get("related_weight")
        if related:
            total += float(related)
            waterfall.add_row("related people", "", f"{float(related):+.2f}", f"{weight_to_prob(total):.4f}")
        waterfall.add_row("[bold]final[/]", "", f"{total:+.2f}", f"[bold]{weight_to_prob(total):.4f}[/]")
        console.print(waterfall)
    _show_decisions(item)


def _unknown(item_id: int) -> str:
    return f"no review item {item_id} in the store (crmkit review list --status all shows every item)"


#: What each decision does, as the commands say it.
EFFECTS: Final = {
    "match": "the next run merges them",
    "no_match": "the next run keeps them apart",
    "confirm": "a real problem; later clean runs do not ask again while the customer's values behind it stay",
    "dismiss": "not a problem; later clean runs do not ask again while the customer's values behind it stay",
    "skip": "put aside; it stays in the queue",
}


def _decide(item_id: int, verb: str, config: Path, note: str | None, by: str | None) -> None:
    import crm_store

    who = by or _os_user()
    with _queue(config) as (_, session):
        found = crm_store.read_review_item(session, item_id)
        if found is None:
            raise _fail(_unknown(item_id))
        decision = crm_store.decision_for(found, verb)  # type: ignore[arg-type]
        try:
            item = crm_store.decide(session, item_id, decision, by=who, note=note)
        except crm_store.ReviewItemNotFoundError:
            raise _fail(_unknown(item_id)) from None
        except ValueError as exc:
            raise _fail(str(exc), 2) from None
        session.commit()
    if item["subject"] == "pair":
        what = f"{item['left_source']}:{item['left_key']} / {item['right_source']}:{item['right_key']}"
    else:
        what = f"{(item['evidence'] or {}).get('code', item['kind'])} of customer {item['customer_id']}"
    console.print(f"Review item {item_id} ({escape(what)}): {decision} by {escape(who)}; {EFFECTS[decision]}")


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in the environment or the password database
        return "unknown"


@review_app.command("accept")
def accept(item_id: ItemArg, config: ConfigOption, note: NoteOption = None, by: ByOption = None) -> None:
    """A possible match: the two rows are one customer, the next run merges them (while their compared values stay
    as they are). A finding: confirmed, a real problem (decision ``confirm``; not asked again while it holds)."""
    _decide(item_id, "accept", config, note, by)


@review_app.command("reject")
def reject(item_id: ItemArg, config: ConfigOption, note: NoteOption = None, by: ByOption = None) -> None:
    """A possible match: the two rows are different customers, later runs never put them in one customer. A
    finding: not a problem (decision ``dismiss``; later clean runs do not ask again while it holds)."""
    _decide(item_id, "reject", config, note, by)


@review_app.command("skip")
def skip(item_id: ItemArg, config: ConfigOption, note: NoteOption = None, by: ByOption = None) -> None:
    """Not sure: put the item aside (listed after the others); an earlier decision on it no longer counts."""
    _decide(item_id, "skip", config, note, by)


@review_app.command(
    "export",
    epilog="Text cells starting with = + - @, a tab or a carriage return get a leading ' in CSV and XLSX.",
)
def export(
    config: ConfigOption,
    out: Annotated[
        Path, typer.Option("--out", help="File to write: .csv, .xlsx, .json or .jsonl.", show_default=False)
    ],
    status: StatusOption = "all",
) -> None:
    """The review queue (possible matches and findings) with each item's newest decision, as CSV, XLSX or JSON
    (formula-safe in spreadsheets)."""
    import polars as pl

    from pipelines.cli_audit import audit_export
    from pipelines.export import format_for, write_table

    wanted = _status_filter(status)
    try:
        chosen = format_for(out)
    except ValueError as exc:
        raise _fail(str(exc), 2) from None
    with _queue(config) as (settings, session):
        items = _items(session, wanted)
    rows = [
        {
            "id": i["id"],
            "subject": i["subject"],
            "probability": i["probability"],
            "kind": i["kind"],
            "status": i["status"],
            "left_source": (i["left"] or {}).get("source"),
            "left_key": (i["left"] or {}).get("source_key"),
            "right_source": (i["right"] or {}).get("source"),
            "right_key": (i["right"] or {}).get("source_key"),
            "customer_id": i["customer_id"],
            "finding": _finding_text(i) if i["subject"] == "finding" else None,
            "decision": (i["decision"] or {}).get("decision"),
            "decided_by": (i["decision"] or {}).get("decided_by"),
            "decided_at": (i["decision"] or {}).get("decided_at"),
            "note": i["note"],
            "evidence": None if i["evidence"] is None else json.dumps(i["evidence"], ensure_ascii=False),
            "last_run_id": i["last_run_id"],
        }
        for i in items
    ]
    schema = dict.fromkeys(EXPORT_COLUMNS, pl.String) | {"id": pl.Int64, "probability": pl.Float64}
    frame = pl.DataFrame(rows, schema=schema) if rows else pl.DataFrame(schema=schema)
    try:
        written = write_table(frame, out, chosen, sheet="review", json_columns=["evidence"])
    except (ValueError, OSError) as exc:
        raise _fail(f"cannot write {out}: {exc}") from None
    audit_export(settings.store_url, out, kind="review", fmt=chosen, rows=written.rows, masked=False)
    console.print(f"Wrote {written.rows:,} review items to [bold]{escape(str(out))}[/] ({chosen})")

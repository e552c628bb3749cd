"""``crmkit review``: the data steward's review queue on the command line.

``list`` shows the possible matches most in doubt first, ``show`` one pair's two rows side by side with the
evidence, ``accept`` / ``reject`` / ``skip`` record a decision (with an audit event) that the next ``crmkit migrate``
honours, ``export`` writes the queue to CSV, XLSX or JSON. Heavy imports stay inside the commands, so ``crmkit
--help`` starts fast.
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
    help="Review possible matches: list, show, accept, reject or skip them, export the queue.",
    no_args_is_help=True,
)

console = Console(stderr=False, highlight=False)
err = Console(stderr=True, highlight=False)

STATUSES: Final = ("open", "decided", "stale", "all")
#: Columns of ``crmkit review export``.
EXPORT_COLUMNS: Final = (
    "id",
    "probability",
    "kind",
    "status",
    "left_source",
    "left_key",
    "right_source",
    "right_key",
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
    """The queue's items as JSON-ready dicts with their newest decision, most in doubt first (|p - 0.5|), items
    put aside with ``skip`` after the others, items without a probability last."""
    import crm_store

    frame = crm_store.read_review_items(session, status=status)  # type: ignore[arg-type]
    latest = {
        (d["left_source"], d["left_key"], d["right_source"], d["right_key"]): d
        for d in crm_store.read_decisions(session).iter_rows(named=True)
    }
    out = []
    for row in frame.iter_rows(named=True):
        decision = latest.get((row["left_source"], row["left_key"], row["right_source"], row["right_key"]))
        out.append(
            {
                "id": row["id"],
                "probability": row["probability"],
                "kind": row["kind"],
                "status": row["status"],
                "left": {"source": row["left_source"], "source_key": row["left_key"]},
                "right": {"source": row["right_source"], "source_key": row["right_key"]},
                "evidence": json.loads(row["evidence"]) if row["evidence"] else None,
                "note": row["note"],
                "decision": None
                if decision is None
                else {
                    "decision": decision["decision"],
                    "decided_by": decision["decided_by"],
                    "decided_at": decision["decided_at"].isoformat(),
                    "note": decision["note"],
                },
                "fingerprint": row["fingerprint"],
                "first_run_id": row["first_run_id"],
                "last_run_id": row["last_run_id"],
                "updated_at": row["updated_at"].isoformat(),
            }
        )

    def doubt(item: dict[str, Any]) -> tuple[bool, bool, float, int]:
        p = item["probability"]
        skipped = item["decision"] is not None and item["decision"]["decision"] == "skip"
        return (p is None, skipped, abs(p - 0.5) if p is not None else 1.0, item["id"])

    return sorted(out, key=doubt)


def _side(side: dict[str, Any]) -> str:
    return f"{side['source']}:{side['source_key']}"


@review_app.command("list")
def list_items(
    config: ConfigOption,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON array of the items instead of a table.")
    ] = False,
    status: StatusOption = "open",
    limit: Annotated[int, typer.Option("--limit", min=1, help="Show at most this many items.")] = 50,
) -> None:
    """The possible matches, most in doubt first (probability nearest 0.5); skipped ones after the others."""
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
    table.add_column("left")
    table.add_column("right")
    table.add_column("decision")
    for item in shown:
        decision = item["decision"]
        table.add_row(
            str(item["id"]),
            "–" if item["probability"] is None else f"{item['probability']:.3f}",
            item["kind"],
            item["status"] + (" *" if item["note"] else ""),
            escape(_side(item["left"])),
            escape(_side(item["right"])),
            "–" if decision is None else escape(f"{decision['decision']} ({decision['decided_by']})"),
        )
    console.print(table)
    console.print(
        f"showing {len(shown):,} of {len(items):,} {what}"
        + (" (* has a note: review show ID)" if any(i["note"] for i in shown) else "")
    )


def _canonical(settings: Any, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each raw row mapped onto canonical fields and normalised as the run did (the values the matcher compared)."""
    import polars as pl

    from crm_store.schema import CANONICAL_FIELDS, SOURCE_COL, SOURCE_KEY_COL
    from rules.mapping import apply_codes, apply_mapping
    from rules.normalise import normalise_frame

    out = []
    for row in rows:
        try:
            source = settings.source(row["source"])
        except KeyError:
            out.append({})
            continue
        if not row["payload"] or source.activity is not None:
            out.append({})
            continue
        raw = pl.DataFrame([{k: None if v is None else str(v) for k, v in row["payload"].items()}]).with_columns(
            pl.lit(row["source"]).alias(SOURCE_COL), pl.lit(row["source_key"]).alias(SOURCE_KEY_COL)
        )
        mapped = apply_codes(apply_mapping(raw, source.mapping), source.codes)
        d = settings.defaults_of(row["source"])
        values = normalise_frame(mapped, region=d.region, date_order=d.date_order, tz=d.timezone).row(0, named=True)
        out.append({f: values[f] for f in CANONICAL_FIELDS if values.get(f) not in (None, "", [])})
    return out


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


@review_app.command("show")
def show(item_id: ItemArg, config: ConfigOption) -> None:
    """One possible match: both rows side by side, the evidence waterfall and the decisions made on it.

    The rows show their normalised values, unmasked (stewards see the data), and the customers they are in now.
    """
    import crm_store
    from rules.match import weight_to_prob

    with _queue(config) as (settings, session):
        item = crm_store.read_review_item(session, item_id)
        if item is None:
            raise _fail(_unknown(item_id))
        rows = crm_store.read_pair_rows(session, item)
    values = _canonical(settings, rows)
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
    for decision in item["decisions"]:
        note = f": {decision['note']}" if decision["note"] else ""
        console.print(
            escape(
                f"{decision['decided_at']:%Y-%m-%d %H:%M} {decision['decided_by']} decided {decision['decision']}{note}"
            )
        )


def _unknown(item_id: int) -> str:
    return f"no review item {item_id} in the store (crmkit review list --status all shows every item)"


def _decide(item_id: int, decision: str, config: Path, note: str | None, by: str | None) -> None:
    import crm_store

    who = by or _os_user()
    with _queue(config) as (_, session):
        try:
            item = crm_store.decide(session, item_id, decision, by=who, note=note)  # type: ignore[arg-type]
        except crm_store.ReviewItemNotFoundError:
            raise _fail(_unknown(item_id)) from None
        except ValueError as exc:
            raise _fail(str(exc), 2) from None
        session.commit()
    left, right = f"{item['left_source']}:{item['left_key']}", f"{item['right_source']}:{item['right_key']}"
    effect = {
        "match": "the next run merges them",
        "no_match": "the next run keeps them apart",
        "skip": "put aside; it stays in the queue",
    }[decision]
    console.print(f"Review item {item_id} ({escape(left)} / {escape(right)}): {decision} by {escape(who)}; {effect}")


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in the environment or the password database
        return "unknown"


@review_app.command("accept")
def accept(item_id: ItemArg, config: ConfigOption, note: NoteOption = None, by: ByOption = None) -> None:
    """The two rows are one customer: the next run merges them (while their compared values stay as they are)."""
    _decide(item_id, "match", config, note, by)


@review_app.command("reject")
def reject(item_id: ItemArg, config: ConfigOption, note: NoteOption = None, by: ByOption = None) -> None:
    """The two rows are different customers: later runs never put them in one customer."""
    _decide(item_id, "no_match", config, note, by)


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
    """The review queue with each item's newest decision, as CSV, XLSX or JSON (formula-safe in spreadsheets)."""
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
            "probability": i["probability"],
            "kind": i["kind"],
            "status": i["status"],
            "left_source": i["left"]["source"],
            "left_key": i["left"]["source_key"],
            "right_source": i["right"]["source"],
            "right_key": i["right"]["source_key"],
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

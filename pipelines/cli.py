"""The ``crmkit`` command line. Prefect and Great Expectations are imported inside commands, so start-up stays fast."""

from __future__ import annotations

import atexit
import gc
import logging
import re
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperGroup

from connectors import ConnectorError
from crm_store.errors import StoreError
from pipelines.cli_admin import admin_app
from pipelines.cli_audit import audit_app, audit_export, owners_app
from pipelines.cli_keys import keys_app
from pipelines.cli_report import report_app
from pipelines.cli_review import review_app
from pipelines.cli_schedule import schedule_app
from pipelines.cli_steward import steward_app
from pipelines.cli_users import AsOption, users_app
from pipelines.cli_web import web_app
from pipelines.errors import PipelineError
from rules.errors import RuleError

if TYPE_CHECKING:
    from pipelines.export import ExportKind
    from pipelines.migrate import MigrateResult
    from pipelines.settings import EngineSettings, ProjectSettings


#: The error families of the packages: what crmkit raises on purpose, each with a message a user can act on.
KNOWN_ERRORS = (StoreError, RuleError, PipelineError, ConnectorError)


def _retry_hint(exc: Exception) -> str:
    return " (this may succeed if run again later)" if getattr(exc, "retryable", False) else ""


class _Group(TyperGroup):
    """``crmkit``'s command group: a key problem (``crm_store.crypto.CryptoError``: no key, a wrong key, a value
    that does not decrypt) in any command is a clear message and exit code 2, never a traceback."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            from crm_store.crypto import CryptoError

            if isinstance(exc, CryptoError):
                raise _fail(str(exc), 2) from None
            if isinstance(exc, KNOWN_ERRORS):  # an error crmkit raises on purpose: its message, no traceback
                raise _fail(f"{exc}{_retry_hint(exc)}") from None
            raise


app = typer.Typer(
    cls=_Group,
    name="crmkit",
    help="Turn messy customer data into one clean, deduplicated CRM, with a ledger and a quality report.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
export_app = typer.Typer(
    help="Export the store's golden records, quarantine, field provenance or crosswalk as CSV, XLSX or JSON.",
    no_args_is_help=True,
)
app.add_typer(export_app, name="export")
app.add_typer(schedule_app)  # crmkit schedule, clean, runs
app.add_typer(admin_app)  # crmkit backup, restore, subject export|erase
app.add_typer(review_app, name="review")
app.add_typer(report_app, name="report")  # crmkit report kpi|regions|segments
app.add_typer(steward_app)  # crmkit unmerge, merge
app.add_typer(audit_app, name="audit")  # crmkit audit verify|list
app.add_typer(owners_app, name="owners")  # crmkit owners list|transfer
app.add_typer(web_app)  # crmkit serve
app.add_typer(users_app, name="users")  # crmkit users add|list|remove|grant-db
app.add_typer(keys_app, name="keys")  # crmkit keys init|rotate|status|decrypt

console = Console(stderr=False, highlight=False)
err = Console(stderr=True, highlight=False)

DEMO_CONFIG = Path(__file__).resolve().parent.parent / "config" / "demo.yaml"
STEPS = ("extract", "map", "normalise", "validate", "match+survive", "link", "load", "report")
#: Exit code of ``crmkit migrate`` / ``crmkit demo`` per run status (2: an invalid project file or argument;
#: 130: interrupted by Ctrl-C or SIGTERM, the run recorded as failed).
EXIT_CODES = {"succeeded": 0, "partial": 3, "failed": 1}
INTERRUPTED = 130

ConfigArg = Annotated[Path, typer.Argument(help="The YAML project file.", show_default=False)]


def _fail(message: str, code: int = 1) -> typer.Exit:
    from rules.mask import redact_secrets

    err.print(f"[bold red]crmkit:[/] {redact_secrets(message)}")
    return typer.Exit(code)


def _load(config: Path) -> ProjectSettings:
    from pipelines.settings import SettingsError, load_settings

    try:
        return load_settings(config)
    except SettingsError as exc:
        err.print(f"[bold red]crmkit:[/] invalid project file [bold]{exc.file}[/]:")
        for problem in exc.problems:
            err.print(f"  • {problem}")
        raise typer.Exit(2) from None


def _preflight(config: Path) -> None:
    """Check the project file and its sources' real headers before the flow starts; exit 2 listing every problem
    (a source that cannot be read now is left to the run, which fails it alone). Prefect's temporary server boots
    meanwhile (``_run`` waits for it), and is stopped again on a problem."""
    from pipelines._prefect import launch_server
    from pipelines.preflight import check_project

    server = launch_server()
    found = check_project(config)
    if found.problems:
        server.stop()
        _print_problems(f"invalid project file {config}", found.problems)
        raise typer.Exit(2)


def _print_problems(heading: str, problems: list[Any]) -> None:
    """Every problem at once, as one table on standard error (lines unbroken when it is not a terminal)."""
    from rich.markup import escape

    out = err if err.is_terminal else Console(stderr=True, highlight=False, width=200)
    out.print(f"[bold red]crmkit:[/] {escape(heading)}: {len(problems)} problem(s)", soft_wrap=True)
    table = Table(show_lines=False)
    for name in ("source", "problem", "hint"):
        table.add_column(name, overflow="fold")
    for problem in problems:
        table.add_row(escape(problem.source), escape(f"{problem.where}: {problem.message}"), escape(problem.hint))
    out.print(table)


@app.command()
def check(config: ConfigArg) -> None:
    """Check a project file without running anything; list every problem at once.

    Reads only the top of each source: the header row of a CSV file (encoding and delimiter detected), the title
    and header rows of each sheet, the first records of a JSON file, a table's columns or a query's (run with no
    rows, read-only). Checks the settings, the mapped columns against the real headers (did you mean …?), the key
    columns, codecs, database URLs and drivers, sheet names, time zones, and the fields rules and blocking name.
    Exit code 0: no problem; 2: problems, or a source that cannot be read.
    """
    from pipelines.preflight import check_project

    found = check_project(config)
    problems = [*found.problems, *found.unreadable]
    if problems:
        _print_problems(f"project file {config}", problems)
        raise typer.Exit(2)
    read = ", ".join(f"{name} ({sum(map(len, h.columns.values()))} columns)" for name, h in found.headers.items())
    console.print(f"[green]✓[/] {config}: no problems; read the headers of {read or 'no source'}")
    for name in found.unchecked:
        console.print(f"  • {name}: columns not checked (known only by fetching records)")


@app.command()
def migrate(
    config: ConfigArg,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Run every step and write the report, not the store.")
    ] = False,
    full_refresh: Annotated[
        bool, typer.Option("--full-refresh", help="Ignore the cursors of incremental sources; read everything.")
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show Prefect's logs and full tracebacks.")] = False,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            max=256,
            help="Match on a local Dask cluster of N worker processes (same result; default: the file's engine).",
        ),
    ] = None,
) -> None:
    """Migrate every source of a project file into the canonical store and write the quality report.

    Exit code 0: succeeded; 3: partial (a source failed, or more rows were quarantined than
    run.max_quarantine_share); 1: failed (or another run holds the store); 2: invalid project file.
    """
    _preflight(config)  # fail fast, before the flow starts, on an invalid file or a mapping the data contradicts
    result = _run(config, dry_run=dry_run, debug=debug, full_refresh=full_refresh, workers=workers)
    _summary(result)
    raise typer.Exit(EXIT_CODES[result.status])


@app.command()
def demo(
    debug: Annotated[bool, typer.Option("--debug", help="Show Prefect's logs and full tracebacks.")] = False,
) -> None:
    """Migrate the bundled sample (config/demo.yaml) into the embedded SQLite store and write the report."""
    if not DEMO_CONFIG.exists():
        raise _fail(f"the demo project file is missing: {DEMO_CONFIG}")
    console.print(f"Migrating the bundled sample with [bold]{DEMO_CONFIG}[/]")
    _preflight(DEMO_CONFIG)
    result = _run(DEMO_CONFIG, dry_run=False, debug=debug)
    _summary(result)
    raise typer.Exit(EXIT_CODES[result.status])


@app.command()
def sample(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the sample into.")],
    entities: Annotated[int, typer.Option("--entities", min=1, help="How many real customers to generate.")] = 1000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed: the same seed gives the same files.")] = 42,
) -> None:
    """Generate messy sample sources (xlsx, GB18030 CSV, JSON Lines) with ground-truth files."""
    from synthetic.sample import generate_sample

    manifest = generate_sample(entities, out, seed=seed)
    console.print(f"Wrote the sample for {entities:,} customers to [bold]{out}[/]:")
    for path in manifest.files:
        console.print(f"  • {path}")
    console.print(f"Migrate it with: [bold]crmkit migrate {out / 'crmkit.yaml'}[/]")


@contextmanager
def _store_session(config: Path) -> Iterator[tuple[Any, Any]]:
    """The project's settings and a read session on its store (never created: a missing store exits 1)."""
    from sqlalchemy.orm import Session

    import crm_store

    settings = _load(config)
    try:
        engine = crm_store.open_store(settings.store_url)  # a reader never creates a store
    except crm_store.StoreNotFoundError as exc:
        raise _fail(str(exc)) from None
    try:
        with Session(engine) as session:
            yield settings, session
    finally:
        engine.dispose()


ExportConfig = Annotated[Path, typer.Option("--config", help="The YAML project file.", show_default=False)]
ExportOut = Annotated[
    Path,
    typer.Option(
        "--out", help="File to write: .csv, .xlsx, .json (a JSON array) or .jsonl (JSON Lines).", show_default=False
    ),
]
ExportFormatOption = Annotated[
    str | None,
    typer.Option("--format", help="csv, xlsx, json or jsonl (default: from the --out suffix).", show_default=False),
]
Masked = Annotated[
    bool,
    typer.Option("--masked", help="Mask names, phones, e-mails, ID numbers and addresses (138****8000) for sharing."),
]


def _export(
    kind: ExportKind, config: Path, out: Path, format: str | None, masked: bool, as_user: str | None = None
) -> None:
    from pipelines.cli_users import principal_of
    from pipelines.export import JSON_COLUMNS, export_frame, format_for, write_table

    try:
        chosen = format_for(out, format)
    except ValueError as exc:
        raise _fail(str(exc), 2) from None
    with _store_session(config) as (settings, session):
        principal = principal_of(session, settings, as_user)
        frame = export_frame(session, kind, settings, masked=masked, principal=principal)
        masked = masked or (principal is not None and principal.masks_pii)
    try:
        written = write_table(frame, out, chosen, sheet=kind, json_columns=JSON_COLUMNS[kind])
    except ValueError as exc:
        raise _fail(str(exc)) from None
    except OSError as exc:
        raise _fail(f"cannot write {out}: {exc}") from None
    audit_export(settings.store_url, out, kind=kind, fmt=chosen, rows=written.rows, masked=masked)
    what = " (masked)" if masked else ""
    console.print(f"Wrote {written.rows:,} {kind} rows{what} to [bold]{out}[/] ({chosen})")
    if written.truncated_cells:
        err.print(f"[yellow]crmkit:[/] {written.truncated_cells:,} cells cut to Excel's 32,767 characters")
    if written.replaced_cells:
        err.print(f"[yellow]crmkit:[/] {written.replaced_cells:,} cells had control characters, shown as U+FFFD")


_SAFE = (
    "Text cells starting with = + - @, a tab or a carriage return get a leading ' in CSV and XLSX, so a "
    "spreadsheet shows them and never runs them as formulas; JSON holds the values as they are."
)


@export_app.command("customers", epilog=_SAFE)
def export_customers(
    config: ExportConfig,
    out: ExportOut,
    format: ExportFormatOption = None,
    masked: Masked = False,
    as_user: AsOption = None,
) -> None:
    """Every golden record (retired ones included), with every column of the store. Unmasked unless --masked."""
    _export("customers", config, out, format, masked, as_user)


@export_app.command("quarantine", epilog=_SAFE)
def export_quarantine(
    config: ExportConfig,
    out: ExportOut,
    format: ExportFormatOption = None,
    masked: Masked = False,
    as_user: AsOption = None,
) -> None:
    """Every quarantined row with its reasons and its raw columns, to find and fix it at the source.

    Columns: source, source_key, reasons (codes), messages (the details in words), details (JSON), first_run_id,
    then the row's raw columns as read: the client's own data, so unmasked unless --masked.
    """
    _export("quarantine", config, out, format, masked, as_user)


@export_app.command("provenance", epilog=_SAFE)
def export_provenance(
    config: ExportConfig,
    out: ExportOut,
    format: ExportFormatOption = None,
    masked: Masked = False,
    as_user: AsOption = None,
) -> None:
    """Where every golden field came from: customer_id, field, value, source, source_key and the rule that chose it."""
    _export("provenance", config, out, format, masked, as_user)


@export_app.command("crosswalk", epilog=_SAFE)
def export_crosswalk(
    config: ExportConfig,
    out: ExportOut,
    format: ExportFormatOption = None,
    masked: Masked = False,
    as_user: AsOption = None,
) -> None:
    """One row per source row: source, source_key, status, customer_id (blank unless loaded), reason."""
    _export("crosswalk", config, out, format, masked, as_user)


@app.command()
def trace(
    customer_id: Annotated[str, typer.Argument(help="A customer id (or its first 6+ characters).", show_default=False)],
    config: ExportConfig,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")] = False,
    masked: Masked = False,
    as_user: AsOption = None,
) -> None:
    """Show a golden record, every source row behind it (raw columns, status, match probability) and where each
    golden field came from. A retired customer is traced too. Exit code 1: no such customer (or, with --as, none
    that user sees)."""
    import json

    import crm_store
    from pipelines.cli_users import principal_of
    from pipelines.export import trace_customer

    with _store_session(config) as (settings, session):
        principal = principal_of(session, settings, as_user)
        found = trace_customer(session, customer_id, settings, masked=masked, principal=principal)
        if found is None:
            candidates = crm_store.find_customer_ids(session, customer_id, principal=principal)
            if len(candidates) == 1:
                found = trace_customer(session, candidates[0], settings, masked=masked, principal=principal)
            else:
                raise _fail(_unknown_customer(session, customer_id, candidates, principal))
    assert found is not None
    if as_json:
        sys.stdout.write(json.dumps(found.to_json(), ensure_ascii=False, indent=2) + "\n")
        return
    _print_trace(found)


def _unknown_customer(session: Any, text: str, candidates: list[str], principal: Any = None) -> str:
    """Why ``text`` names no customer (that ``principal`` sees), with what it might have meant (several ids it
    starts, a source row key)."""
    import crm_store

    if candidates:
        return f"{text!r} starts several customer ids: {', '.join(candidates)}; give more of it"
    message = f"no customer {text!r} in the store" + ("" if principal is None else f" that {principal.user} sees")
    source, _, key = text.rpartition(":")
    outcomes = crm_store.read_outcomes(session, principal=principal)
    rows = outcomes.filter(
        (outcomes["source_key"] == text) | ((outcomes["source"] == source) & (outcomes["source_key"] == key))
    )
    for row in rows.head(5).iter_rows(named=True):
        where = f"customer {row['customer_id']}" if row["customer_id"] else row["status"]
        message += f"\n  {text!r} is source row {row['source']}:{row['source_key']} ({where})"
    return message


def _cell_text(value: Any) -> str:
    import json

    if value is None:
        return "–"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def _print_trace(found: Any) -> None:
    from rich.markup import escape

    customer = found.customer
    cid = customer["customer_id"]
    record = Table(title=f"Customer {cid}", title_justify="left", show_header=False)
    record.add_column("field", style="bold")
    record.add_column("value")
    empty = 0
    for name, value in customer.items():
        if value is None or value == {}:
            empty += 1
            continue
        record.add_row(escape(name), escape(_cell_text(value)))
    console.print(record)
    notes = [f"{empty} empty fields not shown"] if empty else []
    if customer.get("retired_at") is not None:
        notes.append(f"[yellow]retired {customer['retired_at']}[/]")
    for column, words in (("merged_into", "merged into"), ("split_from", "split from")):
        if customer.get(column):
            notes.append(f"{words} {customer[column]}")
    if notes:
        console.print(" · ".join(notes))

    rows = Table(title=f"Source rows ({len(found.rows)})", title_justify="left")
    for name in ("source", "source_key", "link", "status", "match", "matched with", "now in customer"):
        rows.add_column(name, justify="right" if name == "match" else "left")
    for row in found.rows:
        evidence = row.get("evidence") or {}
        owner = row.get("customer_id")
        rows.add_row(
            escape(row["source"]),
            escape(row["source_key"]),
            row["link"],
            row["status"] + (f" ({escape(row['reason'])})" if row.get("reason") else ""),
            _cell_text(row.get("match_probability")),
            escape(str(evidence.get("with", "–"))) if isinstance(evidence, dict) else "–",
            "–" if owner in (None, cid) else escape(owner),
        )
    console.print(rows)
    by_source: dict[str, list[dict[str, Any]]] = {}
    for row in found.rows:
        by_source.setdefault(row["source"], []).append(row)
    for source, members in by_source.items():
        raw = Table(title=f"Raw rows of {source}", title_justify="left")
        raw.add_column("column", style="bold")
        for row in members:
            raw.add_column(escape(row["source_key"]))
        columns = list(dict.fromkeys(k for row in members for k in row["payload"]))
        shown = [c for c in columns if any(row["payload"].get(c) not in (None, "") for row in members)]
        for column in shown:
            raw.add_row(escape(column), *(escape(_cell_text(row["payload"].get(column))) for row in members))
        console.print(raw)
        if len(shown) < len(columns):
            console.print(f"{len(columns) - len(shown)} columns empty in these rows not shown (--json has them)")

    fields = Table(title="Field origins", title_justify="left")
    extra = [c for c in (found.fields[0] if found.fields else {}) if c not in ("customer_id", "field", "value")]
    for name in ("field", "value", *extra):
        fields.add_column(name)
    for origin in found.fields:
        fields.add_row(*(escape(_cell_text(origin.get(c))) for c in ("field", "value", *extra)))
    console.print(fields)


_FILE_KINDS = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "csv",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
}


@app.command("map")
def map_source(
    spec: Annotated[str, typer.Argument(help="A data file (.csv .xlsx .jsonl .json) or a SQLAlchemy database URL.")],
    table: Annotated[str | None, typer.Option("--table", help="With a database URL: the table to read.")] = None,
    query: Annotated[
        str | None, typer.Option("--query", help="With a database URL: a query instead of a table.")
    ] = None,
    key: Annotated[
        str | None, typer.Option("--key", help="The key column (required with --query; proposed for files).")
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="Source name (default: from the file or table).")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write the YAML here instead of printing it.")] = None,
) -> None:
    """Propose a column mapping for a source from its headers and values; print YAML to edit.

    Chinese and English header synonyms and pinyin abbreviations (KHMC, SJHM, DZYX …) are recognised, and value
    patterns (mobiles, emails, dates, ID numbers, names, companies) fill in where the header says nothing. Each
    column carries its confidence and reason as a comment. For a file, an identifier column (客户编号, KHBH) whose
    values are present and unique is proposed as the source's ``key``.
    """
    import polars as pl

    from connectors import SourceError, get_connector, params_model
    from rules.suggest import KeySuggestion, render_mapping_yaml, suggest_from_frame, suggest_key

    if "://" in spec:
        if not (table or query):
            raise _fail("a database URL needs --table or --query", 2)
        kind = "sql"
        params: dict[str, object] = {"url": spec, "chunk_size": 500}
        params.update({k: v for k, v in {"table": table, "query": query, "key": key}.items() if v})
        default_name = table or "legacy_db"
    else:
        path = Path(spec)
        kind = _FILE_KINDS.get(path.suffix.lower(), "")
        if not kind:
            raise _fail(f"cannot tell the kind of {path.name}; known endings: {', '.join(_FILE_KINDS)}", 2)
        params = {"path": str(path)}
        default_name = path.stem
    source = name or re.sub(r"[^A-Za-z0-9_.-]+", "_", default_name)
    try:
        validated = params_model(kind).model_validate(params)
        batches = []
        for batch in get_connector(kind)(validated, source=source):
            batches.append(batch)
            if sum(b.height for b in batches) >= 500:
                break
    except SourceError as exc:
        raise _fail(str(exc)) from None
    except ValueError as exc:  # pydantic's ValidationError
        raise _fail(f"invalid source: {exc}", 2) from None
    if not batches:
        raise _fail(f"{spec}: no rows to learn from")
    frame = pl.concat(batches, how="diagonal_relaxed")
    proposed: KeySuggestion | None = None
    if kind != "sql" and key and key not in frame.columns:
        raise _fail(f"--key {key!r} is not a column of {spec}", 2)
    if kind != "sql":
        proposed = KeySuggestion((key,), "given with --key") if key else suggest_key(frame)
    text = render_mapping_yaml(source, kind, params, suggest_from_frame(frame), proposed)
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, "utf-8")
        console.print(f"Wrote the proposed mapping to [bold]{out}[/]: review it, then paste it under `sources:`")


@app.command()
def normalise(
    kind: Annotated[str, typer.Argument(help="phone, email, name, company, address, date, gender or id_number.")],
    region: Annotated[
        str | None, typer.Option("--region", help="Default region for phones and addresses (ISO 3166, default CN).")
    ] = None,
    date_order: Annotated[
        str | None, typer.Option("--date-order", help="ymd (default), dmy or mdy for ambiguous dates.")
    ] = None,
    encoding: Annotated[
        str | None, typer.Option("--encoding", help="Encoding of standard input (default: detected).")
    ] = None,
) -> None:
    """Normalise one value per line of standard input; print one JSON object per line.

    Each line: {"input": …, "value": …, "issues": [...], "parts": {...}}; unusable input gives "value": null.
    Input in UTF-8, GB18030, Big5 or UTF-16 is recognised; undecodable bytes are reported and replaced.
    """
    import json

    import polars as pl
    from pydantic import ValidationError

    from connectors import decode_text
    from rules.normalise import get_normaliser, params_model

    try:
        normaliser = get_normaliser(kind)
    except LookupError as exc:
        raise _fail(str(exc.args[0] if exc.args else exc), 2) from None
    model = params_model(kind)
    accepted = model.model_fields if model is not None else {}
    params: dict[str, str] = {}
    for option, name, value in (("--region", "region", region), ("--date-order", "order", date_order)):
        if value is None:
            continue
        if name not in accepted:
            raise _fail(f"{option} does not apply to {kind}", 2)
        params[name] = value
    try:
        checked = model.model_validate(params) if model is not None else None
        decoded = decode_text(sys.stdin.buffer.read(), encoding)
    except ValidationError as exc:
        raise _fail("; ".join(_problem(e) for e in exc.errors()), 2) from None
    except LookupError:
        raise _fail(f"unknown encoding {encoding!r}", 2) from None
    for bad in decoded.bad:
        err.print(f"[yellow]crmkit:[/] standard input: {bad.describe(decoded.encoding)}; replaced by U+FFFD")
    lines = _LINE_BREAK.split(decoded.text)
    if lines and lines[-1] == "":
        lines.pop()  # the newline that ends the last line does not start another
    given = {name: getattr(checked, name) for name in params} if checked is not None else {}
    result = normaliser(pl.Series("input", lines, dtype=pl.String), **given)
    part_columns = [c for c in result.columns if c not in ("value", "issues")]
    for text, row in zip(lines, result.iter_rows(named=True), strict=True):
        parts = {_part_name(kind, c): row[c] for c in part_columns}
        record = {"input": text, "value": row["value"], "issues": row["issues"] or [], "parts": parts}
        sys.stdout.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _problem(error: Any) -> str:
    """One pydantic error as ``--option: message``."""
    where = ".".join(str(p) for p in error.get("loc", ()))
    option = {"order": "--date-order", "region": "--region"}.get(where, where)
    return f"{option}: {str(error.get('msg', '')).removeprefix('Value error, ')}"


_PART_NAMES = {"family_name": "family", "given_name": "given"}


def _part_name(kind: str, column: str) -> str:
    """A part column's short name in ``crmkit normalise`` output (``name_pinyin`` → ``pinyin``)."""
    for prefix in (f"{kind}_", "id_"):
        if column.startswith(prefix) and column != prefix:
            column = column[len(prefix) :]
            break
    return _PART_NAMES.get(column, column)


def _read_table(path: Path) -> Any:
    """A CSV or Parquet table as a polars frame of strings (empty rows of a CSV left out)."""
    import polars as pl

    from connectors import CsvParams, SourceError, get_connector

    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            return pl.read_parquet(path)
        if suffix in (".csv", ".txt", ".tsv"):
            batches = list(get_connector("csv")(CsvParams(path=path), source=path.stem))
            frame = pl.concat(batches, how="diagonal_relaxed").filter(pl.col("_skip_reason").is_null())
            return frame.select(c for c in frame.columns if not c.startswith("_"))
    except SourceError as exc:
        raise _fail(str(exc)) from None
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise _fail(f"cannot read {path}: {exc}") from None
    raise _fail(f"{path.name}: expected a .csv or .parquet file", 2)


def _blocking_table(rows: list[dict[str, Any]]) -> Any:
    from rich.table import Table

    table = Table(title="Blocking rules", title_justify="left", show_edge=False)
    for name, justify in (("rule", "left"), ("estimated pairs", "right"), ("pairs", "right"), ("recall", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row in rows:
        recall = "–" if row["recall"] is None else f"{row['recall']:.3f}"
        table.add_row(row["rule"], f"{row['estimated_pairs']:,}", f"{row['pairs']:,}", recall)
    return table


def _print_match_summary(matching: dict[str, Any]) -> None:
    """A migrate run's blocking rules with their pairs and recall (nothing for an incremental run)."""
    if not matching.get("blocking"):
        return
    console.print(_blocking_table(matching["blocking"]))
    total = matching.get("blocking_recall")
    recall = "too few certain matches to estimate" if total is None else f"[bold]{total:.3f}[/]"
    console.print(f"{matching.get('pairs_scored', 0):,} candidate pairs scored; estimated blocking recall {recall}")


def _print_blocking(result: Any) -> None:
    """The blocking rules a match used, their pairs and estimated recall, and the rules that could not be used."""
    console.print(_blocking_table(list(result.blocking.iter_rows(named=True))))
    total = result.blocking_recall
    pairs = result.candidates
    if total is None:
        console.print(f"{pairs:,} candidate pairs; blocking recall: too few certain matches to estimate")
    else:
        console.print(f"{pairs:,} candidate pairs; estimated blocking recall [bold]{total:.3f}[/]")
        if total < 0.9:
            console.print(
                "[yellow]warning:[/] the blocking rules are expected to miss more than 10% of the true matches; "
                "map more columns (birth date, postcode, street, phone, e-mail) or add rules under match.blocking"
            )
    listed = {k: v for k, v in result.dropped_rules.items() if not v.startswith("too few values")}
    for rule, reason in listed.items():  # the reason says whether the rule was left out or capped
        console.print(f"[yellow]blocking rule {rule}:[/] {reason}")
    unused = len(result.dropped_rules) - len(listed)
    if unused:
        console.print(f"{unused} automatic rules not used: their columns are empty in this table")


def _engine_settings(workers: int | None, scheduler: str | None) -> EngineSettings:
    """The engine ``--workers`` / ``--scheduler`` ask for (local when neither is given)."""
    from pydantic import ValidationError

    from pipelines.settings import EngineSettings

    if workers is not None and scheduler is not None:
        raise _fail("--workers starts a local cluster, --scheduler uses a running one: give one of them", 2)
    try:
        if scheduler is not None:
            return EngineSettings(kind="dask", address=scheduler)
        return EngineSettings(kind="dask", workers=workers) if workers is not None else EngineSettings()
    except ValidationError:
        raise _fail(f"--scheduler {scheduler}: expected an address such as tcp://host:8786", 2) from None


@app.command()
def dedupe(
    input_path: Annotated[Path, typer.Argument(metavar="INPUT", help="A table of people: .csv or .parquet.")],
    config: Annotated[Path, typer.Option("--config", help="match.yaml: column mapping and match settings.")],
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            help="Clusters to write: .csv (record_id, cluster_id, match_probability) or .parquet (also the "
            "normalised records, for a later --against).",
        ),
    ],
    model_path: Annotated[
        Path | None,
        typer.Option("--model", help="Model file: scored with when it exists, else trained and written there."),
    ] = None,
    against: Annotated[
        Path | None,
        typer.Option(
            "--against",
            help="A .parquet written by an earlier crmkit dedupe: INPUT then holds only new records, matched "
            "against these clusters (needs --model).",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=1, max=256, help="Match on a local Dask cluster of N worker processes."),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option("--scheduler", help="Match on the Dask cluster at this address (tcp://host:8786)."),
    ] = None,
) -> None:
    """Find the rows that are the same person in any table of people; write one cluster id per row."""
    import polars as pl
    import yaml
    from pydantic import ValidationError

    from pipelines.dask_engine import open_engine
    from pipelines.preflight import check_dedupe
    from pipelines.settings import read_yaml
    from rules.match import DedupeConfig, MatchModel, dedupe_table

    engine_settings = _engine_settings(workers, scheduler)
    problems = check_dedupe(input_path, config, out)
    if problems:
        _print_problems(f"cannot deduplicate {input_path.name} with {config}", problems)
        raise typer.Exit(2)
    try:
        settings = DedupeConfig.model_validate(read_yaml(config.read_text("utf-8")) or {})
    except (OSError, yaml.YAMLError) as exc:
        raise _fail(f"cannot read {config}: {exc}", 2) from None
    except ValidationError as exc:
        lines = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise _fail(f"invalid {config}:\n  " + "\n  ".join(lines), 2) from None
    if out.suffix.lower() not in (".csv", ".parquet"):
        raise _fail(f"--out {out.name}: expected a .csv or .parquet file", 2)
    model = None
    if model_path is not None and model_path.exists():
        try:
            model = MatchModel.from_json(model_path.read_text("utf-8"))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise _fail(f"cannot read the model {model_path}: {exc}", 2) from None
    existing = None
    if against is not None:
        if model is None:
            raise _fail("--against needs --model with the model of the run that made those clusters", 2)
        if against.suffix.lower() != ".parquet":
            raise _fail(f"--against {against.name}: expected the .parquet an earlier crmkit dedupe wrote", 2)
        existing = _read_table(against)
    try:
        with open_engine(engine_settings) as engine:
            found = dedupe_table(
                # read here and not kept: dedupe_table lets the table go once normalised (10M rows: gigabytes)
                _read_table(input_path).select(pl.all().cast(pl.String)),
                settings,
                model=model,
                against=existing,
                engine=engine,
            )
    except ValueError as exc:
        raise _fail(str(exc), 2) from None
    except OSError as exc:  # the scheduler does not answer, or a local cluster could not start
        what = f"reach the Dask scheduler {scheduler}" if scheduler else "start a local Dask cluster"
        raise _fail(f"cannot {what}: {exc}", 1) from None
    _print_blocking(found.result)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".parquet":
        records = found.records.drop("_rid", "_issues", strict=False)
        if existing is not None:
            records = pl.concat(
                [records, existing.drop("cluster_id", "match_probability", strict=False)], how="diagonal_relaxed"
            )
        found.clusters.join(records, on="record_id", how="left").write_parquet(out)
    else:
        found.clusters.write_csv(out)
    if model_path is not None and model is None:
        model_path.parent.mkdir(parents=True, exist_ok=True)
        model_path.write_text(found.result.model.to_json(), "utf-8")
        console.print(f"trained a model and wrote it to [bold]{model_path}[/]")
    groups = found.clusters["cluster_id"].n_unique()
    review = found.result.review.height
    console.print(f"{found.clusters.height:,} records → {groups:,} people ({review:,} possible matches to review)")
    console.print(f"wrote [bold]{out}[/]")


@app.command()
def version() -> None:
    """Print crmkit's version."""
    from importlib.metadata import version as dist_version

    console.print(f"crmkit {dist_version('crmkit')}")


def _quiet_prefect(debug: bool) -> None:
    """Without ``--debug``, Prefect says nothing (a failed run is one message of ours, not two tracebacks);
    with it, Prefect's logs and the run's own debug lines, tracebacks included."""
    if debug:
        logging.getLogger("pipelines").setLevel(logging.DEBUG)
    else:
        logging.getLogger("prefect").setLevel(logging.CRITICAL + 1)


@contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM interrupts the run like Ctrl-C: it is recorded as failed, its lock released, Prefect's server
    stopped (the default SIGTERM would end the process at once, leaving the run ``running``)."""

    def interrupt(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run(
    config: Path, *, dry_run: bool, debug: bool, full_refresh: bool = False, workers: int | None = None
) -> MigrateResult:
    from pipelines._prefect import launch_server, wait_until_ready
    from pipelines.progress import StepDisplay, listening, starting

    server = launch_server()  # returns at once: the flow and the report's libraries load while the server starts
    # the interpreter's last garbage collection would walk every object Prefect, polars & co. made (1-2 s) just
    # before the process ends anyway: frozen objects are skipped
    atexit.register(gc.freeze)
    what = "Starting Prefect (temporary server)…" if server.temporary else f"Using the Prefect server at {server.url}…"
    with starting(console, what):
        from crm_store import RunLockedError
        from pipelines._logging import install_redaction
        from pipelines.migrate import migrate, warm_up

        _quiet_prefect(debug)
        warm_up(config)
        seconds = wait_until_ready(server)
        install_redaction()  # after Prefect set up its handlers; records of later handlers are redacted too
    if server.temporary:
        console.print(f"Prefect ready in {seconds:.1f}s (a temporary server; set PREFECT_API_URL to use a running one)")
    display = StepDisplay(console, STEPS, skipped={"load": "dry run: skipped"} if dry_run else None)
    try:
        with _sigterm_interrupts(), display, listening(display):
            return migrate(config, dry_run=dry_run, full_refresh=full_refresh, workers=workers)
    except RunLockedError as exc:
        raise _fail(str(exc)) from None
    except KeyboardInterrupt:
        raise _fail("interrupted: the run is recorded as failed and the store's lock released", INTERRUPTED) from None
    except KNOWN_ERRORS as exc:
        if debug:
            raise
        raise _fail(f"the run failed: {exc}{_retry_hint(exc)}") from None
    except Exception as exc:  # not an error crmkit raises on purpose: a bug, whose traceback --debug shows
        if debug:
            raise
        raise _fail(
            f"the run failed on an unexpected error (please report it): {type(exc).__name__}: {exc} "
            "(run again with --debug for the traceback)"
        ) from None


def _summary(result: MigrateResult) -> None:
    table = Table(title=f"Run {result.run_id}{' (dry run)' if result.dry_run else ''}", title_justify="left")
    for name in ("source", "read", "loaded", "quarantined", "skipped", "balanced"):
        table.add_column(name, justify="left" if name == "source" else "right")
    for row in result.ledger:
        balanced = "[green]yes[/]" if row["balanced"] else "[red]NO[/]"
        if row.get("error"):
            balanced += " [red](source failed)[/]"
        table.add_row(row["source"], *(f"{row[k]:,}" for k in ("read", "loaded", "quarantined", "skipped")), balanced)
    t = result.totals
    table.add_section()
    table.add_row(
        "total",
        *(f"{t[k]:,}" for k in ("read", "loaded", "quarantined", "skipped")),
        "[green]yes[/]" if t["balanced"] else "[red]NO[/]",
    )
    console.print(table)
    for row in result.ledger:
        if row.get("error"):
            console.print(f"[red]source {row['source']} failed:[/] {row['error']}")
    _print_match_summary(result.matching)
    colour = {"succeeded": "green", "partial": "yellow"}.get(result.status, "red")
    console.print(
        f"{t.get('customers', 0):,} golden customers · status [bold {colour}]{result.status}[/] · "
        f"{sum(x['seconds'] for x in result.timings):.1f}s in steps"
    )
    console.print(f"Report: [bold]{result.report_path or 'not written'}[/]")
    if result.error:
        what = "partial" if result.status == "partial" else "failed"
        err.print(f"[bold {colour}]crmkit:[/] run {result.run_id} {what}: {result.error}")


def main() -> None:  # pragma: no cover - console entry point
    """Console entry point."""
    sys.exit(app())

"""``crmkit report kpi|regions|segments CONFIG``: the analytics package's reports of a project's store, as a table
on the terminal or a file (XLSX, CSV or one self-contained HTML page).

``pipelines.cli`` adds these commands to ``crmkit``. The numbers are the ``analytics`` package's (read through
``crm_store``'s readers, read-only, as ``--as USER`` sees the store); this module only picks, joins and shows
them. A report is a list of tables (:class:`Report`); the first is the one the terminal shows. Files are written as
``crmkit export`` writes them: formula-safe CSV and XLSX (a text cell starting with ``= + - @`` gets a leading
``'``), complete or not at all, readable by their owner only. The HTML page is the quality report's style and
charts (inline SVG from matplotlib; no script, no network). Heavy imports stay inside the commands.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pipelines.cli_users import AsOption

if TYPE_CHECKING:
    import polars as pl

    from analytics import Analytics

__all__ = [
    "REPORT_FORMATS",
    "Report",
    "ReportTable",
    "kpi_report",
    "region_report",
    "report_app",
    "segment_report",
    "write_report",
]

report_app = typer.Typer(
    help="Analytics reports of the store: KPIs by month, customers and activity by region, customer segments.",
    no_args_is_help=True,
)
console = Console(stderr=False, highlight=False)
err = Console(stderr=True, highlight=False)

ReportFormat = Literal["xlsx", "csv", "html"]
#: The format an output file's suffix stands for.
REPORT_FORMATS: Final[dict[str, ReportFormat]] = {".xlsx": "xlsx", ".csv": "csv", ".html": "html", ".htm": "html"}
#: Rows the terminal shows of a table (a file holds them all).
SHOWN: Final = 40
#: Customers the HTML page lists (the XLSX and CSV files hold them all).
HTML_ROWS: Final = 200

ConfigArg = Annotated[Path, typer.Argument(help="The YAML project file.", show_default=False)]
OutOption = Annotated[
    Path | None,
    typer.Option(
        "--out",
        help="Write the report to this file: .xlsx (one sheet per table), .csv (the main table; any other beside "
        "it as FILE-<table>.csv) or .html (one page with charts, opens offline). Default: print it.",
        show_default=False,
    ),
]
RulesOption = Annotated[
    Path | None,
    typer.Option(
        "--rules",
        help="An analytics rule file (code tables, classifications, churn thresholds; see analytics/defaults.yaml).",
        show_default=False,
    ),
]
AsOfOption = Annotated[
    str | None,
    typer.Option("--as-of", help="The day the report describes, YYYY-MM-DD (default: today).", show_default=False),
]


def _fail(message: str, code: int = 1) -> typer.Exit:
    from rules.mask import redact_secrets

    err.print(f"[bold red]crmkit:[/] {escape(redact_secrets(message) or '')}")
    return typer.Exit(code)


# ----------------------------------------------------------------------------------------------------- reports


@dataclass
class ReportTable:
    """One table of a report: its name (a sheet, a CSV file), a title and the frame."""

    name: str
    title: str
    frame: pl.DataFrame
    note: str = ""


@dataclass
class Report:
    """What a report shows: tables (the first is the main one) and notes in words (the HTML page draws its charts)."""

    kind: str
    title: str
    subtitle: str
    tables: list[ReportTable]
    notes: list[str] = field(default_factory=list)


def _month_start(day: dt.date, months_back: int) -> dt.date:
    index = day.year * 12 + day.month - 1 - months_back
    return dt.date(index // 12, index % 12 + 1, 1)


def _period_start(day: dt.date, period: str) -> dt.date:
    if period == "year":
        return dt.date(day.year, 1, 1)
    if period == "quarter":
        return dt.date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
    return dt.date(day.year, day.month, 1)


def kpi_report(a: Analytics, *, months: int = 12, period: Literal["month", "quarter", "year"] = "month") -> Report:
    """Per period of the last ``months`` months up to ``a.as_of``: active, new and cumulative customers, activities,
    and the conversion of each cohort (the period of a customer's first activity); retention by cohort beside it."""
    import polars as pl

    start = _period_start(_month_start(a.as_of, months - 1), period)
    end = a.as_of
    kpis = a.kpis(period)
    conversion = kpis["conversion"]
    cohorts = conversion.filter(pl.col("cohort").is_not_null()).rename({"cohort": "period"})
    main = (
        kpis["active_customers"]
        .join(kpis["new_customers"], on="period", how="full", coalesce=True)
        .join(cohorts, on="period", how="left")
        .with_columns(pl.col("active_customers", "activities", "new_customers").fill_null(0))
        .filter(pl.col("period").is_between(start, end))
        .sort("period")
        .select(
            "period",
            "active_customers",
            "activities",
            "new_customers",
            "cumulative_customers",
            "leads",
            "converted",
            "conversion_rate",
            "median_days_to_convert",
        )
    )
    retention = kpis["retention"].filter(pl.col("cohort").is_between(start, end))
    notes = [f"{period.capitalize()}s from {start.isoformat()} to {end.isoformat()} ({months} months up to the day)."]
    events = a.events()
    if events.is_empty():
        notes.append("The store holds no activities: KPIs need activity sources (follow-ups, orders).")
    else:
        leads = int(conversion["leads"].sum())
        converted = int(conversion["converted"].sum())
        share = f" ({converted / leads:.1%})" if leads else ""
        notes.append(
            f"{events.height:,} activities of {events['customer_id'].n_unique():,} customers in the store; "
            f"conversion over all cohorts: {converted:,} of {leads:,} leads{share}."
        )
    return Report(
        "kpi",
        "KPIs",
        "Active customers: at least one activity in the period; new: first activity in it; conversion: leads of "
        "the cohort that became customers (stage customer, or an order or contract).",
        [
            ReportTable(period, f"KPIs by {period}", main),
            ReportTable(
                "retention",
                "Retention by cohort",
                retention,
                "Share of each cohort (customers whose first activity fell in that period) active k periods on.",
            ),
        ],
        notes,
    )


def _unit(text: str, level: str) -> tuple[str, str]:
    """(level, code) of a province or city named by ``--province``/``--city``; a unit of the other level fails."""
    from analytics import resolve_region

    found, code = resolve_region(text)
    if found != level:
        raise ValueError(
            f"{text!r} is a {found}, not a {level} (use --{found})"
            if found != "district"
            else f"{text!r} is a district: give its city with --city and use --level district"
        )
    return found, code


def region_report(
    a: Analytics,
    *,
    level: Literal["province", "city", "district"] = "province",
    province: str | None = None,
    city: str | None = None,
) -> Report:
    """Customers, active customers, activities and amounts per province, city or district, with GB/T 2260 codes,
    optionally inside one province or city (``--city 聊城 --level district``: the Liaocheng drill-down).

    Raises:
        ValueError: a province or city that is not one, a city outside the province, a level above the scope.
    """
    import polars as pl

    within, scope = None, "China and abroad"
    order = {"province": 0, "city": 1, "district": 2}
    if province is not None:
        _, within = _unit(province, "province")
        scope = province
    if city is not None:
        _, code = _unit(city, "city")
        if within is not None and code[:2] != within[:2]:
            raise ValueError(f"{city!r} is not in {province!r}")
        within, scope = code, city
    inner = "city" if city is not None else "province" if province is not None else None
    if inner is not None and order[level] <= order[inner]:
        below = [name for name, rank in order.items() if rank > order[inner]]
        raise ValueError(f"--level {level} is not below the {inner} {scope}: use --level {' or '.join(below)}")
    keys = {"province": 2, "city": 4, "district": 6}[level]
    customers = a.regions(level, within=within)
    columns = customers.columns[:keys]
    activity = a.activity_by_region(level, within=within).select(*columns, "active_customers", "activities", "amount")
    main = customers.join(activity, on=columns, how="left", nulls_equal=True, maintain_order="left").with_columns(
        pl.col("active_customers", "activities").fill_null(0)
    )
    if inner is not None and within is not None:  # the unit's own name and code, whatever was typed
        names = main[inner].drop_nulls()
        scope = f"{names[0] if names.len() else scope} ({within})"
    placed = main.filter(pl.col(columns[-1]).is_not_null())
    unknown = int(main.filter(pl.col(columns[-1]).is_null())["customers"].sum())
    notes = [
        f"{int(main['customers'].sum()):,} customers in {scope}; {placed.height:,} {level} units; "
        f"{unknown:,} customers without a known {level}."
    ]
    return Report(
        "regions",
        f"Customers by {level}",
        "Regions from the golden record, the customer's addresses or a landline's area code, with GB/T 2260 codes "
        "(analytics.dimensions); share: of the customers in scope.",
        [ReportTable(level, f"Customers and activity by {level} — {scope}", main)],
        notes,
    )


#: Columns of the customer list of the segments report, when the frame has them (custom fields come after).
_CUSTOMER_COLUMNS: Final = (
    "customer_id",
    "full_name",
    "company",
    "owner",
    "province",
    "city",
    "segment",
    "stage",
)
_METRIC_COLUMNS: Final = (
    "activities",
    "frequency_12m",
    "monetary_12m",
    "last_contact",
    "recency_days",
    "r_score",
    "f_score",
    "m_score",
    "rfm",
)


def segment_report(a: Analytics, *, by: Sequence[str] = ()) -> Report:
    """Customers per class of each classification of the rules (``value_class``, ``rfm_segment`` …; ``by``: these
    columns instead, e.g. a custom field), with their value and activity; the customer list beside it.

    Raises:
        ValueError: ``by`` names a column the segments do not have (the message lists those that can be used).
    """
    import polars as pl

    segments = a.segments()
    risk = a.churn_risk().select("customer_id", "churn_risk", "churn_reason")
    segments = segments.join(risk, on="customer_id", how="left", maintain_order="left")
    classes = [name for name in a.rules.classifications if name in segments.columns]
    fields = [f.name for f in a.fields]
    groupable = sorted(
        c
        for c, t in segments.schema.items()
        if (t == pl.String or isinstance(t, pl.Enum) or t == pl.Boolean)
        and c
        not in (
            "customer_id",
            "full_name",
            "company",
            "churn_reason",
            "rfm",
            "name_pinyin",
            "family_name",
            "given_name",
            "primary_phone",
            "primary_email",
            "landline",
            "content_hash",
            "merged_into",
        )
    )
    chosen = list(by) or classes
    unknown = [c for c in chosen if c not in groupable]
    if unknown:
        raise ValueError(f"cannot group by {', '.join(map(repr, unknown))}; columns: {', '.join(groupable)}")
    total = segments.height
    has_amounts = segments["monetary_12m"].null_count() < total if total else False
    parts = []
    for name in chosen:
        parts.append(
            segments.group_by(name)
            .agg(
                pl.len().cast(pl.Int64).alias("customers"),
                pl.col("monetary_12m").sum().alias("revenue_12m")
                if has_amounts
                else pl.lit(None, pl.Float64).alias("revenue_12m"),
                pl.col("frequency_12m").sum().cast(pl.Int64).alias("activities_12m"),
                pl.col("recency_days").median().alias("median_recency_days"),
                (pl.col("churn_risk") == "high").sum().cast(pl.Int64).alias("high_churn_risk"),
            )
            .with_columns((pl.col("customers") / max(total, 1)).alias("share"))
            .sort(pl.col(name).is_null(), "customers", descending=[False, True])
            .select(
                pl.lit(name).alias("grouped_by"),
                pl.col(name).cast(pl.String).alias("class"),
                "customers",
                "share",
                "revenue_12m",
                "activities_12m",
                "median_recency_days",
                "high_churn_risk",
            )
        )
    summary = pl.concat(parts) if parts else pl.DataFrame()
    shown = [c for c in (*_CUSTOMER_COLUMNS, *fields, *classes, *_METRIC_COLUMNS) if c in segments.columns]
    listed = segments.select(*dict.fromkeys([*shown, *chosen]), "churn_risk", "churn_reason").sort(
        "monetary_12m" if has_amounts else "activities", "customer_id", descending=[True, False], nulls_last=True
    )
    notes = [
        f"{total:,} customers, classified by the rules' {', '.join(classes) or 'classifications'} "
        f"(first matching rule wins); churn risk as analytics.churn_risk defines it, as of {a.as_of.isoformat()}."
    ]
    if not has_amounts:
        notes.append("No activity carries an amount: revenue is empty and RFM is recency and frequency only.")
    return Report(
        "segments",
        "Customer segments",
        "Per class: customers, their revenue and activities in the last 12 months, median days since the last "
        "contact, customers at high churn risk.",
        [
            ReportTable("segments", "Customers per class", summary),
            ReportTable("customers", "Customers", listed, "Most valuable first; every customer the report covers."),
        ],
        notes,
    )


# ------------------------------------------------------------------------------------------------- showing it


def _cell(value: Any, column: str) -> str:
    """A value as the terminal and the HTML page show it."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if column in ("share", "retention", "conversion_rate"):
            return f"{value:.1%}"
        return f"{value:,.0f}" if abs(value) >= 100 or value.is_integer() else f"{value:,.2f}"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _css(dtype: pl.DataType) -> str:
    """The class of a column's cells on the HTML page: numbers right-aligned, dates unbroken."""
    if dtype.is_numeric():
        return "n"
    return "nowrap" if dtype.is_temporal() else ""


def print_report(report: Report) -> None:
    """The main table on the terminal (the first ``SHOWN`` rows), the notes under it."""
    table = report.tables[0]
    frame = table.frame
    out = Table(title=escape(table.title), title_justify="left", show_lines=False)
    numeric = {c for c, t in frame.schema.items() if t.is_numeric()}
    for column in frame.columns:
        out.add_column(escape(column), justify="right" if column in numeric else "left", overflow="fold")
    for row in frame.head(SHOWN).iter_rows():
        out.add_row(*(escape(_cell(v, c)) for v, c in zip(row, frame.columns, strict=True)))
    shown = console if console.is_terminal else Console(highlight=False, width=200)  # a pipe gets whole lines
    shown.print(out)
    if frame.height > SHOWN:
        shown.print(f"[dim]showing {SHOWN} of {frame.height:,} rows: --out FILE for all of them[/]")
    for note in report.notes:
        shown.print(escape(note))
    others = [t.name for t in report.tables[1:]]
    if others:
        shown.print(f"[dim]also in the report ({', '.join(others)}): --out FILE.xlsx or .html[/]")


def _charts(report: Report) -> list[str]:
    """The report's charts as inline SVG, drawn as the quality report draws its own."""
    main = report.tables[0].frame
    if main.is_empty():
        return []
    if report.kind == "regions":
        names = main.columns[main.columns.index("customers") - 1]
        rows = main.filter(main[names].is_not_null()).head(20)
        return [_hbar("regions", "Customers per region", rows[names].to_list(), rows["customers"].to_list())]
    if report.kind == "segments":
        out = []
        for i, (grouped, part) in enumerate(main.group_by("grouped_by", maintain_order=True)):
            labels = ["(none)" if c is None else str(c) for c in part["class"]]
            out.append(_hbar(f"segments-{i}", f"Customers per {grouped[0]}", labels, part["customers"].to_list()))
        return out
    return [_kpi_bars(main)]


def _hbar(name: str, title: str, labels: list[Any], counts: list[int]) -> str:
    from pipelines import _charts as charts

    labels = [str(v) for v in labels][::-1]
    counts = [int(v) for v in counts][::-1]

    def draw(fig: Any) -> None:
        ax = fig.add_subplot()
        charts._bars(ax, [0] * len(counts), counts, range(len(counts)), 0.62, charts.BLUE, horizontal=True)
        top = max(counts) or 1
        for y, n in enumerate(counts):
            ax.text(n + top * 0.01, y, f"{n:,}", va="center", fontsize=7.5, color=charts.INK)
        charts._labels(ax, "y", range(len(labels)), labels, 8.5)
        ax.set_xlim(0, top * 1.12)
        ax.set_ylim(-0.6, len(counts) - 0.4)
        ax.set_xlabel("customers")
        ax.set_title(title)
        ax.spines["left"].set_visible(False)
        ax.xaxis.set_major_locator(charts._integer_locator(6))

    margins = (max(charts._text_width(t, 8.5) for t in labels) + 0.15, 0.15, 0.45, 0.35)
    return charts._render(name, title, (charts.WIDTH, 1.0 + 0.22 * len(labels)), margins, draw)


def _kpi_bars(main: pl.DataFrame) -> str:
    from pipelines import _charts as charts

    periods = [p.isoformat()[:7] for p in main["period"].to_list()]
    active = [int(v) for v in main["active_customers"].to_list()]
    new = [int(v) for v in main["new_customers"].to_list()]

    def draw(fig: Any) -> None:
        ax = fig.add_subplot()
        x = list(range(len(periods)))
        charts._bars(ax, [0] * len(x), active, x, 0.66, charts.BLUE, horizontal=False)
        ax.plot(x, new, color=charts.AMBER, marker="o", markersize=3, linewidth=1.2, label="new customers")
        ax.set_xlim(-0.6, len(x) - 0.4)
        ax.set_ylim(0, max([*active, *new, 1]) * 1.15)
        charts._labels(ax, "x", x, periods, 7.5, rotation=45 if len(x) > 8 else 0)
        ax.yaxis.set_major_locator(charts._integer_locator(5))
        ax.set_title("active customers (bars) and new customers (line)", fontweight="normal", color=charts.MUTED)

    return charts._render(
        "kpi", "Active and new customers per period", (charts.WIDTH, 2.6), (0.5, 0.15, 0.6, 0.3), draw
    )


def render_html(report: Report, *, project: str, generated: str) -> str:
    """The report as one self-contained HTML page (the quality report's style, charts as inline SVG)."""
    from markupsafe import Markup

    from pipelines.report import _environment

    tables = []
    for t in report.tables:
        frame = t.frame.head(HTML_ROWS)
        css = [_css(ty) for ty in frame.dtypes]
        rows = [
            [(_cell(v, c), k) for v, c, k in zip(row, frame.columns, css, strict=True)] for row in frame.iter_rows()
        ]
        cut = f"showing {HTML_ROWS:,} of {t.frame.height:,} rows" if t.frame.height > HTML_ROWS else ""
        tables.append(
            {
                "id": f"t-{t.name}",
                "title": t.title,
                "note": t.note,
                "cut": cut,
                "rows": rows,
                "columns": [{"name": c, "css": k} for c, k in zip(frame.columns, css, strict=True)],
            }
        )
    page = _environment().get_template("analytics.html")
    return page.render(
        r=report, tables=tables, charts=[Markup(svg) for svg in _charts(report)], project=project, generated=generated
    )


def _suffix(out: Path) -> ReportFormat:
    found = REPORT_FORMATS.get(out.suffix.lower())
    if found is None:
        raise ValueError(f"cannot tell the format of {out.name}: end it in .xlsx, .csv or .html")
    return found


def write_report(report: Report, out: Path, *, project: str, generated: str) -> list[Path]:
    """Write ``report`` to ``out`` (its suffix says the format) and return the files written.

    XLSX: one sheet per table. CSV: the main table in ``out``, each other one beside it as ``<stem>-<table>.csv``.
    HTML: one page. Every file appears only when complete and is readable by its owner only (0600).

    Raises:
        ValueError: a suffix that names no format.
        OSError: the file cannot be written.
    """
    from pipelines._files import private_file, write_private_text
    from pipelines.export import write_table

    fmt = _suffix(out)
    if fmt == "csv":
        written = [write_table(report.tables[0].frame, out, "csv").path]
        for t in report.tables[1:]:
            written.append(write_table(t.frame, out.with_name(f"{out.stem}-{t.name}.csv"), "csv").path)
        return written
    if fmt == "html":
        write_private_text(out, render_html(report, project=project, generated=generated))
        return [out]
    partial = out.with_name(f".{out.name}.partial")
    private_file(partial)
    try:
        _write_sheets(report, partial)
        private_file(partial)
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    return [out]


def _write_sheets(report: Report, path: Path) -> None:
    """One formula-safe sheet per table (``crmkit export``'s cells: text through ``safe_cell``, never a formula)."""
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    from pipelines.export import _spreadsheet_cells, safe_cell

    book = Workbook(write_only=True)
    for t in report.tables:
        ws = book.create_sheet(t.name[:31])
        ws.freeze_panes = "A2"
        if t.frame.width:
            ws.auto_filter.ref = f"A1:{get_column_letter(t.frame.width)}{t.frame.height + 1}"
        ws.append([safe_cell(str(c)) for c in t.frame.columns])
        for row in _spreadsheet_cells(t.frame):
            ws.append(row)
    book.save(path)


# ------------------------------------------------------------------------------------------------- commands


def _as_of(text: str | None) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise _fail(f"--as-of {text!r}: not a date (YYYY-MM-DD)", 2) from None


def _run(
    config: Path,
    out: Path | None,
    rules: Path | None,
    as_of: str | None,
    as_user: str | None,
    build: Any,
    *,
    masked: bool = False,
) -> None:
    """Open the store read-only, compute the report, then print it or write it."""
    import analytics
    from pipelines.cli import _store_session
    from pipelines.cli_users import principal_of

    day = _as_of(as_of)
    if out is not None:
        try:
            _suffix(out)
        except ValueError as exc:
            raise _fail(str(exc), 2) from None
    try:
        chosen = analytics.load_rules(rules)
    except (analytics.RulesError, OSError) as exc:
        raise _fail(f"--rules {rules}: {exc}", 2) from None
    with _store_session(config) as (settings, session):
        principal = principal_of(session, settings, as_user)
        a = analytics.read(session, principal=principal, rules=chosen, as_of=day, custom_fields=settings.custom_fields)
        masked = masked or (principal is not None and principal.masks_pii)
    try:
        report = build(a)
    except ValueError as exc:
        raise _fail(str(exc), 2) from None
    if masked:
        report = _masked(report)
    if out is None:
        print_report(report)
        return
    generated = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    try:
        files = write_report(report, out, project=settings.project, generated=generated)
    except OSError as exc:
        raise _fail(f"cannot write {out}: {exc}") from None
    if report.kind == "segments":  # a list of customers leaves the store: recorded like an export
        from pipelines.cli_audit import audit_export

        rows = report.tables[-1].frame.height
        for file in files:
            audit_export(settings.store_url, file, kind="report segments", fmt=_suffix(file), rows=rows, masked=masked)
    what = " (masked)" if masked else ""
    console.print(f"Wrote the {report.kind} report{what} to " + ", ".join(f"[bold]{escape(str(f))}[/]" for f in files))


def _masked(report: Report) -> Report:
    """Names and companies masked as the quality report masks names (``刘*``); free text's phones and e-mails."""
    import polars as pl

    from pipelines.export import mask_columns
    from rules.mask import mask_name

    kinds = {"full_name": "full_name", "company": "full_name", "owner": "full_name", "churn_reason": None}
    for t in report.tables:
        t.frame = mask_columns(t.frame, kinds)
        if {"grouped_by", "class"} <= set(t.frame.columns):  # a summary by owner or company names them per row
            named = pl.col("grouped_by").is_in(["full_name", "company", "owner"])
            masked = pl.col("class").map_elements(mask_name, return_dtype=pl.String)
            t.frame = t.frame.with_columns(pl.when(named).then(masked).otherwise(pl.col("class")).alias("class"))
    return report


@report_app.command("kpi")
def report_kpi(
    config: ConfigArg,
    out: OutOption = None,
    months: Annotated[int, typer.Option("--months", min=1, max=600, help="Periods of the last N months.")] = 12,
    period: Annotated[str, typer.Option("--period", help="month, quarter or year.", show_default=True)] = "month",
    rules: RulesOption = None,
    as_of: AsOfOption = None,
    as_user: AsOption = None,
) -> None:
    """KPIs per month (quarter, year): active, new and cumulative customers, activities, conversion of each cohort
    from lead to customer; retention by cohort beside it (in a file)."""
    if period not in ("month", "quarter", "year"):
        raise _fail(f"--period {period!r}: use month, quarter or year", 2)
    _run(config, out, rules, as_of, as_user, lambda a: kpi_report(a, months=months, period=period))  # type: ignore[arg-type]


@report_app.command("regions")
def report_regions(
    config: ConfigArg,
    out: OutOption = None,
    level: Annotated[str, typer.Option("--level", help="province, city or district.")] = "province",
    province: Annotated[
        str | None,
        typer.Option("--province", help="Only this province (山东省, Shandong or 370000).", show_default=False),
    ] = None,
    city: Annotated[
        str | None, typer.Option("--city", help="Only this city (聊城, Liaocheng or 371500).", show_default=False)
    ] = None,
    rules: RulesOption = None,
    as_of: AsOfOption = None,
    as_user: AsOption = None,
) -> None:
    """Customers, active customers, activities and amounts per province, city or district, with GB/T 2260 codes
    and shares (--city 聊城 --level district: 聊城's districts)."""
    if level not in ("province", "city", "district"):
        raise _fail(f"--level {level!r}: use province, city or district", 2)
    _run(
        config,
        out,
        rules,
        as_of,
        as_user,
        lambda a: region_report(a, level=level, province=province, city=city),  # type: ignore[arg-type]
    )


@report_app.command("segments")
def report_segments(
    config: ConfigArg,
    out: OutOption = None,
    by: Annotated[
        list[str] | None,
        typer.Option(
            "--by",
            help="Group by this column instead of every classification (value_class, rfm_segment, segment, a custom "
            "field …); repeat for several.",
            show_default=False,
        ),
    ] = None,
    masked: Annotated[bool, typer.Option("--masked", help="Mask names and companies (刘*) for sharing.")] = False,
    rules: RulesOption = None,
    as_of: AsOfOption = None,
    as_user: AsOption = None,
) -> None:
    """Customers per class of each classification of the rules (value, RFM …) with revenue, activity and churn
    risk; the customer list beside it (in a file: unmasked unless --masked, and recorded in the audit trail)."""
    _run(config, out, rules, as_of, as_user, lambda a: segment_report(a, by=by or ()), masked=masked)

"""The quality report: ``reports/<run_id>/report.json`` and a self-contained ``report.html`` beside it.

The report is built as an already-masked dictionary (:func:`build_report`) and laid out from it alone, so
``report.json`` is enough to redraw the page. The HTML has no external CSS, JS, fonts or images: its charts are inline
SVG drawn at build time (``pipelines._charts``), it opens offline, needs no JavaScript and prints with the run id and
page numbers on every page. ``reports/latest/`` holds a copy of the newest run's files and ``reports/index.html``
lists every run with what changed since the run before (``pipelines._run_index``). Every text of the report passes
through ``rules.mask.redact_secrets`` on its way out (no URL password or token, whichever route it came by), and the
files are private: ``0600``, their folders created ``0700``.
"""

from __future__ import annotations

import functools
import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

import polars as pl
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from crm_store.schema import ISSUES_COL, LINEAGE_COLS, SKIP_REASON_COL, SOURCE_COL, SOURCE_KEY_COL
from pipelines import _run_index
from pipelines._charts import report_charts
from pipelines._files import copy_private_tree, private_dir, write_private_text
from pipelines.ledger import LedgerRow, LedgerTotals, ledger_totals, read_this_run
from pipelines.stages import Extracted, Golden, Stage, Validated
from rules.mask import mask_email, mask_name, mask_phone, mask_text, mask_value, redact_secrets
from rules.match import explain
from rules.normalise import person_name_in_company
from rules.reasons import describe
from rules.validate import RuleResult

if TYPE_CHECKING:
    from rules.match import MatchSettings

__all__ = [
    "build_report",
    "build_stopped_report",
    "mask_companies",
    "redact_report",
    "render_html",
    "render_index",
    "write_index",
    "write_report",
]

#: How many masked samples a report shows per quarantine reason, and how many example clusters.
SAMPLES_PER_REASON = 5
EXAMPLE_CLUSTERS = 5


class ReportTotals(LedgerTotals):
    """The ledger's totals, and the golden customers and activities the run's rows became."""

    customers: int
    activities: int


class SchemaRow(TypedDict):
    """A source's columns as read, and how they changed since its last successful run (see :func:`_schema`)."""

    source: str
    columns: list[str]
    compared: bool
    baseline: bool
    new: list[str]
    missing: list[str]
    renamed: list[list[str]]
    mapped_missing: list[str]
    unmapped: list[str]


class FunnelRow(TypedDict):
    """Where a source's rows went, each counted once: ``read = skipped + unparseable + failed_rules + loaded``."""

    source: str
    read: int
    skipped: int
    unparseable: int
    failed_rules: int
    loaded: int
    customers: int


class FieldRow(TypedDict):
    """The quality of one field over the candidate rows (see :func:`_field_quality`)."""

    field: str
    present: int
    valid: int
    derived: int
    completeness: float | None
    validity: float | None
    issues: dict[str, int]


class RuleRow(TypedDict):
    """One validation rule's outcome over the whole frame."""

    rule: str
    check: str
    column: str | None
    severity: str
    success: bool
    element_count: int
    unexpected_count: int


class QuarantineSample(TypedDict):
    """A quarantined row as the report shows it: its value and message masked."""

    source: str
    source_key: str
    column: str | None
    value_masked: str
    message: str


class QuarantineRow(TypedDict):
    """The rows quarantined for one reason, with a few masked samples."""

    reason: str
    description: str
    count: int
    samples: list[QuarantineSample]


class SkippedRow(TypedDict):
    """The rows skipped for one reason."""

    reason: str
    count: int
    description: str


def build_report(
    *,
    run: dict[str, Any],
    ledger: list[LedgerRow],
    stage: Stage,
    normalised: pl.DataFrame,
    validated: Validated,
    golden: Golden,
    crosswalk: pl.DataFrame,
    extracted: list[Extracted],
    activities: pl.DataFrame,
    mappings: dict[str, dict[str, str]],
    match_settings: MatchSettings | None = None,
) -> dict[str, Any]:
    """Aggregate a run into the report dictionary. Every personal value in it is masked.

    Args:
        run: run metadata (id, project, times, status, config hash, versions, timings).
        ledger: the run's ledger rows (``pipelines.ledger.build_ledger``).
        stage: mapped rows split into candidates, skipped and broken.
        normalised: the candidate rows after normalising.
        validated: validation outcome (records, quarantined rows, failures, rule results).
        golden: clusters and golden records.
        crosswalk: the store's crosswalk rows of this run (source, source_key, customer_id, match_probability).
        extracted: what each source gave (columns read, schema drift).
        activities: child rows linked to customers.
        mappings: each source's column mapping (to list the columns kept in ``attributes``).
        match_settings: the run's matching settings (its merge and review thresholds, drawn on the charts).
    """
    totals: ReportTotals = {
        **ledger_totals(ledger),
        "customers": golden.customers.height,
        "activities": activities.height,
    }
    thresholds = (
        {"threshold": match_settings.threshold, "review_threshold": match_settings.review_threshold}
        if match_settings is not None
        else {}
    )
    return {
        "schema": _schema(extracted, mappings),
        "run": run,
        "ledger": ledger,
        "totals": totals,
        "funnel": _funnel(ledger, stage, golden),
        "fields": _field_quality(stage.candidates, normalised),
        "completeness": _completeness(stage.candidates, mappings),
        "rules": [_rule_row(r) for r in validated.rule_results],
        "quarantine": _quarantine(validated.failures, stage.candidates),
        "skipped": _skipped(stage.skipped),
        "clusters": _clusters(golden.records, crosswalk),
        "matching": _matching(golden, thresholds),
    }


def build_stopped_report(
    *,
    run: dict[str, Any],
    ledger: list[LedgerRow],
    extracted: list[Extracted] | None,
    mappings: dict[str, dict[str, str]],
) -> dict[str, Any]:
    """The report of a run that stopped before its rows were placed: the run and its error (in ``run``), the ledger
    of what was read and the columns each source had; the sections about placed rows are empty.

    Args:
        run: run metadata, with ``status`` and ``error``.
        ledger: what each source read (``pipelines.ledger.unplaced_ledger``).
        extracted: what each source gave, when the run got that far.
        mappings: each source's column mapping.
    """
    totals: ReportTotals = {**ledger_totals(ledger), "customers": 0, "activities": 0}
    return {
        "schema": _schema(extracted or [], mappings),
        "run": run,
        "ledger": ledger,
        "totals": totals,
        "funnel": [],
        "fields": [],
        "completeness": {},
        "rules": [],
        "quarantine": [],
        "skipped": [],
        "clusters": _clusters(pl.DataFrame(), pl.DataFrame()),
        "matching": {},
    }


def _schema(extracted: list[Extracted], mappings: dict[str, dict[str, str]]) -> list[SchemaRow]:
    """Per source: columns read, drift against the last successful run, columns kept in ``attributes``.

    ``compared`` is false when the columns were not compared (a dry run never opens the store; a source that read
    nothing); ``baseline`` is false also on a source's first run, when there was nothing to compare with."""
    rows: list[SchemaRow] = []
    for item in extracted:
        drift = item.drift
        rows.append(
            {
                "source": item.source,
                "columns": item.columns,
                "compared": drift is not None,
                "baseline": drift is not None and drift.baseline,
                "new": drift.new if drift else [],
                "missing": drift.missing if drift else [],
                "renamed": [list(pair) for pair in drift.renamed] if drift else [],
                "mapped_missing": drift.mapped_missing if drift else [],
                "unmapped": [c for c in item.columns if c not in mappings.get(item.source, {})],
            }
        )
    return rows


def _funnel(ledger: list[LedgerRow], stage: Stage, golden: Golden) -> list[FunnelRow]:
    """Per source, the rows read and where they went, each row counted once at the step that stopped it:
    ``read = skipped + unparseable + failed_rules + loaded``; ``customers`` is the number of golden customers its
    loaded rows belong to. A quarantined row that carries several reasons is still one row here."""
    keys = [SOURCE_COL, SOURCE_KEY_COL]
    broken = _count_by_source(stage.broken.select(keys).unique() if stage.broken.height else stage.broken)
    records = read_this_run(golden.records)
    customers = (
        dict(records.group_by(SOURCE_COL).agg(pl.col("customer_id").n_unique()).iter_rows()) if records.height else {}
    )
    funnel: list[FunnelRow] = []
    for row in ledger:
        source = row["source"]
        unparseable = min(broken.get(source, 0), row["quarantined"])
        funnel.append(
            {
                "source": source,
                "read": row["read"],
                "skipped": row["skipped"],
                "unparseable": unparseable,
                "failed_rules": row["quarantined"] - unparseable,
                "loaded": row["loaded"],
                "customers": int(customers.get(source, 0)),
            }
        )
    return funnel


def _count_by_source(frame: pl.DataFrame) -> dict[str, int]:
    if not frame.height or SOURCE_COL not in frame.columns:
        return {}
    return {str(s): int(n) for s, n in frame.group_by(SOURCE_COL).len().iter_rows()}


def _completeness(mapped: pl.DataFrame, mappings: dict[str, dict[str, str]]) -> dict[str, Any]:
    """Share of each source's candidate rows with a value, per field: ``sources`` × ``fields`` ``cells``
    (``None`` where the source maps nothing to the field and no value arrived in it)."""
    fields = _quality_fields(mapped)
    if not mapped.height or not fields:
        return {}
    per_source = mapped.group_by(SOURCE_COL, maintain_order=True).agg(
        pl.len().alias("_rows"), *(pl.col(f).is_not_null().sum() for f in fields)
    )
    order = [s for s in mappings if s in set(per_source[SOURCE_COL].to_list())]
    order += [s for s in per_source[SOURCE_COL].to_list() if s not in order]
    by_source = {row[SOURCE_COL]: row for row in per_source.iter_rows(named=True)}
    cells = []
    for source in order:
        row, mapped_fields = by_source[source], set(mappings.get(source, {}).values())
        cells.append(
            [None if not row[f] and f not in mapped_fields else round(row[f] / row["_rows"], 4) for f in fields]
        )
    return {"sources": order, "fields": fields, "rows": [by_source[s]["_rows"] for s in order], "cells": cells}


def _quality_fields(mapped: pl.DataFrame) -> list[str]:
    skip = {*LINEAGE_COLS, "attributes", "_payload", "_raw_line"}
    return [c for c in mapped.columns if c not in skip and not c.startswith("_")]


def _field_quality(mapped: pl.DataFrame, normalised: pl.DataFrame) -> list[FieldRow]:
    """Per source field: rows with a value (``present``), of those the ones the normaliser could use
    (``valid``), rows given a value from another field (``derived``: a city parsed from the address), and issue
    counts. ``mapped`` and ``normalised`` are the same rows in the same order."""
    rows = mapped.height
    issues: dict[str, dict[str, int]] = {}
    if ISSUES_COL in normalised.columns and normalised.height:
        counted = (
            normalised.select(pl.col(ISSUES_COL).explode().drop_nulls().alias("issue"))
            .group_by("issue")
            .len()
            .sort("issue")
        )
        for issue, n in counted.iter_rows():
            field, _, code = issue.partition(".")
            issues.setdefault(field, {})[code] = n
    result: list[FieldRow] = []
    for column in _quality_fields(mapped):
        had = mapped[column].is_not_null()
        has = normalised[column].is_not_null() if column in normalised.columns else had
        present, valid, derived = int(had.sum()), int((had & has).sum()), int((~had & has).sum())
        result.append(
            {
                "field": column,
                "present": present,
                "valid": valid,
                "derived": derived,
                "completeness": present / rows if rows else None,
                "validity": valid / present if present else None,
                "issues": issues.get(column, {}),
            }
        )
    return result


def _rule_row(result: RuleResult) -> RuleRow:
    return {
        "rule": result.rule,
        "check": result.expectation_type,
        "column": result.column,
        "severity": result.severity,
        "success": bool(result.success),
        "element_count": int(result.element_count or 0),
        "unexpected_count": int(result.unexpected_count or 0),
    }


def _quarantine(failures: pl.DataFrame, mapped: pl.DataFrame) -> list[QuarantineRow]:
    """Quarantine counts per reason with masked samples.

    A rule often fails because the normaliser found nothing usable (a placeholder phone becomes null), so a sample
    with no normalised value shows the row's value as read, masked.
    """
    errors = failures.filter(pl.col("severity") == "error") if failures.height else failures
    if not errors.height:
        return []
    result: list[QuarantineRow] = []
    for (code,), group in errors.sort("source", "source_key").group_by("code", maintain_order=True):
        samples = group.head(SAMPLES_PER_REASON).select("source", "source_key", "column", "value_masked", "message")
        rows: list[QuarantineSample] = [
            {
                "source": s["source"],
                "source_key": s["source_key"],
                "column": s["column"],
                "value_masked": s["value_masked"] or _masked_as_read(mapped, s),
                "message": mask_text(s["message"] or "") or "",
            }
            for s in samples.iter_rows(named=True)
        ]
        companies = [r for r in rows if r["column"] == "company"]
        for r, masked in zip(companies, mask_companies([r["value_masked"] for r in companies]), strict=True):
            r["value_masked"] = masked
        for r in rows:  # a value of a field that is not personal data can still hold a phone or an e-mail
            r["value_masked"] = mask_text(r["value_masked"]) or ""
        result.append(
            {
                "reason": code,
                "description": describe(code),
                "count": group.select("source", "source_key").n_unique(),
                "samples": rows,
            }
        )
    return sorted(result, key=lambda q: (-q["count"], q["reason"]))


def _masked_as_read(mapped: pl.DataFrame, sample: dict[str, Any]) -> str:
    column = sample["column"]
    if not column or column not in mapped.columns:
        return ""
    value = mapped.filter((pl.col(SOURCE_COL) == sample["source"]) & (pl.col(SOURCE_KEY_COL) == sample["source_key"]))[
        column
    ]
    return mask_value(column, value[0]) or "" if value.len() and value[0] is not None else ""


def _skipped(skipped: pl.DataFrame) -> list[SkippedRow]:
    if not skipped.height:
        return []
    counted = skipped.group_by(SKIP_REASON_COL).len().sort("len", SKIP_REASON_COL, descending=[True, False])
    return [{"reason": r, "count": n, "description": describe(r)} for r, n in counted.iter_rows()]


def _clusters(records: pl.DataFrame, crosswalk: pl.DataFrame) -> dict[str, Any]:
    if not records.height:
        return {
            "records": 0,
            "customers": 0,
            "multi_member": 0,
            "largest": 0,
            "size_distribution": [],
            "examples": [],
        }
    sizes = records.group_by("customer_id").len("size")
    distribution = sizes.group_by("size").len("customers").sort("size")
    total = sizes.height
    examples = sizes.filter(pl.col("size") > 1).sort(["size", "customer_id"], descending=[True, False])
    chosen = examples.head(EXAMPLE_CLUSTERS)["customer_id"].to_list()
    probability = crosswalk.select(
        pl.col("source").alias(SOURCE_COL), pl.col("source_key").alias(SOURCE_KEY_COL), "match_probability"
    )
    members = (
        records.filter(pl.col("customer_id").is_in(chosen))
        .join(probability, on=[SOURCE_COL, SOURCE_KEY_COL], how="left")
        .sort(SOURCE_COL, SOURCE_KEY_COL)
    )
    cols = members.columns
    companies = dict(
        zip(
            zip(members[SOURCE_COL], members[SOURCE_KEY_COL], strict=True),
            mask_companies(
                members["company"].to_list() if "company" in cols else [None] * members.height,
                members["full_name"].to_list() if "full_name" in cols else None,
            ),
            strict=True,
        )
    )
    example_rows = []
    for customer_id in chosen:
        rows = members.filter(pl.col("customer_id") == customer_id).iter_rows(named=True)
        example_rows.append(
            {
                "customer_id": customer_id,
                "size": int(sizes.filter(pl.col("customer_id") == customer_id)["size"][0]),
                "members": [
                    {
                        "source": m[SOURCE_COL],
                        "source_key": m[SOURCE_KEY_COL],
                        "name": mask_name(m["full_name"]) if "full_name" in cols and m["full_name"] else "",
                        "phone": mask_phone(m["phone"]) if "phone" in cols and m["phone"] else "",
                        "email": mask_email(m["email"]) if "email" in cols and m["email"] else "",
                        "company": companies[m[SOURCE_COL], m[SOURCE_KEY_COL]],
                        "match_probability": m["match_probability"],
                    }
                    for m in rows
                ],
            }
        )
    largest = sizes["size"].max()  # None when there are no records
    return {
        "records": records.height,
        "customers": total,
        "multi_member": int(sizes.filter(pl.col("size") > 1).height),
        "largest": largest if isinstance(largest, int) else 0,
        "size_distribution": [
            {"size": int(s), "customers": int(n), "share": n / total} for s, n in distribution.iter_rows()
        ],
        "examples": example_rows,
    }


#: How many possible matches a report lists, and how many pairs it explains on each side of the merge threshold.
REVIEW_EXAMPLES = 10
EXPLAINED_PAIRS = 3
#: Bins of the match-probability histogram (0.02 wide).
HISTOGRAM_BINS = 50


def _matching(golden: Golden, thresholds: dict[str, float]) -> dict[str, Any]:
    """The trained model, the distribution of the scores, the possible matches for review and the waterfalls of the
    borderline pairs: the weakest merges and the strongest pairs that were not merged (all masked)."""
    model = golden.model
    people = golden.records.select(
        "_rid",
        pl.col(SOURCE_COL).alias("source"),
        pl.col(SOURCE_KEY_COL).alias("source_key"),
        *(pl.col(c) for c in ("full_name", "phone") if c in golden.records.columns),
    )

    def side(rid: int) -> dict[str, Any]:
        row = people.filter(pl.col("_rid") == rid).row(0, named=True)
        return {
            "source": row["source"],
            "source_key": row["source_key"],
            "name": mask_name(row["full_name"]) if row.get("full_name") else "",
            "phone": mask_phone(row["phone"]) if row.get("phone") else "",
        }

    review = golden.review.sort(["match_probability", "left", "right"], descending=[True, False, False])
    customer = golden.records.select("_rid", "customer_id")
    merged = (
        golden.pairs.join(customer.rename({"_rid": "left", "customer_id": "c1"}), on="left")
        .join(customer.rename({"_rid": "right", "customer_id": "c2"}), on="right")
        .filter(pl.col("c1") == pl.col("c2"))
    )
    threshold = thresholds.get("threshold")
    if threshold is not None:  # the weakest merges: the pairs just above the line
        merged = merged.filter(pl.col("match_probability") >= threshold).sort(["match_probability", "left", "right"])
    else:
        merged = merged.sort(["match_probability", "left", "right"], descending=[True, False, False])
    explained = [
        *(("merged", r) for r in merged.head(EXPLAINED_PAIRS).iter_rows(named=True)),
        *(("not merged", r) for r in review.head(EXPLAINED_PAIRS).iter_rows(named=True)),
    ]
    scored = golden.pairs.height if golden.candidates is None else golden.candidates
    return {
        "incremental": golden.incremental,
        "pairs_scored": scored,
        # below match.keep_pairs_above: scored and counted, not kept (so not in the histogram's bins)
        "pairs_left_out": scored - golden.pairs.height,
        "prior": model.prior,
        "thresholds": thresholds,
        "histogram": _histogram(golden.pairs, thresholds, scored),
        "blocking": [
            {**row, "recall": None if row["recall"] is None else round(row["recall"], 4)}
            for row in golden.blocking.iter_rows(named=True)
        ],
        "blocking_recall": None if golden.blocking_recall is None else round(golden.blocking_recall, 4),
        "model": [
            {
                **row,
                "m": round(row["m"], 6),
                "u": round(row["u"], 8),
                "r": round(row["r"], 6),
                "weight": round(row["weight"], 2),
            }
            for row in model.to_frame().iter_rows(named=True)
        ],
        "review_count": review.height,
        "review": [
            {
                "left": side(r["left"]),
                "right": side(r["right"]),
                "probability": round(r["match_probability"], 4),
                "reason": r.get("reason") or "band",
            }
            for r in review.head(REVIEW_EXAMPLES).iter_rows(named=True)
        ],
        "merged_count": merged.height,
        "explanations": [
            {
                "outcome": outcome,
                "left": side(r["left"]),
                "right": side(r["right"]),
                "probability": round(r["match_probability"], 4),
                "steps": [
                    {
                        "step": st["step"],
                        "level": st["level"],
                        "weight": round(st["weight"], 2),
                        "cumulative": round(st["cumulative"], 2),
                        "probability": round(st["probability"], 4),
                    }
                    for st in explain(r, model)
                ],
            }
            for outcome, r in explained
        ],
    }


def _histogram(pairs: pl.DataFrame, thresholds: dict[str, float], scored: int) -> dict[str, Any]:
    """Scored pairs per match-probability bin, and how many of the ``scored`` (``pairs`` and those left out below
    ``keep_pairs_above``) are at or above the merge threshold, between the review threshold and it, and below."""
    if not pairs.height or "match_probability" not in pairs.columns:
        return {}
    p = pl.col("match_probability")
    counted = dict(
        pairs.select((p * HISTOGRAM_BINS).floor().clip(0, HISTOGRAM_BINS - 1).cast(pl.Int64).alias("bin"))
        .group_by("bin")
        .len()
        .iter_rows()
    )
    out: dict[str, Any] = {"bins": HISTOGRAM_BINS, "counts": [int(counted.get(i, 0)) for i in range(HISTOGRAM_BINS)]}
    threshold, review = thresholds.get("threshold"), thresholds.get("review_threshold")
    if threshold is not None and review is not None:
        merge = int(pairs.filter(p >= threshold).height)
        band = int(pairs.filter((p >= review) & (p < threshold)).height)
        out.update(merge=merge, review=band, below=scored - merge - band)
    return out


def mask_companies(companies: list[str | None], names: list[str | None] | None = None) -> list[str]:
    """Company-field values as a report may show them: a person's name (``刘悦`` where a consumer's own name
    filled the mandatory 客户名称 column, or the row's own name copied there) masked like a name, any other text
    with its phone numbers and e-mail addresses masked. ``names``: each row's ``full_name``, when known."""
    if not companies:
        return []
    person = person_name_in_company(pl.Series(companies, dtype=pl.String))["is_person"].to_list()
    same = [
        bool(c and n and "".join(c.split()).casefold() == "".join(n.split()).casefold())
        for c, n in zip(companies, names or [None] * len(companies), strict=True)
    ]
    return [
        "" if not c else (mask_name(c) or "") if is_person or is_same else (mask_text(c) or "")
        for c, is_person, is_same in zip(companies, person, same, strict=True)
    ]


def write_report(report: dict[str, Any], reports_dir: Path, model_json: str | None = None) -> Path:
    """Write ``report.json`` and ``report.html`` for one run (and the trained match model), refresh ``latest/`` and
    the run index ``index.html``.

    Args:
        report: the run's report dictionary (masked; see ``build_report``). It gains ``comparison``: what changed
            since the previous run in ``reports_dir`` (see ``pipelines._run_index``), ``None`` for the first.
        reports_dir: the project's reports folder.
        model_json: the run's trained match model (``MatchModel.to_json``), saved as ``match_model.json``.

    Returns:
        The path of the HTML report.

    Every text in ``report`` is written through ``redact_secrets``; the files are created ``0600`` and the folders
    crmkit creates (the reports folder, the run's, ``latest/``) ``0700``, whatever the umask.
    """
    report = redact_report(report)
    run_id: str = report["run"]["run_id"]
    run_dir = reports_dir / run_id
    private_dir(reports_dir)
    private_dir(run_dir)
    others = _run_index.read_summaries(reports_dir, skip=run_id)
    summary = _run_index.summarise(report)
    report["comparison"] = _run_index.compare(summary, _run_index.previous_of(summary, others))
    json_path = write_private_text(
        run_dir / "report.json", json.dumps(report, ensure_ascii=False, indent=2, default=str)
    )
    if model_json is not None:
        write_private_text(run_dir / "match_model.json", model_json)
    html_path = run_dir / "report.html"
    write_private_text(html_path, render_html(report))
    summary["stamp"] = _run_index.stamp_of(json_path)
    write_index(reports_dir, [*others, summary])

    latest = reports_dir / "latest"
    tmp = reports_dir / ".latest.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    copy_private_tree(run_dir, tmp)
    shutil.rmtree(latest, ignore_errors=True)
    tmp.rename(latest)
    return html_path


def write_index(reports_dir: Path, summaries: list[dict[str, Any]] | None = None) -> Path:
    """Write the run index ``index.html`` of a reports folder: every run, newest first, with its status, counts and
    what changed since the run before it. Returns its path.

    Args:
        reports_dir: the reports folder.
        summaries: the runs' summaries (``pipelines._run_index.read_summaries``); read from the folder when omitted.
    """
    runs = sorted(summaries if summaries is not None else _run_index.read_summaries(reports_dir), key=_run_index.order)
    rows = [{**s, "comparison": _run_index.compare(s, _run_index.previous_of(s, runs[:i]))} for i, s in enumerate(runs)]
    _run_index.write_summaries(reports_dir, runs)
    path = reports_dir / "index.html"
    tmp = reports_dir / ".index.html.tmp"
    write_private_text(tmp, redact_secrets(render_index(rows[::-1])) or "")
    tmp.replace(path)
    return path


def redact_report(value: Any) -> Any:
    """A copy of a report (or any part of one) with every text passed through ``rules.mask.redact_secrets``:
    the last guard before a report leaves the process, whatever route a URL or token took into it."""
    if isinstance(value, str):
        return redact_secrets(value)
    if isinstance(value, Mapping):
        return {key: redact_report(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact_report(item) for item in value]
    return value


def render_html(report: dict[str, Any]) -> str:
    """Render the report dictionary as one self-contained HTML page: the same dictionary gives the same bytes."""
    charts = report_charts(report)
    marked = {
        name: [Markup(svg) for svg in value] if isinstance(value, list) else Markup(value)
        for name, value in charts.items()
    }
    return _environment().get_template("report.html").render(r=report, charts=marked)


def render_index(runs: list[dict[str, Any]]) -> str:
    """Render the run index (runs newest first, each with its ``comparison``) as one self-contained HTML page."""
    project = next((r["project"] for r in runs if r.get("project")), "")
    return _environment().get_template("index.html").render(runs=runs, project=project)


@functools.cache
def _environment() -> Environment:
    """The report's Jinja environment, made once per process: its templates are compiled on first use and kept
    (``auto_reload`` off: installed templates do not change under a running process)."""
    env = Environment(
        loader=FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        auto_reload=False,
    )
    env.filters["pct"] = _pct
    env.filters["num"] = lambda n: f"{n:,}" if isinstance(n, int) and not isinstance(n, bool) else n
    env.filters["signed"] = _signed
    env.filters["css_string"] = _css_string
    return env


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def _signed(value: int | float) -> str:
    """A difference with its sign: ``+3``, ``−2`` (a real minus sign), ``±0``."""
    if not value:
        return "±0"
    text = f"{abs(value):,}" if isinstance(value, int) else f"{abs(value):,.2f}"
    return ("+" if value > 0 else "\u2212") + text


def _css_string(value: object) -> Markup:
    """A value as a quoted CSS string for a ``<style>`` block (``@page`` footers): quotes, backslashes, line
    breaks and ``<``/``>``/``&`` as CSS escapes, so it can neither end the string nor the style element."""
    out = []
    for ch in str(value):
        if ch in '"\\<>&' or ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\{ord(ch):x} ")
        else:
            out.append(ch)
    return Markup('"' + "".join(out) + '"')

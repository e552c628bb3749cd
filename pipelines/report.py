"""The quality report: ``reports/<run_id>/report.json`` and a self-contained ``report.html`` beside it.

The report is written from an already-masked dictionary (see ``pipelines.migrate.build_report``); this module only
lays it out. The HTML has no external CSS, JS, fonts or images: it opens offline and prints cleanly for an auditor.
``reports/latest/`` holds a copy of the newest run's files. Every text of the report passes through
``rules.mask.redact_secrets`` on its way out (no URL password or token, whichever route it came by), and the files
are private: ``0600``, their folders created ``0700``.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
from jinja2 import Environment, FileSystemLoader, select_autoescape

from crm_store.schema import ISSUES_COL, LINEAGE_COLS, SKIP_REASON_COL, SOURCE_COL, SOURCE_KEY_COL
from pipelines._files import copy_private_tree, private_dir, write_private_text
from pipelines.ledger import ledger_totals
from rules.mask import mask_email, mask_name, mask_phone, mask_text, mask_value, redact_secrets
from rules.match import explain
from rules.reasons import describe
from rules.validate import RuleResult

if TYPE_CHECKING:
    from pipelines.migrate import Extracted, Golden, Stage, Validated

__all__ = ["build_report", "build_stopped_report", "redact_report", "render_html", "write_report"]

#: How many masked samples a report shows per quarantine reason, and how many example clusters.
SAMPLES_PER_REASON = 5
EXAMPLE_CLUSTERS = 5


def build_report(
    *,
    run: dict[str, Any],
    ledger: list[dict[str, Any]],
    stage: Stage,
    normalised: pl.DataFrame,
    validated: Validated,
    golden: Golden,
    crosswalk: pl.DataFrame,
    extracted: list[Extracted],
    activities: pl.DataFrame,
    mappings: dict[str, dict[str, str]],
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
    """
    totals = ledger_totals(ledger)
    totals["customers"] = golden.customers.height
    totals["activities"] = activities.height
    return {
        "schema": _schema(extracted, mappings),
        "run": run,
        "ledger": ledger,
        "totals": totals,
        "fields": _field_quality(stage.candidates, normalised),
        "rules": [_rule_row(r) for r in validated.rule_results],
        "quarantine": _quarantine(validated.failures, stage.candidates),
        "skipped": _skipped(stage.skipped),
        "clusters": _clusters(golden.records, crosswalk),
        "matching": _matching(golden),
    }


def build_stopped_report(
    *,
    run: dict[str, Any],
    ledger: list[dict[str, Any]],
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
    totals = ledger_totals(ledger)
    totals["customers"] = 0
    totals["activities"] = 0
    return {
        "schema": _schema(extracted or [], mappings),
        "run": run,
        "ledger": ledger,
        "totals": totals,
        "fields": [],
        "rules": [],
        "quarantine": [],
        "skipped": [],
        "clusters": _clusters(pl.DataFrame(), pl.DataFrame()),
        "matching": {},
    }


def _schema(extracted: list[Extracted], mappings: dict[str, dict[str, str]]) -> list[dict[str, Any]]:
    """Per source: columns read, drift against the last successful run, columns kept in ``attributes``."""
    rows = []
    for item in extracted:
        drift = item.drift
        rows.append(
            {
                "source": item.source,
                "columns": item.columns,
                "baseline": drift is not None,
                "new": drift.new if drift else [],
                "missing": drift.missing if drift else [],
                "renamed": [list(pair) for pair in drift.renamed] if drift else [],
                "mapped_missing": drift.mapped_missing if drift else [],
                "unmapped": [c for c in item.columns if c not in mappings.get(item.source, {})],
            }
        )
    return rows


def _field_quality(mapped: pl.DataFrame, normalised: pl.DataFrame) -> list[dict[str, Any]]:
    """Per source field: rows with a value (``present``), of those the ones the normaliser could use
    (``valid``), rows given a value from another field (``derived``: a city parsed from the address), and issue
    counts. ``mapped`` and ``normalised`` are the same rows in the same order."""
    rows = mapped.height
    skip = {*LINEAGE_COLS, "attributes", "_payload", "_raw_line"}
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
    result = []
    for column in mapped.columns:
        if column in skip or column.startswith("_"):
            continue
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


def _rule_row(result: RuleResult) -> dict[str, Any]:
    return {
        "rule": result.rule,
        "check": result.expectation_type,
        "column": result.column,
        "severity": result.severity,
        "success": bool(result.success),
        "element_count": int(result.element_count or 0),
        "unexpected_count": int(result.unexpected_count or 0),
    }


def _quarantine(failures: pl.DataFrame, mapped: pl.DataFrame) -> list[dict[str, Any]]:
    """Quarantine counts per reason with masked samples.

    A rule often fails because the normaliser found nothing usable (a placeholder phone becomes null), so a sample
    with no normalised value shows the row's value as read, masked.
    """
    errors = failures.filter(pl.col("severity") == "error") if failures.height else failures
    if not errors.height:
        return []
    result = []
    for (code,), group in errors.sort("source", "source_key").group_by("code", maintain_order=True):
        samples = group.head(SAMPLES_PER_REASON).select("source", "source_key", "column", "value_masked", "message")
        result.append(
            {
                "reason": code,
                "description": describe(code),
                "count": group.select("source", "source_key").n_unique(),
                "samples": [
                    {
                        **s,
                        "message": mask_text(s["message"] or ""),
                        "value_masked": s["value_masked"] or _masked_as_read(mapped, s),
                    }
                    for s in samples.iter_rows(named=True)
                ],
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


def _skipped(skipped: pl.DataFrame) -> list[dict[str, Any]]:
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
                        "company": (m["company"] or "") if "company" in cols else "",
                        "match_probability": m["match_probability"],
                    }
                    for m in rows
                ],
            }
        )
    return {
        "records": records.height,
        "customers": total,
        "multi_member": int(sizes.filter(pl.col("size") > 1).height),
        "largest": int(sizes["size"].max() or 0),
        "size_distribution": [
            {"size": int(s), "customers": int(n), "share": n / total} for s, n in distribution.iter_rows()
        ],
        "examples": example_rows,
    }


#: How many possible matches and explained merged pairs a report shows.
REVIEW_EXAMPLES = 10
EXPLAINED_PAIRS = 3


def _matching(golden: Golden) -> dict[str, Any]:
    """The trained model, the possible matches for review and a few explained pairs (all masked)."""
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

    review = golden.review.sort("match_probability", descending=True)
    customer = golden.records.select("_rid", "customer_id")
    merged = (
        golden.pairs.join(customer.rename({"_rid": "left", "customer_id": "c1"}), on="left")
        .join(customer.rename({"_rid": "right", "customer_id": "c2"}), on="right")
        .filter(pl.col("c1") == pl.col("c2"))
        .sort(["match_probability", "left"], descending=[True, False])
    )
    explained = [
        *merged.head(EXPLAINED_PAIRS).iter_rows(named=True),
        *review.head(EXPLAINED_PAIRS).iter_rows(named=True),
    ]
    return {
        "incremental": golden.incremental,
        "pairs_scored": golden.pairs.height,
        "prior": model.prior,
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
        "explanations": [
            {
                "left": side(r["left"]),
                "right": side(r["right"]),
                "probability": round(r["match_probability"], 4),
                "steps": [
                    {
                        "step": st["step"],
                        "level": st["level"],
                        "weight": round(st["weight"], 2),
                        "probability": round(st["probability"], 4),
                    }
                    for st in explain(r, model)
                ],
            }
            for r in explained
        ],
    }


def write_report(report: dict[str, Any], reports_dir: Path, model_json: str | None = None) -> Path:
    """Write ``report.json`` and ``report.html`` for one run (and the trained match model) and refresh ``latest/``.

    Args:
        report: the run's report dictionary (masked; see ``build_report``).
        reports_dir: the project's reports folder.
        model_json: the run's trained match model (``MatchModel.to_json``), saved as ``match_model.json``.

    Returns:
        The path of the HTML report.

    Every text in ``report`` is written through ``redact_secrets``; the files are created ``0600`` and the folders
    crmkit creates (the reports folder, the run's, ``latest/``) ``0700``, whatever the umask.
    """
    report = redact_report(report)
    run_dir = reports_dir / report["run"]["run_id"]
    private_dir(reports_dir)
    private_dir(run_dir)
    write_private_text(run_dir / "report.json", json.dumps(report, ensure_ascii=False, indent=2, default=str))
    if model_json is not None:
        write_private_text(run_dir / "match_model.json", model_json)
    html_path = run_dir / "report.html"
    write_private_text(html_path, render_html(report))

    latest = reports_dir / "latest"
    tmp = reports_dir / ".latest.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    copy_private_tree(run_dir, tmp)
    shutil.rmtree(latest, ignore_errors=True)
    tmp.rename(latest)
    return html_path


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
    """Render the report dictionary as one self-contained HTML page."""
    env = Environment(
        loader=FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
    )
    env.filters["pct"] = _pct
    env.filters["num"] = lambda n: f"{n:,}" if isinstance(n, int) else n
    return env.get_template("report.html").render(r=report)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"

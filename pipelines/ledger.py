"""The ledger: for every source, rows read = loaded + quarantined + skipped, and every row is in exactly one place.

The check does not trust the counts of the steps: it compares the ``(source, source_key)`` keys the connector read
with the keys that came out as loaded, quarantined or skipped, so a row dropped or duplicated anywhere in between
unbalances the ledger.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal, NotRequired, TypedDict

import polars as pl

from crm_store.schema import SOURCE_COL, SOURCE_KEY_COL
from pipelines.errors import PipelineError
from pipelines.stages import Extracted, Golden, Stage, Validated
from rules.mask import redact_secrets

if TYPE_CHECKING:
    from pipelines.settings import ProjectSettings

__all__ = [
    "REHYDRATED_COL",
    "LedgerError",
    "LedgerRow",
    "LedgerTotals",
    "RunStatus",
    "build_ledger",
    "ledger_rows",
    "ledger_totals",
    "read_this_run",
    "run_status",
    "unplaced_ledger",
]

#: Marks rows an incremental run rebuilt from the store to match against (``pipelines.steps.rehydrate``):
#: they were not read by this run, so the ledger does not count them.
REHYDRATED_COL = "_rehydrated"

#: How a run ended: ``partial`` loaded what it read, but a source failed or too many rows were quarantined.
RunStatus = Literal["succeeded", "partial", "failed"]


class LedgerRow(TypedDict):
    """One source's line of the ledger: ``read = loaded + quarantined + skipped`` when ``balanced``; ``missing``
    rows were read but placed nowhere (or placed but never read), ``duplicated`` ones placed twice."""

    source: str
    read: int
    loaded: int
    quarantined: int
    skipped: int
    missing: int
    duplicated: int
    balanced: bool
    #: the source's connector kind (every row of a run's ledger has it)
    kind: NotRequired[str]
    #: why the whole source failed (credentials hidden), or None
    error: NotRequired[str | None]


class LedgerTotals(TypedDict):
    """Rows read, loaded, quarantined and skipped over all sources, and whether every source balanced."""

    read: int
    loaded: int
    quarantined: int
    skipped: int
    balanced: bool


def read_this_run(records: pl.DataFrame) -> pl.DataFrame:
    """The records this run read (not those rebuilt from the store for matching)."""
    return records.filter(pl.col(REHYDRATED_COL).is_null()) if REHYDRATED_COL in records.columns else records


_KEY = [SOURCE_COL, SOURCE_KEY_COL]


class LedgerError(PipelineError, RuntimeError):
    """A run's ledger does not balance: some row was lost or counted twice."""

    def __init__(self, ledger: list[LedgerRow], report_path: Path | None = None) -> None:
        self.ledger = ledger
        bad = [row for row in ledger if not row["balanced"]]
        where = f" (report: {report_path})" if report_path else ""
        lines = [
            f"{r['source']}: read {r['read']} ≠ loaded {r['loaded']} + quarantined {r['quarantined']} "
            f"+ skipped {r['skipped']} (missing {r['missing']}, duplicated {r['duplicated']})"
            for r in bad
        ]
        super().__init__("the ledger does not balance" + where + ":\n" + "\n".join(lines))


def build_ledger(
    settings: ProjectSettings,
    extracted: list[Extracted],
    stage: Stage,
    validated: Validated,
    golden: Golden,
    activities: pl.DataFrame,
) -> list[LedgerRow]:
    """One ledger row per configured source, in config order. A failed source's ``error`` has its credentials
    hidden (``rules.mask.redact_secrets``): the ledger goes to the CLI, the report and ``pipeline_run.ledger``."""
    read = [item.raw.select(_KEY) for item in extracted if item.raw is not None and item.raw.height]
    outcomes = {
        "loaded": pl.concat([read_this_run(golden.records).select(_KEY), activities.select(_KEY)]),
        "quarantined": validated.quarantined,
        "skipped": stage.skipped,
    }
    rows = ledger_rows(
        pl.concat(read) if read else pl.DataFrame(schema=dict.fromkeys(_KEY, pl.String)),
        {name: frame.select(_KEY) if frame.height else None for name, frame in outcomes.items()},
    )
    by_source = {row["source"]: row for row in rows}
    ledger: list[LedgerRow] = []
    for item in extracted:
        row = by_source.get(item.source) or _empty_row(item.source)
        row["kind"] = item.kind
        row["error"] = redact_secrets(item.error)
        ledger.append(row)
    return ledger


def ledger_rows(read: pl.DataFrame, outcomes: dict[str, pl.DataFrame | None]) -> list[LedgerRow]:
    """Count and reconcile keys per source.

    Args:
        read: the ``_source, _source_key`` of every row the connectors read.
        outcomes: for ``loaded``, ``quarantined`` and ``skipped``, the keys that ended there (or None).

    Returns:
        A row per source with ``read, loaded, quarantined, skipped, missing, duplicated, balanced``.
    """
    parts = [
        frame.select(_KEY).with_columns(pl.lit(name).alias("outcome"))
        for name, frame in outcomes.items()
        if frame is not None and frame.height
    ]
    placed = (
        pl.concat(parts) if parts else pl.DataFrame(schema={**dict.fromkeys(_KEY, pl.String), "outcome": pl.String})
    )
    placed_once = placed.group_by(_KEY).agg(pl.len().alias("times"))
    missing = read.join(placed_once, on=_KEY, how="anti").group_by(SOURCE_COL).agg(pl.len().alias("missing"))
    duplicated = placed_once.filter(pl.col("times") > 1).group_by(SOURCE_COL).agg(pl.len().alias("duplicated"))
    unread = placed_once.join(read, on=_KEY, how="anti").group_by(SOURCE_COL).agg(pl.len().alias("unread"))
    counts = placed.group_by(SOURCE_COL).agg(
        *(pl.col("outcome").eq(name).sum().alias(name) for name in ("loaded", "quarantined", "skipped"))
    )
    table = (
        read.group_by(SOURCE_COL)
        .agg(pl.len().alias("read"))
        .join(counts, on=SOURCE_COL, how="full", coalesce=True)
        .join(missing, on=SOURCE_COL, how="left")
        .join(duplicated, on=SOURCE_COL, how="left")
        .join(unread, on=SOURCE_COL, how="left")
        .fill_null(0)
        .sort(SOURCE_COL)
    )
    rows: list[LedgerRow] = []
    for r in table.iter_rows(named=True):
        balanced = (
            r["read"] == r["loaded"] + r["quarantined"] + r["skipped"]
            and r["missing"] == 0
            and r["duplicated"] == 0
            and r["unread"] == 0
        )
        rows.append(
            {
                "source": r[SOURCE_COL],
                "read": r["read"],
                "loaded": r["loaded"],
                "quarantined": r["quarantined"],
                "skipped": r["skipped"],
                "missing": r["missing"] + r["unread"],
                "duplicated": r["duplicated"],
                "balanced": balanced,
            }
        )
    return rows


def unplaced_ledger(settings: ProjectSettings, extracted: list[Extracted] | None) -> list[LedgerRow]:
    """The ledger of a run that stopped before its rows were placed: per configured source, the rows it read
    (none when it stopped before reading), none of them loaded, quarantined or skipped."""
    by_source = {item.source: item for item in extracted or []}
    ledger: list[LedgerRow] = []
    for source in settings.sources:
        item = by_source.get(source.name)
        read = item.raw.height if item is not None and item.raw is not None else 0
        row = _empty_row(source.name)
        row["read"], row["missing"], row["balanced"] = read, read, read == 0
        row["kind"] = source.kind
        row["error"] = redact_secrets(item.error) if item else None
        ledger.append(row)
    return ledger


def ledger_totals(ledger: list[LedgerRow]) -> LedgerTotals:
    """Rows read, loaded, quarantined and skipped over all sources, and whether every source balanced."""
    return {
        "read": sum(row["read"] for row in ledger),
        "loaded": sum(row["loaded"] for row in ledger),
        "quarantined": sum(row["quarantined"] for row in ledger),
        "skipped": sum(row["skipped"] for row in ledger),
        "balanced": all(row["balanced"] for row in ledger),
    }


def run_status(ledger: list[LedgerRow], max_quarantine_share: float) -> tuple[RunStatus, str | None]:
    """Judge a run that placed its rows by its ledger: ``(status, why it is not succeeded)``.

    ``failed``: the ledger does not balance, or every source failed (nothing was read); ``partial``: a source
    failed, or the share of rows quarantined among the rows read is above ``max_quarantine_share``;
    otherwise ``succeeded``.
    """
    if not all(row["balanced"] for row in ledger):
        return "failed", str(LedgerError(ledger))
    failed = [row["source"] for row in ledger if row.get("error")]
    if failed and len(failed) == len(ledger):
        return "failed", f"every source failed: {', '.join(failed)} (the ledger says why)"
    if failed:
        return "partial", f"{len(failed)} of {len(ledger)} sources failed: {', '.join(failed)} (the ledger says why)"
    totals = ledger_totals(ledger)
    share = totals["quarantined"] / totals["read"] if totals["read"] else 0.0
    if share > max_quarantine_share:
        return "partial", (
            f"{totals['quarantined']:,} of {totals['read']:,} rows read were quarantined ({share:.1%}), more than "
            f"run.max_quarantine_share ({max_quarantine_share:.1%}); see the report's quarantine section"
        )
    return "succeeded", None


def _empty_row(source: str) -> LedgerRow:
    return {
        "source": source,
        "read": 0,
        "loaded": 0,
        "quarantined": 0,
        "skipped": 0,
        "missing": 0,
        "duplicated": 0,
        "balanced": True,
    }

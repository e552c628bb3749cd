"""The values a run hands from one step to the next, from what a source gave to the golden records.

``pipelines.steps`` makes them, ``pipelines.tables``, ``pipelines.ledger`` and ``pipelines.report`` read them. This
module imports none of those (``tests/test_architecture.py`` checks it), so their types need no import cycle.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from rules.drift import Drift
from rules.match import MatchModel
from rules.validate import RuleResult

__all__ = ["Decided", "Extracted", "Golden", "Stage", "Stored", "Validated"]


@dataclass
class Extracted:
    """What one source gave: its raw rows, or the reason the whole source failed."""

    source: str
    kind: str
    raw: pl.DataFrame | None = None
    error: str | None = None
    #: Source columns as read (union over batches, in order), for schema-drift checks.
    columns: list[str] = field(default_factory=list)
    drift: Drift | None = None
    #: Incremental sources: the cursor to save once the run is loaded, and whether this read was partial
    #: (only what is new since the saved cursor), so earlier rows must come from the store.
    cursor: str | None = None
    partial: bool = False


@dataclass(frozen=True)
class Stored:
    """What the store holds that a run reads before it matches (all empty without a store: a dry run).

    The runner reads it in one session once the sources are read; the steps take it as plain values.
    """

    #: Each source's column baseline (``None``: never saved), for the sources that read rows.
    columns: dict[str, list[str] | None] = field(default_factory=dict)
    #: ``source``, ``source_key`` of the rows erased on a data subject's request.
    erased: pl.DataFrame | None = None
    #: Loaded rows (``source``, ``source_key``, ``row_hash``, ``payload`` …) of the sources read only partially.
    loaded: pl.DataFrame | None = None
    #: The crosswalk: ``_source``, ``_source_key``, ``customer_id`` of every row loaded before.
    existing: pl.DataFrame | None = None
    #: The match model of the newest run that trained one (JSON).
    model_json: str | None = None
    #: The newest steward decision of every pair (``crm_store.read_decisions``).
    decisions: pl.DataFrame | None = None


@dataclass
class Stage:
    """The rows of a run, partitioned as they move through the flow."""

    #: mapped customer rows that are neither skipped nor structurally broken
    candidates: pl.DataFrame
    skipped: pl.DataFrame
    broken: pl.DataFrame
    #: child rows (follow-ups, orders) that are neither skipped nor broken
    activities: pl.DataFrame


@dataclass
class Validated:
    """Rows that passed validation, and every failure (connector and rule failures in one table)."""

    records: pl.DataFrame
    quarantined: pl.DataFrame
    failures: pl.DataFrame
    rule_results: list[RuleResult]


@dataclass(frozen=True)
class Decided:
    """The stewards' decisions on pairs of this run's records (``pipelines._review.decided_pairs``).

    ``pairs``: the newest ``match`` / ``no_match`` of each pair whose two rows the run has, newest first: the pair,
    ``decision``, ``decided_by``, ``decided_at``, ``left_rid``, ``right_rid``, ``fingerprint`` (now) and ``binds``
    (the fingerprint is the one it was decided on).
    """

    pairs: pl.DataFrame

    @property
    def binding(self) -> pl.DataFrame:
        return self.pairs.filter(pl.col("binds"))

    @property
    def constraints(self) -> pl.DataFrame:
        """``left``, ``right`` (``_rid``), ``must_link``: the binding decisions, newest first."""
        return self.binding.select(
            pl.col("left_rid").alias("left"),
            pl.col("right_rid").alias("right"),
            (pl.col("decision") == "match").alias("must_link"),
        )

    @property
    def labels(self) -> pl.DataFrame:
        """``left``, ``right``, ``is_match``: the binding decisions as labelled pairs for training."""
        return self.constraints.rename({"must_link": "is_match"})


@dataclass
class Golden:
    """Clusters, golden records and where each golden field came from."""

    #: loaded rows with ``cluster`` and ``customer_id``
    records: pl.DataFrame
    pairs: pl.DataFrame
    customers: pl.DataFrame
    provenance: pl.DataFrame
    #: possible matches: scored between the review threshold and the threshold, or refused
    review: pl.DataFrame
    model: MatchModel
    #: only new records were matched; stored ones kept their customers
    incremental: bool = False
    #: rule, estimated_pairs, pairs, recall
    blocking: pl.DataFrame = field(default_factory=pl.DataFrame)
    blocking_recall: float | None = None
    #: stewards' decisions on this run's pairs
    decided: Decided | None = None
    #: candidate pairs scored; None: as many as ``pairs`` (more with ``match.keep_pairs_above``)
    candidates: int | None = None

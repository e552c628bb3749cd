"""The review queue's side of a run (used by ``pipelines.migrate``).

Before matching, the stewards' decisions are read from the store and mapped onto the run's records: a ``match`` /
``no_match`` whose pair still has the fingerprint it was decided on becomes a must-link / cannot-link (and a
labelled pair for training); one whose rows were edited since binds no more. After matching, the run's possible
matches and its decided pairs become the rows :func:`crm_store.upsert_review_items` keeps up to date. No business
rule lives here: the constraints are :mod:`rules.match.constraints`, the statuses ``crm_store.steward``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, Final

import polars as pl
import sqlalchemy as sa
from sqlalchemy.orm import Session

import crm_store
from crm_store.schema import SOURCE_COL, SOURCE_KEY_COL
from pipelines.ledger import REHYDRATED_COL, read_this_run
from rules.match import MatchModel
from rules.match.constraints import pair_fingerprint, row_fingerprints

__all__ = ["REASON_KINDS", "Decided", "decided_pairs", "read_decisions", "review_items", "review_scope", "unsatisfied"]

log = logging.getLogger(__name__)

#: The review item kind of each reason the matcher gives for a possible match.
REASON_KINDS: Final[dict[str, str]] = {
    "band": "review",
    "linkage_check": "cut",
    "joins_existing": "cut",
    "decision": "cut",
    "cannot_link": "conflict",
    "decision_conflict": "conflict",
}
#: Note of an item whose decision the run could not honour.
CONTRADICTED: Final = "the run could not honour this decision: it contradicts newer decisions on these rows"
_PAIR: Final = ("left_source", "left_key", "right_source", "right_key")
_WEIGHT_DIGITS: Final = 4


def read_decisions(engine: sa.Engine | None) -> pl.DataFrame | None:
    """The newest decision of every pair in the store, newest first (None without a store)."""
    if engine is None:
        return None
    with Session(engine) as session:
        return crm_store.read_decisions(session)


@dataclass(frozen=True)
class Decided:
    """The stewards' decisions on pairs of this run's records.

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


def _rids(records: pl.DataFrame) -> pl.DataFrame:
    return records.select(
        "_rid", pl.col(SOURCE_COL).cast(pl.String).alias("source"), pl.col(SOURCE_KEY_COL).cast(pl.String).alias("key")
    )


def _fingerprints(records: pl.DataFrame, rids: pl.Series) -> dict[int, str]:
    rows = records.filter(pl.col("_rid").is_in(rids.unique().implode()))
    return dict(zip(rows["_rid"].to_list(), row_fingerprints(rows).to_list(), strict=True))


def decided_pairs(decisions: pl.DataFrame | None, records: pl.DataFrame) -> Decided | None:
    """The decisions (``crm_store.read_decisions``) on pairs of ``records``, and whether each still binds."""
    if decisions is None or not decisions.height:
        return None
    ids = _rids(records)
    found = (
        decisions.filter(pl.col("decision").is_in(["match", "no_match"]))
        .rename({"fingerprint": "decided_on"})
        .join(
            ids.rename({"source": "left_source", "key": "left_key", "_rid": "left_rid"}), on=["left_source", "left_key"]
        )
        .join(
            ids.rename({"source": "right_source", "key": "right_key", "_rid": "right_rid"}),
            on=["right_source", "right_key"],
        )
        .sort("decided_at", "id", descending=True)
    )
    if not found.height:
        return None
    prints = _fingerprints(records, pl.concat([found["left_rid"], found["right_rid"]]))
    now = [pair_fingerprint(prints[a], prints[b]) for a, b in found.select("left_rid", "right_rid").iter_rows()]
    pairs = found.with_columns(pl.Series("fingerprint", now, dtype=pl.String)).with_columns(
        (pl.col("fingerprint") == pl.col("decided_on")).alias("binds")
    )
    changed = pairs.filter(~pl.col("binds")).height
    log.info("%s steward decisions apply to this run (%s no longer bind: their rows changed)", pairs.height, changed)
    return Decided(pairs)


def unsatisfied(decided: Decided | None, records: pl.DataFrame, existing: pl.DataFrame | None) -> int:
    """Binding decisions between two rows rebuilt from the store that the stored customers contradict (a ``match``
    across two customers, a ``no_match`` inside one): an incremental run cannot honour those."""
    if decided is None or existing is None or REHYDRATED_COL not in records.columns:
        return 0
    old = records.filter(pl.col(REHYDRATED_COL).is_not_null()).select(
        "_rid", pl.col(SOURCE_COL).cast(pl.String), pl.col(SOURCE_KEY_COL).cast(pl.String)
    )
    owner = old.join(
        existing.select(pl.col(SOURCE_COL).cast(pl.String), pl.col(SOURCE_KEY_COL).cast(pl.String), "customer_id"),
        on=[SOURCE_COL, SOURCE_KEY_COL],
    ).select("_rid", "customer_id")
    both = (
        decided.binding.join(owner.rename({"_rid": "left_rid", "customer_id": "c1"}), on="left_rid")
        .join(owner.rename({"_rid": "right_rid", "customer_id": "c2"}), on="right_rid")
        .filter((pl.col("decision") == "match") != (pl.col("c1") == pl.col("c2")))
    )
    return both.height


def _evidence(row: dict[str, Any], model: MatchModel) -> dict[str, Any]:
    """A scored pair's evidence as the queue keeps it: the reason, the match weight, the prior and related-people
    weights, and per comparison its level and weight."""

    def rounded(value: Any) -> float | None:
        return None if value is None else round(float(value), _WEIGHT_DIGITS)

    comparisons = {}
    for c in model.comparisons:
        level = row.get(f"{c.name}_level")
        if level is not None:
            comparisons[c.name] = {"level": str(level), "weight": rounded(row.get(f"{c.name}_weight"))}
    return {
        "reason": row.get("reason"),
        "match_weight": rounded(row.get("match_weight")),
        "prior_weight": rounded(model.prior_weight),
        "related_weight": rounded(row.get("related_weight")),
        "comparisons": comparisons,
    }


def review_items(
    review: pl.DataFrame,
    pairs: pl.DataFrame,
    records: pl.DataFrame,
    model: MatchModel,
    decided: Decided | None,
) -> pl.DataFrame:
    """The rows of ``review_item`` this run writes.

    Args:
        review: the matcher's possible matches (``left``, ``right``, ``reason``, scores and levels).
        pairs: every scored pair (evidence for decided pairs whose rows changed).
        records: the run's records with ``_rid``, lineage and ``customer_id``.
        model: the model that scored them.
        decided: the decisions on the run's pairs: each decided pair is sent too, so the store can keep it
            ``decided`` or open it again (its rows changed, or the run could not honour it).
    """
    wanted = [review["left"], review["right"]]
    if decided is not None:
        wanted += [decided.pairs["left_rid"], decided.pairs["right_rid"]]
    involved = records.filter(pl.col("_rid").is_in(pl.concat([w.cast(pl.Int64) for w in wanted]).unique().implode()))
    ids = {rid: (source, key) for rid, source, key in _rids(involved).iter_rows()}
    customer = dict(involved.select("_rid", "customer_id").iter_rows())
    prints = _fingerprints(involved, involved["_rid"])
    rows: dict[tuple[str, str, str, str], dict[str, Any]] = {}

    def pair_of(left: int, right: int) -> tuple[str, str, str, str]:
        return crm_store.ordered_pair(*ids[left], *ids[right])

    for row in review.iter_rows(named=True):
        reason = row.get("reason") or "band"
        rows[pair_of(row["left"], row["right"])] = {
            "probability": row.get("match_probability"),
            "kind": REASON_KINDS.get(reason, "review"),
            "evidence": json.dumps(_evidence(row, model), ensure_ascii=False, sort_keys=True),
            "fingerprint": pair_fingerprint(prints[row["left"]], prints[row["right"]]),
            "note": CONTRADICTED if reason == "decision_conflict" else None,
        }
    if decided is not None:
        keys = decided.pairs.select(
            pl.min_horizontal("left_rid", "right_rid").cast(pairs.schema["left"]).alias("left"),
            pl.max_horizontal("left_rid", "right_rid").cast(pairs.schema["right"]).alias("right"),
        )
        found_pairs = pairs.join(keys, on=["left", "right"], how="semi") if pairs.height else pairs
        scored = {(r["left"], r["right"]): r for r in found_pairs.iter_rows(named=True)}
        for d in decided.pairs.iter_rows(named=True):
            pair = pair_of(d["left_rid"], d["right_rid"])
            if pair in rows:
                continue
            honoured = (customer[d["left_rid"]] == customer[d["right_rid"]]) == (d["decision"] == "match")
            item: dict[str, Any] = {"probability": None, "kind": None, "evidence": None, "note": None}
            if not d["binds"] or not honoured:
                found = scored.get((min(d["left_rid"], d["right_rid"]), max(d["left_rid"], d["right_rid"])))
                if found is not None:
                    reason = "decision_conflict" if d["binds"] else "rows_changed"
                    item["probability"] = found["match_probability"]
                    item["evidence"] = json.dumps(
                        _evidence({**found, "reason": reason}, model), ensure_ascii=False, sort_keys=True
                    )
            if d["binds"] and not honoured:
                item |= {"kind": "conflict", "note": CONTRADICTED}
            rows[pair] = {**item, "fingerprint": d["fingerprint"]}
    schema = {
        **dict.fromkeys(_PAIR, pl.String),
        "probability": pl.Float64,
        "kind": pl.String,
        "evidence": pl.String,
        "fingerprint": pl.String,
        "note": pl.String,
    }
    data = [{**dict(zip(_PAIR, pair, strict=True)), **values} for pair, values in sorted(rows.items())]
    return pl.DataFrame(data, schema=schema, orient="row") if data else pl.DataFrame(schema=schema)


def review_scope(records: pl.DataFrame, incremental: bool) -> pl.DataFrame | None:
    """The rows whose pairs an incremental run scored (``source``, ``source_key``); None for a full run."""
    if not incremental:
        return None
    return read_this_run(records).select(
        pl.col(SOURCE_COL).cast(pl.String).alias("source"), pl.col(SOURCE_KEY_COL).cast(pl.String).alias("source_key")
    )

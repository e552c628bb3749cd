"""The review queue's side of a run (used by ``pipelines.migrate``), and the queue as stewards see it (used by
``crmkit review`` and the web page ``crmkit serve``).

Before matching, the stewards' decisions are read from the store and mapped onto the run's records: a ``match`` /
``no_match`` whose pair still has the fingerprint it was decided on becomes a must-link / cannot-link (and a
labelled pair for training); one whose rows were edited since binds no more. After matching, the run's possible
matches and its decided pairs become the rows :func:`crm_store.upsert_review_items` keeps up to date. No business
rule lives here: the constraints are :mod:`rules.match.constraints`, the statuses ``crm_store.steward``.

For the stewards, :func:`queue_items` lists the queue (possible matches and the ``clean`` flow's findings) in the
order both ways in show it, :func:`canonical_values` gives a pair's rows as the matcher compared them, and
:func:`finding_subject` the customer a finding is about, with its contact points.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

import polars as pl
from sqlalchemy.orm import Session

import crm_store
from crm_store.schema import CANONICAL_FIELDS, SOURCE_COL, SOURCE_KEY_COL, STORE_NAMES
from pipelines.ledger import REHYDRATED_COL, read_this_run
from pipelines.stages import Decided
from rules.match import MatchModel
from rules.match.constraints import pair_fingerprint, row_fingerprints

if TYPE_CHECKING:
    from pipelines.settings import ProjectSettings

__all__ = [
    "QUEUE_STATUSES",
    "REASON_KINDS",
    "canonical_values",
    "decided_pairs",
    "finding_subject",
    "queue_items",
    "review_items",
    "review_scope",
    "unsatisfied",
]

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
#: The queue's status filters (``all``: every item).
QUEUE_STATUSES: Final = ("open", "decided", "stale", "all")
#: Golden record columns a finding's customer is shown without (bookkeeping, or shown elsewhere).
_NOT_SHOWN: Final = frozenset({"customer_id", "content_hash", "attributes", "merged_into", "split_from"})


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


# ------------------------------------------------------------------------------------- the queue for stewards


def _decision_view(decision: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if decision is None:
        return None
    return {
        "decision": decision["decision"],
        "decided_by": decision["decided_by"],
        "decided_at": decision["decided_at"].isoformat(),
        "note": decision["note"],
    }


def queue_items(session: Session, status: str | None) -> list[dict[str, Any]]:
    """The review queue's items (of ``status``; every item when None) as JSON-ready dicts, in the order a steward
    works through them: possible matches most in doubt first (``|p - 0.5|``), then the clean findings (by kind,
    then id), each group with the items put aside with ``skip`` after the others.

    Each item has ``id``, ``subject`` (``pair`` or ``finding``), ``probability`` (None for a finding), ``kind``,
    ``status``, ``left`` and ``right`` (``{source, source_key}``; None for a finding), ``customer_id`` (a finding's;
    None for a pair), ``evidence`` (parsed; a finding's is masked), ``note``, ``decision`` (the newest, or None:
    ``decision``, ``decided_by``, ``decided_at``, ``note``), ``fingerprint``, ``first_run_id``, ``last_run_id`` and
    ``updated_at``.
    """
    frame = crm_store.read_review_items(session, status=status)  # type: ignore[arg-type]
    pairs = {tuple(d[c] for c in _PAIR): d for d in crm_store.read_decisions(session).iter_rows(named=True)}
    findings = {d["finding_key"]: d for d in crm_store.read_finding_decisions(session).iter_rows(named=True)}
    out = []
    for row in frame.iter_rows(named=True):
        subject = crm_store.subject_of(row)
        if subject == "pair":
            decision = pairs.get(tuple(row[c] for c in _PAIR))
            left = {"source": row["left_source"], "source_key": row["left_key"]}
            right = {"source": row["right_source"], "source_key": row["right_key"]}
        else:
            decision, left, right = findings.get(row["finding_key"]), None, None
        out.append(
            {
                "id": row["id"],
                "subject": subject,
                "probability": row["probability"],
                "kind": row["kind"],
                "status": row["status"],
                "left": left,
                "right": right,
                "customer_id": row["customer_id"],
                "evidence": json.loads(row["evidence"]) if row["evidence"] else None,
                "note": row["note"],
                "decision": _decision_view(decision),
                "fingerprint": row["fingerprint"],
                "first_run_id": row["first_run_id"],
                "last_run_id": row["last_run_id"],
                "updated_at": row["updated_at"].isoformat(),
            }
        )

    def order(item: dict[str, Any]) -> tuple[bool, bool, bool, float, str, int]:
        p = item["probability"]
        skipped = item["decision"] is not None and item["decision"]["decision"] == "skip"
        finding = item["subject"] == "finding"
        doubt = abs(p - 0.5) if p is not None else 1.0
        return (finding, p is None, skipped, doubt, item["kind"] if finding else "", item["id"])

    return sorted(out, key=order)


def canonical_values(settings: ProjectSettings, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each raw row of a pair (``crm_store.read_pair_rows``) mapped onto canonical fields and normalised as the run
    did: the values the matcher compared. A row of an unknown source, an activity source or without a payload
    gives an empty dict."""
    from rules.mapping import apply_codes, apply_mapping
    from rules.normalise import normalise_frame

    out: list[dict[str, Any]] = []
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


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)


def finding_subject(session: Session, item: Mapping[str, Any]) -> dict[str, Any]:
    """The customer a finding (a review item of subject ``finding``) is about, as it is in the store now:
    ``customer_id``, ``found`` (False when the customer is gone), ``retired_at``, ``fields`` (the golden record's
    non-empty fields as ``{name, value, concerned}`` text, ``concerned`` marking the fields the finding is about,
    empty ones included) and ``contact_points`` (``crm_store.read_customer_contact_points``). Values are unmasked:
    stewards see the data, as ``crmkit review show`` does for a pair's rows."""
    customer_id = str(item["customer_id"])
    record = crm_store.read_customer(session, customer_id)
    evidence = item.get("evidence") or {}
    field = str(evidence.get("field") or "")
    concerned = {STORE_NAMES.get(name, name) for name in field.split("|") if name}
    fields = []
    customer = record.row(0, named=True) if record.height else {}
    for name, value in customer.items():
        if name in _NOT_SHOWN or (value in (None, "", [], {}) and name not in concerned):
            continue
        fields.append({"name": name, "value": _text(value), "concerned": name in concerned})
    for name in sorted(concerned - set(customer)):
        fields.append({"name": name, "value": None, "concerned": True})
    return {
        "customer_id": customer_id,
        "found": bool(customer),
        "retired_at": customer.get("retired_at"),
        "fields": fields,
        "contact_points": crm_store.read_customer_contact_points(session, customer_id),
    }

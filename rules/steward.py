"""What a data steward's merge or unmerge does to clusters, as pure functions over rows, events and decisions.

A source row is named ``"source:source_key"`` here (a source name holds no colon), as ``merge_event.members`` and
the crosswalk's evidence name it.

* **Unmerge restores the earlier golden records** (:func:`earlier_parts`). The customer's latest merge event says
  which rows it joined; the customers it joined are read from history, newest first: the customers a steward's
  merge recorded it joined, then the earlier merge events (of the customer and of the customers merged into it),
  then retired single-row customers merged into it (known by the id derived from their row, :func:`derived_ids`).
  The rows none of these held (new rows of the merging run) stay together as one more part. When history names no
  earlier golden record at all there is nothing to restore: the steward names the rows to split off.
* **Decisions make later runs honour the action** (:func:`split_decisions`, :func:`merge_decisions`). An unmerge
  records ``no_match`` between the parts (every crossing pair, or for big parts each row of the smaller part with
  up to ``max_pairs // len(smaller)`` rows of the other) and ``match`` along a chain inside each part, so that a
  run's constrained clustering (``rules.match.constraints``) can neither join the parts nor cut a part apart. A
  merge records ``match`` from the keeper's first row to each other customer's first row. Either also decides
  again every pair whose newest decision contradicts it (the newest decision of a pair is the one that counts).
  Pairs already decided the same way, on the values they have now, are not decided again.
* **The keeper of a merge** (:func:`merge_keeper`): most rows, then the oldest, then the smallest id.
* **A row's match evidence** (:func:`unmerged_evidence`, :func:`merged_evidence`): evidence naming a row now in
  another customer is kept, marked ``"unmerged": true``, and the row's match probability is cleared; a merge that
  brings the two rows together again restores both exactly.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from rules.survive import CUSTOMER_ID_NAMESPACE

__all__ = [
    "MAX_CROSSING_PAIRS",
    "DecisionPlan",
    "HistoryEvent",
    "derived_ids",
    "earlier_parts",
    "event_pairs",
    "merge_decisions",
    "merge_keeper",
    "merged_evidence",
    "pair_key",
    "parse_row",
    "row_label",
    "split_decisions",
    "unmerged_evidence",
]

#: Most ``no_match`` decisions an unmerge records between two parts (beyond it: each row of the smaller part with
#: a bounded number of rows of the other, see :func:`split_decisions`).
MAX_CROSSING_PAIRS: Final = 2_500
#: Marks crosswalk evidence naming a row that an unmerge put in another customer.
UNMERGED: Final = "unmerged"

Pair = tuple[str, str]


def row_label(source: str, source_key: str) -> str:
    """``"source:source_key"``: how merge events and evidence name a source row."""
    return f"{source}:{source_key}"


def parse_row(text: str) -> tuple[str, str]:
    """``(source, source_key)`` of ``"source:source_key"`` (the key may hold colons, a source name never does).

    Raises:
        ValueError: no colon, or an empty source or key.
    """
    source, sep, key = text.partition(":")
    if not sep or not source or not key:
        raise ValueError(f"{text!r} is not a source row: write it as source:key (e.g. crm:K001)")
    return source, key


def pair_key(a: str, b: str) -> Pair:
    """A pair of row labels in one order, for lookups."""
    return (a, b) if a <= b else (b, a)


def derived_ids(source: str, source_key: str) -> tuple[str, str]:
    """The ids ``rules.survive.customer_ids`` derives for a customer whose smallest row is this one: the plain one
    and the one used when the plain one was taken (``…\\x1fsplit``)."""
    plain = str(uuid.uuid5(CUSTOMER_ID_NAMESPACE, f"{source}\x1f{source_key}"))
    return plain, str(uuid.uuid5(CUSTOMER_ID_NAMESPACE, f"{plain}\x1fsplit"))


@dataclass(frozen=True, slots=True)
class HistoryEvent:
    """A merge event as the rules see it: ``parts`` are the customers a steward's merge joined, ``(id, rows)``
    (empty for a run's)."""

    id: int
    customer_id: str
    members: frozenset[str]
    parts: tuple[tuple[str, frozenset[str]], ...] = ()


def event_pairs(evidence: Any) -> list[dict[str, Any]]:
    """The scored pairs (``a``, ``b``, ``score``) of a merge event's evidence: a run's is the list itself, a
    steward's merge keeps them under ``pairs``."""
    if isinstance(evidence, str):
        evidence = json.loads(evidence)
    if isinstance(evidence, dict):
        evidence = evidence.get("pairs") or []
    if not isinstance(evidence, list):
        return []
    return [p for p in evidence if isinstance(p, dict) and {"a", "b"} <= p.keys()]


def earlier_parts(
    rows: Collection[str],
    event: HistoryEvent | None,
    earlier: Iterable[HistoryEvent] = (),
    singles: Mapping[str, str] | None = None,
) -> list[tuple[list[str], str | None]]:
    """The earlier golden records a customer's latest merge joined, as parts of its rows (see the module doc).

    Args:
        rows: the customer's rows now.
        event: its latest merge event (``parts``: the customers a steward's merge joined, by id).
        earlier: active merge events recorded before ``event``, of the customer and of the customers merged into it.
        singles: rows that were single-row customers merged into it -> that customer's id.

    Returns:
        Two or more ``(rows, earlier id)`` (rows sorted, parts sorted by first row) covering ``rows``; the earlier id
        is the customer the part was (None for the rows no earlier golden record held). ``[]`` when history names
        no earlier golden record (nothing to restore).
    """
    left = set(rows)
    parts: list[tuple[list[str], str | None]] = []

    def claim(members: Collection[str], owner: str | None) -> None:
        part = sorted(left.intersection(members))
        if part:
            parts.append((part, owner))
            left.difference_update(part)

    if event is not None:
        for owner, part in event.parts:
            claim(part, owner)
    for e in sorted(earlier, key=lambda e: e.id, reverse=True):
        claim(e.members, e.customer_id)
    for row, owner in sorted((singles or {}).items()):
        claim({row}, owner)
    if left:
        parts.append((sorted(left), None))
    return sorted(parts, key=lambda p: p[0][0]) if len(parts) > 1 else []


@dataclass(frozen=True, slots=True)
class DecisionPlan:
    """The decisions a merge or unmerge records: pairs of row labels.

    ``crossing`` counts the pairs between parts, ``bounded`` says not all of them got a ``no_match`` (big parts).
    """

    match: list[Pair] = field(default_factory=list)
    no_match: list[Pair] = field(default_factory=list)
    crossing: int = 0
    bounded: bool = False


def _decided(newest: Mapping[Pair, tuple[str, bool]], pair: Pair, decision: str) -> bool:
    """Whether the pair's newest decision is ``decision`` and still binds (made on the values the rows have now)."""
    found = newest.get(pair_key(*pair))
    return found is not None and found[0] == decision and found[1]


def _unique(pairs: Iterable[Pair]) -> list[Pair]:
    return list(dict.fromkeys(pair_key(*p) for p in pairs))


def split_decisions(
    parts: Sequence[Sequence[str]],
    newest: Mapping[Pair, tuple[str, bool]],
    *,
    max_pairs: int = MAX_CROSSING_PAIRS,
) -> DecisionPlan:
    """The decisions that keep ``parts`` apart and each part together in later runs.

    Args:
        parts: the rows of each part (two or more parts).
        newest: the newest ``match`` / ``no_match`` of pairs among these rows (keyed by :func:`pair_key`):
            ``(decision, binds)``.
        max_pairs: most ``no_match`` pairs between two parts before only each row of the smaller part is paired
            with ``max(1, max_pairs // len(smaller))`` rows of the larger.
    """
    part_of = {row: i for i, part in enumerate(parts) for row in part}
    no_match: list[Pair] = []
    crossing, bounded = 0, False
    for i, first in enumerate(parts):
        for second in parts[i + 1 :]:
            small, big = sorted((sorted(first), sorted(second)), key=len)
            crossing += len(small) * len(big)
            if len(small) * len(big) > max_pairs:
                bounded = True
                big = big[: max(1, max_pairs // len(small))]
            no_match += [(a, b) for a in small for b in big]
    match = [(p[k], p[k + 1]) for p in (sorted(part) for part in parts) for k in range(len(p) - 1)]
    for (a, b), (decision, _) in newest.items():  # decisions the action contradicts: decide them again
        if a not in part_of or b not in part_of:
            continue
        if decision == "match" and part_of[a] != part_of[b]:
            no_match.append((a, b))
        elif decision == "no_match" and part_of[a] == part_of[b]:
            match.append((a, b))
    return DecisionPlan(
        match=[p for p in _unique(match) if not _decided(newest, p, "match")],
        no_match=[p for p in _unique(no_match) if not _decided(newest, p, "no_match")],
        crossing=crossing,
        bounded=bounded,
    )


def merge_decisions(groups: Sequence[Sequence[str]], newest: Mapping[Pair, tuple[str, bool]]) -> DecisionPlan:
    """The ``match`` decisions that keep ``groups`` (the merged customers' rows, the keeper's first) together in
    later runs: the keeper's first row with each other group's first row, and every pair among the rows whose
    newest decision is ``no_match``."""
    heads = [sorted(g)[0] for g in groups if g]
    match = [(heads[0], head) for head in heads[1:]]
    rows = {row for g in groups for row in g}
    match += [(a, b) for (a, b), (d, _) in newest.items() if d == "no_match" and a in rows and b in rows]
    return DecisionPlan(match=[p for p in _unique(match) if not _decided(newest, p, "match")])


def merge_keeper(customers: Sequence[tuple[str, int, Any]]) -> str:
    """The id a merge keeps, of ``(customer_id, rows, created_at)``: most rows, then the oldest, then the smallest."""
    if not customers:
        raise ValueError("merge_keeper: no customers")
    return min(customers, key=lambda c: (-c[1], c[2], c[0]))[0]


def _evidence(text: str | None) -> dict[str, Any] | None:
    value = json.loads(text) if text else None
    return value if isinstance(value, dict) and "with" in value else None


def _dump(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def unmerged_evidence(rows: Sequence[Mapping[str, Any]]) -> list[tuple[float | None, str | None]]:
    """Each row's ``(match_probability, evidence)`` after an unmerge: evidence naming a row now in another customer
    is kept, marked ``"unmerged": true``, without a probability; the rest is unchanged.

    Args:
        rows: every row of the unmerged customer: ``source``, ``source_key``, ``customer_id`` (after the
            unmerge), ``match_probability``, ``evidence`` (JSON text).
    """
    owner = {row_label(r["source"], r["source_key"]): r["customer_id"] for r in rows}
    out: list[tuple[float | None, str | None]] = []
    for r in rows:
        found = _evidence(r["evidence"])
        if found is None or found.get(UNMERGED) or owner.get(found["with"]) == r["customer_id"]:
            out.append((r["match_probability"], r["evidence"]))
        else:
            out.append((None, _dump({**found, UNMERGED: True})))
    return out


def merged_evidence(
    rows: Sequence[Mapping[str, Any]], pairs: Iterable[Mapping[str, Any]] = ()
) -> list[tuple[float | None, str | None]]:
    """Each row's ``(match_probability, evidence)`` after a merge: evidence an unmerge marked, naming a row of the
    same customer again, is restored (its score is the probability again); a row without evidence gets its best
    scored pair (``pairs``: ``a``, ``b``, ``score``, as merge events keep them) with a row of its customer, as a run
    gives it; the rest is unchanged.

    Args:
        rows: every row of the merged customer, as for :func:`unmerged_evidence`.
        pairs: scored pairs of these rows known from history (a restored merge event's).
    """
    owner = {row_label(r["source"], r["source_key"]): r["customer_id"] for r in rows}
    best: dict[str, tuple[float, str]] = {}
    for pair in pairs:
        a, b, score = pair.get("a"), pair.get("b"), pair.get("score")
        if not isinstance(score, int | float) or a not in owner or b not in owner or owner[a] != owner[b]:
            continue
        for row, other in ((a, b), (b, a)):
            found = best.get(row)
            if found is None or (-score, other) < (-found[0], found[1]):
                best[row] = (float(score), other)
    out: list[tuple[float | None, str | None]] = []
    for r in rows:
        label = row_label(r["source"], r["source_key"])
        evidence = _evidence(r["evidence"])
        if evidence is not None and evidence.get(UNMERGED) and owner.get(evidence["with"]) == r["customer_id"]:
            restored = {k: v for k, v in evidence.items() if k != UNMERGED}
            score = restored.get("score")
            out.append((float(score) if isinstance(score, int | float) else None, _dump(restored)))
        elif r["evidence"] is None and label in best:
            score, other = best[label]
            out.append((score, _dump({"score": score, "with": other})))
        else:
            out.append((r["match_probability"], r["evidence"]))
    return out

"""Steward decisions as clustering constraints: must-link and cannot-link pairs, and the fingerprints they bind to.

A steward's ``match`` on a pair of records is a **must-link** (the two end in one cluster), a ``no_match`` a
**cannot-link** (never in one cluster). Given as ``left, right, must_link`` rows, first row first:

1. **Contradictions are resolved by priority.** Must-links close transitively (A = B and B = C put A with C); a
   constraint that contradicts the ones before it (A = B, B = C, then A ≠ C) is *ignored* and returned, so the
   caller can put the pair back in front of a person. The caller lists the newest decisions first: the latest word
   of a steward wins. Records that must stay together whatever the constraints say (an incremental run's existing
   clusters, ``groups``) are joined before any constraint.
2. **The clustering sees the cannot-links** (:func:`with_constraints`, :func:`constrained_weights`): a cannot-link
   pair is refused like a pair a cannot-link comparison vetoes (``-inf``: average linkage never joins two groups
   across it).
3. **Then both are enforced** (:func:`apply_constraints`), whatever clustering ran (plain connected components
   chain strangers through a third record). A must-link is an edge of probability 1 added *after* the clustering,
   which no linkage check can cut: the two clusters holding its records merge (accepting a pair merges the two
   customers as they are; fed into average linkage, the decision would instead pull one row out of its customer
   whenever the rest of that customer disagrees with the other). A cluster that then holds a cannot-link pair is
   rebuilt as a *constrained maximum spanning forest* (Kruskal): its must-links first, then its own scored pairs
   strongest first, each link refused when it would put a cannot-link pair together. Every path between the two
   records is so cut at its weakest link(s); the rest of the cluster stays as it was.

This is the approach of constrained connected components (as in Zingg's and dedupe's training labels used as
hard constraints) rather than Splink's, which uses labels only to train. Everything is deterministic: ties in
weight go to the smaller ``(left, right)``; a changed cluster's label is its smallest ``_rid``, an unchanged one
keeps its label (labels are assumed to be ``_rid`` values of their members, as the matcher gives them).

A decision binds only while its pair's records hold the values it was made on: :func:`row_fingerprints` is the
sha256 of the values the comparisons read (:data:`FINGERPRINT_FIELDS`), :func:`pair_fingerprint` combines two rows'
fingerprints in either order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import polars as pl

from .linkage import WeightFn
from .prepare import RID

__all__ = [
    "FINGERPRINT_FIELDS",
    "Constrained",
    "apply_constraints",
    "constrained_review",
    "constrained_weights",
    "pair_fingerprint",
    "resolve_constraints",
    "row_fingerprints",
    "with_constraints",
]

#: Canonical (normalised) fields whose values the comparisons read: a change to one of them is a change to the
#: evidence a decision was made on. Other fields (owner, notes, timestamps) can change without undoing decisions.
FINGERPRINT_FIELDS: Final = (
    "full_name",
    "family_name",
    "given_name",
    "phone",
    "phones",
    "email",
    "company",
    "job_title",
    "address",
    "province",
    "city",
    "district",
    "postcode",
    "country",
    "birth_date",
    "gender",
    "id_number",
    "wechat",
)
_CONSTRAINT_SCHEMA: Final = {"left": pl.Int64, "right": pl.Int64, "must_link": pl.Boolean}


# ------------------------------------------------------------------------------------------------ fingerprints


def row_fingerprints(records: pl.DataFrame, fields: Sequence[str] = FINGERPRINT_FIELDS) -> pl.Series:
    """The sha256 (hex) of each record's compared values: ``field=value`` of the non-null ``fields`` it has.

    A field absent from the frame and a null value are the same (nothing known), so a fingerprint does not change
    when a source gains an empty column. Lists (``phones``) are joined in their order.
    """
    parts = []
    for name in fields:
        if name not in records.columns:
            continue
        column = pl.col(name)
        dtype = records.schema[name]
        if isinstance(dtype, pl.List):
            text = column.cast(pl.List(pl.String)).list.join("\x1e")
        else:
            text = column.cast(pl.String)
        parts.append(pl.when(text.is_not_null()).then(pl.lit(f"{name}=") + text))
    if not parts:
        joined = pl.Series("fingerprint", [""] * records.height, dtype=pl.String)
    else:
        joined = records.select(pl.concat_str(parts, separator="\x1f", ignore_nulls=True).alias("fingerprint"))[
            "fingerprint"
        ].fill_null("")
    return pl.Series(
        "fingerprint", [hashlib.sha256(text.encode("utf-8")).hexdigest() for text in joined.to_list()], dtype=pl.String
    )


def pair_fingerprint(left: str, right: str) -> str:
    """The fingerprint of a pair from its two rows' fingerprints (the same in either order)."""
    a, b = sorted((left, right))
    return hashlib.sha256(f"{a}:{b}".encode("ascii")).hexdigest()


# ------------------------------------------------------------------------------------------------ resolution


class _Sets:
    """Union-find over ``_rid`` values whose sets remember the records they may never join (cannot-links)."""

    def __init__(self, nodes: Iterable[int]) -> None:
        self.parent = {n: n for n in nodes}
        self.bans: dict[int, set[int]] = {}

    def find(self, node: int) -> int:
        root = node
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[node] != root:
            self.parent[node], node = root, self.parent[node]
        return root

    def banned(self, a: int, b: int) -> bool:
        ra, rb = self.find(a), self.find(b)
        smaller, other = (ra, rb) if len(self.bans.get(ra, ())) <= len(self.bans.get(rb, ())) else (rb, ra)
        return any(self.find(x) == other for x in self.bans.get(smaller, ()))

    def union(self, a: int, b: int) -> bool:
        """Join the sets of ``a`` and ``b``; False (nothing done) when a cannot-link forbids it."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return True
        if self.banned(a, b):
            return False
        keep, gone = min(ra, rb), max(ra, rb)
        self.parent[gone] = keep
        bans = self.bans.pop(gone, set())
        if bans:
            self.bans.setdefault(keep, set()).update(bans)
        return True

    def ban(self, a: int, b: int) -> bool:
        """Forbid ``a`` and ``b`` in one set; False when they are in one already."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return False
        self.bans.setdefault(ra, set()).add(b)
        self.bans.setdefault(rb, set()).add(a)
        return True


def _constraint_frame(constraints: pl.DataFrame) -> pl.DataFrame:
    """``left < right``, no self pairs, each pair once (its first row), in the given order."""
    if not constraints.height:
        return pl.DataFrame(schema=_CONSTRAINT_SCHEMA)
    frame = constraints.select(
        pl.col("left").cast(pl.Int64), pl.col("right").cast(pl.Int64), pl.col("must_link").cast(pl.Boolean)
    )
    return (
        frame.filter(pl.col("left") != pl.col("right"))
        .select(
            pl.min_horizontal("left", "right").alias("left"),
            pl.max_horizontal("left", "right").alias("right"),
            "must_link",
        )
        .unique(["left", "right"], keep="first", maintain_order=True)
    )


def _group_pairs(groups: pl.DataFrame | None, nodes: pl.Series | None = None) -> list[tuple[int, int]]:
    """Pairs that join every record of each group to the group's first record (only the groups holding one of
    ``nodes``, when given: an incremental run's million existing records need no pairs of their own)."""
    if groups is None or not groups.height:
        return []
    frame = groups.select(pl.col(RID).cast(pl.Int64), pl.col("cluster").cast(pl.Int64))
    if nodes is not None:
        wanted = frame.filter(pl.col(RID).is_in(nodes.cast(pl.Int64).implode()))["cluster"].unique().implode()
        frame = frame.filter(pl.col("cluster").is_in(wanted))
    frame = frame.sort("cluster", RID)
    first = frame.group_by("cluster", maintain_order=True).agg(pl.col(RID).first().alias("head"))
    joined = frame.join(first, on="cluster").filter(pl.col(RID) != pl.col("head"))
    return list(zip(joined["head"].to_list(), joined[RID].to_list(), strict=True))


def resolve_constraints(
    constraints: pl.DataFrame, groups: pl.DataFrame | None = None, *, rids: pl.Series | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split constraints into those kept and those that contradict the ones before them.

    Args:
        constraints: ``left``, ``right`` (``_rid``), ``must_link`` (True: must-link, False: cannot-link); the first
            rows win.
        groups: ``_rid``, ``cluster`` of records that stay together whatever the constraints say.
        rids: the records being clustered: constraints naming another record are dropped (neither kept nor
            ignored).

    Returns:
        (kept, ignored): both ``left < right``, ``must_link``, in the given order.
    """
    frame = _constraint_frame(constraints)
    if rids is not None:
        known = rids.cast(pl.Int64).implode()
        frame = frame.filter(pl.col("left").is_in(known) & pl.col("right").is_in(known))
        if groups is not None:
            groups = groups.filter(pl.col(RID).cast(pl.Int64).is_in(known))
    links = _group_pairs(groups, pl.concat([frame["left"], frame["right"]]))
    nodes = {*frame["left"].to_list(), *frame["right"].to_list(), *(n for pair in links for n in pair)}
    sets = _Sets(nodes)
    for a, b in links:
        sets.union(a, b)
    kept = []
    for left, right, must in frame.iter_rows():
        kept.append(sets.union(left, right) if must else sets.ban(left, right))
    mask = pl.Series(kept, dtype=pl.Boolean)
    return frame.filter(mask), frame.filter(~mask)


# ------------------------------------------------------------------------------------------ feeding clustering


def with_constraints(scored: pl.DataFrame, constraints: pl.DataFrame) -> pl.DataFrame:
    """The scored pairs as the clustering should see them: cannot-link pairs flagged ``cannot_link`` (refused like
    a pair a cannot-link comparison vetoes). Must-links are not fed in: :func:`apply_constraints` adds them after
    the clustering, as links of probability 1 no check can cut.

    ``constraints`` are kept ones (see :func:`resolve_constraints`): ``left < right``, ``must_link``.
    """
    cannot = constraints.filter(~pl.col("must_link"))
    if not cannot.height:
        return scored
    dtype = scored.schema.get("left", pl.Int64)
    marks = cannot.select(pl.col("left").cast(dtype), pl.col("right").cast(dtype), pl.lit(True).alias("_cannot"))
    flag = pl.col("cannot_link").fill_null(False) if "cannot_link" in scored.columns else pl.lit(False)
    return (
        scored.join(marks, on=["left", "right"], how="left", maintain_order="left")
        .with_columns((flag | pl.col("_cannot").fill_null(False)).alias("cannot_link"))
        .drop("_cannot")
    )


def constrained_weights(weight_of: WeightFn, constraints: pl.DataFrame) -> WeightFn:
    """``weight_of`` for average linkage with cannot-link pairs at ``-inf`` (never in one group; kept constraints:
    ``left < right``, ``must_link``)."""
    banned = {(int(a), int(b)) for a, b in constraints.filter(~pl.col("must_link")).select("left", "right").iter_rows()}
    if not banned:
        return weight_of

    def weight(left: np.ndarray, right: np.ndarray) -> np.ndarray:
        out = np.asarray(weight_of(left, right), dtype=np.float64).copy()
        for i, (a, b) in enumerate(zip(left.tolist(), right.tolist(), strict=True)):
            if ((a, b) if a < b else (b, a)) in banned:
                out[i] = -np.inf
        return out

    return weight


# ------------------------------------------------------------------------------------------------ enforcement


@dataclass(frozen=True, slots=True)
class Constrained:
    """Clusters that honour every kept constraint.

    Attributes:
        clusters: ``_rid``, ``cluster`` of every record (sorted by ``_rid``, the input's dtype).
        cut: ``left``, ``right`` of the input pairs whose records shared a cluster before and no longer do (the
            links a cannot-link cut).
        kept: the constraints honoured (``left < right``, ``must_link``).
        ignored: the constraints that contradict those before them (not honoured).
    """

    clusters: pl.DataFrame
    cut: pl.DataFrame
    kept: pl.DataFrame
    ignored: pl.DataFrame


def apply_constraints(
    clusters: pl.DataFrame,
    pairs: pl.DataFrame,
    constraints: pl.DataFrame,
    *,
    groups: pl.DataFrame | None = None,
) -> Constrained:
    """Merge the clusters a must-link joins, then split each cluster holding a cannot-link pair (see module doc).

    Args:
        clusters: ``_rid``, ``cluster`` of every record (any clustering).
        pairs: scored pairs ``left``, ``right``, ``match_weight`` (any probability): the links a split cluster is
            rebuilt from (only pairs inside one input cluster are used).
        constraints: ``left``, ``right``, ``must_link``; the first rows win (see :func:`resolve_constraints`).
            Pairs naming a record not in ``clusters`` are dropped.
        groups: ``_rid``, ``cluster`` of records that stay together (an incremental run's existing clusters).

    Returns:
        The constrained clusters, the pairs cut, the constraints kept and ignored. With no constraint the clusters
        are returned unchanged.
    """
    dtype = clusters.schema[RID]
    base = clusters.select(pl.col(RID).cast(pl.Int64), pl.col("cluster").cast(pl.Int64)).sort(RID)
    if groups is not None:
        groups = groups.filter(pl.col(RID).cast(pl.Int64).is_in(base[RID].implode()))
    kept, ignored = resolve_constraints(constraints, groups, rids=base[RID])
    empty_cut = pl.DataFrame(schema={"left": dtype, "right": dtype})
    if not kept.height:
        return Constrained(clusters, empty_cut, kept, ignored)

    # the input clusters the constraints touch, joined by the must-links (sets of cluster labels)
    ends = pl.concat([kept["left"], kept["right"]]).unique()
    musts = kept.filter(pl.col("must_link")).select("left", "right").rows()
    cannots = kept.filter(~pl.col("must_link")).select("left", "right").rows()
    # records that stay together are one cluster, even if the input clustering split them (it never should)
    group_links = _group_pairs(groups, ends)
    needed = pl.concat([ends, pl.Series([n for pair in group_links for n in pair], dtype=pl.Int64)])
    label = dict(base.filter(pl.col(RID).is_in(needed.implode())).iter_rows())
    merged = _Sets(set(label.values()))
    for a, b in [*group_links, *musts]:
        merged.union(label[a], label[b])
    to_split = {merged.find(label[a]) for a, b in cannots if merged.find(label[a]) == merged.find(label[b])}
    labels_of: dict[int, list[int]] = {}
    for value in sorted(set(label.values())):
        labels_of.setdefault(merged.find(value), []).append(value)
    changed = {root: values for root, values in labels_of.items() if len(values) > 1 or root in to_split}
    if not changed:
        return Constrained(clusters, empty_cut, kept, ignored)

    # the members of every changed group; a group holding a cannot-link pair is rebuilt as a constrained forest
    member_frame = base.filter(pl.col("cluster").is_in(pl.Series([v for vs in changed.values() for v in vs]).implode()))
    group_of = {value: root for root, values in changed.items() for value in values}
    members: dict[int, list[int]] = {}
    for rid, value in member_frame.iter_rows():
        members.setdefault(group_of[value], []).append(rid)
    new_label: dict[int, int] = {}
    cut: list[tuple[int, int]] = []
    if to_split:
        split_rows = member_frame.filter(
            pl.col("cluster").is_in(pl.Series([v for r in to_split for v in changed[r]]).implode())
        )
        inside = _pairs_inside(pairs, split_rows)
        for group in sorted(to_split):
            nodes = members[group]
            in_group = set(nodes)
            forest = _Sets(nodes)
            for a, b in cannots:
                if a in in_group and b in in_group:
                    forest.ban(a, b)
            for a, b in [*group_links, *musts]:
                if a in in_group and b in in_group:
                    forest.union(a, b)  # never refused: the kept constraints are consistent
            links = inside.filter(pl.col("left").is_in(pl.Series(nodes).implode()))
            for a, b, _ in links.sort(["w", "left", "right"], descending=[True, False, False]).iter_rows():
                forest.union(a, b)
            for rid in nodes:
                new_label[rid] = forest.find(rid)  # the smallest _rid of its part
            cut.extend((a, b) for a, b, _ in links.iter_rows() if new_label[a] != new_label[b])
    for group, nodes in members.items():
        if group not in to_split:
            smallest = min(nodes)
            new_label.update(dict.fromkeys(nodes, smallest))
    mapping = pl.DataFrame(
        {RID: list(new_label), "_new": list(new_label.values())}, schema={RID: pl.Int64, "_new": pl.Int64}
    )
    out = (
        base.join(mapping, on=RID, how="left", maintain_order="left")
        .select(RID, pl.coalesce("_new", "cluster").alias("cluster"))
        .with_columns(pl.col(RID).cast(dtype), pl.col("cluster").cast(dtype))
    )
    cut_frame = pl.DataFrame(sorted(cut), schema={"left": dtype, "right": dtype}, orient="row") if cut else empty_cut
    return Constrained(out, cut_frame, kept, ignored)


def _pairs_inside(pairs: pl.DataFrame, members: pl.DataFrame) -> pl.DataFrame:
    """``left``, ``right``, ``w`` (match weight) of the pairs whose two records share a cluster of ``members``
    (``_rid``, ``cluster``)."""
    schema = {"left": pl.Int64, "right": pl.Int64, "w": pl.Float64}
    if not pairs.height:
        return pl.DataFrame(schema=schema)
    weight = pl.col("match_weight").cast(pl.Float64).fill_null(0.0) if "match_weight" in pairs.columns else pl.lit(0.0)
    frame = pairs.select(pl.col("left").cast(pl.Int64), pl.col("right").cast(pl.Int64), weight.alias("w"))
    return (
        frame.join(members.rename({RID: "left", "cluster": "_cl"}), on="left")
        .join(members.rename({RID: "right", "cluster": "_cr"}), on="right")
        .filter(pl.col("_cl") == pl.col("_cr"))
        .select(*schema)
    )


def constrained_review(
    review: pl.DataFrame, scored: pl.DataFrame, result: Constrained, threshold: float
) -> pl.DataFrame:
    """The possible matches once constraints are honoured.

    Pairs a kept constraint decided leave the review; links clustering refused (``reason`` other than ``band``)
    whose records a must-link has since put in one cluster leave it; confident links a cannot-link cut join it
    (``decision``), and so do constraints that contradict newer ones (``decision_conflict``: a person must look
    again) when blocking proposed them (every row of the review is a scored pair).
    """
    dtype = scored.schema.get("left", pl.Int64)
    key = ["left", "right"]

    def pairs_of(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.select(pl.col("left").cast(dtype), pl.col("right").cast(dtype))

    labels = result.clusters.select(pl.col(RID).cast(dtype), pl.col("cluster"))
    out = review.join(pairs_of(result.kept), on=key, how="anti")
    if out.height:
        together = (
            out.select(*key, "reason")
            .join(labels.rename({RID: "left", "cluster": "_cl"}), on="left")
            .join(labels.rename({RID: "right", "cluster": "_cr"}), on="right")
            .filter((pl.col("reason") != "band") & (pl.col("_cl") == pl.col("_cr")))
        )
        out = out.join(together.select(key), on=key, how="anti")
    cut = scored.join(pairs_of(result.cut), on=key, how="semi").filter(pl.col("match_probability") >= threshold)
    conflicts = scored.join(pairs_of(result.ignored), on=key, how="semi")
    parts = [
        conflicts.with_columns(pl.lit("decision_conflict").alias("reason")),
        cut.with_columns(pl.lit("decision").alias("reason")),
        out,
    ]
    return (
        pl.concat([p for p in parts if p.height] or [out], how="diagonal_relaxed")
        .unique(key, keep="first", maintain_order=True)
        .sort(key)
    )

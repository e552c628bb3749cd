"""Steward decisions as must-link / cannot-link constraints on clustering."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rules.match import MatchSettings, cluster, match, match_incremental
from rules.match.constraints import (
    apply_constraints,
    constrained_review,
    pair_fingerprint,
    resolve_constraints,
    row_fingerprints,
    with_constraints,
)

from .conftest import records, together


def _scored(edges: list[tuple[int, int, float]]) -> pl.DataFrame:
    if not edges:
        names = ("match_weight", "match_probability")
        return pl.DataFrame(schema={"left": pl.Int64, "right": pl.Int64, **dict.fromkeys(names, pl.Float64)})
    left, right, weight = zip(*edges, strict=True)
    w = np.array(weight, dtype=np.float64)
    return pl.DataFrame(
        {"left": left, "right": right, "match_weight": w, "match_probability": 1 / (1 + np.exp2(-w))}
    ).with_columns(pl.col("left", "right").cast(pl.Int64))


def _constraints(rows: list[tuple[int, int, bool]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={"left": pl.Int64, "right": pl.Int64, "must_link": pl.Boolean}, orient="row")


def _labels(frame: pl.DataFrame) -> dict[int, int]:
    return dict(frame.select("_rid", "cluster").iter_rows())


def test_a_cannot_link_cuts_the_weakest_link_of_the_chain() -> None:
    # 1-2-3 chained by confident links; the steward says 1 is not 3: the weaker link (2-3) goes
    pairs = _scored([(1, 2, 20.0), (2, 3, 8.0)])
    base = cluster([1, 2, 3, 4], pairs, threshold=0.9)
    out = apply_constraints(base, pairs, _constraints([(3, 1, False)]))
    assert _labels(out.clusters) == {1: 1, 2: 1, 3: 3, 4: 4}
    assert out.cut.rows() == [(2, 3)]
    assert out.kept.rows() == [(1, 3, False)] and out.ignored.is_empty()


def test_a_must_link_merges_two_clusters_and_newer_decisions_win() -> None:
    pairs = _scored([(1, 2, 20.0), (3, 4, 20.0)])
    base = cluster([1, 2, 3, 4, 5, 6], pairs, threshold=0.9)
    # newest first: 2 = 3 merges {1, 2} and {3, 4}; "1 is not 4" then cuts the matcher's link 3-4, not a decision
    out = apply_constraints(base, pairs, _constraints([(2, 3, True), (1, 4, False), (5, 1, True)]))
    assert _labels(out.clusters) == {1: 1, 2: 1, 3: 1, 4: 4, 5: 1, 6: 6}
    assert out.cut.rows() == [(3, 4)] and out.ignored.is_empty()
    # an older decision that contradicts newer ones is ignored (and returned, to be asked again)
    out = apply_constraints(base, pairs, _constraints([(5, 6, True), (6, 2, True), (2, 5, False)]))
    assert out.ignored.rows() == [(2, 5, False)]
    assert _labels(out.clusters) == {1: 1, 2: 1, 3: 3, 4: 3, 5: 1, 6: 1}


def test_the_review_loses_decided_pairs_and_gains_cut_links_and_contradicted_decisions() -> None:
    pairs = _scored([(1, 2, 20.0), (2, 3, 8.0), (2, 5, 1.0), (5, 6, 2.0)])
    base = cluster([1, 2, 3, 4, 5, 6], pairs, threshold=0.9)
    review = pairs.filter(pl.col("match_weight") < 3.2).with_columns(pl.lit("band").alias("reason"))
    decided = _constraints([(1, 3, False), (5, 6, True), (6, 2, True), (2, 5, False)])
    result = apply_constraints(base, pairs, decided)
    out = constrained_review(review, pairs, result, 0.9)
    assert out.select("left", "right", "reason").rows() == [(2, 3, "decision"), (2, 5, "decision_conflict")]


def test_existing_groups_stay_whole() -> None:
    pairs = _scored([(3, 9, 20.0)])  # new record 9 joined existing cluster {1, 2, 3} through 3
    base = pl.DataFrame({"_rid": [1, 2, 3, 9], "cluster": [1, 1, 1, 1]})
    existing = pl.DataFrame({"_rid": [1, 2, 3], "cluster": [1, 1, 1]})
    out = apply_constraints(base, pairs, _constraints([(1, 9, False), (2, 3, False)]), groups=existing)
    assert _labels(out.clusters) == {1: 1, 2: 1, 3: 1, 9: 9}  # 9 leaves; the existing cluster is not broken
    assert out.ignored.rows() == [(2, 3, False)]  # inside an existing cluster: only a full run can split it


def test_no_constraint_changes_nothing() -> None:
    pairs = _scored([(1, 2, 20.0)])
    base = cluster([1, 2, 3], pairs, threshold=0.9)
    out = apply_constraints(base, pairs, _constraints([(7, 8, True)]))  # records not in this run
    assert out.clusters.equals(base) and out.kept.is_empty() and out.ignored.is_empty()


def test_the_clustering_sees_cannot_links_and_must_links_come_after_it() -> None:
    scored = _scored([(1, 2, 3.0), (2, 3, 20.0)]).with_columns(pl.lit(False).alias("cannot_link"))
    fed = with_constraints(scored, _constraints([(1, 2, True), (2, 3, False), (4, 5, True)]))
    assert fed.select("left", "right", "cannot_link").rows() == [(1, 2, False), (2, 3, True)]
    assert fed.drop("cannot_link").equals(scored.drop("cannot_link"))


@st.composite
def graphs(draw: st.DrawFn) -> tuple[int, list[tuple[int, int, float]], list[tuple[int, int, bool]]]:
    n = draw(st.integers(2, 24))
    pair = st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)).filter(lambda p: p[0] != p[1])
    edges = draw(st.lists(pair, max_size=3 * n, unique_by=lambda p: (min(p), max(p))))
    weights = draw(st.lists(st.floats(-10, 30, allow_nan=False), min_size=len(edges), max_size=len(edges)))
    scored = [(min(a, b), max(a, b), w) for (a, b), w in zip(edges, weights, strict=True)]
    links = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1), st.booleans()), max_size=2 * n))
    return n, scored, links


@given(graphs(), st.booleans())
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_constraints_hold_on_random_graphs(
    case: tuple[int, list[tuple[int, int, float]], list[tuple[int, int, bool]]], checked: bool
) -> None:
    n, edges, links = case
    pairs = _scored(edges)
    table = {(a, b): w for a, b, w in edges}

    def weight_of(left: np.ndarray, right: np.ndarray) -> np.ndarray:
        return np.array([table.get((int(a), int(b)), -5.0) for a, b in zip(left, right, strict=True)])

    base = cluster(list(range(n)), pairs, 0.9, weight_of=weight_of if checked else None)
    constraints = _constraints(links)
    out = apply_constraints(base, pairs, constraints)
    labels = _labels(out.clusters)
    assert sorted(labels) == list(range(n))
    for a, b, must in out.kept.iter_rows():
        assert (labels[a] == labels[b]) == must
    # each distinct pair (not a self pair) is kept or ignored, once
    distinct = {(min(a, b), max(a, b)) for a, b, _ in links if a != b}
    decided = out.kept.select("left", "right").rows() + out.ignored.select("left", "right").rows()
    assert sorted(decided) == sorted(distinct)
    # labels are the smallest _rid of each cluster; clusters no constraint touches stay as they were
    members: dict[int, list[int]] = {}
    for rid, label in labels.items():
        members.setdefault(label, []).append(rid)
    assert all(label == min(rids) for label, rids in members.items())
    touched = {n for a, b, _ in links for n in (a, b)}
    before: dict[int, set[int]] = {}
    for rid, label in _labels(base).items():
        before.setdefault(label, set()).add(rid)
    for group in before.values():
        if not group & touched:
            assert {labels[r] for r in group} == {min(group)} and len(members[min(group)]) == len(group)
    # deterministic: the same answer again, and whatever the order of the pairs
    again = apply_constraints(base, pairs.sample(fraction=1.0, shuffle=True, seed=3), constraints)
    assert again.clusters.equals(out.clusters) and again.cut.equals(out.cut)


@given(st.integers(2, 20).flatmap(lambda n: st.tuples(st.just(n), st.lists(st.integers(0, 4), min_size=n, max_size=n))))
@settings(max_examples=60, deadline=None)
def test_consistent_decisions_are_all_kept(case: tuple[int, list[int]]) -> None:
    n, truth = case  # decisions drawn from a true partition never contradict each other
    links = [(a, b, truth[a] == truth[b]) for a in range(n) for b in range(a + 1, n) if (a * 7 + b) % 3 == 0]
    kept, ignored = resolve_constraints(_constraints(links))
    assert ignored.is_empty() and kept.height == len(links)


def test_fingerprints_see_compared_fields_only() -> None:
    frame = pl.DataFrame(
        {
            "full_name": ["张伟", "张伟", "张伟"],
            "phones": [["+8613800138000"], ["+8613800138000"], ["+8613800138001"]],
            "owner": ["alice", "bob", "alice"],
        }
    )
    fp = row_fingerprints(frame).to_list()
    assert fp[0] == fp[1] != fp[2] and len(fp[0]) == 64
    # an empty column is the same as no column
    assert row_fingerprints(frame.with_columns(pl.lit(None, pl.String).alias("company"))).to_list() == fp
    assert pair_fingerprint(fp[0], fp[2]) == pair_fingerprint(fp[2], fp[0]) != pair_fingerprint(fp[0], fp[1])


ROWS = [
    {"key": "a1", "full_name": "张伟", "phone": "13800138000", "email": "zhangwei@hx.cn"},
    {"key": "a2", "full_name": "张伟", "phone": "13800138000", "email": "zhangwei@hx.cn"},
    {"key": "b1", "full_name": "李娜", "phone": "13957215608", "email": "lina@163.com"},
    {"key": "b2", "full_name": "李娜", "phone": "13957215608"},
    {"key": "c1", "full_name": "王芳", "phone": "18653551234"},
]


@pytest.fixture(scope="module")
def inline() -> pl.DataFrame:
    return records(ROWS)


def _rid(df: pl.DataFrame, key: str) -> int:
    return int(df.filter(pl.col("key") == key)["_rid"][0])


def test_match_honours_decisions_and_takes_them_off_the_review(inline: pl.DataFrame) -> None:
    plain = match(inline, MatchSettings())  # a model trained on five records: enough to tell these apart
    model = plain.model
    assert together(inline, plain.clusters, "a1", "a2") and together(inline, plain.clusters, "b1", "b2")
    r = {k: _rid(inline, k) for k in ("a1", "a2", "b1", "b2", "c1")}
    decisions = _constraints([(r["a1"], r["a2"], False), (r["b2"], r["c1"], True)])
    decided = match(inline, MatchSettings(), model, constraints=decisions)
    assert not together(inline, decided.clusters, "a1", "a2")
    assert together(inline, decided.clusters, "b1", "b2", "c1")
    reviewed = set(decided.review.select("left", "right").rows())
    assert (min(r["a1"], r["a2"]), max(r["a1"], r["a2"])) not in reviewed  # decided: not asked again

    # incremental: c1 is new; the must-link brings it into the existing cluster of b1, b2
    old = inline.filter(pl.col("key") != "c1")
    existing = plain.clusters.filter(pl.col("_rid").is_in(old["_rid"].implode()))
    inc = match_incremental(
        inline.filter(pl.col("key") == "c1"), old, existing, MatchSettings(), model, constraints=decisions
    )
    assert together(inline, inc.clusters, "b1", "b2", "c1")
    assert together(inline, inc.clusters, "a1", "a2")  # inside one existing cluster: only a full run splits it

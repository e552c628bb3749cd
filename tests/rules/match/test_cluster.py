from __future__ import annotations

import logging
from typing import Any

import numpy as np
import polars as pl
import pytest

from rules.match import MatchResult, MatchSettings, cluster, match

from .conftest import PEOPLE_CONFIG


def _weights(table: dict[tuple[int, int], float], default: float = -20.0) -> Any:
    def weight_of(left: np.ndarray, right: np.ndarray) -> np.ndarray:
        return np.array([table.get((int(a), int(b)), default) for a, b in zip(left, right, strict=True)])

    return weight_of


def _scored(edges: list[tuple[int, int, float]]) -> pl.DataFrame:
    left, right, weight = zip(*edges, strict=True)
    w = np.array(weight)
    return pl.DataFrame(
        {"left": left, "right": right, "match_weight": w, "match_probability": 1 / (1 + np.exp2(-w))}
    ).with_columns(pl.col("left", "right").cast(pl.Int64))


def test_cluster_labels_are_the_smallest_rid() -> None:
    scored = pl.DataFrame({"left": [5, 1, 30], "right": [9, 5, 40], "match_probability": [0.9, 0.95, 0.5]})
    out = cluster([40, 30, 9, 5, 1, 2], scored, threshold=0.8)
    assert out.rows() == [(1, 1), (2, 2), (5, 1), (9, 1), (30, 30), (40, 40)]
    with pytest.raises(ValueError, match="not among rids"):
        cluster([1, 5], scored, threshold=0.8)


def test_a_weak_link_between_two_people_is_cut() -> None:
    # a1-a2 and b1-b2 are sure; a2-b1 just clears the threshold, and every other cross pair disagrees
    scored = _scored([(1, 2, 20.0), (3, 4, 20.0), (2, 3, 4.0)])
    assert cluster([1, 2, 3, 4], scored, threshold=0.9)["cluster"].n_unique() == 1  # components chain them
    checked = cluster([1, 2, 3, 4], scored, threshold=0.9, weight_of=_weights({(2, 3): 4.0}))
    assert checked.rows() == [(1, 1), (2, 1), (3, 3), (4, 3)]


def test_a_strong_link_next_to_a_wrong_one_is_kept() -> None:
    # 1-2 is certain (same name, phone and street); 2-3 is a weak chance link: 3 must go, 1-2 must stay
    scored = _scored([(1, 2, 40.0), (2, 3, 3.5)])
    out = cluster([1, 2, 3], scored, threshold=0.9, weight_of=_weights({(1, 2): 40.0, (2, 3): 3.5}))
    assert out.rows() == [(1, 1), (2, 1), (3, 3)]


def test_a_group_confirmed_by_its_cross_pairs_is_kept() -> None:
    scored = _scored([(1, 2, 10.0), (1, 3, 10.0), (2, 3, 10.0), (3, 4, 4.0)])
    w = _weights({(1, 2): 10.0, (1, 3): 10.0, (2, 3): 10.0, (3, 4): 4.0, (1, 4): 3.0, (2, 4): 2.0})
    out = cluster([1, 2, 3, 4], scored, threshold=0.9, weight_of=w)
    assert out["cluster"].to_list() == [1, 1, 1, 1]


def test_a_cannot_link_pair_never_shares_a_cluster() -> None:
    scored = _scored([(1, 2, 15.0), (2, 3, 15.0)])
    w = _weights({(1, 2): 15.0, (2, 3): 15.0, (1, 3): -np.inf})
    out = cluster([1, 2, 3], scored, threshold=0.9, weight_of=w)
    labels = dict(out.iter_rows())
    assert labels[1] != labels[3]


def test_no_cluster_grows_unchecked() -> None:
    # a chain of 300 records each linked to the next just above the threshold (a placeholder shared down a list)
    edges = [(i, i + 1, 4.0) for i in range(300)]
    out = cluster(list(range(301)), _scored(edges), threshold=0.9, weight_of=_weights({}), max_size=50)
    assert out.group_by("cluster").len()["len"].max() <= 50


def _reference_clusters(nodes: list[int], edges: pl.DataFrame, weight_of: Any, cut: float) -> dict[int, int]:
    """The average-linkage check done the plain way: scipy's ``fcluster`` on every incomplete component."""
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    index = {rid: i for i, rid in enumerate(nodes)}
    li = [index[a] for a in edges["left"]]
    ri = [index[b] for b in edges["right"]]
    _, comp = connected_components(coo_matrix((np.ones(len(li)), (li, ri)), shape=(len(nodes), len(nodes))))
    label: dict[int, int] = {}
    for c in set(comp.tolist()):
        members = sorted(rid for rid, k in zip(nodes, comp.tolist(), strict=True) if k == c)
        pairs = [(a, b) for i, a in enumerate(members) for b in members[i + 1 :]]
        known = {(a, b) for a, b in zip(edges["left"], edges["right"], strict=True)}
        if len(members) < 3 or all(p in known for p in pairs):
            label.update({rid: members[0] for rid in members})
            continue
        w = weight_of(np.array([a for a, _ in pairs]), np.array([b for _, b in pairs]))
        distance = np.where(np.isneginf(w), 1e9, 60.0 - np.clip(w, -60.0, 60.0))
        flat = fcluster(linkage(distance, method="average"), 60.0 - cut, "distance")
        first: dict[int, int] = {}
        for rid, group in zip(members, flat.tolist(), strict=True):
            label[rid] = first.setdefault(group, rid)
    return label


@pytest.mark.parametrize("seed", range(40))
def test_the_average_linkage_check_equals_scipys_fcluster_on_every_group(seed: int) -> None:
    # groups of three are clustered at once in numpy, larger ones by scipy's linkage and a cut of their own: both
    # must give what fcluster gives, ties (weights from a few values) and cannot-link pairs included
    rng = np.random.default_rng(seed)
    n = 40
    choices = np.array([-np.inf, -10.0, -2.0, 0.0, 2.0, 5.0, 8.0, 12.0, 20.0])
    table = {(a, b): float(rng.choice(choices)) for a in range(n) for b in range(a + 1, n)}
    edges = [(a, b, w) for (a, b), w in table.items() if w >= 5.0 and rng.random() < 0.08]
    scored = _scored(edges)
    weight_of = _weights(table)
    out = cluster(list(range(n)), scored, threshold=0.9, weight_of=weight_of, linkage_threshold=0.8)
    confident = scored.filter(pl.col("match_probability") >= 0.9)
    expected = _reference_clusters(list(range(n)), confident, weight_of, float(np.log2(0.8 / 0.2)))
    assert dict(out.rows()) == expected


def test_keeping_only_probable_pairs_changes_nothing_else(
    people: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame], people_trained: MatchResult, monkeypatch: Any
) -> None:
    """``keep_pairs_above`` leaves the improbable pairs out of ``pairs`` as they are scored (a chunk at a time,
    here 5,000 pairs): clusters, review, blocking table and recall are those of a run keeping every pair."""
    monkeypatch.setattr("rules.match.engine.SCORE_CHUNK", 5_000)
    settings = PEOPLE_CONFIG.match.model_copy(update={"keep_pairs_above": 0.01})
    every, kept = people_trained, match(people[0], settings, people_trained.model)
    assert people_trained.pairs.height > 3 * 5_000
    assert kept.pairs.equals(every.pairs.filter(pl.col("match_probability") >= 0.01))
    assert 0 < kept.pairs.height < every.pairs.height / 2
    assert kept.candidates == every.candidates == every.pairs.height
    assert kept.clusters.equals(every.clusters) and kept.review.equals(every.review)
    assert kept.blocking.equals(every.blocking) and kept.blocking_recall == every.blocking_recall


def test_keeping_fewer_pairs_than_the_review_needs_is_refused() -> None:
    with pytest.raises(ValueError, match="keep_pairs_above"):
        MatchSettings(keep_pairs_above=0.6)


def test_keeping_every_pair_of_a_big_match_says_how_to_keep_fewer(
    people: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame],
    people_trained: MatchResult,
    monkeypatch: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr("rules.match.engine.MANY_PAIRS", 1_000)
    with caplog.at_level(logging.WARNING, logger="rules.match.engine"):
        match(people[0], PEOPLE_CONFIG.match, people_trained.model)
    assert "match.keep_pairs_above: 0.01" in caplog.text

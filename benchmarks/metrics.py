"""Scores of a clustering against ground truth (benchmarks only; not part of crmkit).

Every function takes ``truth`` (``_rid``, ``entity_id``: one row per matched record) and, where a clustering is
scored, ``clusters`` (``_rid``, ``cluster``). A record whose truth is unknown must carry an entity of its own
(``row<_rid>``), so that merging it with anything counts as a false positive.
"""

from __future__ import annotations

import numpy as np
import polars as pl

__all__ = [
    "bcubed",
    "best_on_grid",
    "components",
    "hard_negative_merges",
    "not_load_scores",
    "pairwise",
    "true_pair_count",
    "true_pairs_among",
]


def _c2(s: pl.Series) -> int:
    n = s.cast(pl.Int64)
    return int((n * (n - 1) // 2).sum())


def true_pair_count(truth: pl.DataFrame) -> int:
    """Number of record pairs that belong to one entity."""
    return _c2(truth.group_by("entity_id").len()["len"])


def pairwise(truth: pl.DataFrame, clusters: pl.DataFrame) -> dict[str, float]:
    """Pairwise precision/recall/F1 of a clustering (every pair of records in one cluster is a predicted pair)."""
    d = truth.join(clusters, on="_rid")
    tp = _c2(d.group_by("cluster", "entity_id").len()["len"])
    pred = _c2(d.group_by("cluster").len()["len"])
    true = _c2(d.group_by("entity_id").len()["len"])
    p = tp / pred if pred else 1.0
    r = tp / true if true else 1.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}


def bcubed(truth: pl.DataFrame, clusters: pl.DataFrame) -> float:
    """B-cubed F1: per record, precision = |its cluster ∩ its entity| / |its cluster|, recall likewise; averaged."""
    d = truth.join(clusters, on="_rid")
    d = d.with_columns(
        pl.len().over("cluster", "entity_id").alias("both"),
        pl.len().over("cluster").alias("c"),
        pl.len().over("entity_id").alias("e"),
    )
    p = float((d["both"] / d["c"]).mean())
    r = float((d["both"] / d["e"]).mean())
    return 2 * p * r / (p + r)


def best_on_grid(truth: pl.DataFrame, grid: dict[float, pl.DataFrame]) -> tuple[float, dict[str, float]]:
    """The grid threshold whose clustering has the highest pairwise F1 (an oracle: it reads the truth)."""
    scores = {th: pairwise(truth, c) for th, c in grid.items()}
    best = max(scores, key=lambda th: (scores[th]["f1"], -th))
    return best, scores[best]


def true_pairs_among(truth: pl.DataFrame, left: pl.Series, right: pl.Series) -> int:
    """How many of the (left, right) ``_rid`` pairs (each pair once) are records of one entity."""
    pairs = pl.DataFrame({"l": left.cast(pl.Int64), "r": right.cast(pl.Int64)})
    t = truth.select(pl.col("_rid").cast(pl.Int64), "entity_id")
    joined = pairs.join(t.rename({"_rid": "l", "entity_id": "el"}), on="l").join(
        t.rename({"_rid": "r", "entity_id": "er"}), on="r"
    )
    return int((joined["el"] == joined["er"]).sum())


def components(rids: np.ndarray, left: np.ndarray, right: np.ndarray) -> pl.DataFrame:
    """Connected components of the edges (left, right) over ``rids``; a cluster's label is its smallest ``_rid``.

    The same clustering as Splink's ``cluster_pairwise_predictions_at_threshold`` (connected components), used to
    cluster Splink's predictions at every grid threshold from one ``predict``.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    nodes = np.unique(np.asarray(rids, dtype=np.int64))
    li = np.searchsorted(nodes, np.asarray(left, dtype=np.int64))
    ri = np.searchsorted(nodes, np.asarray(right, dtype=np.int64))
    n = len(nodes)
    graph = coo_matrix((np.ones(len(li), dtype=np.int8), (li, ri)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    frame = pl.DataFrame({"_rid": nodes, "label": labels})
    return frame.with_columns(pl.col("_rid").min().over("label").alias("cluster")).select("_rid", "cluster")


def hard_negative_merges(
    truth: pl.DataFrame, clusters: pl.DataFrame, hard_negatives: pl.DataFrame
) -> dict[str, dict[str, int]]:
    """Per kind of hard negative, how many listed entity pairs the clustering merged.

    A pair (entity_a, entity_b) is merged when some record of one entity shares a cluster with some record of the
    other. Pairs where either entity has no matched record (all its rows were quarantined, say) are left out.

    Returns:
        kind -> {"merged": n, "pairs": n}.
    """
    if not hard_negatives.height:
        return {}
    hn = hard_negatives.select(
        pl.min_horizontal("entity_a", "entity_b").alias("a"),
        pl.max_horizontal("entity_a", "entity_b").alias("b"),
        pl.col("kind"),
    ).unique()
    present = truth["entity_id"].unique()
    hn = hn.filter(pl.col("a").is_in(present.implode()) & pl.col("b").is_in(present.implode()))
    involved = pl.concat([hn["a"], hn["b"]]).unique()
    members = (
        truth.filter(pl.col("entity_id").is_in(involved.implode()))
        .join(clusters, on="_rid")
        .select("cluster", "entity_id")
        .unique()
    )
    together = (
        members.join(members, on="cluster", suffix="_r")
        .filter(pl.col("entity_id") < pl.col("entity_id_r"))
        .select(pl.col("entity_id").alias("a"), pl.col("entity_id_r").alias("b"))
        .unique()
        .with_columns(pl.lit(True).alias("merged"))
    )
    scored = hn.join(together, on=["a", "b"], how="left").with_columns(pl.col("merged").fill_null(False))
    out = scored.group_by("kind").agg(pl.col("merged").sum().alias("merged"), pl.len().alias("pairs")).sort("kind")
    return {r["kind"]: {"merged": int(r["merged"]), "pairs": int(r["pairs"])} for r in out.iter_rows(named=True)}


def not_load_scores(outcomes: pl.DataFrame) -> dict[str, float | int]:
    """Precision/recall/F1 of "not loaded" (quarantined or skipped) against the truth's non-record rows.

    ``outcomes`` has one row per truth row: ``row_kind`` and ``loaded`` (bool).
    """
    predicted = ~outcomes["loaded"]
    actual = outcomes["row_kind"] != "record"
    tp = int((predicted & actual).sum())
    fp = int((predicted & ~actual).sum())
    fn = int((~predicted & actual).sum())
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    return {
        "precision": p,
        "recall": r,
        "f1": 2 * p * r / (p + r) if p + r else 0.0,
        "not_loaded": tp + fp,
        "non_records": tp + fn,
        "records_not_loaded": fp,
        "non_records_loaded": fn,
    }

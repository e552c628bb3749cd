"""Clustering: connected components of confident pairs, checked by average linkage so strangers never chain.

Connected components chain strangers: A–B and B–C above the threshold put A and C together however much A and C
disagree (a father and son linked through a shared landline record; fake sign-ups sharing 13800138000). So a
component is kept as it is only when it is complete (every pair of its records is itself confident). Any other
component is re-clustered: all pairs of its records are scored (those blocking never proposed, now), and its
records are merged by average linkage, strongest first, while the mean match weight between two groups reaches
the weight of ``linkage_threshold``; a cannot-link pair (two birth dates far apart) keeps two groups apart.
Components larger than ``max_size`` are first split by raising the threshold step by step, so no cluster grows
unchecked and the pairs to score stay bounded. Confident pairs that end in different clusters go to review.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import polars as pl
from scipy.cluster.hierarchy import linkage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

__all__ = ["average_linkage", "components", "sorted_unique"]

logger = logging.getLogger(__name__)

#: Match weight of aligned ``_rid`` arrays; ``-inf`` for a cannot-link pair.
WeightFn = Callable[[np.ndarray, np.ndarray], np.ndarray]

_CLIP = 60.0  # weights are clipped to ±60 bits: one certain pair must not outweigh a group by itself
_VETO_DISTANCE = 1e9


def sorted_unique(values: npt.ArrayLike) -> np.ndarray:
    """The distinct values of an integer array, sorted: by sorting (``np.unique`` alone takes a hashing path in
    numpy 2.4 that was 20 times slower on a million record ids)."""
    a = np.sort(np.asarray(values, dtype=np.int64))
    return a[np.concatenate(([True], a[1:] != a[:-1]))] if len(a) else a


def components(nodes: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Component label of each of the sorted unique ``nodes``: the smallest node of its component."""
    nodes = np.asarray(nodes, dtype=np.int64)
    n = len(nodes)
    left = np.asarray(left, dtype=np.int64)
    right = np.asarray(right, dtype=np.int64)
    li, ri = np.searchsorted(nodes, left), np.searchsorted(nodes, right)
    if len(left) and (li.max() >= n or ri.max() >= n or (nodes[li] != left).any() or (nodes[ri] != right).any()):
        raise ValueError("scored pairs reference a _rid that is not among rids")
    graph = coo_matrix((np.ones(len(li), dtype=np.int8), (li, ri)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    _, first = np.unique(labels, return_index=True)
    return nodes[first][labels]


def _split_oversized(
    nodes: np.ndarray, edges: pl.DataFrame, cut: float, max_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Component labels, and a mask of the edges kept, after raising the threshold inside oversized components."""
    keep = np.ones(edges.height, dtype=bool)
    weight = edges["match_weight"].to_numpy()
    left, right = edges["left"].to_numpy(), edges["right"].to_numpy()
    labels = components(nodes, left, right)
    level = cut
    for _ in range(12):
        sizes = pl.DataFrame({"c": labels}).group_by("c").len()
        big = sizes.filter(pl.col("len") > max_size)["c"].to_numpy()
        if not len(big):
            break
        level += 3.3  # one more "9" of probability: 0.99, 0.999, ...
        in_big = np.isin(labels[np.searchsorted(nodes, left)], big)
        keep &= ~(in_big & (weight < level))
        labels = components(nodes, left[keep], right[keep])
        logger.info("%s groups over %s records split at match weight %.1f", len(big), max_size, level)
    return labels, keep


def average_linkage(
    nodes: np.ndarray,
    edges: pl.DataFrame,
    weight_of: WeightFn,
    *,
    threshold: float,
    cut: float,
    max_size: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Cluster labels of ``nodes`` and the mask of ``edges`` that ended inside one cluster.

    Args:
        nodes: sorted unique ``_rid`` values.
        edges: ``left``, ``right``, ``match_weight`` of the confident, non-vetoed pairs.
        weight_of: match weight of any aligned pairs of ``_rid`` values (``-inf`` for cannot-link pairs).
        threshold: the merge threshold as a match weight.
        cut: the mean match weight two groups need to join.
        max_size: components larger than this are first split by raising the threshold.

    Returns:
        (labels: the smallest ``_rid`` of each node's cluster, kept: True where an edge's two records share a
        cluster).
    """
    nodes = np.asarray(nodes, dtype=np.int64)
    if not edges.height:
        return nodes.copy(), np.ones(0, dtype=bool)
    labels, _ = _split_oversized(nodes, edges, threshold, max_size)
    frame = pl.DataFrame({"rid": nodes, "comp": labels})
    sizes = frame.group_by("comp").agg(pl.len().alias("size"))
    inner = (
        edges.select("left", "right")
        .join(frame.rename({"rid": "left"}), on="left")
        .join(frame.rename({"rid": "right", "comp": "comp_r"}), on="right")
        .filter(pl.col("comp") == pl.col("comp_r"))
        .group_by("comp")
        .len("edges")
    )
    check = (
        sizes.join(inner, on="comp", how="left")
        .with_columns(pl.col("edges").fill_null(0))
        .filter((pl.col("size") >= 3) & (pl.col("edges") < pl.col("size") * (pl.col("size") - 1) // 2))
    )
    if check.height:
        labels = _relink(frame, check["comp"], edges, weight_of, cut, labels)
    li = np.searchsorted(nodes, edges["left"].to_numpy())
    ri = np.searchsorted(nodes, edges["right"].to_numpy())
    return labels, labels[li] == labels[ri]


def _relink(
    frame: pl.DataFrame, comps: pl.Series, edges: pl.DataFrame, weight_of: WeightFn, cut: float, labels: np.ndarray
) -> np.ndarray:
    """Average-linkage clustering of every record group in ``comps`` (all their pairs scored)."""
    members = frame.filter(pl.col("comp").is_in(comps.implode())).sort("comp", "rid")
    pairs = (
        members.join(members, on="comp", suffix="_r")
        .filter(pl.col("rid") < pl.col("rid_r"))
        .select("comp", pl.col("rid").alias("left"), pl.col("rid_r").alias("right"))
        .sort("comp", "left", "right")  # scipy's condensed order: (0,1), (0,2) … (1,2) …
    )
    known = edges.select("left", "right", "match_weight")
    pairs = pairs.join(known, on=["left", "right"], how="left", maintain_order="left")
    missing = pairs["match_weight"].is_null().to_numpy()
    weights = pairs["match_weight"].fill_null(0.0).to_numpy().astype(np.float64)
    if missing.any():
        weights[missing] = weight_of(pairs["left"].to_numpy()[missing], pairs["right"].to_numpy()[missing])
    distance = np.where(np.isneginf(weights), _VETO_DISTANCE, _CLIP - np.clip(weights, -_CLIP, _CLIP))
    sizes = members.group_by("comp", maintain_order=True).len()["len"].to_numpy().astype(np.int64)
    starts = pairs.with_row_index("i").group_by("comp", maintain_order=True).agg(pl.col("i").first())
    first = starts["i"].to_numpy().astype(np.int64)  # each group's first pair in ``distance``
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])  # each group's first member
    flat = np.empty(members.height, dtype=np.int64)  # a group number per member, unique across components
    triangle = sizes == 3
    if triangle.any():
        at = offsets[triangle][:, None]
        flat[(at + np.arange(3)).ravel()] = (at + _triangles(distance, first[triangle], _CLIP - cut)).ravel()
    for offset, size, start in zip(offsets[~triangle], sizes[~triangle], first[~triangle], strict=True):
        tree = linkage(distance[start : start + size * (size - 1) // 2], method="average")
        flat[offset : offset + size] = offset + _cut(tree, _CLIP - cut)
    # each member's label: the smallest rid of its group (``frame`` holds the sorted unique rids, in order)
    label = members.select(pl.col("rid").min().over(pl.Series(flat))).to_series().to_numpy()
    out = labels.copy()
    out[np.searchsorted(frame["rid"].to_numpy(), members["rid"].to_numpy())] = label
    logger.debug("average linkage re-clustered %s groups (%s pairs scored)", len(sizes), int(missing.sum()))
    return out


def _triangles(distance: np.ndarray, first: np.ndarray, limit: float) -> np.ndarray:
    """Average linkage of many three-record groups at once: a group number (0-2) per record, shape (groups, 3).

    ``distance[first + (0, 1, 2)]`` are each group's distances (0,1), (0,2), (1,2). The closest two join when
    within ``limit``; the third joins them when its mean distance to the two is within it (ties join either pair
    first to the same result)."""
    d = distance[first[:, None] + np.arange(3)]
    closest = d.argmin(axis=1)  # 0: records (0,1), 1: (0,2), 2: (1,2)
    rows = np.arange(len(d))
    pairs = np.array([[0, 1, 2], [0, 2, 1], [1, 2, 0]])[closest]  # the two that join, then the third
    third_to = np.array([[1, 2], [0, 2], [0, 1]])[closest]  # the third's distances to the two, as indexes into d
    joined = d[rows, closest] <= limit
    third = joined & ((d[rows, third_to[:, 0]] + d[rows, third_to[:, 1]]) / 2 <= limit)
    out = np.tile(np.arange(3), (len(d), 1))
    out[rows[joined], pairs[joined, 1]] = pairs[joined, 0]
    out[rows[third], pairs[third, 2]] = pairs[third, 0]
    return out


def _cut(tree: np.ndarray, limit: float) -> np.ndarray:
    """Flat clusters of a linkage matrix, as a record number (0..n-1) per record: records joined by merges at most
    ``limit`` apart (average linkage is monotone, so this is ``fcluster(tree, limit, "distance")`` without its
    validation, which cost more than the clustering of a small group)."""
    n = len(tree) + 1
    leader = np.arange(n)
    first_leaf = list(range(n)) + [0] * (n - 1)  # a record of each merged node
    for step, (a, b, height, _) in enumerate(tree.tolist()):
        left, right = first_leaf[int(a)], first_leaf[int(b)]
        first_leaf[n + step] = left
        if height <= limit:
            leader[leader == leader[right]] = leader[left]
    return leader

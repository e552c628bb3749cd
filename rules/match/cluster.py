"""Clustering: connected components of confident pairs, then an average-linkage check of unconfirmed links.

Connected components chain strangers: A–B and B–C above the threshold put A and C together however much A and
C disagree (a father and son linked through a shared landline record). The check: in every component of three
or more records, an edge that no third record confirms (the edge is in no triangle of confident edges) is a
single point of failure. It is kept only when the two records' closed neighbourhoods match on average: the mean
match weight over every cross pair (scored now if blocking never proposed it) must reach the threshold's match
weight log2(t/(1−t)). That is average linkage, applied only where the graph is thin, so it costs a few scored
pairs per suspicious edge instead of all pairs of every cluster. Edges that fail go to the review band.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

import numpy as np
import polars as pl
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from .blocking import RID

__all__ = ["components", "linkage_check"]

logger = logging.getLogger(__name__)

WeightFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


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


def linkage_check(
    nodes: np.ndarray,
    edges: pl.DataFrame,
    weight_of: WeightFn,
    threshold: float,
    max_size: int,
    cut: float | None = None,
) -> np.ndarray:
    """Which confident edges survive the average-linkage check (module docstring).

    Args:
        nodes: sorted unique ``_rid`` values.
        edges: ``left``, ``right``, ``match_weight`` of the pairs at or above the threshold.
        weight_of: match weight of any aligned pairs of ``_rid`` values (scores unblocked pairs on demand).
        threshold: the merge threshold (probability).
        max_size: components larger than this are left as they are.

    Returns:
        A boolean mask over ``edges``: True where the edge is kept.
    """
    keep = np.ones(edges.height, dtype=bool)
    if edges.height < 2:
        return keep
    labels = components(nodes, edges["left"].to_numpy(), edges["right"].to_numpy())
    lab = pl.DataFrame({RID: nodes, "comp": labels})
    sizes = lab.group_by("comp").len("size")
    e = (
        edges.select("left", "right", "match_weight")
        .with_row_index("e")
        .join(lab.rename({RID: "left"}), on="left")
        .join(sizes, on="comp")
    )
    e = e.filter((pl.col("size") >= 3) & (pl.col("size") <= max_size))
    big = sizes.filter(pl.col("size") > max_size)
    if big.height:
        logger.info("linkage check skipped %s components larger than %s records", big.height, max_size)
    if e.is_empty():
        return keep
    both = pl.concat(
        [
            e.select(pl.col("left").alias("a"), pl.col("right").alias("b")),
            e.select(pl.col("right").alias("a"), pl.col("left").alias("b")),
        ]
    )
    # wedges a-x-b: the edge (min, max) of a wedge's endpoints is confirmed by x when it is itself an edge
    wedges = (
        both.join(both.rename({"b": "c"}), on="a")
        .filter(pl.col("b") < pl.col("c"))
        .select(pl.col("b").alias("left"), pl.col("c").alias("right"))
        .unique()
    )
    open_edges = e.join(wedges, on=["left", "right"], how="anti")
    if open_edges.is_empty():
        return keep
    closed = pl.concat([both, pl.DataFrame({"a": nodes, "b": nodes})]).unique()
    # sides of an open edge x–y: N[x] without y, N[y] without x (disjoint, as the edge is in no triangle)
    ox = open_edges.select("e", pl.col("left").alias("x"), pl.col("right").alias("y"))
    side_l = ox.join(closed.rename({"a": "x", "b": "p"}), on="x").filter(pl.col("p") != pl.col("y"))
    side_r = ox.join(closed.rename({"a": "y", "b": "q"}), on="y").filter(pl.col("q") != pl.col("x"))
    cross = (
        side_l.select("e", "p")
        .join(side_r.select("e", "q"), on="e")
        .select("e", pl.min_horizontal("p", "q").alias("left"), pl.max_horizontal("p", "q").alias("right"))
    )
    known = edges.select("left", "right", "match_weight")
    cross = cross.join(known, on=["left", "right"], how="left")
    missing = cross.filter(pl.col("match_weight").is_null()).select("left", "right").unique()
    if missing.height:
        w = weight_of(missing["left"].to_numpy(), missing["right"].to_numpy())
        scored = missing.with_columns(pl.Series("w", w, dtype=pl.Float64))
        cross = cross.join(scored, on=["left", "right"], how="left").with_columns(
            pl.coalesce("match_weight", "w").alias("match_weight")
        )
    if cut is None:
        cut = math.log2(threshold / (1 - threshold))
    mean = cross.group_by("e").agg(pl.col("match_weight").mean().alias("mean"))
    failing = mean.filter(pl.col("mean") < cut)["e"].to_numpy()
    keep[failing] = False
    logger.debug("linkage check: %s open edges, %s cut", open_edges.height, len(failing))
    return keep

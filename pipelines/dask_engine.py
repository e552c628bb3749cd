"""Normalising and matching on a Dask cluster: the same answer as one process.

- **Row by row** (normalising a migrate run's rows, each source with its own defaults; normalising and preparing
  ``crmkit dedupe``'s table in one task): one slice of at most :data:`SLICE_ROWS` rows per task, stacked in order.
- **Blocking**: each rule's keys (one 64-bit hash per record and key, :func:`rules.match.rule_keys`) are split by
  ``key % parts``, so every block lands whole in one part; a task joins the blocks of one part
  (:func:`rules.match.block_pairs`) and the driver takes the union of every rule's pairs.
- **Comparing**: the side table (what comparing reads of every record, with the population's frequencies) goes to
  every worker once; a task compares a chunk of pairs with a comparer its worker builds from the table once (coding
  the text columns), so a task carries only the pairs' ``_rid`` values and brings back their levels.
- **Training, scoring, clustering** stay on the driver, as in one process: they ask the workers for every
  comparison they need (random pairs for u, training sessions, the pairs the average-linkage check scores).

A worker that dies mid-run loses its tasks; the scheduler runs them again on another worker (a worker plugin gives
the side table to every worker, a restarted one too), so the result is unchanged.

Where it ends: the driver holds the prepared records, the side table and the candidate pairs with their levels
while the model is trained (1M records: 3.0 GiB; see the README's "Scaling out"); each worker holds one side table.
Results are taken from the workers as they finish, each let go once here (:func:`_results`)."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from rules.match import (
    RID,
    BlockingRule,
    Compared,
    Engine,
    MatchSettings,
    PairComparer,
    block_pairs,
    build_comparisons,
    rule_keys,
    side_table,
    slice_pairs,
    split_blocks,
    union_pairs,
    usable_rules,
)

if TYPE_CHECKING:
    from distributed import Client

    from pipelines.settings import EngineSettings

__all__ = ["DaskComparer", "DaskEngine", "open_engine"]

log = logging.getLogger(__name__)

#: Pairs per comparing task: big enough that a task's overhead (a few ms) is noise, small enough that the tasks
#: spread over the workers and a lost one costs little.
CHUNK_PAIRS = 250_000
#: Each task may run again this often when it fails.
RETRIES = 3
#: Rows per slice of a row-by-row step at most (a worker's memory stays bounded however big the table).
SLICE_ROWS = 500_000


@contextmanager
def _carrying_data() -> Iterator[None]:
    """Tasks here carry their data (slices of rows, keys, pairs) in the task itself, on purpose: the scheduler can
    run a task again after its worker died, which data scattered to that worker alone would not allow. Dask warns
    about such graphs from 10 MB; not here."""
    import dask

    with dask.config.set({"distributed.admin.large-graph-warning-threshold": "1TiB"}):
        yield


def _results(futures: list[Any]) -> list[Any]:
    """The futures' results in their order, each let go on the cluster as soon as it is here: a worker holds a
    result only until the driver has it, not until the last task is done (gathered at the end, 10M records'
    normalised table was on the workers and on the driver at once: 24 GiB)."""
    from distributed import as_completed

    at = {future.key: i for i, future in enumerate(futures)}
    out: list[Any] = [None] * len(futures)
    for future, result in as_completed(futures, with_results=True):
        out[at[future.key]] = result
        future.release()
    return out


class DaskComparer:
    """A :class:`rules.match.PairComparer` whose pairs are compared on the workers of a Dask cluster."""

    def __init__(self, client: Client, prepared: pl.DataFrame, settings: MatchSettings) -> None:
        from pipelines._dask_worker import SideTablePlugin

        table = side_table(prepared, settings)
        self.settings = settings
        self.comparisons = build_comparisons(settings)
        self.n = table.n
        self.rids = table.rids
        self._client = client
        self._token = f"crmkit-side-{uuid.uuid4().hex}"
        client.register_plugin(SideTablePlugin(self._token, table, settings), name=self._token)

    def compare(
        self, left: np.ndarray, right: np.ndarray, chunk: int | None = None, sample: np.ndarray | None = None
    ) -> Compared:
        """Levels of the aligned pairs of ``_rid`` values, in their order (``chunk`` is the comparer's own chunk
        on the worker; a task takes :data:`CHUNK_PAIRS`)."""
        from pipelines._dask_worker import compare_chunk

        left = np.asarray(left, dtype=np.int64)
        right = np.asarray(right, dtype=np.int64)
        starts = range(0, max(len(left), 1), CHUNK_PAIRS)
        with _carrying_data():
            futures = [
                self._client.submit(
                    compare_chunk,
                    self._token,
                    left[s : s + CHUNK_PAIRS],
                    right[s : s + CHUNK_PAIRS],
                    None if sample is None else sample[s : s + CHUNK_PAIRS],
                    pure=False,
                    retries=RETRIES,
                )
                for s in starts
            ]
        return Compared.concat(_results(futures))

    def close(self) -> None:
        """Free the workers' comparers and their side table."""
        self._client.unregister_worker_plugin(self._token)


class DaskEngine:
    """An :class:`rules.match.Engine` on a Dask cluster (see the module's notes).

    Args:
        client: a connected ``distributed.Client``.
        parts: key parts per blocking rule (default: four per worker thread). A row-by-row step takes one slice
            per worker thread: a normaliser works once per distinct value of its slice, so more slices would
            repeat the work of the common values.
        big_block: a block of more records than this (one phone number on thousands of records, in a rule with no
            ``max_block``) is not one task: its records are cut into slices of half as many and every two slices
            are paired by a task of their own, so no task holds the others up.
    """

    def __init__(self, client: Client, parts: int | None = None, big_block: int = 2_000) -> None:
        self.client = client
        threads = sum(client.nthreads().values()) or 1
        self.threads = threads
        self.parts = parts or 4 * threads
        self.big_block = big_block
        self._comparers: list[DaskComparer] = []

    def by_rows(self, fn: Callable[[pl.DataFrame], pl.DataFrame], frame: pl.DataFrame) -> pl.DataFrame:
        slices = max(self.threads, -(-frame.height // SLICE_ROWS))
        size = -(-frame.height // slices) or 1
        with _carrying_data():
            futures = [
                self.client.submit(fn, frame.slice(start, size), pure=False, retries=RETRIES)
                for start in range(0, max(frame.height, 1), size)
            ]
        done: list[pl.DataFrame] = _results(futures)
        return pl.concat(done, how="vertical_relaxed")

    def candidate_pairs(self, prepared: pl.DataFrame, rules: list[BlockingRule]) -> pl.DataFrame:
        futures: dict[int, list[Any]] = {}
        with _carrying_data():
            self._submit_blocks(prepared, rules, futures)
        # every rule's tasks gathered as they finish, not rule after rule (a later rule's pairs would wait on the
        # workers)
        tasks = [(order, future) for order, rule_futures in futures.items() for future in rule_futures]
        parts: dict[int, list[pl.DataFrame]] = {order: [] for order in futures}
        for (order, _), found in zip(tasks, _results([future for _, future in tasks]), strict=True):
            parts[order].append(found)
        return union_pairs(parts, rules, prepared.schema[RID])

    def _submit_blocks(self, prepared: pl.DataFrame, rules: list[BlockingRule], futures: dict[int, list[Any]]) -> None:
        """One task per key part of every rule, and one per two slices of every big block."""
        piece = max(self.big_block // 2, 1)
        for order, rule in usable_rules(prepared, rules):
            parts, big = split_blocks(rule_keys(prepared, rule), rule.max_block, self.parts, self.big_block)
            futures[order] = [
                self.client.submit(block_pairs, part, rule.max_block, pure=False, retries=RETRIES) for part in parts
            ]
            for rids in big:
                slices = [rids[i : i + piece] for i in range(0, len(rids), piece)]
                futures[order] += [
                    self.client.submit(slice_pairs, slices[i], slices[j], i == j, pure=False, retries=RETRIES)
                    for i in range(len(slices))
                    for j in range(i, len(slices))
                ]

    def comparer(self, prepared: pl.DataFrame, settings: MatchSettings) -> PairComparer:
        comparer = DaskComparer(self.client, prepared, settings)
        self._comparers.append(comparer)
        return comparer

    def close(self) -> None:
        """Free what the runs left on the workers."""
        for comparer in self._comparers:
            comparer.close()
        self._comparers.clear()


@contextmanager
def open_engine(settings: EngineSettings) -> Iterator[Engine | None]:
    """The engine a project file asks for: None for ``kind: local`` (the matcher's own), else a
    :class:`DaskEngine` on the cluster at ``address`` or on a local cluster of ``workers`` processes started for
    the run (and closed after it)."""
    if settings.kind == "local":
        yield None
        return
    from distributed import Client, LocalCluster

    if settings.address:
        client = Client(settings.address)
        cluster = None
    else:
        workers = settings.workers or len(os.sched_getaffinity(0))
        threads = max(1, len(os.sched_getaffinity(0)) // workers)
        # ":0": the scheduler's HTTP endpoints on a free port (two runs at once must not both want 8787); polars in
        # each worker gets the worker's share of the cores (its own pool would take them all, in every worker)
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=threads,
            processes=True,
            dashboard_address=":0",
            env={"POLARS_MAX_THREADS": str(threads)},
        )
        client = Client(cluster)
    log.info("matching on Dask: %s", client)
    engine = DaskEngine(client)
    try:
        yield engine
    finally:
        engine.close()
        client.close()
        if cluster is not None:
            cluster.close()

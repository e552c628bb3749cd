"""Normalising and matching on a Dask cluster: the same answer as one process.

- **Each** (reading a migrate run's sources): a task per source, all at once; the result back in the sources'
  order.
- **Row by row** (normalising a migrate run's rows, each source with its own defaults; normalising and preparing
  ``crmkit dedupe``'s table in one task): one slice of at most :data:`SLICE_ROWS` rows per task, stacked in order.
- **Blocking**: each rule's keys (one 64-bit hash per record and key, :func:`rules.match.rule_keys`) are split by
  ``key % parts``, so every block lands whole in one part; a task joins the blocks of one part
  (:func:`rules.match.block_pairs`) and the driver takes the union of every rule's pairs.
- **Comparing**: a task compares a chunk of pairs and carries what it reads of their records (the side table's rows
  of those records, :meth:`rules.match.SideTable.subset`, with the population's frequencies); it brings back their
  levels. No worker holds the whole side table, so a worker's memory does not grow with the records.
- **Training, scoring, clustering** stay on the driver, as in one process: they ask the workers for every
  comparison they need (random pairs for u, training sessions, the pairs the average-linkage check scores).

Tasks are submitted a few at a time (:data:`IN_FLIGHT` per worker thread), each next one when one is done, so the
data the driver has handed out but not yet back stays bounded however big the table (the scheduler of a local
cluster lives in the driver's process, and it holds every submitted task's data).

A worker that dies mid-run loses its tasks; the scheduler runs them again on another worker (each task carries its
data), so the result is unchanged.

Where it ends: the driver holds the prepared records, the side table and the candidate pairs with their levels
while the model is trained (see the README's "Scaling out"); a worker holds the tasks it runs.
Results are taken from the workers as they finish, each let go once here (:func:`_streamed`)."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import polars as pl

from rules.match import (
    RID,
    BlockingRule,
    Compared,
    Comparer,
    Engine,
    MatchSettings,
    PairComparer,
    SideTable,
    block_pairs,
    build_comparisons,
    rule_keys,
    side_table,
    slice_pairs,
    split_blocks,
    union_bits,
    usable_rules,
)

if TYPE_CHECKING:
    from distributed import Client

    from pipelines.settings import EngineSettings

__all__ = ["DaskComparer", "DaskEngine", "open_engine"]

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

#: Pairs per comparing task: big enough that a task's overhead (a few ms) is noise, small enough that the tasks
#: spread over the workers and a lost one costs little.
CHUNK_PAIRS = 250_000
#: Each task may run again this often when it fails.
RETRIES = 3
#: Rows per slice of a row-by-row step at most (a worker's memory stays bounded however big the table).
SLICE_ROWS = 500_000
#: Tasks in flight per worker thread: one running, one waiting on the worker, so no worker waits for the driver.
IN_FLIGHT = 2


#: Streams running now (the matcher runs two at once: the candidate pairs or their comparing beside u's random
#: pairs), and the setting their first one made: the last one to end restores the configuration.
_carrying: dict[str, Any] = {"streams": 0, "setting": None}
_carrying_lock = threading.Lock()


@contextmanager
def _carrying_data() -> Iterator[None]:
    """Tasks here carry their data (slices of rows, keys, pairs) in the task itself, on purpose: the scheduler can
    run a task again after its worker died, which data scattered to that worker alone would not allow. Dask warns
    about such graphs from 10 MB; not here. Dask's configuration is the process's: with two streams at once, the
    first to end must not put the warning back under the other, so the setting lasts while any stream runs."""
    import dask

    with _carrying_lock:
        if not _carrying["streams"]:
            _carrying["setting"] = dask.config.set({"distributed.admin.large-graph-warning-threshold": "1TiB"})
        _carrying["streams"] += 1
    try:
        yield
    finally:
        with _carrying_lock:
            _carrying["streams"] -= 1
            if not _carrying["streams"]:
                _carrying["setting"].__exit__(None, None, None)
                _carrying["setting"] = None


Task = tuple[Callable[..., Any], tuple[Any, ...]]


def _streamed(
    client: Client, tasks: Iterable[Task], window: int, done: Callable[[Any], None] | None = None
) -> list[Any]:
    """The results of ``tasks`` (a function and its arguments each) in their order. At most ``window`` are on the
    cluster at once: the next is made and submitted when one is done (a task's data is made only then), and a
    result is let go on the cluster as soon as it is here (gathered at the end, 10M records' normalised table had
    been on the workers and on the driver at once: 24 GiB). ``done`` hears each result as it comes."""
    from distributed import as_completed

    pending = iter(tasks)
    running = as_completed(loop=client.loop, with_results=True)
    at: dict[Any, int] = {}
    out: list[Any] = []

    def submit() -> bool:
        task = next(pending, None)
        if task is None:
            return False
        fn, args = task
        future = client.submit(fn, *args, pure=False, retries=RETRIES)
        at[future.key] = len(out)
        out.append(None)
        running.add(future)
        return True

    with _carrying_data():
        for _ in range(max(window, 1)):
            if not submit():
                break
        for future, result in running:
            out[at.pop(future.key)] = result
            future.release()
            if done is not None:
                done(result)
            submit()
    return out


def compare_chunk(
    table: SideTable, settings: MatchSettings, left: np.ndarray, right: np.ndarray, sample: np.ndarray | None
) -> Compared:
    """The levels of one chunk of pairs, by a comparer of the chunk's own records (run on a worker)."""
    return Comparer.of(table, settings).compare(left, right, sample=sample)


class DaskComparer:
    """A :class:`rules.match.PairComparer` whose pairs are compared on the workers of a Dask cluster."""

    def __init__(self, engine: DaskEngine, prepared: pl.DataFrame, settings: MatchSettings) -> None:
        self._table = side_table(prepared, settings)
        self.settings = settings
        self.comparisons = build_comparisons(settings)
        self.n = self._table.n
        self.rids = self._table.rids
        self._engine = engine

    def compare(
        self, left: np.ndarray, right: np.ndarray, chunk: int | None = None, sample: np.ndarray | None = None
    ) -> Compared:
        """Levels of the aligned pairs of ``_rid`` values, in their order (``chunk`` is the comparer's own chunk
        on the worker; a task takes :data:`CHUNK_PAIRS` at most, and fewer when there are not enough pairs for
        every worker thread: a training session's pairs are compared by all of them)."""
        left = np.asarray(left, dtype=np.int64)
        right = np.asarray(right, dtype=np.int64)
        size = max(min(CHUNK_PAIRS, -(-len(left) // self._engine.threads)), 1)

        def tasks() -> Iterator[Task]:
            for s in range(0, max(len(left), 1), size):
                lpart, rpart = left[s : s + size], right[s : s + size]
                table = self._table.subset(np.unique(np.concatenate([lpart, rpart])))
                part = None if sample is None else sample[s : s + size]
                yield compare_chunk, (table, self.settings, lpart, rpart, part)

        return Compared.concat(_streamed(self._engine.client, tasks(), self._engine.window))


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
        self.window = IN_FLIGHT * threads

    def by_rows(self, fn: Callable[[pl.DataFrame], pl.DataFrame], frame: pl.DataFrame) -> pl.DataFrame:
        slices = max(self.threads, -(-frame.height // SLICE_ROWS))
        size = -(-frame.height // slices) or 1
        tasks = ((fn, (frame.slice(start, size),)) for start in range(0, max(frame.height, 1), size))
        done: list[pl.DataFrame] = _streamed(self.client, tasks, self.window)
        return pl.concat(done, how="vertical_relaxed")

    def candidate_pairs(self, prepared: pl.DataFrame, rules: list[BlockingRule]) -> pl.DataFrame:
        # every rule's tasks in one stream, not rule after rule (a later rule's pairs would wait on the workers)
        orders: list[int] = []
        found = _streamed(self.client, self._blocks(prepared, rules, orders), self.window)
        parts: dict[int, list[pl.DataFrame]] = {}
        for order, pairs in zip(orders, found, strict=True):
            parts.setdefault(order, []).append(pairs)
        return union_bits(parts, prepared.schema[RID])

    def _blocks(self, prepared: pl.DataFrame, rules: list[BlockingRule], orders: list[int]) -> Iterator[Task]:
        """One task per key part of every rule, and one per two slices of every big block (``orders`` gets each
        task's rule as it is made)."""
        piece = max(self.big_block // 2, 1)
        for order, rule in usable_rules(prepared, rules):
            parts, big = split_blocks(rule_keys(prepared, rule), rule.max_block, self.parts, self.big_block)
            for part in parts:
                orders.append(order)
                yield block_pairs, (part, rule.max_block)
            for rids in big:
                slices = [rids[i : i + piece] for i in range(0, len(rids), piece)]
                for i in range(len(slices)):
                    for j in range(i, len(slices)):
                        orders.append(order)
                        yield slice_pairs, (slices[i], slices[j], i == j)

    def comparer(self, prepared: pl.DataFrame, settings: MatchSettings) -> PairComparer:
        return DaskComparer(self, prepared, settings)

    def each(self, fn: Callable[[T], R], items: list[T], done: Callable[[R], None] | None = None) -> list[R]:
        """A task per item (reading a source), all at once on the cluster (as many as it has threads at a
        time)."""
        return _streamed(self.client, ((fn, (item,)) for item in items), self.window, done)


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
        client.close()
        if cluster is not None:
            cluster.close()

"""What runs on the workers of a Dask cluster (imported there, and by :mod:`pipelines.dask_engine` only when a run
uses one: ``distributed`` costs about 2 s to import)."""

from __future__ import annotations

import numpy as np
from distributed import Worker, WorkerPlugin

from rules.match import Compared, Comparer, MatchSettings, SideTable

__all__ = ["SideTablePlugin", "compare_chunk"]

#: The comparer of each run this worker process compares for (by the run's token).
_COMPARERS: dict[str, Comparer] = {}


class SideTablePlugin(WorkerPlugin):
    """Gives every worker a run's side table, a worker that joins or restarts mid-run too (the scheduler keeps
    the plugin and sets it up on every new worker); removing the plugin frees it."""

    def __init__(self, token: str, table: SideTable, settings: MatchSettings) -> None:
        self.token = token
        self.table = table
        self.settings = settings

    def setup(self, worker: Worker) -> None:
        _COMPARERS[self.token] = Comparer.of(self.table, self.settings)  # codes its columns at its first compare

    def teardown(self, worker: Worker) -> None:
        _COMPARERS.pop(self.token, None)


def compare_chunk(token: str, left: np.ndarray, right: np.ndarray, sample: np.ndarray | None) -> Compared:
    """The levels of one chunk of pairs, by this worker's comparer of the run."""
    return _COMPARERS[token].compare(left, right, sample=sample)

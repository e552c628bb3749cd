"""Step events: the flow reports each step's start and end; the CLI listens and draws progress.

Listeners live in-process (the flow's tasks run in threads of the same process), so nothing here goes through
Prefect's API.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

__all__ = ["StepEvent", "emit", "listening"]


@dataclass(frozen=True)
class StepEvent:
    """One step of a run started, finished or failed."""

    step: str
    status: Literal["start", "done", "failed"]
    seconds: float = 0.0
    rows: int | None = None
    detail: str = ""


Listener = Callable[[StepEvent], None]
_listeners: list[Listener] = []
_lock = threading.Lock()


@contextmanager
def listening(listener: Listener) -> Iterator[None]:
    """Call ``listener`` with every step event emitted while the block runs."""
    with _lock:
        _listeners.append(listener)
    try:
        yield
    finally:
        with _lock:
            _listeners.remove(listener)


def emit(event: StepEvent) -> None:
    """Send ``event`` to every listener."""
    with _lock:
        listeners = list(_listeners)
    for listener in listeners:
        listener(event)

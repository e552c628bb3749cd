"""Step events: the flow reports each step's start, progress and end; the CLI listens and draws them.

Listeners live in-process (the flow's tasks run in threads of the same process), so nothing here goes through
Prefect's API. :class:`StepDisplay` is what ``crmkit migrate`` draws: one line per step that fills as the step's
``progress`` events arrive (:func:`advance`: rows done of a total), with rows/s, the share done and the time left,
and ends with the step's rows, seconds and rate. Any step may send progress events (extract and validate do; the
store's load does); events of steps the display does not show are ignored.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import TaskID

__all__ = ["StepDisplay", "StepEvent", "advance", "emit", "listening", "starting"]


@dataclass(frozen=True)
class StepEvent:
    """One step of a run started, advanced (``progress``: ``rows`` of ``total`` done so far), finished or failed."""

    step: str
    status: Literal["start", "progress", "done", "failed"]
    seconds: float = 0.0
    rows: int | None = None
    detail: str = ""
    total: int | None = None


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


def advance(step: str, done: int, total: int | None = None, *, seconds: float = 0.0) -> None:
    """Tell listeners that ``step`` has handled ``done`` of ``total`` rows (``total`` None: unknown) in ``seconds``."""
    emit(StepEvent(step, "progress", seconds=seconds, rows=done, total=total))


@contextmanager
def starting(console: Console, text: str) -> Iterator[None]:
    """Show ``text`` while the block runs: a spinner on a terminal, a line otherwise (a log, a pipe, CI)."""
    if console.is_terminal:
        with console.status(text):
            yield
    else:
        console.print(text)
        yield


def _clock(seconds: float) -> str:
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


@dataclass
class _Step:
    task: TaskID
    started: float | None = None
    rows: int = 0
    total: int | None = None
    seconds: float = 0.0  # of the last progress event
    advanced: bool = False  # progress events arrived


class StepDisplay:
    """A run's progress display (rich); call it with each :class:`StepEvent` (from any thread)."""

    def __init__(self, console: Console, steps: Sequence[str], *, skipped: dict[str, str] | None = None) -> None:
        from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description:<14}"),
            BarColumn(bar_width=20),
            TextColumn("{task.fields[note]}"),
            TimeElapsedColumn(),
            console=console,
        )
        self._lock = threading.Lock()
        self._steps = {
            name: _Step(self.progress.add_task(name, total=1, note="waiting", start=False)) for name in steps
        }
        for name, note in (skipped or {}).items():
            if name in self._steps:
                self.progress.update(self._steps[name].task, note=note)

    def __enter__(self) -> StepDisplay:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(None, None, None)

    def __call__(self, event: StepEvent) -> None:
        with self._lock:
            step = self._steps.get(event.step)
            if step is None:
                return
            if event.status == "start":
                step.started = time.monotonic()
                self.progress.start_task(step.task)
                self.progress.update(step.task, note="running")
            elif event.status == "progress":
                self._advance(step, event)
            elif event.status == "done":
                self._done(step, event)
            elif event.status == "failed":
                from rich.markup import escape

                self.progress.update(step.task, note=f"[red]failed[/]: {escape(event.detail[:80])}")

    def _advance(self, step: _Step, event: StepEvent) -> None:
        if step.started is None:  # a progress event before the step's start (the store's own events)
            step.started = time.monotonic()
            self.progress.start_task(step.task)
        step.advanced = True
        step.rows = max(0, event.rows or 0)
        step.total = event.total if event.total is not None and event.total >= 0 else None
        step.seconds = event.seconds if event.seconds > 0 else time.monotonic() - step.started
        rate = step.rows / step.seconds if step.seconds > 0 else 0.0
        parts = [f"{step.rows:,}" + (f"/{step.total:,}" if step.total is not None else "") + " rows"]
        if rate:
            parts.append(f"{rate:,.0f} rows/s")
        if step.total:
            parts.append(f"{min(step.rows / step.total, 1.0):.0%}")
            if rate and step.rows < step.total:
                parts.append(f"ETA {_clock((step.total - step.rows) / rate)}")
        total = max(step.total or 0, step.rows, 1)
        self.progress.update(step.task, total=total, completed=min(step.rows, total), note=" · ".join(parts))

    def _done(self, step: _Step, event: StepEvent) -> None:
        rows = event.rows if event.rows is not None else (step.rows if step.advanced else None)
        parts = [f"{rows:,} rows"] if rows is not None else []
        parts.append(f"{event.seconds:.2f}s")
        if step.advanced and step.rows and event.seconds > 0:
            parts.append(f"{step.rows / event.seconds:,.0f} rows/s")
        total = next(t.total for t in self.progress.tasks if t.id == step.task) or 1
        self.progress.update(step.task, completed=total, note=" · ".join(parts))

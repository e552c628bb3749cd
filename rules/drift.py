"""Schema drift: how a source's columns changed since the last successful run.

A legacy export gains a column, loses one, or renames ``手机`` to ``手机号``: each is reported in the run report, and
a source marked ``strict`` fails the run instead of loading data that may now be mapped wrongly. A rename is a
column that disappeared and a new one that looks like it (similar name, or the same position), paired greedily —
a guess, reported as "probably renamed".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from rapidfuzz import fuzz

__all__ = ["Drift", "detect_drift"]

#: Name similarity (0-100, rapidfuzz ratio) from which a missing and a new column count as one renamed column.
RENAME_SIMILARITY = 50.0


@dataclass(frozen=True)
class Drift:
    """Column changes of one source against its baseline."""

    new: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    renamed: list[tuple[str, str]] = field(default_factory=list)
    #: Mapped columns (keys of the source's mapping) that are gone: their canonical field is now empty.
    mapped_missing: list[str] = field(default_factory=list)
    #: False when there was no baseline to compare with (the source's first run): no drift, and none to say so.
    baseline: bool = True

    @property
    def changed(self) -> bool:
        """Whether anything changed."""
        return bool(self.new or self.missing or self.renamed)

    def describe(self) -> str:
        """One line for messages and the report."""
        parts = [f"new column {c!r}" for c in self.new]
        parts += [f"missing column {c!r}" for c in self.missing]
        parts += [f"column {a!r} probably renamed to {b!r}" for a, b in self.renamed]
        return "; ".join(parts) or "no change"


def detect_drift(previous: Sequence[str] | None, current: Sequence[str], mapping: Mapping[str, str]) -> Drift:
    """Compare a source's columns with its baseline.

    Args:
        previous: the columns of the last successful run (None: no baseline yet, so no drift).
        current: the columns read now, in order.
        mapping: the source's column mapping (to say which missing columns were mapped).

    Returns:
        The drift; renamed pairs are taken out of ``new`` and ``missing``.
    """
    if previous is None:
        return Drift(baseline=False)
    gone = [c for c in previous if c not in current]
    added = [c for c in current if c not in previous]
    renamed: list[tuple[str, str]] = []
    candidates = sorted(
        (
            (max(fuzz.ratio(old, new), 100.0 if previous.index(old) == current.index(new) else 0.0), old, new)
            for old in gone
            for new in added
        ),
        key=lambda t: (-t[0], t[1], t[2]),
    )
    for score, old, new in candidates:
        if score < RENAME_SIMILARITY:
            break
        if old in gone and new in added:
            renamed.append((old, new))
            gone.remove(old)
            added.remove(new)
    renamed.sort(key=lambda pair: previous.index(pair[0]))
    mapped_missing = [c for c in previous if c in mapping and c not in current]
    return Drift(new=added, missing=gone, renamed=renamed, mapped_missing=mapped_missing)

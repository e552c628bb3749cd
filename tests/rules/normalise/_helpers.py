"""Shared helpers for the normaliser tests.

The case tables of ``tests/data/rules/normalise/`` are checked whole: every line of a table goes through the
registered normaliser in one call per kind and parameter set (the call ``normalise_frame`` makes for a column), and
one test per table fails with a list of every line whose expected fields differ.
"""

from __future__ import annotations

import csv
import functools
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import strategies as st

from rules.normalise import ISSUES_DTYPE, get_normaliser

TABLES = Path(__file__).resolve().parents[2] / "data" / "rules" / "normalise"
#: Keys of a table line that are not expected output fields.
_NOT_EXPECTED = ("input", "note", "params", "kind")


def run_one(normaliser: Callable[..., pl.DataFrame], raw: str | None, **params: Any) -> dict[str, Any]:
    """Normalise a single value and return its output row as a dict."""
    out = normaliser(pl.Series("x", [raw], dtype=pl.String), **params)
    assert out.height == 1
    return out.row(0, named=True)


def check_contract(out: pl.DataFrame, height: int, parts: dict[str, Any] | None = None) -> None:
    """The frame has the contract's shape: same height, ``value`` text, ``issues`` list of text."""
    assert out.height == height
    assert out.schema["value"] == pl.String
    assert out.schema["issues"] == ISSUES_DTYPE
    for name, dtype in (parts or {}).items():
        assert out.schema[name] == dtype
    assert out.get_column("issues").null_count() == 0


def text_series(*values: str | None) -> pl.Series:
    """``values`` as a text column, as ``normalise_frame`` hands one to a normaliser."""
    return pl.Series("x", list(values), dtype=pl.String)


def batches(values: st.SearchStrategy[str]) -> st.SearchStrategy[list[str]]:
    """Lists of up to :data:`BATCH` drawn values: a property checked on a batch, in one normaliser call as
    production makes it (one call per value cost more than the checks; a batch also meets values beside others)."""
    return st.lists(values, min_size=1, max_size=BATCH)


#: Values drawn into one example of :func:`batches` at most (their examples are a fifth of a single value's).
BATCH = 20


def idempotent(normaliser: Callable[..., pl.DataFrame], raws: str | Sequence[str], **params: Any) -> None:
    """Normalising the normalised values again gives the same values (each list in one call)."""
    values = [raws] if isinstance(raws, str) else list(raws)
    first = normaliser(text_series(*values), **params).get_column("value").to_list()
    kept = [(raw, value) for raw, value in zip(values, first, strict=True) if value is not None]
    if kept:
        second = normaliser(text_series(*(value for _, value in kept)), **params).get_column("value").to_list()
        changed = [(raw, value, again) for (raw, value), again in zip(kept, second, strict=True) if again != value]
        assert not changed, changed


@dataclass(frozen=True)
class Line:
    """One line of a case table: its number in the file, the input, the expected output fields."""

    number: int
    input: str | None
    kind: str
    expected: dict[str, Any]
    params: dict[str, Any] = field(default_factory=dict)
    note: str = ""

    def describe(self) -> str:
        params = f" {self.params}" if self.params else ""
        note = f"  ({self.note})" if self.note else ""
        return f"line {self.number}: {self.input!r}{params}{note}"


@functools.cache
def table(name: str, kind: str | None = None) -> tuple[Line, ...]:
    """Lines of ``tests/data/rules/normalise/<name>.jsonl``.

    Each line is one JSON object: ``input`` (text or null), the expected ``value`` and ``issues`` and the expected
    part columns of the kind (a field left out is not checked); ``kind`` names the normaliser when the table holds
    several (default: ``kind``, else the table's name), ``params`` are its extra keyword arguments and ``note`` says
    what the case is about.
    """
    lines = []
    with (TABLES / f"{name}.jsonl").open(encoding="utf-8") as handle:
        for number, text in enumerate(handle, start=1):
            if text.strip():
                case = json.loads(text)
                lines.append(
                    Line(
                        number,
                        case["input"],
                        case.get("kind") or kind or name,
                        {k: v for k, v in case.items() if k not in _NOT_EXPECTED},
                        case.get("params", {}),
                        case.get("note", ""),
                    )
                )
    return tuple(lines)


@functools.cache
def csv_table(name: str, nullable: tuple[str, ...], kind: str | None = None) -> tuple[Line, ...]:
    """Lines of the CSV case table ``tests/data/rules/normalise/<name>.csv``: the ``raw`` column is the input,
    every other column an expected field; ``issues`` is split on ``|``; empty cells of the ``nullable`` columns
    are null."""
    with (TABLES / f"{name}.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    lines = []
    for number, row in enumerate(rows, start=2):  # line 1 is the header
        expected: dict[str, Any] = {k: v for k, v in row.items() if k != "raw"}
        expected["issues"] = row["issues"].split("|") if row["issues"] else []
        for key in nullable:
            expected[key] = row[key] or None
        lines.append(Line(number, row["raw"], kind or name, expected))
    return tuple(lines)


def inputs(lines: Sequence[Line]) -> list[str]:
    """The distinct non-empty inputs of a table, in file order (for property tests that start from real cases)."""
    return list(dict.fromkeys(line.input for line in lines if line.input))


def normalise_lines(
    lines: Sequence[Line],
    values: Sequence[str | None] | None = None,
    *,
    parts: dict[str, Any] | None = None,
    **params: Any,
) -> list[dict[str, Any]]:
    """The output row of every line, computed as a migration computes a column: one call of the registered
    normaliser per kind and parameter set over all of its lines (``values`` replace the inputs when given).
    Each call's frame must keep the contract (:func:`check_contract`, with the ``parts`` column types)."""
    values = [line.input for line in lines] if values is None else values
    groups: dict[tuple[str, str], list[int]] = {}
    for i, line in enumerate(lines):
        groups.setdefault((line.kind, json.dumps(line.params, sort_keys=True)), []).append(i)
    rows: list[dict[str, Any]] = [{} for _ in lines]
    for (kind, line_params), indices in groups.items():
        column = pl.Series("x", [values[i] for i in indices], dtype=pl.String)
        out = get_normaliser(kind)(column, **params, **json.loads(line_params))
        check_contract(out, len(indices), parts)
        for i, row in zip(indices, out.iter_rows(named=True), strict=True):
            rows[i] = row
    return rows


def _fail(name: str, lines: Sequence[Line], problems: list[str], what: str) -> None:
    if problems:
        shown = "\n".join(problems[:200])
        more = f"\n  … and {len(problems) - 200} more" if len(problems) > 200 else ""
        pytest.fail(f"{len(problems)} of {len(lines)} lines of {name} {what}:\n{shown}{more}", pytrace=False)


def check_table(
    name: str,
    lines: Sequence[Line],
    *,
    parts: dict[str, Any] | None = None,
    extra: Callable[[Line, dict[str, Any]], str | None] | None = None,
    **params: Any,
) -> list[dict[str, Any]]:
    """Normalise the whole table (:func:`normalise_lines`) and fail with every line whose expected fields differ.

    ``extra`` checks a line's row further and returns a problem or ``None``. Returns the rows.
    """
    rows = normalise_lines(lines, parts=parts, **params)
    problems = []
    for line, row in zip(lines, rows, strict=True):
        wrong = [
            f"{key}: expected {want!r}, got {row.get(key, '<no such column>')!r}"
            for key, want in line.expected.items()
            if row.get(key, ...) != want
        ]
        more = extra(line, row) if extra is not None else None
        if more:
            wrong.append(more)
        if wrong:
            problems.append(f"  {line.describe()}\n      " + "\n      ".join(wrong))
    _fail(name, lines, problems, "differ from what the normaliser gives")
    return rows


def check_table_idempotent(name: str, lines: Sequence[Line], **params: Any) -> None:
    """Normalising the normalised value of every line again (again one call per kind and parameter set) gives
    the same value; fails with every line where it does not."""
    first = [row["value"] for row in normalise_lines(lines, **params)]
    again = [row["value"] for row in normalise_lines(lines, [v if v is not None else "" for v in first], **params)]
    problems = [
        f"  {line.describe()}: {once!r} becomes {twice!r}"
        for line, once, twice in zip(lines, first, again, strict=True)
        if once is not None and twice != once
    ]
    _fail(name, lines, problems, "change when normalised again")

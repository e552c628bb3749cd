"""Shared helpers for the normaliser tests."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from rules.normalise._base import ISSUES_DTYPE


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


def idempotent(normaliser: Callable[..., pl.DataFrame], raw: str, **params: Any) -> None:
    """Normalising the normalised value again gives the same value."""
    first = run_one(normaliser, raw, **params)["value"]
    if first is not None:
        second = run_one(normaliser, first, **params)["value"]
        assert second == first, (raw, first, second)


TABLES = Path(__file__).resolve().parents[2] / "data" / "rules" / "normalise"


def load_table(name: str) -> list[Any]:
    """Cases of ``tests/data/rules/normalise/<name>.jsonl`` as pytest params (id: line number and input).

    Each line is one JSON object: ``input`` (text or null), the expected ``value`` and ``issues`` and the
    expected part columns of the kind; ``note`` says what the case is about, ``params`` are extra keyword
    arguments of the normaliser.
    """
    cases = []
    with (TABLES / f"{name}.jsonl").open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if line.strip():
                case = json.loads(line)
                cases.append(pytest.param(case, id=f"{number}:{case['input']!r}"[:60]))
    return cases


def check_case(normaliser: Callable[..., pl.DataFrame], case: dict[str, Any], **params: Any) -> None:
    """Every expected field of a table case (all keys but ``input``, ``note`` and ``params``) matches."""
    row = run_one(normaliser, case["input"], **params, **case.get("params", {}))
    expected = {k: v for k, v in case.items() if k not in ("input", "note", "params", "kind")}
    actual = {k: row[k] for k in expected}
    assert actual == expected, case.get("note", "")


def csv_cases(path: Path, nullable: tuple[str, ...]) -> list[dict[str, Any]]:
    """Rows of a CSV case table: ``issues`` split on ``|``; empty cells of the ``nullable`` columns become None."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        row["issues"] = row["issues"].split("|") if row["issues"] else []
        for key in nullable:
            row[key] = row[key] or None
    return rows

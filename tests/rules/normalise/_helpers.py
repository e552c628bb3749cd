"""Shared helpers for the normaliser tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl

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

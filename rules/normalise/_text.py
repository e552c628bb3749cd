"""Normaliser for fields without a kind: trimmed, half-width, whitespace-collapsed text."""

from __future__ import annotations

import polars as pl

from ._base import ISSUES_DTYPE, Schema, clean_text, map_distinct
from ._registry import register_normaliser

_SCHEMA: Schema = {"value": pl.String, "issues": ISSUES_DTYPE}


def _one(raw: str) -> tuple[str | None, list[str]]:
    return clean_text(raw), []


@register_normaliser("text")
def normalise_text(values: pl.Series) -> pl.DataFrame:
    """Clean free text: full-width to half-width, control characters dropped, whitespace collapsed.

    Output columns: ``value`` (null when empty or a null marker such as ``N/A``, ``无``, ``-``) and ``issues``
    (``empty``, ``placeholder``).
    """
    return map_distinct(values, _one, _SCHEMA, placeholder="placeholder")

"""Which kind of customer a golden record is: a person, or an organisation."""

from __future__ import annotations

from typing import Final

import polars as pl

__all__ = ["ORGANISATION", "PERSON", "with_kind"]

PERSON: Final = "person"
ORGANISATION: Final = "organisation"


def with_kind(golden: pl.DataFrame) -> pl.DataFrame:
    """The golden records with their ``kind``: a person when the record has a name (``full_name``), otherwise an
    organisation (its rows named only a company)."""
    named = pl.col("full_name").is_not_null() if "full_name" in golden.columns else pl.lit(False)
    return golden.with_columns(pl.when(named).then(pl.lit(PERSON)).otherwise(pl.lit(ORGANISATION)).alias("kind"))

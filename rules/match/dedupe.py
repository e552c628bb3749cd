"""One-file deduplication for analysts (``crmkit dedupe INPUT --config match.yaml --out clusters.csv``)."""

from __future__ import annotations

from typing import Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, field_validator

from .blocking import RID
from .engine import match
from .settings import MatchSettings

__all__ = ["DedupeConfig", "dedupe_frame"]

CanonicalInput = Literal[
    "first_name",
    "last_name",
    "full_name",
    "birth_date",
    "street",
    "address",
    "city",
    "postcode",
    "phone",
    "email",
    "company",
    "gender",
]
_TARGET = {"first_name": "given_name", "last_name": "family_name", "street": "address"}


class DedupeConfig(BaseModel):
    """What ``crmkit dedupe`` reads from its YAML file."""

    model_config = ConfigDict(extra="forbid")

    #: Input column → canonical field (first_name, last_name, full_name, birth_date, street/address, city,
    #: postcode, phone, email, company, gender). first_name + last_name make the full name when no full_name.
    columns: dict[str, CanonicalInput] = Field(min_length=1)
    #: Input column holding the record id (default: the row number, from 0).
    id_column: str | None = None
    #: Default phone region and the order of ambiguous numeric dates.
    region: str = "CN"
    date_order: Literal["ymd", "dmy", "mdy"] = "ymd"
    match: MatchSettings = Field(default_factory=MatchSettings)

    @field_validator("columns")
    @classmethod
    def _one_column_per_field(cls, value: dict[str, str]) -> dict[str, str]:
        seen: dict[str, str] = {}
        for col, fld in value.items():
            if fld in seen:
                raise ValueError(f"columns {seen[fld]!r} and {col!r} both map to {fld!r}")
            seen[fld] = col
        return value


def dedupe_frame(df: pl.DataFrame, config: DedupeConfig) -> pl.DataFrame:
    """Cluster the rows of one table of people.

    The mapped columns are normalised with :func:`rules.normalise.normalise_frame`, then matched with
    ``config.match`` (a model is trained on the file itself).

    Returns:
        ``record_id`` (text), ``cluster_id`` (the record id of the cluster's first row) and
        ``match_probability`` (the row's strongest link inside its cluster; null for a singleton), in input order.

    Raises:
        ValueError: a mapped column or the id column is absent, or record ids are not unique.
    """
    from rules.normalise import normalise_frame

    missing = [c for c in [*config.columns, *([config.id_column] if config.id_column else [])] if c not in df.columns]
    if missing:
        raise ValueError(f"input has no column {', '.join(map(repr, missing))}; it has {df.columns}")
    ids = (
        df.get_column(config.id_column).cast(pl.String)
        if config.id_column
        else pl.Series("record_id", range(df.height)).cast(pl.String)
    )
    if ids.is_duplicated().any() or ids.null_count():
        raise ValueError(f"record ids in {config.id_column!r} must be unique and non-null")
    mapped = df.select(pl.col(c).cast(pl.String).alias(_TARGET.get(f, f)) for c, f in config.columns.items())
    if "full_name" not in mapped.columns and {"given_name", "family_name"} & set(mapped.columns):
        parts = [pl.col(c) for c in ("given_name", "family_name") if c in mapped.columns]
        mapped = mapped.with_columns(pl.concat_str(parts, separator=" ", ignore_nulls=True).alias("full_name"))
    normalised = normalise_frame(mapped, region=config.region, date_order=config.date_order)
    records = normalised.with_columns(pl.Series(RID, range(df.height), dtype=pl.Int64))
    result = match(records, config.match)
    best = (
        result.pairs.join(result.clusters.rename({RID: "left", "cluster": "c1"}), on="left")
        .join(result.clusters.rename({RID: "right", "cluster": "c2"}), on="right")
        .filter(pl.col("c1") == pl.col("c2"))
    )
    best = (
        pl.concat(
            [
                best.select(pl.col("left").alias(RID), "match_probability"),
                best.select(pl.col("right").alias(RID), "match_probability"),
            ]
        )
        .group_by(RID)
        .agg(pl.col("match_probability").max())
    )
    id_of = pl.DataFrame({RID: pl.Series(range(df.height), dtype=pl.Int64), "record_id": ids})
    return (
        result.clusters.join(best, on=RID, how="left")
        .join(id_of, on=RID)
        .join(id_of.rename({RID: "cluster", "record_id": "cluster_id"}), on="cluster")
        .sort(RID)
        .select("record_id", "cluster_id", "match_probability")
    )

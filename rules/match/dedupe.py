"""One-table deduplication for analysts (``crmkit dedupe INPUT --config match.yaml --out clusters.csv``)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Literal

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from .comparisons import MATCHING_COLUMNS
from .engine import Engine, LocalEngine, MatchResult, match, match_incremental
from .model import MatchModel
from .prepare import RID, prepare_records
from .settings import MatchSettings

__all__ = ["DedupeConfig", "Deduped", "dedupe_table", "normalise_people"]

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
#: Input fields that feed another canonical field: a street (and house number) is part of the address.
_TARGET = {"first_name": "given_name", "last_name": "family_name", "street": "address"}


class DedupeConfig(BaseModel):
    """What ``crmkit dedupe`` reads from its YAML file."""

    model_config = ConfigDict(extra="forbid")

    #: Input column → field (first_name, last_name, full_name, birth_date, street/address, city, postcode, phone,
    #: email, company, gender). Several columns may map to one field: their values are joined with a space in the
    #: order listed (house number + street; street + address line 2). first_name + last_name make the full name
    #: when there is no full_name (family name first for names in hanzi).
    columns: dict[str, CanonicalInput] = Field(min_length=1)
    #: Input column holding the record id (default: the row number, from 0).
    id_column: str | None = None
    #: Region of phone numbers written without a country code (ISO 3166, default CN) and the order of ambiguous
    #: numeric dates (03/05/1985: ``dmy`` is 3 May).
    region: str = "CN"
    date_order: Literal["ymd", "dmy", "mdy"] = "ymd"
    match: MatchSettings = Field(default_factory=MatchSettings)


@dataclass(frozen=True)
class Deduped:
    """What :func:`dedupe_table` found.

    Attributes:
        clusters: ``record_id`` (text), ``cluster_id`` (the record id of the cluster's first record) and
            ``match_probability`` (the record's strongest link inside its cluster; null for a singleton), in input
            order; in a run ``against`` earlier clusters, the new records first, then the existing ones as they
            were (they never change cluster).
        records: the records that were matched, normalised and prepared (``record_id``, ``_rid``, the canonical
            fields and the derived matching keys): what a later run needs to match new records against them.
        result: the matcher's full result (pairs with evidence, review, model, blocking rules and recall).
    """

    clusters: pl.DataFrame
    records: pl.DataFrame
    result: MatchResult


def _joined(df: pl.DataFrame, columns: list[str]) -> pl.Expr:
    parts = [pl.col(c).cast(pl.String).str.strip_chars() for c in columns]
    joined = parts[0] if len(parts) == 1 else pl.concat_str(parts, separator=" ", ignore_nulls=True).str.strip_chars()
    return pl.when(joined.str.len_bytes() > 0).then(joined)


def _mapped(df: pl.DataFrame, config: DedupeConfig) -> pl.DataFrame:
    """Canonical columns of the input, the columns that share a field joined."""
    by_field: dict[str, list[str]] = {}
    for col, fld in config.columns.items():
        by_field.setdefault(_TARGET.get(fld, fld), []).append(col)
    return df.select(_joined(df, cols).alias(fld) for fld, cols in by_field.items())


def normalise_people(df: pl.DataFrame, config: DedupeConfig, engine: Engine | None = None) -> pl.DataFrame:
    """The input's mapped columns normalised for matching, with ``record_id`` and ``_rid`` (0, 1, …).

    A name given as first and last name is normalised from its two parts (no guessing which word is the family
    name; hanzi names family first); a full name is parsed. ``engine`` may normalise slices of rows apart (see
    :meth:`rules.match.engine.Engine.by_rows`).

    Raises:
        ValueError: a mapped column or the id column is absent, or record ids are not unique.
    """
    return _people(_mapped_rows(df, config), config, engine, prepare=False)


def _record_ids(df: pl.DataFrame, config: DedupeConfig) -> pl.Series:
    """The record ids (the id column, else the row numbers), once the mapped columns are known to be there.

    Raises:
        ValueError: a mapped column or the id column is absent, or record ids are not unique.
    """
    missing = [c for c in [*config.columns, *([config.id_column] if config.id_column else [])] if c not in df.columns]
    if missing:
        raise ValueError(f"input has no column {', '.join(map(repr, missing))}; it has {df.columns}")
    ids = (
        df.get_column(config.id_column).cast(pl.String)
        if config.id_column
        else pl.Series("record_id", range(df.height)).cast(pl.String)
    )
    if ids.null_count() or ids.n_unique() < ids.len():
        raise ValueError(f"record ids in {config.id_column!r} must be unique and non-null")
    return ids


def _mapped_rows(df: pl.DataFrame, config: DedupeConfig) -> pl.DataFrame:
    """The mapped columns as text, with ``record_id`` and ``_rid`` (0, 1, …)."""
    ids = _record_ids(df, config)
    return _mapped(df, config).with_columns(ids.alias("record_id"), pl.Series(RID, range(df.height), dtype=pl.Int64))


def _people(mapped: pl.DataFrame, config: DedupeConfig, engine: Engine | None, *, prepare: bool) -> pl.DataFrame:
    """The mapped rows (:func:`_mapped_rows`) normalised (and prepared for matching) by slices of rows: one round
    trip per slice on a cluster."""
    step = partial(_prepared if prepare else _normalised, config=config)
    return (engine or LocalEngine()).by_rows(step, mapped)


def _prepared(mapped: pl.DataFrame, config: DedupeConfig) -> pl.DataFrame:
    """The mapped rows normalised and prepared for matching, row by row."""
    return prepare_records(_normalised(mapped, config))


def _normalised(mapped: pl.DataFrame, config: DedupeConfig) -> pl.DataFrame:
    """The mapped rows normalised, row by row (``record_id`` and ``_rid`` last, as they came)."""
    from rules.normalise import normalise_name_parts

    kept = mapped.select("record_id", RID)
    mapped = mapped.drop("record_id", RID)
    parts = {"given_name", "family_name"} & set(mapped.columns)
    if not parts or "full_name" in mapped.columns:
        return pl.concat([_fields(mapped, config), kept], how="horizontal")
    absent = pl.Series([None] * mapped.height, dtype=pl.String)
    family, given = (mapped.get_column(c) if c in parts else absent for c in ("family_name", "given_name"))
    # the two name columns beside the other fields: each is part polars, which lets the other run (1M people: 3.8 ->
    # 2.8 s)
    with ThreadPoolExecutor(max_workers=1) as pool:
        names = pool.submit(normalise_name_parts, family, given)
        fields = _fields(mapped.drop(*parts), config)
        named = names.result().rename({"value": "full_name"}).drop("issues")
    return pl.concat([fields, named, kept], how="horizontal")


def _fields(mapped: pl.DataFrame, config: DedupeConfig) -> pl.DataFrame:
    """The canonical fields of ``mapped`` normalised as matching wants them: no issue lists (matching reads none),
    and a birth date too old for a living customer (1902) kept, since it still tells two records of a historical
    table apart."""
    from rules.normalise import normalise_frame

    return normalise_frame(mapped, region=config.region, date_order=config.date_order, max_age=None, issues=False)


def _strongest_links(result: MatchResult) -> pl.DataFrame:
    """``_rid`` and ``match_probability``: each clustered record's strongest pair inside its cluster (records
    looked up by position: two joins of every scored pair cost more time and memory than the clustering)."""
    clusters = result.clusters.sort(RID)
    rid, label = clusters[RID].to_numpy(), clusters["cluster"].to_numpy()
    probability = result.pairs["match_probability"].to_numpy()
    dense = bool(len(rid)) and rid[0] == 0 and rid[-1] == len(rid) - 1  # _rid 0 … n−1: a rid is its position
    ends = []
    for side in ("left", "right"):
        values = result.pairs[side].to_numpy()
        if dense:
            ends.append((values, np.ones(len(values), dtype=bool)))
            continue
        at = np.minimum(np.searchsorted(rid, values), max(len(rid) - 1, 0))
        ends.append((at, rid[at] == values if len(rid) else np.zeros(len(values), dtype=bool)))
    (li, lfound), (ri, rfound) = ends
    inside = lfound & rfound
    inside[inside] = label[li[inside]] == label[ri[inside]]
    # the best per record by a grouping (np.maximum.at took a second on five million pairs)
    ends_inside = np.concatenate([li[inside], ri[inside]])
    best = (
        pl.DataFrame({"at": ends_inside, "match_probability": np.tile(probability[inside], 2)})
        .group_by("at")
        .agg(pl.col("match_probability").max())
        .sort("at")
    )
    return pl.DataFrame(
        {RID: rid[best["at"].to_numpy()], "match_probability": best["match_probability"]},
        schema={RID: clusters.schema[RID], "match_probability": pl.Float64},
    )


def dedupe_table(
    df: pl.DataFrame,
    config: DedupeConfig,
    *,
    model: MatchModel | None = None,
    against: pl.DataFrame | None = None,
    engine: Engine | None = None,
) -> Deduped:
    """Cluster the rows of one table of people, or match new rows against records clustered before.

    Args:
        df: the input table (any columns; the mapped ones are read as text).
        config: column mapping, region, date order and match settings.
        model: a saved model to score with (``MatchModel.from_json``); None trains one on the data.
        against: the ``records`` of an earlier :class:`Deduped` with its ``cluster_id`` column (e.g. read back
            from the Parquet file ``crmkit dedupe --out X.parquet`` writes): ``df`` then holds only new records,
            only pairs involving one are scored, existing clusters keep their members and ids. Needs ``model``.
        engine: where a full run finds and compares its pairs (see :class:`rules.match.engine.Engine`; default
            this process). An incremental run (``against``) runs here.

    Raises:
        ValueError: a mapped column or the id column is absent, record ids are not unique or reuse existing ids,
            or ``against`` is given without a model.
    """
    mapped = _mapped_rows(df, config)
    del df  # freed here when the caller did not keep it (crmkit dedupe does not): 10M rows of text, gigabytes
    records = _people(mapped, config, engine, prepare=True)
    del mapped
    if against is None:
        result = match(records.drop("record_id"), config.match, model, engine=engine)
        ids = records.select(RID, "record_id")
        clusters = result.clusters
    else:  # only the new records are matched, against the earlier run's prepared records
        if model is None:
            raise ValueError("matching against existing clusters needs the model of the run that made them")
        if "cluster_id" not in against.columns or "record_id" not in against.columns:
            raise ValueError("the existing records need record_id and cluster_id columns (a crmkit dedupe output)")
        clash = records.join(against.select("record_id"), on="record_id", how="semi")
        if clash.height:
            raise ValueError(f"{clash.height} new record ids already exist, e.g. {clash['record_id'][0]!r}")
        offset = int(against.height)
        records = records.with_columns(pl.col(RID) + offset)
        keep = {"record_id", "cluster_id", "match_probability", *MATCHING_COLUMNS}
        keep |= {c for rule in model.blocking_rules() for c in rule.on}
        old = (
            against.select(c for c in against.columns if c in keep)
            .rechunk()  # one chunk per column: a file read in row groups would be re-chunked by every operation
            .with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias(RID))
        )
        result = match_incremental(
            records.drop("record_id"),
            old.drop("record_id", "cluster_id", "match_probability", strict=False),
            # a cluster's label: the smallest _rid of its records (the earlier run's ids stay as they were)
            old.select(RID, pl.col(RID).min().over("cluster_id").alias("cluster")),
            config.match,
            model,
        )
        fresh = result.clusters.filter(pl.col(RID) >= offset)
        new_ids = records.select(RID, "record_id")
        label_ids = pl.concat(
            [
                old.select(pl.col(RID).alias("cluster"), pl.col("record_id").alias("cluster_id")).filter(
                    pl.col("cluster").is_in(fresh["cluster"].implode())
                ),
                new_ids.rename({RID: "cluster", "record_id": "cluster_id"}),
            ]
        )
        # existing records never change cluster: their rows are the earlier output as it was
        before = old.select("record_id", "cluster_id", pl.col("match_probability").cast(pl.Float64))
        if "match_probability" not in old.columns:
            before = old.select("record_id", "cluster_id", pl.lit(None, pl.Float64).alias("match_probability"))
        fresh_out = (
            fresh.join(_strongest_links(result), on=RID, how="left")
            .join(new_ids, on=RID)
            .join(label_ids, on="cluster")
            .sort(RID)
            .select("record_id", "cluster_id", "match_probability")
        )
        return Deduped(pl.concat([fresh_out, before]), records, result)
    best = _strongest_links(result)
    out = (
        clusters.join(best, on=RID, how="left")
        .join(ids, on=RID)
        .join(ids.rename({RID: "cluster", "record_id": "cluster_id"}), on="cluster")
        .sort(RID)
        .select("record_id", "cluster_id", "match_probability")
    )
    return Deduped(out, records, result)

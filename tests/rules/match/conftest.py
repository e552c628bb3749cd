"""Fixtures of the matcher's tests: inline records normalised like the flow does, and models trained on generated
data (the phenomena tests score small inline records with a model that has seen a realistic population)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest

from rules.match import DedupeConfig, MatchModel, MatchResult, MatchSettings, match
from rules.match.dedupe import normalise_people
from rules.normalise import normalise_frame


def records(rows: list[dict[str, Any]], *, region: str = "CN", date_order: str = "ymd") -> pl.DataFrame:
    """Inline raw rows (canonical field names, text values, a ``key`` to tell them apart), normalised and given a
    ``_rid`` (0, 1, …)."""
    columns = sorted({c for row in rows for c in row})
    raw = pl.DataFrame([{c: row.get(c) for c in columns} for row in rows], schema=dict.fromkeys(columns, pl.String))
    key = raw.get_column("key") if "key" in raw.columns else None
    out = normalise_frame(raw.drop("key", strict=False), region=region, date_order=date_order)
    if key is not None:
        out = out.with_columns(key)
    return out.with_row_index("_rid").with_columns(pl.col("_rid").cast(pl.Int64))


def groups(df: pl.DataFrame, clusters: pl.DataFrame) -> set[frozenset[str]]:
    """The clusters as sets of row keys."""
    joined = df.select("_rid", "key").join(clusters, on="_rid").group_by("cluster").agg(pl.col("key"))
    return {frozenset(keys) for keys in joined["key"].to_list()}


def together(df: pl.DataFrame, clusters: pl.DataFrame, *keys: str) -> bool:
    """Whether the rows with these keys ended in one cluster."""
    return any(set(keys) <= g for g in groups(df, clusters))


def pairwise_f1(truth: pl.DataFrame, clusters: pl.DataFrame) -> tuple[float, float, float]:
    """Pairwise precision, recall and F1 of ``clusters`` (``_rid``, ``cluster``) against ``truth`` (``_rid``,
    ``entity_id``)."""
    d = truth.join(clusters, on="_rid")

    def c2(s: pl.Series) -> int:
        n = s.cast(pl.Int64)
        return int((n * (n - 1) // 2).sum())

    tp = c2(d.group_by("cluster", "entity_id").len()["len"])
    pred = c2(d.group_by("cluster").len()["len"])
    true = c2(d.group_by("entity_id").len()["len"])
    p, r = tp / pred if pred else 1.0, tp / true if true else 1.0
    return p, r, 2 * p * r / (p + r) if p + r else 0.0


def _flow_records(folder: Path) -> pl.DataFrame:
    """A generated project's rows through the flow's own steps (extract → map → normalise → validate), with the
    truth ``entity_id``."""
    from pipelines.settings import load_settings
    from pipelines.steps import check, extract, map_rows, normalise

    settings = load_settings(folder / "crmkit.yaml")
    stage = map_rows(settings, extract(settings, {}))
    validated = check(settings, stage, normalise(settings, stage.candidates))
    truth = pl.read_csv(folder / "truth.csv", infer_schema=False).rename(
        {"source": "_source", "source_key": "_source_key"}
    )
    return validated.records.join(
        truth.select("_source", "_source_key", "entity_id"), on=["_source", "_source_key"], how="left"
    ).with_columns(pl.coalesce("entity_id", pl.concat_str(pl.lit("row"), pl.col("_rid"))).alias("entity_id"))


@pytest.fixture(scope="session")
def crm_sample(tmp_path_factory: pytest.TempPathFactory) -> pl.DataFrame:
    """The project's three-source sample (800 people) as the flow prepares it for matching."""
    from synthetic.sample import generate_sample

    folder = tmp_path_factory.mktemp("match_sample")
    generate_sample(800, folder, seed=11)
    return _flow_records(folder)


@pytest.fixture(scope="session")
def crm_trained(crm_sample: pl.DataFrame) -> MatchResult:
    """The matcher run on the sample with default settings (its model scores the inline CRM records)."""
    return match(crm_sample.drop("entity_id"), MatchSettings())


@pytest.fixture(scope="session")
def crm_model(crm_trained: MatchResult) -> MatchModel:
    return crm_trained.model


PEOPLE_CONFIG = DedupeConfig(
    columns={
        "given_name": "first_name",
        "surname": "last_name",
        "date_of_birth": "birth_date",
        "street_number": "street",
        "street": "street",
        "suburb": "city",
        "postcode": "postcode",
    },
    id_column="id",
    region="AU",
    date_order="dmy",
)


@pytest.fixture(scope="session")
def people() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """A generated Western person table (6,000 records, no phone or e-mail): normalised records with ``_rid``,
    truth (``_rid``, ``entity_id``) and the hard-negative pairs."""
    from synthetic.people import generate_people

    table = generate_people(6000, seed=5)
    recs = normalise_people(table.records, PEOPLE_CONFIG)
    truth = recs.select("_rid", pl.col("record_id").alias("id")).join(table.truth, on="id").select("_rid", "entity_id")
    return recs.drop("record_id"), truth, table.hard_negatives


@pytest.fixture(scope="session")
def people_trained(people: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]) -> MatchResult:
    return match(people[0], PEOPLE_CONFIG.match)

from __future__ import annotations

import polars as pl
import pytest

from rules.match import DedupeConfig, MatchModel, dedupe_table, normalise_people

from .conftest import PEOPLE_CONFIG, pairwise_f1


def test_two_columns_can_feed_one_field_and_street_and_address_both_map() -> None:
    df = pl.DataFrame(
        {
            "id": ["a", "b"],
            "no": ["14", "14"],
            "street": ["Wattle St", "Wattle Street"],
            "line2": [None, "Unit 2"],
            "first": ["Emma", "Emma"],
            "last": ["Brown", "Brown"],
        }
    )
    config = DedupeConfig.model_validate(
        {
            "columns": {
                "no": "street",
                "street": "street",
                "line2": "address",
                "first": "first_name",
                "last": "last_name",
            },
            "id_column": "id",
            "region": "AU",
        }
    )
    out = normalise_people(df, config)
    assert out["address"][0].startswith("14 Wattle St")
    assert "Unit 2" in out["address"][1]


def test_hanzi_parts_are_joined_family_first() -> None:
    df = pl.DataFrame({"given": ["帆东", "Wei"], "family": ["臧", "Zhang"]})
    config = DedupeConfig.model_validate({"columns": {"given": "first_name", "family": "last_name"}})
    out = normalise_people(df, config)
    assert out["full_name"].to_list() == ["臧帆东", "Wei Zhang"]
    assert out["name_pinyin"].to_list() == ["zang fandong", "zhang wei"]
    assert out["family_name"].to_list() == ["臧", "Zhang"]


def test_a_record_with_only_a_given_name_keeps_it_a_given_name() -> None:
    df = pl.DataFrame({"given": ["Kiandra"], "family": [None]}, schema={"given": pl.String, "family": pl.String})
    config = DedupeConfig.model_validate({"columns": {"given": "first_name", "family": "last_name"}})
    out = normalise_people(df, config)
    assert out["given_name"][0] == "Kiandra" and out["family_name"][0] is None


def test_dedupe_table_clusters_saves_its_model_and_matches_new_records_against_old_ones(
    people: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame],
) -> None:
    from synthetic.people import generate_people

    table = generate_people(3000, seed=8)
    old, new = table.records.head(2600), table.records.slice(2600)
    first = dedupe_table(old, PEOPLE_CONFIG)
    assert first.clusters.columns == ["record_id", "cluster_id", "match_probability"]
    assert first.clusters["record_id"].to_list() == old["id"].to_list()
    assert first.result.blocking_recall is not None and first.result.blocking_recall > 0.9
    assert first.result.blocking.height and (first.result.blocking["pairs"] > 0).all()
    model = MatchModel.from_json(first.result.model.to_json())
    existing = first.clusters.join(first.records, on="record_id")
    later = dedupe_table(new, PEOPLE_CONFIG, model=model, against=existing)
    # existing records keep their clusters; new ones join them or start their own
    kept = later.clusters.join(first.clusters, on="record_id", suffix="_before")
    assert kept.height == old.height
    assert (kept["cluster_id"] == kept["cluster_id_before"]).all()
    assert later.clusters.height == table.records.height
    truth = table.truth.rename({"id": "record_id"})
    ids = (
        pl.DataFrame({"record_id": table.records["id"]})
        .with_row_index("_rid")
        .with_columns(pl.col("_rid").cast(pl.Int64))
    )
    clusters = (
        later.clusters.join(ids, on="record_id")
        .join(ids.rename({"record_id": "cluster_id", "_rid": "cluster"}), on="cluster_id")
        .select("_rid", "cluster")
    )
    precision, recall, f1 = pairwise_f1(ids.join(truth, on="record_id").select("_rid", "entity_id"), clusters)
    assert precision > 0.97 and f1 > 0.9, (precision, recall, f1)
    with pytest.raises(ValueError, match="already exist"):
        dedupe_table(old.head(5), PEOPLE_CONFIG, model=model, against=existing)
    with pytest.raises(ValueError, match="needs the model"):
        dedupe_table(new, PEOPLE_CONFIG, against=existing)


def test_the_config_is_checked() -> None:
    df = pl.DataFrame({"name": ["Ann"], "phone": ["123"]})
    with pytest.raises(ValueError, match="no column"):
        dedupe_table(df, DedupeConfig.model_validate({"columns": {"name": "full_name", "tel": "phone"}}))
    with pytest.raises(ValueError, match="extra"):
        DedupeConfig.model_validate({"columns": {"name": "full_name"}, "threshold": 0.9})
    with pytest.raises(ValueError, match="unique"):
        dedupe_table(
            pl.DataFrame({"id": ["1", "1"], "name": ["a", "b"]}),
            DedupeConfig.model_validate({"columns": {"name": "full_name"}, "id_column": "id"}),
        )


def test_a_birth_date_too_old_for_a_living_customer_is_kept_for_matching() -> None:
    # a historical table (Febrl's people were born from 1900): the date as written is evidence
    df = pl.DataFrame({"name": ["Maliah Rickett"], "dob": ["19040824"]})
    config = DedupeConfig.model_validate({"columns": {"name": "full_name", "dob": "birth_date"}, "region": "AU"})
    assert normalise_people(df, config)["birth_date"].to_list() == ["1904-08-24"]

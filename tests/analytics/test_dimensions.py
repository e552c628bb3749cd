"""Regions with GB/T 2260 codes from the record, addresses and phone area codes; code tables; attributes."""

from __future__ import annotations

import polars as pl
import pytest

import analytics

LIAOCHENG_LANDLINE = "+866358123456"  # 0635: 聊城
BEIJING_LANDLINE = "+861012345678"  # 010
ZHANJIANG_LANDLINE = "+867596808992"  # 0759: 湛江 (also how a UK number read as Chinese looks)


def _customers(*rows: dict[str, str | None]) -> pl.DataFrame:
    columns = ("customer_id", "province", "city", "district", "landline", "primary_phone")
    return pl.DataFrame([{c: row.get(c) for c in columns} for row in rows], schema=dict.fromkeys(columns, pl.String))


def _region(df: pl.DataFrame, customer_id: str) -> dict[str, str | None]:
    row = df.filter(pl.col("customer_id") == customer_id).row(0, named=True)
    return {k: row[k] for k in ("province", "province_code", "city", "city_code", "district", "district_code")} | {
        "source": row["region_source"],
        "area": row["area_code"],
    }


def test_a_short_city_name_and_the_full_one_are_one_city_with_its_code() -> None:
    out = analytics.standardise_regions(
        _customers(
            {"customer_id": "a", "city": "聊城"},
            {"customer_id": "b", "city": "聊城市"},
            {"customer_id": "c", "province": "山东", "city": "聊城", "district": "东昌府"},
        )
    )
    liaocheng = {"province": "山东省", "province_code": "370000", "city": "聊城市", "city_code": "371500"}
    assert _region(out, "a") == liaocheng | {"district": None, "district_code": None, "source": "record", "area": None}
    assert _region(out, "b") == _region(out, "a")
    assert _region(out, "c") == liaocheng | {
        "district": "东昌府区",
        "district_code": "371502",
        "source": "record",
        "area": None,
    }
    assert out.columns == ["customer_id", *analytics.REGION_COLUMNS]


def test_a_landline_area_code_places_a_customer_that_names_no_place() -> None:
    out = analytics.standardise_regions(_customers({"customer_id": "a", "landline": LIAOCHENG_LANDLINE}))
    assert _region(out, "a") == {
        "province": "山东省",
        "province_code": "370000",
        "city": "聊城市",
        "city_code": "371500",
        "district": None,
        "district_code": None,
        "source": "phone_area",
        "area": "0635",
    }
    assert out["country"].to_list() == ["CN"]


def test_a_landline_refines_a_record_only_from_inside_and_never_overrides_it() -> None:
    out = analytics.standardise_regions(
        _customers(
            {"customer_id": "inside", "province": "山东省", "landline": LIAOCHENG_LANDLINE},
            {"customer_id": "elsewhere", "province": "山东省", "landline": BEIJING_LANDLINE},
        )
    )
    assert _region(out, "inside")["city_code"] == "371500"
    assert _region(out, "inside")["source"] == "phone_area"
    assert _region(out, "elsewhere") | {} == {
        "province": "山东省",
        "province_code": "370000",
        "city": None,
        "city_code": None,
        "district": None,
        "district_code": None,
        "source": "record",
        "area": "010",
    }


def test_a_foreign_city_is_not_moved_to_china_by_a_chinese_looking_landline() -> None:
    out = analytics.standardise_regions(
        _customers({"customer_id": "a", "city": "London", "landline": ZHANJIANG_LANDLINE})
    )
    assert _region(out, "a")["province"] is None
    assert _region(out, "a")["source"] is None
    assert _region(out, "a")["area"] == "0759"  # still shown: the number has that area code


def test_a_name_that_fits_several_units_is_decided_by_the_landline() -> None:
    out = analytics.standardise_regions(
        _customers({"customer_id": "a", "city": "朝阳区", "landline": BEIJING_LANDLINE})
    )
    assert _region(out, "a") == {
        "province": "北京市",
        "province_code": "110000",
        "city": "北京市",
        "city_code": "110000",
        "district": "朝阳区",
        "district_code": "110105",
        "source": "record",
        "area": "010",
    }


def test_municipalities_are_their_own_city_and_province_administered_units_count_as_cities() -> None:
    out = analytics.standardise_regions(
        _customers({"customer_id": "bj", "city": "北京"}, {"customer_id": "jy", "city": "济源"})
    )
    assert (_region(out, "bj")["city"], _region(out, "bj")["city_code"]) == ("北京市", "110000")
    assert (_region(out, "jy")["province"], _region(out, "jy")["city"], _region(out, "jy")["city_code"]) == (
        "河南省",
        "济源市",
        "419001",
    )


def test_addresses_give_the_deepest_place_and_the_record_still_comes_first() -> None:
    customers = _customers({"customer_id": "a"}, {"customer_id": "b", "city": "济南"})
    addresses = pl.DataFrame(
        {
            "customer_id": ["a", "a", "a", "b"],
            "province": ["山东省", "山东省", "山东省", "广东省"],
            "city": ["聊城市", "聊城市", "聊城市", "深圳市"],
            "district": ["莘县", None, None, "南山区"],
            "country": ["CN", "CN", "CN", "CN"],
        }
    )
    out = analytics.standardise_regions(customers, addresses)
    assert (_region(out, "a")["district_code"], _region(out, "a")["source"]) == ("371522", "address")
    assert (_region(out, "b")["city"], _region(out, "b")["source"]) == ("济南市", "record")


def test_a_mobile_number_places_a_customer_only_when_the_rules_allow_it() -> None:
    customers = _customers({"customer_id": "a", "primary_phone": "+8613906351234"})
    assert analytics.standardise_regions(customers)["province"].to_list() == [None]
    rules = analytics.load_rules()
    rules = rules.model_copy(update={"regions": rules.regions.model_copy(update={"mobile_prefix": True})})
    out = analytics.standardise_regions(customers, rules=rules)
    assert (_region(out, "a")["city"], _region(out, "a")["source"]) == ("聊城市", "mobile_prefix")


def test_contact_points_are_read_for_landlines_too() -> None:
    contact_points = pl.DataFrame(
        {"customer_id": ["a", "a"], "kind": ["phone", "email"], "value": [LIAOCHENG_LANDLINE, "a@example.com"]}
    )
    out = analytics.standardise_regions(_customers({"customer_id": "a"}), contact_points=contact_points)
    assert _region(out, "a")["city_code"] == "371500"


LIAOCHENG = {"province": "山东省", "province_code": "370000", "city": "聊城市", "city_code": "371500"}


@pytest.mark.parametrize(
    ("province", "city", "district"),
    [
        (None, "Liaocheng", None),
        (None, "Liaocheng Shi", None),
        (None, "LIAOCHENG CITY", None),
        (None, "Liáochéng", None),
        (None, "liao cheng", None),
        ("Shandong", "Liaocheng", None),
        ("Shandong Province", "Liaocheng City", None),
        (None, "Liaocheng, Shandong", None),  # the Western order
        (None, "ShandongLiaocheng", None),
        ("山东省", "liaocheng", None),  # the province from one source, the city from another
        (None, "Liaocheng, Shandong, China", None),
    ],
)
def test_a_city_in_pinyin_or_english_is_the_same_city_with_the_same_code(
    province: str | None, city: str, district: str | None
) -> None:
    out = analytics.standardise_regions(_customers({"customer_id": "a", "province": province, "city": city}))
    assert _region(out, "a") == LIAOCHENG | {"district": None, "district_code": None, "source": "record", "area": None}
    assert out["country"].to_list() == ["CN"]


def test_provinces_districts_and_english_names_in_pinyin_get_their_codes() -> None:
    out = analytics.standardise_regions(
        _customers(
            {"customer_id": "sd", "province": "Shandong"},
            {"customer_id": "dcf", "province": "Shandong", "city": "Liaocheng", "district": "Dongchangfu"},
            {"customer_id": "dcf2", "city": "Dongchangfu District, Liaocheng City, Shandong Province"},
            {"customer_id": "xa", "province": "Shaanxi", "city": "Xi'an"},  # Shaanxi, not Shanxi
            {"customer_id": "sx", "province": "Shanxi"},
            {"customer_id": "nm", "province": "Inner Mongolia Autonomous Region"},
            {"customer_id": "gx", "province": "Guangxi Zhuang Autonomous Region"},
            {"customer_id": "hk", "city": "Hong Kong SAR"},
            {"customer_id": "bj", "city": "Chaoyang, Beijing"},
        )
    )
    codes = dict(zip(out["customer_id"], out["admin_code"], strict=True))
    assert codes == {
        "sd": "370000",
        "dcf": "371502",
        "dcf2": "371502",
        "xa": "610100",
        "sx": "140000",
        "nm": "150000",
        "gx": "450000",
        "hk": "810000",
        "bj": "110105",
    }
    assert _region(out, "dcf")["district"] == "东昌府区" and _region(out, "xa")["city"] == "西安市"
    assert out.filter(pl.col("customer_id") == "hk")["country"].to_list() == ["HK"]


def test_a_pinyin_name_of_several_units_names_the_highest_or_none_and_a_landline_decides() -> None:
    out = analytics.standardise_regions(
        _customers(
            {"customer_id": "jinan", "city": "Jinan"},  # 济南市, not the districts 金安区 and 晋安区
            {"customer_id": "fuzhou", "city": "Fuzhou"},  # 福州市 or 抚州市: no guess
            {"customer_id": "fuzhou_0591", "city": "Fuzhou", "landline": "+8659187654321"},
            {"customer_id": "fuzhou_jx", "province": "Jiangxi", "city": "Fuzhou"},
            {"customer_id": "chaoyang", "city": "Chaoyang District"},  # 朝阳区 (Beijing, Changchun) or 潮阳区
            {"customer_id": "chaoyang_010", "city": "Chaoyang District", "landline": BEIJING_LANDLINE},
            {"customer_id": "changning", "city": "Changning, Shanghai"},  # pypinyin reads 长宁 zhangning
        )
    )
    codes = dict(zip(out["customer_id"], out["admin_code"], strict=True))
    assert codes == {
        "jinan": "370100",
        "fuzhou": None,
        "fuzhou_0591": "350100",
        "fuzhou_jx": "361000",
        "chaoyang": None,
        "chaoyang_010": "110105",
        "changning": "310105",
    }
    # the record decided with the landline's help: still the record's place
    assert _region(out, "fuzhou_0591")["source"] == _region(out, "chaoyang_010")["source"] == "record"
    assert _region(out, "fuzhou")["source"] is None


@pytest.mark.parametrize("city", ["London", "San Francisco", "New York", "Berlin", "Edinburgh", "Chicago", "Paris"])
def test_a_foreign_city_is_not_read_as_pinyin_and_not_moved_by_a_landline(city: str) -> None:
    out = analytics.standardise_regions(_customers({"customer_id": "a", "city": city, "landline": ZHANJIANG_LANDLINE}))
    assert _region(out, "a")["province"] is None and _region(out, "a")["source"] is None


def test_segment_and_status_go_through_the_code_tables_and_keep_the_raw_value() -> None:
    customers = pl.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d", "e", "f"],
            "segment": ["VIP", " a ", "一般客户", "Ｂ", "金牌", None],
            "status": ["1", "2", "9", "意向客户", "?", None],
        }
    )
    out = analytics.standardise_codes(customers)
    assert out.rows() == [
        ("a", "A", "VIP", "active", "1", "customer"),
        ("b", "A", " a ", "dormant", "2", "customer"),
        ("c", "C", "一般客户", "closed", "9", "lost"),
        ("d", "B", "Ｂ", "lead", "意向客户", "lead"),
        ("e", None, "金牌", None, "?", None),
        ("f", None, None, None, None, None),
    ]
    assert analytics.unmapped_codes(customers).rows() == [("segment", "金牌", 1), ("status", "?", 1)]


def test_attributes_become_a_struct_of_real_values_with_readable_keys() -> None:
    values = pl.Series(
        "attributes",
        [
            '{"\\u5ba2\\u6237\\u6765\\u6e90": "\\u5c55\\u4f1a", "n": 2, "vip": true}',
            None,
            '{"n": 3.5, "tags": ["x"]}',
            "{}",
        ],
    )
    parsed = analytics.parse_attributes(values)
    assert parsed.dtype == pl.Struct({"n": pl.Float64, "tags": pl.String, "vip": pl.Boolean, "客户来源": pl.String})
    assert parsed.to_list() == [
        {"n": 2.0, "tags": None, "vip": True, "客户来源": "展会"},
        None,
        {"n": 3.5, "tags": '["x"]', "vip": None, "客户来源": None},
        None,
    ]


def test_no_attributes_at_all_is_an_empty_struct() -> None:
    parsed = analytics.parse_attributes(pl.Series("attributes", [None, "{}"], dtype=pl.String))
    assert parsed.dtype == pl.Struct([]) and parsed.null_count() == 2


def test_attribute_values_lists_every_key_in_long_form() -> None:
    customers = pl.DataFrame({"customer_id": ["a", "b"], "attributes": ['{"KHBH": "K1", "n": 2}', None]})
    assert analytics.attribute_values(customers).rows() == [("a", "KHBH", "K1"), ("a", "n", "2")]


def test_dimensions_joins_regions_and_codes_in_input_order() -> None:
    customers = _customers({"customer_id": "z", "city": "聊城"}, {"customer_id": "a"}).with_columns(
        pl.Series("segment", ["VIP", None]), pl.Series("status", [None, "1"])
    )
    out = analytics.dimensions(customers)
    assert out["customer_id"].to_list() == ["z", "a"]
    assert out.select("city", "segment", "stage").rows() == [("聊城市", "A", None), (None, None, "customer")]


def test_a_frame_without_the_region_columns_is_refused_naming_them() -> None:
    with pytest.raises(ValueError, match=r"customers: missing columns \['province', 'city', 'district'\]"):
        analytics.standardise_regions(pl.DataFrame({"customer_id": ["a"]}))

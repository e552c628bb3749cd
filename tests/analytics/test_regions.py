from __future__ import annotations

import polars as pl
import pytest

import analytics

COLUMNS = ("province_code", "province", "city_code", "city", "district_code", "district")
LIAOCHENG = ("370000", "山东省", "371500", "聊城市")
DIMS = pl.DataFrame(
    [
        ("a", *LIAOCHENG, "371502", "东昌府区"),
        ("b", *LIAOCHENG, "371502", "东昌府区"),
        ("c", *LIAOCHENG, None, None),
        ("d", "370000", "山东省", "370100", "济南市", "370105", "天桥区"),
        ("e", "110000", "北京市", "110000", "北京市", "110105", "朝阳区"),
        ("f", None, None, None, None, None, None),
    ],
    schema={"customer_id": pl.String, **dict.fromkeys(COLUMNS, pl.String)},
    orient="row",
)


def test_customers_by_province_with_codes_and_shares_unknown_last() -> None:
    out = analytics.customers_by_region(DIMS)
    assert out.rows() == [
        ("370000", "山东省", 4, 4 / 6),
        ("110000", "北京市", 1, 1 / 6),
        (None, None, 1, 1 / 6),
    ]


def test_cities_within_a_province() -> None:
    out = analytics.customers_by_region(DIMS, "city", within="山东")
    assert out.select("city_code", "city", "customers", "share").rows() == [
        ("371500", "聊城市", 3, 0.75),
        ("370100", "济南市", 1, 0.25),
    ]


@pytest.mark.parametrize("within", ["聊城", "聊城市", "山东省聊城市", "371500", "Liaocheng", "Liaocheng Shi"])
def test_the_liaocheng_drill_down_by_name_or_code(within: str) -> None:
    out = analytics.customers_by_region(DIMS, "district", within=within)
    assert out.select("district_code", "district", "customers", "share").rows() == [
        ("371502", "东昌府区", 2, 2 / 3),
        (None, None, 1, 1 / 3),  # in 聊城, district unknown
    ]


@pytest.mark.parametrize(
    ("within", "resolved"),
    [
        ("聊城", ("city", "371500")),
        ("北京", ("province", "110000")),
        ("山东省聊城市东昌府区", ("district", "371502")),
        ("济源", ("city", "419001")),
        ("419001", ("city", "419001")),
        ("110105", ("district", "110105")),
        ("Liaocheng", ("city", "371500")),
        ("Shandong Province", ("province", "370000")),
        ("Beijing", ("province", "110000")),
        ("Dongchangfu District, Liaocheng", ("district", "371502")),
    ],
)
def test_resolve_region(within: str, resolved: tuple[str, str]) -> None:
    assert analytics.resolve_region(within) == resolved


@pytest.mark.parametrize("within", ["朝阳区", "Springfield", "", "Fuzhou", "Chaoyang District"])
def test_a_name_that_is_not_one_unit_is_refused(within: str) -> None:
    with pytest.raises(ValueError, match="is not one Chinese province, city or district"):
        analytics.resolve_region(within)


def test_activity_by_region() -> None:
    events = pl.DataFrame(
        {"customer_id": ["a", "a", "d", "zz"], "amount": [100.0, None, None, 5.0]}  # zz: not in the dimensions
    )
    out = analytics.activity_by_region(DIMS, events, "city")
    assert out.select("city", "customers", "active_customers", "activities", "amount").rows() == [
        ("聊城市", 3, 1, 2, 100.0),
        ("济南市", 1, 1, 1, None),
        ("北京市", 1, 0, 0, None),
        (None, 1, 0, 0, None),
    ]


def test_an_unknown_level_is_refused() -> None:
    with pytest.raises(ValueError, match="level must be one of"):
        analytics.customers_by_region(DIMS, "street")  # type: ignore[arg-type]

from __future__ import annotations

import polars as pl

from rules.contacts import contact_points


def rows(**columns: list[object]) -> pl.DataFrame:
    n = len(next(iter(columns.values())))
    return pl.DataFrame(
        {"customer_id": ["c1"] * n, "_source": ["a"] * n, "_source_key": [str(i) for i in range(n)]}
    ).with_columns(pl.Series(name, values) for name, values in columns.items())


def test_every_phone_email_and_wechat_of_a_customer_is_a_valid_point() -> None:
    records = rows(
        phones=[["+8613800138000", "+862188886666"], []],
        email=["zhang@example.com", None],
        wechat=[None, "zhangwei88"],
    )
    points = contact_points(records)
    assert points.select("kind", "value", "source_key").rows() == [
        ("email", "zhang@example.com", "0"),
        ("phone", "+8613800138000", "0"),
        ("phone", "+862188886666", "0"),
        ("wechat", "zhangwei88", "1"),
    ]
    assert points.columns == ["customer_id", "kind", "value", "source", "source_key", "valid"]
    assert points["valid"].to_list() == [True] * 4
    assert points["source"].to_list() == ["a"] * 4


def test_a_value_several_rows_give_is_one_point_from_the_first_row() -> None:
    records = rows(email=["zhang@example.com", "zhang@example.com"]).with_columns(pl.Series("_source_key", ["9", "10"]))
    points = contact_points(records)
    assert points.select("value", "source_key").rows() == [("zhang@example.com", "10")]  # "10" sorts before "9"


def test_the_same_value_of_two_customers_is_a_point_of_each() -> None:
    records = rows(email=["office@example.com", "office@example.com"]).with_columns(
        pl.Series("customer_id", ["c1", "c2"])
    )
    assert contact_points(records)["customer_id"].to_list() == ["c1", "c2"]


def test_rows_without_contact_columns_give_no_points_with_the_same_columns() -> None:
    points = contact_points(rows(full_name=["张伟"]))
    assert points.is_empty()
    assert points.columns == ["customer_id", "kind", "value", "source", "source_key", "valid"]

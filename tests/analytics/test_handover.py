from __future__ import annotations

import polars as pl
import pytest

import analytics

CUSTOMERS = pl.DataFrame(
    {
        "customer_id": ["c3", "c1", "c2", "c4"],
        "full_name": ["王芳", "张伟", "李娜", "赵敏"],
        "owner": ["张磊", " 张磊 ", "刘洋", None],
    }
)


def test_every_customer_of_the_leaving_owner_moves_to_the_new_one() -> None:
    plan = analytics.plan_handover(CUSTOMERS, "张磊", "陈静")
    assert plan.rows() == [("c1", "张伟", " 张磊 ", "陈静"), ("c3", "王芳", "张磊", "陈静")]


def test_a_partial_handover_names_its_customers() -> None:
    assert analytics.plan_handover(CUSTOMERS, "张磊", "陈静", customer_ids=["c3"])["customer_id"].to_list() == ["c3"]
    with pytest.raises(ValueError, match=r"1 customers are not owned by '张磊': \['c2'\]"):
        analytics.plan_handover(CUSTOMERS, "张磊", "陈静", customer_ids=["c3", "c2"])


def test_a_handover_to_oneself_is_refused() -> None:
    with pytest.raises(ValueError, match="the same"):
        analytics.plan_handover(CUSTOMERS, "张磊", " 张磊")

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rules.normalise import normalise_company

from ._helpers import batches, check_contract, check_table, check_table_idempotent, idempotent, table, text_series

COMPANY_TABLE = table("company")


def test_company_table() -> None:
    check_table("company.jsonl", COMPANY_TABLE)


def test_company_table_is_idempotent() -> None:
    check_table_idempotent("company.jsonl", COMPANY_TABLE)


def test_chinese_and_english_forms_meet_on_the_pinyin_key() -> None:
    out = normalise_company(pl.Series(["聊城华兴", "Liaocheng Huaxing Co., Ltd.", "山东聊城华兴有限公司"]))
    assert set(out.get_column("company_key_pinyin").to_list()) == {"huaxing"}


@pytest.mark.parametrize(
    ("chinese", "english"),
    [
        ("聊城华兴科技有限公司", "Liaocheng Huaxing Technology Co., Ltd."),
        ("华兴科技股份有限公司", "Huaxing Science and Technology Co.,Ltd"),
        ("华兴汽车配件有限公司", "HUAXING AUTO PARTS CO LTD"),
        ("华兴进出口贸易有限公司", "Huaxing Import and Export Trading Co., Ltd."),
        ("山东华兴建材集团有限公司", "Shandong Huaxing Building Materials Group Co., Ltd."),
        ("华兴化工有限公司", "Huaxing Chemical Industry Co., Ltd."),
    ],
)
def test_english_industry_words_meet_their_chinese_counterparts(chinese: str, english: str) -> None:
    out = normalise_company(pl.Series([chinese, english]))
    keys = out.get_column("company_key_pinyin").to_list()
    assert keys[0] == keys[1], keys
    assert out.get_column("company_key").to_list()[1].isascii()  # the display key keeps the English words


def test_output_contract() -> None:
    out = normalise_company(pl.Series(["华兴有限公司", None]))
    check_contract(out, 2, {"company_key": pl.String, "company_key_pinyin": pl.String})


@settings(max_examples=60, deadline=None)
@given(batches(st.text()))
def test_never_raises_on_arbitrary_text(raws: list[str]) -> None:
    check_contract(normalise_company(text_series(*raws, None)), len(raws) + 1)


company_like = st.lists(
    st.sampled_from(["山东", "聊城市", "华兴", "科技", "有限公司", "集团", "（聊城）", "華", "Liaocheng", "Acme"])
    | st.sampled_from([" Co.,", " Ltd.", " Inc", " GmbH", " ", "\u3000", ",", "分公司"]),
    min_size=1,
    max_size=6,
).map("".join)


@settings(max_examples=60, deadline=None)
@given(batches(company_like))
def test_idempotent(raws: list[str]) -> None:
    idempotent(normalise_company, raws)

from __future__ import annotations

from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rules.normalise import normalise_company

from ._helpers import check_case, check_contract, idempotent, load_table, run_one

LS = "legal_suffix"
RP = "region_prefix"

# raw, value, company_key, company_key_pinyin, issues
CASES: list[tuple[str, str | None, str | None, str | None, list[str]]] = [
    ("聊城华兴科技有限公司", "聊城华兴科技有限公司", "华兴科技", "huaxingkeji", [LS, RP]),
    ("山东省聊城市华兴科技有限公司", "山东省聊城市华兴科技有限公司", "华兴科技", "huaxingkeji", [LS, RP]),
    ("山东聊城华兴科技有限公司", "山东聊城华兴科技有限公司", "华兴科技", "huaxingkeji", [LS, RP]),
    ("华兴科技（聊城）有限公司", "华兴科技(聊城)有限公司", "华兴科技", "huaxingkeji", [RP, LS]),
    ("华兴科技(聊城)有限公司", "华兴科技(聊城)有限公司", "华兴科技", "huaxingkeji", [RP, LS]),
    ("華興科技有限公司", "华兴科技有限公司", "华兴科技", "huaxingkeji", ["traditional", LS]),
    ("聊城华兴", "聊城华兴", "华兴", "huaxing", [RP]),
    ("Liaocheng Huaxing Co., Ltd.", "Liaocheng Huaxing Co., Ltd.", "huaxing", "huaxing", [LS, RP]),
    ("LIAOCHENG HUAXING CO LTD", "LIAOCHENG HUAXING CO LTD", "huaxing", "huaxing", [LS, RP]),
    ("Huaxing Co.,Ltd", "Huaxing Co.,Ltd", "huaxing", "huaxing", [LS]),
    ("  上海  华兴  贸易有限公司 ", "上海 华兴 贸易有限公司", "华兴贸易", "huaxingmaoyi", [LS, RP]),
    ("华兴贸易股份有限公司", "华兴贸易股份有限公司", "华兴贸易", "huaxingmaoyi", [LS]),
    ("华兴有限责任公司", "华兴有限责任公司", "华兴", "huaxing", [LS]),
    ("华兴集团有限公司", "华兴集团有限公司", "华兴", "huaxing", [LS]),
    ("阿里巴巴集团", "阿里巴巴集团", "阿里巴巴", "alibaba", [LS]),
    ("华兴科技有限公司聊城分公司", "华兴科技有限公司聊城分公司", "华兴科技", "huaxingkeji", [LS]),
    (
        "中国平安保险(集团)股份有限公司",
        "中国平安保险(集团)股份有限公司",
        "平安保险",
        "pinganbaoxian",
        [LS, RP],
    ),
    ("腾讯科技(深圳)有限公司", "腾讯科技(深圳)有限公司", "腾讯科技", "tengxunkeji", [RP, LS]),
    ("北京银行", "北京银行", "北京银行", "beijingyinhang", []),
    ("北京银行股份有限公司", "北京银行股份有限公司", "北京银行", "beijingyinhang", [LS]),
    ("中山大学", "中山大学", "中山大学", "zhongshandaxue", []),
    ("北京市华兴", "北京市华兴", "华兴", "huaxing", [RP]),
    ("某某律师事务所(普通合伙)", "某某律师事务所(普通合伙)", "某某律师事务所", "moumoulvshishiwusuo", [LS]),
    ("Acme Corp.", "Acme Corp.", "acme", "acme", [LS]),
    ("Acme Corporation", "Acme Corporation", "acme", "acme", [LS]),
    ("Acme, Inc.", "Acme, Inc.", "acme", "acme", [LS]),
    ("ACME Incorporated", "ACME Incorporated", "acme", "acme", [LS]),
    ("Acme L.L.C.", "Acme L.L.C.", "acme", "acme", [LS]),
    ("Acme LLC", "Acme LLC", "acme", "acme", [LS]),
    ("Acme Limited", "Acme Limited", "acme", "acme", [LS]),
    ("Siemens AG", "Siemens AG", "siemens", "siemens", [LS]),
    ("Bosch GmbH", "Bosch GmbH", "bosch", "bosch", [LS]),
    ("Nestlé S.A.", "Nestlé S.A.", "nestlé", None, [LS]),
    ("Tesco PLC", "Tesco PLC", "tesco", "tesco", [LS]),
    ("Smith & Sons Pty Ltd", "Smith & Sons Pty Ltd", "smithsons", "smithsons", [LS]),
    ("Baker McKenzie LLP", "Baker McKenzie LLP", "bakermckenzie", "bakermckenzie", [LS]),
    ("ABC (Shanghai) Co., Ltd.", "ABC (Shanghai) Co., Ltd.", "abc", "abc", [RP, LS]),
    ("Shanghai Electric", "Shanghai Electric", "shanghaielectric", "shanghaidianqi", []),  # 上海电气
    ("有限公司", None, None, None, [LS, "invalid"]),
    ("个人", None, None, None, ["placeholder"]),
    ("N/A", None, None, None, ["placeholder"]),
    ("", None, None, None, ["empty"]),
]


@pytest.mark.parametrize(("raw", "value", "key", "key_pinyin", "issues"), CASES)
def test_company_cases(raw: str, value: str | None, key: str | None, key_pinyin: str | None, issues: list[str]) -> None:
    row = run_one(normalise_company, raw)
    assert row["value"] == value
    assert row["company_key"] == key
    if key_pinyin is not None or value is None:
        assert row["company_key_pinyin"] == key_pinyin
    assert row["issues"] == issues


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


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_never_raises_on_arbitrary_text(raw: str) -> None:
    check_contract(normalise_company(pl.Series([raw, None])), 2)


company_like = st.lists(
    st.sampled_from(["山东", "聊城市", "华兴", "科技", "有限公司", "集团", "（聊城）", "華", "Liaocheng", "Acme"])
    | st.sampled_from([" Co.,", " Ltd.", " Inc", " GmbH", " ", "\u3000", ",", "分公司"]),
    min_size=1,
    max_size=6,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(st.one_of(company_like, st.sampled_from([c[0] for c in CASES])))
def test_idempotent(raw: str) -> None:
    idempotent(normalise_company, raw)


COMPANY_TABLE = load_table("company")


@pytest.mark.parametrize("case", COMPANY_TABLE)
def test_company_table(case: dict[str, Any]) -> None:
    check_case(normalise_company, case)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([p.values[0]["input"] for p in COMPANY_TABLE if p.values[0]["input"]]))
def test_company_table_idempotent(raw: str) -> None:
    idempotent(normalise_company, raw)

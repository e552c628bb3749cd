"""Spam and bot rules over normalised rows."""

from __future__ import annotations

import polars as pl
import pytest

from rules.failures import FAILURE_COLUMNS
from rules.reasons import REASONS
from rules.spam import SPAM_CODES, spam_failures, spam_mask


def frame(**columns: list[str | None]) -> pl.DataFrame:
    n = len(next(iter(columns.values())))
    return pl.DataFrame(
        {"_source": ["web"] * n, "_source_key": [str(i + 1) for i in range(n)], **columns},
        schema_overrides=dict.fromkeys(columns, pl.String),
    )


def codes_by_key(failures: pl.DataFrame) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, code in failures.select("source_key", "code").iter_rows():
        out.setdefault(key, []).append(code)
    return out


def test_codes_are_registered_reasons() -> None:
    for code in SPAM_CODES:
        assert REASONS[code].outcome == "quarantined"
        assert "@" not in REASONS[code].description and "\n" not in REASONS[code].description


def test_names() -> None:
    names = ["张伟", "asdfgh", "李1娜", "啊啊啊", "王 www.spam.cn", "A" * 41, "Robert Liberty", "欧阳娜娜", "Zhang Wei"]
    failures = spam_failures(frame(full_name=names))
    assert failures.columns == list(FAILURE_COLUMNS)
    assert dict(zip(failures["source_key"], failures["message"], strict=True)) == {
        "2": "the name is keyboard mash",
        "3": "the name holds digits",
        "4": "the name is one repeated character",
        "5": "the name holds a URL",
        "6": "the name is over 40 characters",
    }
    assert set(failures["rule"]) == {"spam_impossible_name:full_name"}
    assert failures.filter(pl.col("source_key") == "3")["value_masked"].item() == "李**"


def test_emails_phones_and_markup() -> None:
    df = frame(
        email=["zhang@qq.com", "test@qq.com", "x@mailinator.com", "qwer88@163.com", "zzzz@qq.com", "10000@qq.com"],
        phone=["13800138000", "13888888888", "010-12345678", "+86 139 0000 0000", None, "021-62345678"],
        notes=[None, "[url=http://x.cn]buy[/url]", "联系 <li@qq.com>", "<script>alert(1)</script>", "&lt;b&gt;", "好"],
    )
    failures = spam_failures(df)
    assert codes_by_key(failures) == {
        "2": ["spam_placeholder_email", "spam_repeated_digits", "spam_markup", "spam_advert"],
        "3": ["spam_placeholder_email", "spam_repeated_digits"],
        "4": ["spam_placeholder_email", "spam_repeated_digits", "spam_markup"],
        "5": ["spam_placeholder_email", "spam_markup"],
    }
    masked = failures.filter(pl.col("code") != "spam_markup")["value_masked"].to_list()
    assert "13888888888" not in masked and "t***@qq.com" in masked and "138****8888" in masked
    # placeholder contacts only warn (in a real row they mean "missing"): row 3 has nothing else and is kept
    severity = dict(zip(failures["code"], failures["severity"], strict=False))
    assert severity["spam_placeholder_email"] == severity["spam_repeated_digits"] == "warning"
    assert spam_mask(df).to_list() == [False, True, False, True, True, False]
    strict = {"spam_placeholder_email": "error", "spam_repeated_digits": "error"}
    assert spam_mask(df, severities=strict).to_list() == [False, True, True, True, True, False]


def test_fake_people_test_records_adverts_and_bots() -> None:
    df = frame(
        full_name=[
            "张三",
            "John Doe",
            "王芳",
            "测试客户",
            "刷单兼职",
            "BTIfyVvm",
            "Drdduvyao",
            "WILLIAMS Claire",
            "JoAnn Lee",
        ],
        company=[None, None, "演示数据", None, "日结300 加QQ群 5647", None, "jUCfbVTsvOkN", "汇捷钢材有限公司", "eBay"],
        email=[None, None, None, None, None, "x1@qq.com", "e.u.p.g.t.l.c.s@yahoo.com", "cw@yahoo.com", "jo@lee.com"],
    )
    assert codes_by_key(spam_failures(df)) == {
        "1": ["spam_fake_person"],
        "2": ["spam_fake_person"],
        "3": ["spam_test_record"],
        "4": ["spam_test_record"],
        "5": ["spam_advert", "spam_advert"],
        "6": ["spam_bot"],
        "7": ["spam_bot"],
    }
    # an all-capital surname, JoAnn, eBay: names and companies, not bots
    assert spam_mask(df).to_list() == [True] * 7 + [False, False]
    companies = frame(company=["网站建设有限公司", "聊城市推广科技有限公司", "百度首页排名 http://seo.cn"])
    assert codes_by_key(spam_failures(companies)) == {"3": ["spam_advert"]}  # a web firm is a customer; a link is not


def test_raw_text_is_checked_when_the_normaliser_nulled_it() -> None:
    raw = frame(full_name=["asdf", "张伟"], email=["test@test.com", "a.b@qq.com"], phone=["13900000000", "x"])
    normalised = raw.with_columns(
        pl.lit(None, pl.String).alias("full_name"),
        pl.lit(None, pl.String).alias("email"),
        pl.lit(None, pl.String).alias("phone"),
        pl.Series("_issues", [["full_name.not_a_name", "email.placeholder", "phone.placeholder"], []]),
    )
    assert codes_by_key(spam_failures(normalised, raw)) == {
        "1": ["spam_placeholder_email", "spam_repeated_digits", "spam_impossible_name"]
    }
    # without the raw text, the normaliser's issues stand in for the emptied email and phone
    only_issues = spam_failures(normalised)
    assert codes_by_key(only_issues) == {"1": ["spam_placeholder_email", "spam_repeated_digits"]}
    assert only_issues["value_masked"].to_list() == [None, None]


def test_severity_override_absent_columns_and_errors() -> None:
    df = frame(full_name=["asdf"])
    warned = spam_failures(df, severities={"spam_impossible_name": "warning"})
    assert warned["severity"].to_list() == ["warning"]
    assert spam_mask(df, severities={"spam_impossible_name": "warning"}).to_list() == [False]
    empty = spam_failures(frame(city=["深圳"]))
    assert empty.height == 0 and empty.columns == list(FAILURE_COLUMNS)
    assert spam_mask(frame(city=["深圳"])).to_list() == [False]
    with pytest.raises(ValueError, match="unknown spam code"):
        spam_failures(df, severities={"spam_nope": "error"})
    with pytest.raises(ValueError, match="pass aligned frames"):
        spam_failures(df, frame(full_name=["a", "b"]))

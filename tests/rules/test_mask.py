from __future__ import annotations

import polars as pl

from rules.mask import (
    PII_FIELDS,
    mask_email,
    mask_expr,
    mask_id,
    mask_name,
    mask_phone,
    mask_text,
    mask_value,
)


def test_mask_phone() -> None:
    assert mask_phone("13800138000") == "138****8000"
    assert mask_phone("138-0013-8000") == "138****8000"
    assert mask_phone("+8613800138000") == "+86 138****8000"
    assert mask_phone("12345") == "***45"
    assert mask_phone("n/a") == "***"
    assert mask_phone(None) is None
    assert mask_phone("") == ""


def test_mask_email_name_id() -> None:
    assert mask_email("zhang@qq.com") == "z***@qq.com"
    assert mask_email("@qq.com") == "***@qq.com"
    assert mask_email("not-an-email") == "no**********"
    assert mask_name("张伟") == "张*"
    assert mask_name("欧阳娜娜") == "欧***"
    assert mask_name("Zhang Wei") == "Z**** W**"
    assert mask_name("张") == "*"
    assert mask_id("110101199003071234") == "11" + "*" * 16
    assert mask_id("abc") == "***"


def test_mask_value_dispatches_by_field_and_never_echoes_pii() -> None:
    assert mask_value("phone", "13800138000") == "138****8000"
    assert mask_value("email", "zhang@qq.com") == "z***@qq.com"
    assert mask_value("given_name", "伟") == "*"
    assert mask_value("address", "北京市朝阳区建国路1号") == "北京" + "*" * 9
    assert mask_value("wechat", "wx_zhang") == "wx******"
    assert mask_value("gender", "male") == "male"
    assert mask_value("city", "北京") == "北京"
    assert mask_value("phone", None) is None
    samples = ["13800138000", "zhang@qq.com", "张伟", "ab", "x", "110101199003071234", "0635-8123456"]
    for field in PII_FIELDS:
        for raw in samples:
            assert mask_value(field, raw) != raw, (field, raw)


def test_mask_text_masks_phones_and_emails_inside_text() -> None:
    text = "联系张三 zhang.san@qq.com 或 138 0013 8000，订单 2024 号，总机 0635-8123456"
    out = mask_text(text)
    assert out == "联系张三 z***@qq.com 或 138****8000，订单 2024 号，总机 063****3456"
    assert mask_text(None) is None


def test_mask_expr_masks_a_column() -> None:
    df = pl.DataFrame({"phone": ["13800138000", None, "13800138000"], "email": ["a@b.cn", "x@y.com", None]})
    out = df.select(mask_expr("phone"), mask_expr("email"))
    assert out.schema == pl.Schema({"phone": pl.String, "email": pl.String})
    assert out["phone"].to_list() == ["138****8000", None, "138****8000"]
    assert out["email"].to_list() == ["a***@b.cn", "x***@y.com", None]

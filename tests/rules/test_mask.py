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


# --------------------------------------------------------------------------------------------------- secrets

SECRET_URLS = [
    # (url, what must be gone, what must stay)
    ("postgresql://user:secret@host/db", ["secret"], "postgresql://user:***@host/db"),
    (
        "postgresql+psycopg://crm:p@ss#w/rd:%@db.example.com:5432/crm",
        ["p@ss", "ss#w", "w/rd", "rd:%"],
        "postgresql+psycopg://crm:***@db.example.com:5432/crm",
    ),
    (
        "postgresql://crm:p%40ss%23w%2Frd%3A%25@db:5432/crm",
        ["p%40ss"],
        "postgresql://crm:***@db:5432/crm",
    ),
    ("postgresql://u:p?ss@host/db", ["p?ss"], "postgresql://u:***@host/db"),
    (
        "postgresql://u@h/db?password=hunter2&token=abc&sslmode=disable",
        ["hunter2", "abc"],
        "postgresql://u@h/db?password=***&token=***&sslmode=disable",
    ),
    (
        "https://api.example.com/v1?api_key=K1&apikey=K2&key=K3&secret=K4&sig=K5&signature=K6&page=2",
        ["K1", "K2", "K3", "K4", "K5", "K6"],
        "https://api.example.com/v1?api_key=***&apikey=***&key=***&secret=***&sig=***&signature=***&page=2",
    ),
    (
        "http://h/p?PWD=1x;Access_Token=2x;X-Amz-Signature=3x#access_token=4x",
        ["1x", "2x", "3x", "4x"],
        "http://h/p?PWD=***;Access_Token=***;X-Amz-Signature=***#access_token=***",
    ),
    ("https://ghp_T0KEN@github.com/o/r.git", ["ghp_T0KEN"], "https://***@github.com/o/r.git"),
]


def test_redact_url_hides_passwords_and_secret_parameters() -> None:
    from rules.mask import redact_url

    for url, secrets, expected in SECRET_URLS:
        shown = redact_url(url)
        assert shown == expected, url
        assert not any(s in shown for s in secrets), (url, shown)


def test_redact_url_keeps_what_is_not_secret() -> None:
    from rules.mask import redact_url

    for url in (
        "postgresql+psycopg://postgres@127.0.0.1:5432/test",
        "sqlite:////data/crm.db",
        "https://host:8080/people/@someone?email=a@b.com&page=2",
        "https://medium.com/@someone/post",
        "mysql+pymysql://root@127.0.0.1:3306/test?charset=utf8mb4",
        "not a url",
    ):
        assert redact_url(url) == url
    assert redact_url(None) is None
    assert redact_url("") == ""


def test_redact_secrets_finds_urls_headers_and_pairs_in_free_text() -> None:
    from rules.mask import redact_secrets

    text = (
        "cannot connect to 'postgresql://crm:hunter2@db/crm' (also tried https://api/x?token=abc123): "
        "headers {'Authorization': 'Bearer eyJ.abc.def'}; Authorization: Basic dXNlcjpwYXNz; curl -H Bearer tok987; "
        "dsn host=db user=crm password=pw-1 dbname=crm; {'password': 'pw-2', \"client_secret\": \"pw-3\"}"
    )
    shown = redact_secrets(text)
    for secret in ("hunter2", "abc123", "eyJ.abc.def", "dXNlcjpwYXNz", "tok987", "pw-1", "pw-2", "pw-3"):
        assert secret not in shown, secret
    assert "postgresql://crm:***@db/crm" in shown and "https://api/x?token=***" in shown
    assert "'Authorization': 'Bearer ***'" in shown and "Authorization: Basic ***" in shown
    assert "user=crm password=*** dbname=crm" in shown and "'password': '***'" in shown
    # prose, counters and other key=value pairs stay
    plain = "the password: must be set; key=value stays; tokens=5; Key (id)=(5) already exists"
    assert redact_secrets(plain) == plain
    assert redact_secrets(None) is None


def test_mask_text_redacts_secrets_before_masking_pii() -> None:
    shown = mask_text("error at https://u:pw@host.com/x?token=t1: call 13800138000 or zhang@qq.com")
    assert shown == "error at https://u:***@host.com/x?token=***: call 138****8000 or z***@qq.com"

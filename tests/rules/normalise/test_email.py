from __future__ import annotations

from typing import Any

import polars as pl
import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from rules.normalise import normalise_email
from rules.normalise._email import is_valid_address

from ._helpers import check_case, check_contract, idempotent, load_table, run_one

# raw, value, issues, email_role
CASES: list[tuple[str | None, str | None, list[str], bool | None]] = [
    ("zhangsan@qq.com", "zhangsan@qq.com", [], False),
    ("Zhang.San@QQ.COM", "zhang.san@qq.com", [], False),
    ("  zhangsan@163.com  ", "zhangsan@163.com", [], False),
    ("zhangsan＠qq．com", "zhangsan@qq.com", [], False),
    ("ｚｓ＠ｑｑ．ｃｏｍ", "zs@qq.com", [], False),
    ("zs@qq。com", "zs@qq.com", [], False),
    ("zhang @ qq . com", "zhang@qq.com", [], False),
    ("张三 <zs@qq.com>", "zs@qq.com", [], False),
    ("mailto:zs@qq.com", "zs@qq.com", [], False),
    ("zs@qq.com.", "zs@qq.com", [], False),
    ("john.smith+crm@gmail.com", "john.smith+crm@gmail.com", [], False),
    ("zhangsan@qq.con", "zhangsan@qq.com", ["typo_fixed"], False),
    ("zhangsan@qq.cmo", "zhangsan@qq.com", ["typo_fixed"], False),
    ("zhangsan@qq.co", "zhangsan@qq.com", ["typo_fixed"], False),
    ("10001234@qq", "10001234@qq.com", ["typo_fixed"], False),
    ("zs@163.cm", "zs@163.com", ["typo_fixed"], False),
    ("zs@163.con", "zs@163.com", ["typo_fixed"], False),
    ("zs@126.con", "zs@126.com", ["typo_fixed"], False),
    ("john@gmial.com", "john@gmail.com", ["typo_fixed"], False),
    ("john@gmai.com", "john@gmail.com", ["typo_fixed"], False),
    ("john@gamil.com", "john@gmail.com", ["typo_fixed"], False),
    ("jane@hotmial.com", "jane@hotmail.com", ["typo_fixed"], False),
    ("zs@sina.con", "zs@sina.com", ["typo_fixed"], False),
    ("jane@outlook.con", "jane@outlook.com", ["typo_fixed"], False),
    ("jane@yahoo.con", "jane@yahoo.com", ["typo_fixed"], False),
    ("jane@company.co", "jane@company.co", [], False),
    ("test@test.com", None, ["placeholder"], None),
    ("a@a.com", None, ["placeholder"], None),
    ("none@none.com", None, ["placeholder"], None),
    ("noemail@huaxing.com", None, ["placeholder"], None),
    ("xxx@xxx.com", None, ["placeholder"], None),
    ("123@123.com", None, ["placeholder"], None),
    ("test@qq.com", None, ["placeholder"], None),
    ("someone@example.com", None, ["placeholder"], None),
    ("aaaa@163.com", None, ["placeholder"], None),
    ("N/A", None, ["placeholder"], None),
    ("info@huaxing.com", "info@huaxing.com", ["role"], True),
    ("Sales@Huaxing.cn", "sales@huaxing.cn", ["role"], True),
    ("admin@huaxing.cn", "admin@huaxing.cn", ["role"], True),
    ("service@huaxing.cn", "service@huaxing.cn", ["role"], True),
    ("support01@huaxing.cn", "support01@huaxing.cn", ["role"], True),
    ("contact@huaxing.cn", "contact@huaxing.cn", ["role"], True),
    ("hr@huaxing.cn", "hr@huaxing.cn", ["role"], True),
    ("office@huaxing.cn", "office@huaxing.cn", ["role"], True),
    ("zs@qq.com; ls@163.com", "zs@qq.com", ["multiple"], False),
    ("zs@qq.com / ls@163.com", "zs@qq.com", ["multiple"], False),
    ("not-an-email", None, ["invalid"], None),
    ("zhang san@qq.com", None, ["invalid"], None),
    ("zs@@qq.com", None, ["invalid"], None),
    ("zs..a@qq.com", None, ["invalid"], None),
    ("zs@localhost", None, ["invalid"], None),
    ("zs@qq", "zs@qq.com", ["typo_fixed"], False),
    ("zs@-qq.com", None, ["invalid"], None),
    ("用户@例子.中国", "用户@例子.中国", [], False),
    ("", None, ["empty"], None),
    (None, None, ["empty"], None),
]


@pytest.mark.parametrize(("raw", "value", "issues", "role"), CASES)
def test_email_cases(raw: str | None, value: str | None, issues: list[str], role: bool | None) -> None:
    row = run_one(normalise_email, raw)
    assert (row["value"], row["issues"], row["email_role"]) == (value, issues, role)


def test_output_contract() -> None:
    out = normalise_email(pl.Series(["a.b@qq.com", None, "x", "a.b@qq.com"]))
    check_contract(out, 4, {"email_role": pl.Boolean})
    assert out.get_column("value").to_list() == ["a.b@qq.com", None, None, "a.b@qq.com"]


def _ev_accepts(address: str) -> bool:
    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


local = st.text(alphabet="abcxyz019._-+!#'", min_size=0, max_size=70)
domain = st.text(alphabet="abcq0.-", min_size=0, max_size=20).map(lambda d: d + ".com")


@settings(max_examples=400, deadline=None)
@given(local, domain)
def test_cached_check_agrees_with_email_validator(local_part: str, dom: str) -> None:
    address = f"{local_part}@{dom}"
    assert is_valid_address(address) == _ev_accepts(address)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_never_raises_on_arbitrary_text(raw: str) -> None:
    check_contract(normalise_email(pl.Series([raw, None])), 2)


email_like = st.builds(
    lambda a, b, c: f"{a}@{b}.{c}",
    st.text(alphabet="AbcZ09._+ ＠", min_size=1, max_size=12),
    st.sampled_from(["qq", "163", "gmial", "Example", "huaxing", "sina"]),
    st.sampled_from(["com", "con", "cmo", "cn", "co"]),
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(email_like, st.sampled_from([c[0] for c in CASES if c[0]])))
def test_idempotent(raw: str) -> None:
    idempotent(normalise_email, raw)


EMAIL_TABLE = load_table("email")


@pytest.mark.parametrize("case", EMAIL_TABLE)
def test_email_table(case: dict[str, Any]) -> None:
    check_case(normalise_email, case)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([p.values[0]["input"] for p in EMAIL_TABLE if p.values[0]["input"]]))
def test_email_table_idempotent(raw: str) -> None:
    idempotent(normalise_email, raw)

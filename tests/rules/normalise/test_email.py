from __future__ import annotations

import polars as pl
from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from rules.normalise import is_valid_address, normalise_email

from ._helpers import check_contract, check_table, check_table_idempotent, idempotent, table

EMAIL_TABLE = table("email")


def test_email_table() -> None:
    check_table("email.jsonl", EMAIL_TABLE)


def test_email_table_is_idempotent() -> None:
    check_table_idempotent("email.jsonl", EMAIL_TABLE)


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
@given(email_like)
def test_idempotent(raw: str) -> None:
    idempotent(normalise_email, raw)

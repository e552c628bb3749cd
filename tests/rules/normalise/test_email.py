from __future__ import annotations

import random

import polars as pl
from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from rules.normalise import is_valid_address, normalise_email

from ._helpers import batches, check_contract, check_table, check_table_idempotent, idempotent, table, text_series

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


@settings(max_examples=60, deadline=None)
@given(batches(st.text()))
def test_never_raises_on_arbitrary_text(raws: list[str]) -> None:
    check_contract(normalise_email(text_series(*raws, None)), len(raws) + 1)


email_like = st.builds(
    lambda a, b, c: f"{a}@{b}.{c}",
    st.text(alphabet="AbcZ09._+ ＠", min_size=1, max_size=12),
    st.sampled_from(["qq", "163", "gmial", "Example", "huaxing", "sina"]),
    st.sampled_from(["com", "con", "cmo", "cn", "co"]),
)


@settings(max_examples=60, deadline=None)
@given(batches(email_like))
def test_idempotent(raws: list[str]) -> None:
    idempotent(normalise_email, raws)


def test_vectorised_path_agrees_with_python_path() -> None:
    """Plain addresses answered in polars give what the per-value path gives (a padded cell takes that path):
    case, typo domains, role and placeholder mailboxes, plus tags, lengths at the validator's limits, bad domains."""
    rng = random.Random(4)
    locals_ = ["wei", "Zhang.Wei", "li_na88", "o'neil", "info", "Sales01", "hr.2", "kefu", "test", "noemail7", "none1"]
    locals_ += [
        "aaa",
        "x",
        "111",
        "12345678",
        "123456789a",
        "abc",
        "wei+crm",
        "test+1",
        "ab" * 32,
        "ab" * 32 + "c",
        "z-z",
        "q%q",
    ]
    domains = ["qq.com", "QQ.COM", "163.com", "gmial.com", "qq.con", "sina.cmo", "163", "hotmail", "acme.cn", "a.com"]
    domains += ["test.com", "example.org", "wei.com", "x.co", "-bad.com", "bad-.com", "b.c0m", "xn--fiqs8s.cn", "c.x"]
    domains += [
        "d" * 63 + ".com",
        "e" * 64 + ".com",
        ("f" * 60 + ".") * 4 + "com",
        "1.2.3.4",
        "localhost",
        "acme.museum",
    ]
    values = [f"{local}@{domain}" for local in locals_ for domain in domains]
    values += [f"{rng.choice(locals_)}{rng.randint(0, 99)}@{rng.choice(domains)}" for _ in range(300)]
    together = normalise_email(pl.Series(values)).rows()
    one_by_one = normalise_email(pl.Series([f" {v} " for v in values])).rows()
    wrong = [(raw, a, b) for raw, a, b in zip(values, together, one_by_one, strict=True) if a != b]
    assert not wrong, f"{len(wrong)} values differ (raw, polars path, Python path): {wrong[:20]}"
    assert sum(row[0] is not None for row in together) > len(values) // 3

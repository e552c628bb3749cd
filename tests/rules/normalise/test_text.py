from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rules.normalise import normalise_text

from ._helpers import check_contract, idempotent, run_one

CASES: list[tuple[str | None, str | None, list[str]]] = [
    ("  VIP 客户 ", "VIP 客户", []),
    ("ＶＩＰ\u3000客户", "VIP 客户", []),
    ("line1\nline2\t\tend", "line1 line2 end", []),
    ("a\u200bb", "ab", []),
    ("微信：zhangsan_88", "微信:zhangsan_88", []),
    ("252000", "252000", []),
    ("0635", "0635", []),
    ("山东省", "山东省", []),
    ("N/A", None, ["placeholder"]),
    ("NULL", None, ["placeholder"]),
    ("-", None, ["placeholder"]),
    ("无", None, ["placeholder"]),
    ("#N/A", None, ["placeholder"]),
    ("", None, ["empty"]),
    ("   ", None, ["empty"]),
    ("\u3000", None, ["empty"]),
    (None, None, ["empty"]),
]


@pytest.mark.parametrize(("raw", "value", "issues"), CASES)
def test_text_cases(raw: str | None, value: str | None, issues: list[str]) -> None:
    row = run_one(normalise_text, raw)
    assert (row["value"], row["issues"]) == (value, issues)


def test_contract() -> None:
    check_contract(normalise_text(pl.Series(["a", None, " "])), 3)


@given(st.text())
def test_never_raises_and_idempotent(raw: str) -> None:
    check_contract(normalise_text(pl.Series([raw])), 1)
    idempotent(normalise_text, raw)

"""Gender normaliser: many spellings to ``male`` / ``female``.

Numeric codes follow GB/T 2261.1-2003 (the Chinese national standard for sex codes): ``1`` male, ``2``
female, ``0`` not known, ``9`` not stated. ``0`` and ``9`` (and their words such as 未知, 保密) give a null
value with the issue ``not_stated``: recognised answers that carry no gender (reports count them apart from
unreadable values).
"""

from __future__ import annotations

import polars as pl

from ._base import ISSUES_DTYPE, Schema, clean_text, is_null_marker, map_distinct
from ._registry import register_normaliser

_SCHEMA: Schema = {"value": pl.String, "issues": ISSUES_DTYPE}

_MALE = {"男", "男性", "男士", "男生", "先生", "帅哥", "m", "male", "man", "men", "boy", "mr", "1", "1.0"}
_FEMALE = {
    *("女", "女性", "女士", "女生", "小姐", "太太", "夫人", "美女", "f", "female", "woman", "women"),
    *("girl", "mrs", "ms", "miss", "2", "2.0"),
}
_NOT_STATED = {
    "0",
    "0.0",
    "9",
    "9.0",
    "未知",
    "不详",
    "保密",
    "未说明",
    "未填",
    "unknown",
    "u",
    "x",
    "not stated",
}


def _one(raw: str | None) -> tuple[str | None, list[str]]:
    if raw is None:
        return None, ["empty"]
    text = clean_text(raw).casefold().rstrip(".。")
    if not text:
        return None, ["empty"]
    if text in _MALE:
        return "male", []
    if text in _FEMALE:
        return "female", []
    if text in _NOT_STATED:
        return None, ["not_stated"]
    if is_null_marker(text):
        return None, ["placeholder"]
    return None, ["unknown"]


@register_normaliser("gender")
def normalise_gender(values: pl.Series) -> pl.DataFrame:
    """Map 男/女, M/F, male/female, 先生/女士 and GB/T 2261 codes (1 male, 2 female, 0/9 unknown).

    Output columns: ``value`` (``"male"``, ``"female"`` or null) and ``issues`` (``empty``, ``placeholder``,
    ``not_stated`` for 0/9/未知/保密, ``unknown`` for an unrecognised non-empty value).
    """
    # no ``placeholder=``: some null markers (未知, 不详, 未填) are answers here (``not_stated``), so ``_one`` sees them
    return map_distinct(values, _one, _SCHEMA)

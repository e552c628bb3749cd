"""Masking of personal data for reports, logs and failure tables (invariant 6: reports never echo raw PII).

Every function returns a masked form that keeps just enough to recognise a value (``138****8000``,
``z***@qq.com``, ``张*``) and never the raw value of a PII field: when a value is too short to keep anything,
everything is masked. ``None`` and ``""`` are returned unchanged (there is nothing to hide).
"""

from __future__ import annotations

import re
from typing import Final

import polars as pl

from crm_store.schema import CANONICAL_FIELDS

__all__ = [
    "NAME_FIELDS",
    "PII_FIELDS",
    "mask_email",
    "mask_expr",
    "mask_id",
    "mask_name",
    "mask_phone",
    "mask_text",
    "mask_value",
]

NAME_FIELDS: Final = frozenset({"full_name", "family_name", "given_name"})
_GENERIC_FIELDS: Final = frozenset({"id_number", "address", "wechat"})
#: Canonical fields whose values are personal data and are masked by :func:`mask_value`.
PII_FIELDS: Final = frozenset({"phone", "email"}) | NAME_FIELDS | _GENERIC_FIELDS

_EMAIL_RE: Final = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+")
# 7 or more digits, optionally with a leading + and single spaces/dashes/dots between digits.
_PHONE_RUN_RE: Final = re.compile(r"(?<![\d])\+?\d(?:[\s\-.]?\d){6,}(?![\d])")


def _stars(n: int) -> str:
    return "*" * max(n, 1)


def mask_phone(value: str | None) -> str | None:
    """Mask a phone number: keep the first 3 and last 4 digits (``13800138000`` -> ``138****8000``).

    Only the digits are kept (separators are dropped). A Chinese E.164 number keeps its ``+86`` prefix
    (``+8613800138000`` -> ``+86 138****8000``). Numbers with fewer than 9 digits keep only their last 2
    digits; a value without digits is masked entirely.
    """
    if not value:
        return value
    digits = re.sub(r"\D", "", value)
    if not digits:
        return _stars(len(value))
    prefix = ""
    if value.lstrip().startswith("+86") and len(digits) == 13:
        prefix, digits = "+86 ", digits[2:]
    if len(digits) >= 9:
        return f"{prefix}{digits[:3]}{'*' * (len(digits) - 7)}{digits[-4:]}"
    if len(digits) <= 2:
        return prefix + _stars(len(digits))
    return f"{prefix}{'*' * (len(digits) - 2)}{digits[-2:]}"


def mask_email(value: str | None) -> str | None:
    """Mask an email address: keep the first character of the local part and the domain (``z***@qq.com``).

    A value without ``@`` is masked like an identifier (:func:`mask_id`).
    """
    if not value:
        return value
    local, sep, domain = value.strip().rpartition("@")
    if not sep:
        return mask_id(value)
    if not local:
        return f"***@{domain}"
    return f"{local[0]}***@{domain}"


def mask_name(value: str | None) -> str | None:
    """Mask a person's name: keep the first character of each word.

    ``张伟`` -> ``张*``, ``Zhang Wei`` -> ``Z**** W**``.

    A one-character name is masked entirely.
    """
    if not value:
        return value
    words = value.split()
    if not words:
        return value
    if len(words) == 1 and len(words[0]) == 1:
        return "*"
    return " ".join(w[0] + "*" * (len(w) - 1) if len(w) > 1 else w for w in words)


def mask_id(value: str | None, keep: int = 2) -> str | None:
    """Mask an identifier, address or handle: keep the first ``keep`` characters (``11****************``).

    Values of at most ``2 * keep`` characters are masked entirely.
    """
    if not value:
        return value
    if len(value) <= 2 * keep:
        return "*" * len(value)
    return value[:keep] + "*" * (len(value) - keep)


def mask_value(column: str | None, value: object) -> str | None:
    """Mask a value by the canonical field it belongs to.

    ``phone``/``email`` use their own masks, name fields :func:`mask_name`,
    ``id_number``/``address``/``wechat`` :func:`mask_id`; a value of any other field is returned as text,
    unchanged (it is not personal data). A column that is not a canonical field (``None`` included) is
    treated as free text: :func:`mask_text`.
    """
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    if column == "phone":
        return mask_phone(text)
    if column == "email":
        return mask_email(text)
    if column in NAME_FIELDS:
        return mask_name(text)
    if column in _GENERIC_FIELDS:
        return mask_id(text)
    if column in CANONICAL_FIELDS:
        return text
    return mask_text(text)


def mask_text(text: str | None) -> str | None:
    """Mask every email address and every phone-like run of 7 or more digits inside free text."""
    if not text:
        return text
    text = _EMAIL_RE.sub(lambda m: mask_email(m.group(0)) or "", text)
    return _PHONE_RUN_RE.sub(lambda m: mask_phone(m.group(0)) or "", text)


def mask_expr(column: str) -> pl.Expr:
    """Polars expression masking ``column`` with :func:`mask_value` (by its canonical field name).

    Masking runs in Python once per *distinct* value of each batch (``map_batches`` over the unique values,
    then a vectorised replace), so it is cheap for repetitive data but not free for 1M distinct values: use it
    on samples and failure rows, not on whole tables. The result is always ``pl.String``.
    """

    def _mask(s: pl.Series) -> pl.Series:
        s = s.cast(pl.String)
        uniques = s.drop_nulls().unique()
        masked = pl.Series([mask_value(column, v) for v in uniques.to_list()], dtype=pl.String)
        return s.replace_strict(uniques, masked, default=None, return_dtype=pl.String)

    return pl.col(column).map_batches(_mask, return_dtype=pl.String)

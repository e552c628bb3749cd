"""Chinese resident identity card numbers (居民身份证号码, GB 11643): checked, masked and hashed, never kept raw.

An 18-character number is 6 digits of region (GB/T 2260 code at issue), 8 of birth date, 3 of sequence (the
last of them odd for men, even for women) and an ISO 7064 MOD 11-2 check character (``0-9`` or ``X``). The
15-digit form issued before 1999 (6 region, ``YYMMDD``, 3 sequence) is converted to 18 by inserting ``19`` and
computing the check character. Spaces and dashes inside the number, full-width digits and a lower-case ``x``
are accepted.

The raw number never leaves this module: ``value`` is the **mask** — the first 3 and the last 2 characters
of the 18-character number with 13 asterisks between them (``370*************1X``) — which hides 13 digits
(the rest of the region code, the whole birth date and two sequence digits). ``id_hash`` is the SHA-256 hex
digest of ``"crmkit-id:" + <18-character number>`` (:data:`ID_HASH_SALT`), for callers that need to compare
numbers without keeping them; the migrate flow neither loads it nor matches on it (the store keeps the number
only inside the raw source row, as the "raw is kept" invariant asks). The salt is fixed and public, so the hash
only keeps the number out of plain sight; together with the birth date and region code the number space is
small enough to search.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import operator
import re
from typing import Final

import polars as pl

from ._base import ISSUES_DTYPE, Schema, clean_text, map_distinct
from ._divisions import province_name
from ._registry import FrameSpec, register_normaliser

#: Prefix hashed with the 18-character number for ``id_hash``.
ID_HASH_SALT: Final = "crmkit-id:"

_SCHEMA: Schema = {
    "value": pl.String,
    "issues": ISSUES_DTYPE,
    "id_birth_date": pl.String,
    "id_gender": pl.String,
    "id_region_code": pl.String,
    "id_province": pl.String,
    "id_hash": pl.String,
}
_NO_PARTS: Final = (None, None, None, None, None)
_WEIGHTS: Final = tuple(pow(2, 17 - i, 11) for i in range(17))
_CHECK: Final = "10X98765432"
_SEPARATORS = re.compile(r"[\s\-_.·]")
_FULLWIDTH_DIGIT = re.compile("[\uff10-\uff19\uff38\uff58]")
_SHAPE = re.compile(r"[0-9]{17}[0-9X]|[0-9]{15}")
_MASKED = re.compile(r"\d{3}\*{13}[\dX]{2}")
_ASCENDING: Final = "0123456789" * 3
_DESCENDING: Final = "9876543210" * 3
_EARLIEST: Final = dt.date(1900, 1, 1)


def check_character(body: str) -> str:
    """The ISO 7064 MOD 11-2 check character of the first 17 digits."""
    return _CHECK[sum(map(operator.mul, map(int, body[:17]), _WEIGHTS)) % 11]


def mask_id_number(number: str) -> str:
    """The mask of an 18-character number: first 3 and last 2 characters kept, 13 asterisks between."""
    return number[:3] + "*" * 13 + number[-2:]


def hash_id_number(number: str) -> str:
    """SHA-256 hex digest of :data:`ID_HASH_SALT` + the normalised 18-character number."""
    return hashlib.sha256((ID_HASH_SALT + number).encode("ascii")).hexdigest()


def _is_placeholder(digits: str) -> bool:
    body = digits[:-1] if len(digits) == 18 else digits
    return len(set(body)) == 1 or body in _ASCENDING or body in _DESCENDING


def _one(raw: str, today: dt.date) -> tuple[object, ...]:
    issues: list[str] = []
    if _SHAPE.fullmatch(raw):  # the common case: nothing to clean
        digits = raw
    else:
        if _FULLWIDTH_DIGIT.search(raw):
            issues.append("fullwidth")
        text = clean_text(raw)
        if _MASKED.fullmatch(text):  # the output of an earlier run: nothing left to check
            return text, ["masked"], *_NO_PARTS
        digits = _SEPARATORS.sub("", text).upper()
    if not _SHAPE.fullmatch(digits):
        return None, [*issues, "invalid_length"], *_NO_PARTS
    if _is_placeholder(digits):
        return None, [*issues, "placeholder"], *_NO_PARTS
    if len(digits) == 15:
        issues.append("legacy")
        body = digits[:6] + "19" + digits[6:]
        number = body + check_character(body)
    else:
        number = digits
        if check_character(number[:17]) != number[17]:
            issues.append("invalid_checksum")
    try:
        birth = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        birth = None
    if birth is None or not _EARLIEST <= birth <= today:
        issues.append("invalid_date")
    province = province_name(number[:6])
    if province is None:
        issues.append("invalid_region")
    masked = mask_id_number(number)
    if birth is None or any(code.startswith("invalid_") for code in issues):
        return masked, issues, *_NO_PARTS
    gender = "male" if int(number[16]) % 2 else "female"
    return masked, issues, birth.isoformat(), gender, number[:6], province, hash_id_number(number)


def _fast(uniques: pl.Series, today: dt.date) -> pl.DataFrame:
    """The vectorised path for the common case: a clean, valid 18-character number (the same answer as ``_one``).

    Anything unusual (other shapes, bad checksum or date, unknown region, placeholders) is left to ``_one``.
    """
    keys = uniques.drop_nulls()
    keys = keys.filter(keys.str.contains(r"^[0-9]{17}[0-9X]$"))
    if not keys.len():
        return pl.DataFrame(schema={"__key": pl.String, **_SCHEMA})
    regions = keys.str.slice(0, 6).unique()
    provinces = {code: province_name(code) for code in regions.to_list()}
    key = pl.col("__key")
    checksum = pl.sum_horizontal(key.str.slice(i, 1).cast(pl.Int64) * w for i, w in enumerate(_WEIGHTS)) % 11
    body = key.str.slice(0, 17)
    frame = (
        pl.DataFrame({"__key": keys})
        .with_columns(
            checksum.replace_strict(dict(enumerate(_CHECK)), return_dtype=pl.String).alias("__check"),
            key.str.slice(6, 8).str.to_date("%Y%m%d", strict=False).alias("__birth"),
            key.str.slice(0, 6).replace_strict(provinces, default=None, return_dtype=pl.String).alias("id_province"),
            (
                (body.str.split("").list.n_unique() == 1)
                | pl.lit(_ASCENDING).str.contains(body, literal=True)
                | pl.lit(_DESCENDING).str.contains(body, literal=True)
            ).alias("__placeholder"),
        )
        .filter(
            (pl.col("__check") == key.str.slice(17, 1))
            & pl.col("__birth").is_between(_EARLIEST, today)
            & pl.col("id_province").is_not_null()
            & ~pl.col("__placeholder")
        )
    )
    hashes = [hash_id_number(number) for number in frame["__key"].to_list()]
    return frame.select(
        "__key",
        (key.str.slice(0, 3) + pl.lit("*" * 13) + key.str.slice(16, 2)).alias("value"),
        pl.lit([], dtype=ISSUES_DTYPE).alias("issues"),
        pl.col("__birth").dt.to_string("%Y-%m-%d").alias("id_birth_date"),
        pl.when(key.str.slice(16, 1).cast(pl.Int64) % 2 == 1)
        .then(pl.lit("male"))
        .otherwise(pl.lit("female"))
        .alias("id_gender"),
        key.str.slice(0, 6).alias("id_region_code"),
        "id_province",
        pl.Series("id_hash", hashes, dtype=pl.String),
    )


@register_normaliser(
    "id_number",
    frame=FrameSpec(
        parts=("id_birth_date", "id_gender", "id_region_code", "id_province", "id_hash"),
        reads={"birth_dates": "birth_date", "genders": "gender"},
        after=("date", "gender"),
    ),
)
def normalise_id_number(
    values: pl.Series,
    *,
    birth_dates: pl.Series | None = None,
    genders: pl.Series | None = None,
) -> pl.DataFrame:
    """Check, mask and hash Chinese resident ID numbers (see the module docstring for the mask and hash).

    Args:
        values: raw ID number cells (any dtype).
        birth_dates: optional ISO birth dates (``YYYY-MM-DD``) of the same rows, from another column: a
            different date in the number is reported as ``birth_date_mismatch``.
        genders: optional genders (``male``/``female``) of the same rows: a different sex digit is reported
            as ``gender_mismatch``.

    Returns:
        A frame of the same height with ``value`` (the mask, never the number), ``issues`` and the parts
        ``id_birth_date`` (ISO), ``id_gender`` (``male``/``female``), ``id_region_code`` (the first 6
        digits), ``id_province`` (its provincial-level unit) and ``id_hash``; the parts are set only for a
        number without ``invalid_*`` issue. Issue codes: ``empty``, ``placeholder`` (one digit repeated,
        ``123456…``, ``N/A``), ``invalid_length`` (not 15 or 18 characters; no value), ``invalid_checksum``,
        ``invalid_date`` (no such day, before 1900 or in the future), ``invalid_region`` (no such province),
        ``legacy`` (a 15-digit number, converted), ``fullwidth``, ``birth_date_mismatch``,
        ``gender_mismatch`` and ``masked`` (the value is already a mask: an earlier run's output).

    Raises:
        ValueError: ``birth_dates`` or ``genders`` has another height than ``values``.
    """
    for name, other in (("birth_dates", birth_dates), ("genders", genders)):
        if other is not None and other.len() != values.len():
            raise ValueError(f"{name} has {other.len()} rows, values {values.len()}")
    today = dt.date.today()
    out = map_distinct(
        values, lambda raw: _one(raw, today), _SCHEMA, placeholder="placeholder", fast=lambda keys: _fast(keys, today)
    )
    checks: list[pl.Expr] = []
    if birth_dates is not None:
        other = pl.Series("__birth", birth_dates).cast(pl.String).str.strip_chars()
        out = out.with_columns(other)
        checks.append(_flag(pl.col("id_birth_date") != pl.col("__birth"), "birth_date_mismatch"))
    if genders is not None:
        other = pl.Series("__gender", genders).cast(pl.String).str.strip_chars().str.to_lowercase()
        out = out.with_columns(other)
        known = pl.col("__gender").is_in(["male", "female"])
        checks.append(_flag(known & (pl.col("id_gender") != pl.col("__gender")), "gender_mismatch"))
    if not checks:
        return out
    return out.with_columns(pl.concat_list([pl.col("issues"), *checks]).alias("issues")).drop(
        [c for c in ("__birth", "__gender") if c in out.columns]
    )


def _flag(condition: pl.Expr, code: str) -> pl.Expr:
    """``[code]`` where ``condition`` holds (nulls: no), else ``[]``."""
    return (
        pl.when(condition.fill_null(False))
        .then(pl.lit([code], dtype=ISSUES_DTYPE))
        .otherwise(pl.lit([], dtype=ISSUES_DTYPE))
    )

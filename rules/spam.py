"""Spam and bot sign-up rules: polars predicates over normalised rows -> the fixed failure table.

Four reason codes (see :mod:`rules.reasons`):

* ``spam_placeholder_email``: a placeholder or throwaway address (``test@…``, ``asdf…@…``, ``aaaa@…``,
  ``…@example.com``, disposable-mail domains).
* ``spam_repeated_digits``: a phone number holding a run of 7 or more equal digits, or a counting sequence
  of 8 (``12345678``, ``87654321``).
* ``spam_markup``: HTML tags or entities, BBCode, ``javascript:``, PHP or template markup in a text field.
* ``spam_impossible_name``: a name with a URL, with digits, over 40 characters, one repeated character, or
  keyboard mash (``asdf``, ``qwer``, ``zxcv`` …).

The normalisers null placeholders and non-names, so the predicates look at the text *before* normalising
when it is given (``raw``: the mapped frame, same rows in the same order) and at the normalised columns
otherwise; with only the normalised frame, the issues ``email.placeholder`` and ``phone.placeholder`` stand in
for a value that is gone. Rules never raise on data; absent columns are simply not checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal

import polars as pl

from crm_store.schema import ISSUES_COL, SOURCE_COL, SOURCE_KEY_COL
from rules.failures import FAILURE_COLUMNS, empty_failures
from rules.mask import mask_expr

__all__ = ["MARKUP_FIELDS", "NAME_MAX_CHARS", "SPAM_CODES", "spam_failures", "spam_mask"]

Severity = Literal["error", "warning"]

#: The reason codes of this module, in the order rules are reported.
SPAM_CODES: Final = ("spam_placeholder_email", "spam_repeated_digits", "spam_markup", "spam_impossible_name")
#: Text fields checked for markup.
MARKUP_FIELDS: Final = ("full_name", "family_name", "given_name", "company", "job_title", "address", "notes")
#: Longest plausible person name, in characters.
NAME_MAX_CHARS: Final = 40

_ROW: Final = "__row"
_KEYBOARD_ROWS: Final = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
# Four keys in a row on a keyboard; "wert"/"erty" also occur in real names (Werther, Liberty).
_KEYBOARD_RUNS: Final = sorted(
    {row[i : i + 4] for row in _KEYBOARD_ROWS for i in range(len(row) - 3)} - {"wert", "erty"}
)
_KEYBOARD: Final = "(?i)" + "|".join(_KEYBOARD_RUNS)
_URL: Final = r"(?i)https?://|www\.|\.(?:com|cn|net|org|top|xyz|info|ru|cc)\b"
_MARKUP: Final = (
    r"(?i)<\s*/?\s*[a-z][a-z0-9]*(?:\s[^<>]*)?/?>"  # <b>, </a>, <a href=…>, <br/> (not <zhang@qq.com>)
    r"|<!--|<\?php|&(?:lt|gt|amp|quot|nbsp|#\d+|#x[0-9a-f]+);"
    r"|\[/?(?:url|img|link|b|i|u|color|size|quote)\b[^\]]*\]"
    r"|javascript:|\{\{.*\}\}|\{%.*%\}|\$\{[^}]*\}|%3c\s*/?\s*script"
)
_RUN_OF_DIGITS: Final = "|".join(f"{d}{{7,}}" for d in "0123456789")
_COUNTING: Final = "|".join([s[i : i + 8] for s in ("0123456789", "9876543210") for i in range(3)])
_PLACEHOLDER_LOCAL: Final = (
    r"(?i)^(?:test\w*|testing|fake|dummy|spam\w*|bot|noreply|no-?reply|no-?e?mail|none|null|nil|nobody|"
    r"example|sample|abc|abcd|xxx+|123\d*|1234\d*)$"
)
_THROWAWAY_DOMAIN: Final = (
    r"(?i)^(?:example\.(?:com|org|net)|test\.(?:com|cn|net)|mailinator\.com|guerrillamail\.\w+|"
    r"10minutemail\.\w+|temp-?mail\.\w+|yopmail\.\w+|trashmail\.\w+|sharklasers\.com|getnada\.com|"
    r"dispostable\.com|maildrop\.cc|throwawaymail\.com|fakeinbox\.com|spam4\.me|mailnesia\.com)$"
)


def _one_repeated_char(text: pl.Expr, min_len: int = 2) -> pl.Expr:
    """The text (whitespace removed) is one character repeated at least ``min_len`` times."""
    squeezed = text.str.replace_all(r"\s+", "")
    first = squeezed.str.slice(0, 1)
    return (squeezed.str.len_chars() >= min_len) & (
        squeezed.str.count_matches(first, literal=True) == squeezed.str.len_chars()
    )


def _email_check(value: pl.Expr, issues: pl.Expr | None, value_gone: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    local = value.str.strip_chars().str.extract(r"^(.*)@[^@]*$", 1)
    domain = value.str.strip_chars().str.extract(r"@([^@]*)$", 1)
    base = local.str.replace(r"\+.*$", "")
    placeholder = base.str.contains(_PLACEHOLDER_LOCAL)
    mash = base.str.contains(_KEYBOARD)
    repeated = _one_repeated_char(base, 3) & ~base.str.contains(r"^\d+$")  # 10000@qq.com is a QQ number
    throwaway = domain.str.contains(_THROWAWAY_DOMAIN)
    message = (
        pl.when(throwaway)
        .then(pl.lit("the email's domain is a placeholder or throwaway mail service"))
        .when(placeholder)
        .then(pl.lit("the email's mailbox is a placeholder word"))
        .when(mash)
        .then(pl.lit("the email's mailbox is keyboard mash"))
        .when(repeated)
        .then(pl.lit("the email's mailbox is one repeated character"))
    )
    if issues is not None:
        flagged = issues.list.contains(pl.lit("email.placeholder", pl.String)).fill_null(False) & value_gone
        message = message.when(flagged).then(pl.lit("the normaliser found a placeholder email"))
    return message.is_not_null(), message


def _phone_check(value: pl.Expr, issues: pl.Expr | None, value_gone: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    digits = value.str.replace_all(r"\D", "")
    message = pl.when(digits.str.contains(_RUN_OF_DIGITS)).then(
        pl.lit("the phone number holds a run of 7 or more equal digits")
    )
    message = message.when(digits.str.contains(_COUNTING)).then(pl.lit("the phone number holds a counting sequence"))
    if issues is not None:
        flagged = issues.list.contains(pl.lit("phone.placeholder", pl.String)).fill_null(False) & value_gone
        message = message.when(flagged).then(pl.lit("the normaliser found a placeholder phone number"))
    return message.is_not_null(), message


def _markup_check(value: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    hit = value.str.contains(_MARKUP)
    return hit, pl.when(hit).then(pl.lit("the text holds markup (HTML, BBCode, script or template)"))


def _name_check(value: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    text = value.str.strip_chars()
    message = (
        pl.when(text.str.contains(_URL))
        .then(pl.lit("the name holds a URL"))
        .when(text.str.contains(r"\d"))
        .then(pl.lit("the name holds digits"))
        .when(text.str.len_chars() > NAME_MAX_CHARS)
        .then(pl.lit(f"the name is over {NAME_MAX_CHARS} characters"))
        .when(_one_repeated_char(text))
        .then(pl.lit("the name is one repeated character"))
        .when(text.str.contains(_KEYBOARD))
        .then(pl.lit("the name is keyboard mash"))
    )
    return message.is_not_null(), message


def _spam_rows(df: pl.DataFrame, raw: pl.DataFrame | None, severities: Mapping[str, Severity] | None) -> pl.DataFrame:
    """Failure rows with the row index ``__row``, ordered by row then rule."""
    if raw is not None and raw.height != df.height:
        raise ValueError(f"raw has {raw.height} rows but the normalised frame has {df.height}: pass aligned frames")
    severity = {code: "error" for code in SPAM_CODES} | dict(severities or {})
    unknown = set(severity) - set(SPAM_CODES)
    if unknown:
        raise ValueError(f"unknown spam code(s) {', '.join(sorted(unknown))}; known codes: {', '.join(SPAM_CODES)}")

    def lineage(name: str) -> pl.Series:
        if name in df.columns:
            return df.get_column(name).cast(pl.String)
        return pl.Series(name, [None] * df.height, dtype=pl.String)

    columns: dict[str, pl.Series] = {"source": lineage(SOURCE_COL), "source_key": lineage(SOURCE_KEY_COL)}
    fields = {"email", "phone", *MARKUP_FIELDS}
    present: set[str] = set()
    for field in fields:
        source = raw if raw is not None and field in raw.columns else df
        if field in source.columns:
            columns[field] = source.get_column(field).cast(pl.String)
            columns[f"__norm_{field}"] = (df.get_column(field) if field in df.columns else columns[field]).cast(
                pl.String
            )
            present.add(field)
    has_issues = ISSUES_COL in df.columns and isinstance(df.schema[ISSUES_COL], pl.List)
    if has_issues:
        columns[ISSUES_COL] = df.get_column(ISSUES_COL)
    work = pl.DataFrame(columns, height=df.height).with_row_index(_ROW)
    issues = pl.col(ISSUES_COL) if has_issues else None

    checks: list[tuple[str, str, tuple[pl.Expr, pl.Expr]]] = []
    for field, code, check in (("email", SPAM_CODES[0], _email_check), ("phone", SPAM_CODES[1], _phone_check)):
        if field in present:
            checks.append((code, field, check(pl.col(field), issues, pl.col(f"__norm_{field}").is_null())))
    for field in MARKUP_FIELDS:
        if field in present:
            checks.append((SPAM_CODES[2], field, _markup_check(pl.col(field))))
    if "full_name" in present:
        checks.append((SPAM_CODES[3], "full_name", _name_check(pl.col("full_name"))))

    parts: list[pl.DataFrame] = []
    for order, (code, field, (hit, message)) in enumerate(checks):
        rows = work.filter(hit.fill_null(False))
        if rows.height == 0:
            continue
        parts.append(
            rows.select(
                pl.col(_ROW),
                pl.lit(order).alias("__order"),
                pl.lit(f"{code}:{field}").alias("rule"),
                pl.lit(code).alias("code"),
                pl.lit(severity[code]).alias("severity"),
                pl.lit(field).alias("column"),
                pl.col("source"),
                pl.col("source_key"),
                pl.col(field),
                message.alias("message"),
            )
            .with_columns(mask_expr(field).alias("value_masked"))
            .select(_ROW, "__order", *FAILURE_COLUMNS)
        )
    if not parts:
        return empty_failures().with_columns(pl.lit(None, pl.UInt32).alias(_ROW))
    return pl.concat(parts).sort(_ROW, "__order").drop("__order")


def spam_failures(
    df: pl.DataFrame, raw: pl.DataFrame | None = None, *, severities: Mapping[str, Severity] | None = None
) -> pl.DataFrame:
    """Spam and bot failures of normalised rows, as the fixed failure table of :mod:`rules.validate`.

    Args:
        df: normalised rows (``rules.normalise.normalise_frame``): canonical columns, ``_issues``, lineage.
        raw: optional: the same rows before normalising (the mapped frame, same order and height). Its text
            is what the rules check, since the normalisers null placeholder emails, phones and non-names.
        severities: code -> ``error`` (default: quarantine the row) or ``warning`` (report only).

    Returns:
        One row per (row, rule) that fired, ordered by row then rule, with the columns ``rule, code,
        severity, column, source, source_key, value_masked, message``; values are masked (:mod:`rules.mask`).

    Raises:
        ValueError: ``raw`` is not aligned with ``df``, or ``severities`` names an unknown code.
    """
    return _spam_rows(df, raw, severities).select(FAILURE_COLUMNS)


def spam_mask(
    df: pl.DataFrame, raw: pl.DataFrame | None = None, *, severities: Mapping[str, Severity] | None = None
) -> pl.Series:
    """Boolean, aligned with ``df``: the row has a spam failure of severity ``error`` (to be quarantined)."""
    rows = _spam_rows(df, raw, severities).filter(pl.col("severity") == "error").get_column(_ROW).unique()
    return pl.Series("spam", range(df.height), dtype=pl.UInt32).is_in(rows.implode())

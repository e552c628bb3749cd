"""Normalise every canonical field of a mapped frame in one call."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl

from crm_store.schema import CANONICAL_FIELDS, ISSUES_COL

from ._base import ISSUES_DTYPE
from ._registry import get_normaliser

#: Part columns each kind adds to the frame (the name kind's family/given parts fill existing columns).
PART_COLUMNS: dict[str, tuple[str, ...]] = {
    "phone": ("phone_type", "phones", "phone_extension"),
    "email": ("email_role",),
    "name": ("name_title", "name_pinyin", "name_key", "name_phonetic"),
    "company": ("company_key", "company_key_pinyin"),
}
_FILLED_BY_NAME = ("family_name", "given_name")


def normalise_frame(
    df: pl.DataFrame,
    *,
    region: str = "CN",
    date_order: str = "ymd",
    today: dt.date | None = None,
    tz: str = "Asia/Shanghai",
) -> pl.DataFrame:
    """Normalise every canonical field column present in ``df``.

    Each present field (``CANONICAL_FIELDS`` of ``crm_store.schema``) is replaced by its normalised value;
    fields without a kind are cleaned as text. Part columns are added (phone: ``phone_type``, ``phones``,
    ``phone_extension``; email: ``email_role``; full_name: ``name_title``, ``name_pinyin``, ``name_key``,
    ``name_phonetic``; company: ``company_key``, ``company_key_pinyin``), ``family_name``/``given_name`` are
    filled from ``full_name`` where null or absent, and ``_issues`` lists ``"<field>.<code>"`` for every issue
    of the row except ``empty`` (missing values are reported separately). Other columns pass through.
    Running it again on its own output changes no value or part (parts that only the raw text carried, such
    as a title, an extension or the other numbers of a phone cell, are kept from the first run); ``_issues``
    then describes the already clean values.

    Args:
        df: a mapped frame (canonical column names, text values).
        region: default phone region.
        date_order: ``"ymd"``, ``"dmy"`` or ``"mdy"`` for ambiguous numeric dates.
        today: reference day for birthdays (default: now).
        tz: zone of naive timestamps and of the output wall time.
    """
    params: dict[str, dict[str, Any]] = {
        "phone": {"region": region},
        "date": {"order": date_order, "today": today},
        "datetime": {"tz": tz, "order": date_order, "today": today},
    }
    fields = [f for f in CANONICAL_FIELDS if f in df.columns]
    # full_name last, so that the family/given columns it fills are already cleaned text
    fields.sort(key=lambda f: f == "full_name")
    out = df
    issue_exprs: list[pl.Expr] = []
    for field in fields:
        kind = CANONICAL_FIELDS[field] or "text"
        result = get_normaliser(kind)(out.get_column(field), **params.get(kind, {}))
        columns = [result.get_column("value").alias(field)]
        for part in PART_COLUMNS.get(kind, ()):
            column = result.get_column(part)
            if part in out.columns and out.schema[part] == column.dtype:
                # a re-run sees the cleaned value, which no longer carries a title or an extension
                column = column.fill_null(out.get_column(part))
            columns.append(column)
        if kind == "phone" and "phones" in out.columns and out.schema["phones"] == pl.List(pl.String):
            # a re-run sees only the chosen number: keep the list of the first run when it still holds it
            new_value = result.get_column("value")
            keep = out.get_column("phones").list.contains(new_value).fill_null(False)
            columns[2] = pl.Series("phones", out.get_column("phones")).zip_with(keep, result.get_column("phones"))
        issue_col = f"__issues_{field}"
        columns.append(result.get_column("issues").alias(issue_col))
        out = out.with_columns(columns)
        if kind == "name":
            out = out.with_columns(
                (pl.col(part).fill_null(result.get_column(part)) if part in out.columns else result.get_column(part))
                for part in _FILLED_BY_NAME
            )
        issue_exprs.append(
            pl.col(issue_col)
            .list.eval(pl.element().filter(pl.element() != "empty"))
            .list.eval(pl.lit(f"{field}.") + pl.element())
        )
    if issue_exprs:
        issues = pl.concat_list(issue_exprs).alias(ISSUES_COL)
    else:
        issues = pl.lit([], dtype=ISSUES_DTYPE).alias(ISSUES_COL)
    temp = [c for c in out.columns if c.startswith("__issues_")]
    return out.with_columns(issues).drop(temp)

"""Normalise every canonical field of a mapped frame in one call."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl

from crm_store.schema import CANONICAL_FIELDS, ISSUES_COL

from ._base import ISSUES_DTYPE
from ._name import person_name_in_company
from ._registry import get_normaliser

#: Part columns each kind adds to the frame (the name kind's family/given parts fill existing columns).
PART_COLUMNS: dict[str, tuple[str, ...]] = {
    "phone": ("phone_type", "phones", "phone_extension"),
    "email": ("email_role",),
    "name": ("name_title", "name_pinyin", "name_key", "name_phonetic"),
    "company": ("company_key", "company_key_pinyin"),
    "address": ("street", "admin_code"),
    "id_number": ("id_birth_date", "id_gender", "id_region_code", "id_province", "id_hash"),
}
_FILLED_BY_NAME = ("family_name", "given_name")
#: Canonical fields the address normaliser's parts fill (a US state fills ``province``); the parsed part wins
#: over the source's own column, which fills the gaps. The same columns give the address its context.
_FILLED_BY_ADDRESS: dict[str, tuple[str, ...]] = {
    "province": ("province", "region"),
    "city": ("city",),
    "district": ("district",),
    "postcode": ("postcode",),
    "country": ("country",),
}
_ADDRESS_CONTEXT = ("province", "city", "district")
#: Fields normalised after the ones they read (address reads province/city/district; id_number reads
#: birth_date and gender), and full_name last so that the family/given columns it fills are cleaned text.
_LATE = {"address": 1, "id_number": 1, "full_name": 2}


def _series_params(kind: str, out: pl.DataFrame) -> dict[str, pl.Series]:
    """Other columns of the row a normaliser cross-checks against (already normalised)."""
    if kind == "id_number":
        names = {"birth_dates": "birth_date", "genders": "gender"}
        return {param: out.get_column(col) for param, col in names.items() if col in out.columns}
    if kind == "address":
        present = [c for c in _ADDRESS_CONTEXT if c in out.columns]
        if present:
            context = out.select(pl.concat_str([pl.col(c).cast(pl.String) for c in present], ignore_nulls=True))
            return {"context": context.to_series()}
    return {}


def _name_from_company(out: pl.DataFrame) -> tuple[pl.DataFrame, pl.Series | None]:
    """A consumer's own name written in the company field while the name field is empty: move it.

    Legacy CRMs made 客户名称 (customer name) mandatory, so private customers' rows hold the person's name there and
    the contact-name column stays empty. Such a row would fail ``required: [full_name]`` and meet the person's
    other rows only as a strange company. Where ``full_name`` is empty and the company is a plain Chinese personal
    name (:func:`rules.normalise.person_name_in_company`), the name columns take it and the company columns are
    emptied; the row gets the issue ``full_name.from_company``.

    Returns:
        The frame, and the mask of the rows changed (None when there is no company column).
    """
    if "company" not in out.columns:
        return out, None
    empty = out.get_column("full_name").is_null() if "full_name" in out.columns else pl.Series([True] * out.height)
    candidates = (
        pl.DataFrame({"c": out.get_column("company"), "e": empty})
        .select(pl.when(pl.col("e")).then(pl.col("c")))
        .to_series()
    )
    person = person_name_in_company(candidates)
    moved = person.get_column("is_person")
    if not moved.any():
        return out, moved
    names = {"full_name": "value", **{p: p for p in PART_COLUMNS["name"]}, **{p: p for p in _FILLED_BY_NAME}}
    columns = [
        pl.when(moved).then(person.get_column(src)).otherwise(pl.col(dst) if dst in out.columns else None).alias(dst)
        for dst, src in names.items()
    ]
    columns += [
        pl.when(moved).then(None).otherwise(pl.col(c)).alias(c)
        for c in ("company", *PART_COLUMNS["company"])
        if c in out.columns
    ]
    return out.with_columns(columns), moved


def normalise_frame(
    df: pl.DataFrame,
    *,
    region: str = "CN",
    date_order: str = "ymd",
    today: dt.date | None = None,
    tz: str = "Asia/Shanghai",
    max_age: int | None = 120,
) -> pl.DataFrame:
    """Normalise every canonical field column present in ``df``.

    Each present field (``CANONICAL_FIELDS`` of ``crm_store.schema``) is replaced by its normalised value;
    fields without a kind are cleaned as text. Part columns are added (phone: ``phone_type``, ``phones``,
    ``phone_extension``; email: ``email_role``; full_name: ``name_title``, ``name_pinyin``, ``name_key``,
    ``name_phonetic``; company: ``company_key``, ``company_key_pinyin``), ``family_name``/``given_name`` are
    filled from ``full_name`` where null or absent. Address adds ``street`` and ``admin_code`` and sets
    ``province`` (a US state too), ``city``, ``district``, ``postcode`` and ``country`` where the parsed address
    found them (the source's own columns fill the gaps and give an ambiguous address its context). The
    ``id_number`` column holds the **mask** (the raw number survives nowhere in the frame but ``_payload``)
    and ``id_hash``, ``id_birth_date``, ``id_gender``, ``id_region_code`` and ``id_province`` are added, the
    number being cross-checked against the row's normalised ``birth_date`` and ``gender``. ``_issues`` lists
    ``"<field>.<code>"`` for every issue of the row except ``empty`` (missing values are reported separately).
    Other columns pass through.
    Running it again on its own output changes no value or part (parts that only the raw text carried, such
    as a title, an extension or the other numbers of a phone cell, are kept from the first run); ``_issues``
    then describes the already clean values.

    Args:
        df: a mapped frame (canonical column names, text values).
        region: default phone region (and country of Western addresses that show none, unless ``CN``).
        date_order: ``"ymd"``, ``"dmy"`` or ``"mdy"`` for ambiguous numeric dates.
        today: reference day for birthdays (default: now).
        tz: zone of naive timestamps and of the output wall time.
        max_age: oldest plausible age for a birth date (older ones become null with ``implausible``; ``None``
            keeps them: matching a historical table, a date as written is evidence).
    """
    params: dict[str, dict[str, Any]] = {
        "phone": {"region": region},
        "address": {"region": region},
        "date": {"order": date_order, "today": today, "max_age": max_age},
        "datetime": {"tz": tz, "order": date_order, "today": today},
    }
    fields = [f for f in CANONICAL_FIELDS if f in df.columns]
    fields.sort(key=lambda f: _LATE.get(f, 0))
    out = df
    issue_exprs: list[pl.Expr] = []
    for field in fields:
        kind = CANONICAL_FIELDS[field] or "text"
        result = get_normaliser(kind)(out.get_column(field), **params.get(kind, {}), **_series_params(kind, out))
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
        if kind == "address":
            out = out.with_columns(
                pl.coalesce(
                    *(result.get_column(part) for part in parts),
                    *([out.get_column(column).cast(pl.String)] if column in out.columns else []),
                ).alias(column)
                for column, parts in _FILLED_BY_ADDRESS.items()
            )
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
    out, moved = _name_from_company(out)
    if moved is not None:
        issue_exprs.append(pl.when(moved).then(pl.lit(["full_name.from_company"])).otherwise(pl.lit([], ISSUES_DTYPE)))
    if issue_exprs:
        issues = pl.concat_list(issue_exprs).alias(ISSUES_COL)
    else:
        issues = pl.lit([], dtype=ISSUES_DTYPE).alias(ISSUES_COL)
    temp = [c for c in out.columns if c.startswith("__issues_")]
    return out.with_columns(issues).drop(temp)

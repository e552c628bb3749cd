"""Normalise every canonical field of a mapped frame in one call."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl

from crm_store.schema import CANONICAL_FIELDS, ISSUES_COL

from ._base import ISSUES_DTYPE
from ._name import person_name_in_company
from ._registry import FrameSpec, frame_spec, get_normaliser


def _kind(field: str) -> str:
    """The normaliser kind of a canonical field (``text`` for a field without one)."""
    return CANONICAL_FIELDS[field] or "text"


def _rank(kind: str, path: tuple[str, ...] = ()) -> int:
    """How deep ``kind`` stands in the ``after`` order: 0 for a kind after none, else one more than its deepest."""
    if kind in path:
        raise ValueError(f"normaliser kinds are ordered after each other in a cycle: {' -> '.join((*path, kind))}")
    return 1 + max((_rank(first, (*path, kind)) for first in frame_spec(kind).after), default=-1)


def _reads(spec: FrameSpec, out: pl.DataFrame) -> dict[str, pl.Series]:
    """The keyword arguments a normaliser reads from other (already normalised) columns of the frame."""
    found: dict[str, pl.Series] = {}
    for param, source in spec.reads.items():
        if isinstance(source, str):
            if source in out.columns:
                found[param] = out.get_column(source)
            continue
        present = [c for c in source if c in out.columns]
        if present:
            joined = pl.concat_str([pl.col(c).cast(pl.String) for c in present], separator=" ", ignore_nulls=True)
            found[param] = out.select(joined).to_series()
    return found


def _runs_without(field: str, df: pl.DataFrame) -> bool:
    """Whether ``field``'s normaliser runs though ``df`` lacks its column (:attr:`FrameSpec.without_field`)."""
    kind = CANONICAL_FIELDS.get(field)
    if kind is None:
        return False
    spec = frame_spec(kind)
    sources = [s for source in spec.reads.values() for s in ((source,) if isinstance(source, str) else source)]
    return spec.without_field and any(s in df.columns for s in sources)


def _part(spec: FrameSpec, result: pl.DataFrame, out: pl.DataFrame, part: str) -> pl.Series:
    """A part column of ``result``; on a re-run the previous run's part fills in what the cleaned value lost."""
    column = result.get_column(part)
    if part not in out.columns or out.schema[part] != column.dtype:
        return column
    previous = out.get_column(part)
    if part in spec.value_lists:
        # a re-run sees only the chosen value: keep the list of the first run when it still holds it
        keep = previous.list.contains(result.get_column("value")).fill_null(False)
        return previous.zip_with(keep, column)
    # a re-run sees the cleaned value, which no longer carries a title or an extension
    return column.fill_null(previous)


def _filled(spec: FrameSpec, result: pl.DataFrame, out: pl.DataFrame) -> list[pl.Expr]:
    """The frame columns a normaliser's parts fill (the frame's value first) or override (the parts first)."""

    def own(column: str) -> list[pl.Series]:
        return [out.get_column(column).cast(pl.String)] if column in out.columns else []

    def parts(names: tuple[str, ...]) -> list[pl.Series]:
        return [result.get_column(name) for name in names]

    return [pl.coalesce(*own(column), *parts(names)).alias(column) for column, names in spec.fills.items()] + [
        pl.coalesce(*parts(names), *own(column)).alias(column) for column, names in spec.overrides.items()
    ]


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
    name = frame_spec("name")
    names = {"full_name": "value", **{p: p for p in name.parts}, **{c: parts[0] for c, parts in name.fills.items()}}
    columns = [
        pl.when(moved).then(person.get_column(src)).otherwise(pl.col(dst) if dst in out.columns else None).alias(dst)
        for dst, src in names.items()
    ]
    columns += [
        pl.when(moved).then(None).otherwise(pl.col(c)).alias(c)
        for c in ("company", *frame_spec("company").parts)
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
    issues: bool = True,
) -> pl.DataFrame:
    """Normalise every canonical field column present in ``df``.

    Each present field (``CANONICAL_FIELDS`` of ``crm_store.schema``) is replaced by its normalised value;
    fields without a kind are cleaned as text. What a kind does beyond that is declared at its registration
    (:class:`FrameSpec`), in the order its ``after`` gives: its part columns are added (:data:`PART_COLUMNS`:
    ``phone_type``, ``phones``, ``email_role``, ``name_key``, ``company_key`` …), columns it reads are passed
    to it, columns it fills or overrides are set. So ``family_name``/``given_name`` are filled from
    ``full_name`` where null or absent; address adds ``street`` and ``admin_code`` and sets ``province`` (a
    US state too), ``city``, ``district``, ``postcode`` and ``country`` where the parsed address found them
    (the source's own columns fill the gaps and give an ambiguous address its context). The ``id_number``
    column holds the **mask** (the raw number survives nowhere in the frame but ``_payload``) and ``id_hash``,
    ``id_birth_date``, ``id_gender``, ``id_region_code`` and ``id_province`` are added, the number being
    cross-checked against the row's normalised ``birth_date`` and ``gender``. A person's name written in the
    company field while ``full_name`` is empty moves to the name columns (``full_name.from_company``).
    ``_issues`` lists ``"<field>.<code>"`` for every issue of the row except ``empty`` (missing values are
    reported separately). Other columns pass through.
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
        issues: ``False`` leaves ``_issues`` out (matching alone never reads it; at a million rows its lists
            cost a second).
    """
    params: dict[str, dict[str, Any]] = {
        "phone": {"region": region},
        "address": {"region": region},
        "date": {"order": date_order, "today": today, "max_age": max_age},
        "datetime": {"tz": tz, "order": date_order, "today": today},
    }
    fields = sorted(
        (f for f in CANONICAL_FIELDS if f in df.columns or _runs_without(f, df)), key=lambda f: _rank(_kind(f))
    )
    out = df
    issue_exprs: list[pl.Expr] = []
    for field in fields:
        kind = _kind(field)
        spec = frame_spec(kind)
        present = field in out.columns
        values = out.get_column(field) if present else pl.Series(field, [None] * out.height, pl.String)
        result = get_normaliser(kind)(values, **params.get(kind, {}), **_reads(spec, out))
        issue_col = f"__issues_{field}"
        out = out.with_columns(
            *([result.get_column("value").alias(field)] if present else []),
            *(_part(spec, result, out, part) for part in spec.parts),
            *([result.get_column("issues").alias(issue_col)] if issues and present else []),
        )
        if spec.fills or spec.overrides:
            out = out.with_columns(_filled(spec, result, out))
        if issues and present:
            issue_exprs.append(
                pl.col(issue_col)
                .list.eval(pl.element().filter(pl.element() != "empty"))
                .list.eval(pl.lit(f"{field}.") + pl.element())
            )
    out, moved = _name_from_company(out)
    if not issues:
        return out
    if moved is not None:
        issue_exprs.append(pl.when(moved).then(pl.lit(["full_name.from_company"])).otherwise(pl.lit([], ISSUES_DTYPE)))
    listed = pl.concat_list(issue_exprs) if issue_exprs else pl.lit([], dtype=ISSUES_DTYPE)
    temp = [c for c in out.columns if c.startswith("__issues_")]
    return out.with_columns(listed.alias(ISSUES_COL)).drop(temp)

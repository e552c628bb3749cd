"""Region reports: customers and activity by province, city or district, with a drill-down into one unit."""

from __future__ import annotations

import re
from typing import Final, Literal

import polars as pl

from analytics._dimensions import _read_places
from analytics._frames import Frame, require, to_polars
from rules.normalise import normalise_address

__all__ = ["Level", "activity_by_region", "customers_by_region", "resolve_region"]

Level = Literal["province", "city", "district"]
_KEYS: Final[dict[str, tuple[str, ...]]] = {
    "province": ("province_code", "province"),
    "city": ("province_code", "province", "city_code", "city"),
    "district": ("province_code", "province", "city_code", "city", "district_code", "district"),
}
_CODE = re.compile(r"^\d{6}$")
_HAN = re.compile(r"[\u3400-\u9fff]")


def resolve_region(within: str) -> tuple[Level, str]:
    """The level and GB/T 2260 code of a unit named by code (``371500``) or name (``聊城``, ``聊城市``,
    ``山东省聊城市``, ``北京``, or in pinyin or English: ``Liaocheng``, ``Liaocheng Shi``, ``Shandong``).

    Raises:
        ValueError: the name is not a known unit, or names several (朝阳区).
    """
    text = within.strip()
    if _CODE.match(text):
        code = text
        if code.endswith("0000"):
            return "province", code
        return ("city", code) if code.endswith("00") or code[2:4] == "90" else ("district", code)
    if not _HAN.search(text):  # pinyin or English: Liaocheng, Shandong Province, Dongchangfu District
        place = _read_places([text])[text]
        if not place.depth:
            raise ValueError(f"{within!r} is not one Chinese province, city or district (use its 6-digit code)")
        if place.district_code:
            return "district", place.district_code
        if place.city_code and place.city != place.province:
            return "city", place.city_code
        return "province", place.province_code or ""
    row = normalise_address(pl.Series([text], dtype=pl.String)).row(0, named=True)
    if not row["admin_code"] or "ambiguous" in row["issues"] or row["province"] is None:
        raise ValueError(f"{within!r} is not one Chinese province, city or district (use its 6-digit code)")
    if row["district"]:
        return "district", row["admin_code"]
    if row["city"] and row["city"] != row["province"]:
        return "city", row["admin_code"]
    return "province", row["admin_code"]


def _scope(dims: pl.DataFrame, within: str | None) -> pl.DataFrame:
    if within is None:
        return dims
    level, code = resolve_region(within)
    return dims.filter(pl.col(f"{level}_code") == code)


def _check_level(level: str) -> tuple[str, ...]:
    if level not in _KEYS:
        raise ValueError(f"level must be one of {sorted(_KEYS)}, not {level!r}")
    return _KEYS[level]


def customers_by_region(dims: Frame, level: Level = "province", *, within: str | None = None) -> pl.DataFrame:
    """Customers per province, city or district, with GB/T 2260 codes and shares.

    Args:
        dims: :func:`analytics.dimensions` (or any frame with the region columns and ``customer_id``).
        level: ``province``, ``city`` or ``district``.
        within: only customers inside this unit (a name or a code: ``聊城`` → its districts with
            ``level="district"``, the Liaocheng drill-down).

    Returns:
        The region's codes and names down to ``level`` (null for customers whose region stops above it or is
        unknown), ``customers`` (Int64) and ``share`` (of the customers in scope, so shares add up to 1); most
        customers first, then by code; the row of customers without that level last.
    """
    keys = _check_level(level)
    df = to_polars(dims, "dimensions")
    require(df, ("customer_id", *keys), "dimensions")
    scoped = _scope(df, within)
    total = scoped.height
    return (
        scoped.group_by(*keys)
        .agg(pl.col("customer_id").n_unique().cast(pl.Int64).alias("customers"))
        .with_columns((pl.col("customers") / total).alias("share"))
        .sort(pl.col(keys[-2]).is_null(), pl.col("customers"), pl.col(keys[-2]), descending=[False, True, False])
    )


def activity_by_region(
    dims: Frame, events_: Frame, level: Level = "province", *, within: str | None = None
) -> pl.DataFrame:
    """Activity per province, city or district (``within`` as for :func:`customers_by_region`).

    Returns:
        The region's codes and names, ``customers`` (Int64: customers of the region), ``active_customers``
        (customers with at least one activity), ``activities`` (Int64), ``amount`` (Float64: sum of the events'
        amounts, null when none has one); most activities first, then by code; the unknown row last.
    """
    keys = _check_level(level)
    df = to_polars(dims, "dimensions")
    require(df, ("customer_id", *keys), "dimensions")
    ev = to_polars(events_, "events")
    require(ev, ("customer_id", "amount"), "events")
    scoped = _scope(df, within).select("customer_id", *keys)
    per_customer = ev.group_by("customer_id").agg(
        pl.len().cast(pl.Int64).alias("activities"),
        pl.col("amount").sum().alias("amount"),
        pl.col("amount").count().alias("_amounts"),
    )
    return (
        scoped.join(per_customer, on="customer_id", how="left")
        .group_by(*keys)
        .agg(
            pl.len().cast(pl.Int64).alias("customers"),
            pl.col("activities").is_not_null().sum().cast(pl.Int64).alias("active_customers"),
            pl.col("activities").fill_null(0).sum().cast(pl.Int64).alias("activities"),
            pl.when(pl.col("_amounts").sum() > 0).then(pl.col("amount").sum()).cast(pl.Float64).alias("amount"),
        )
        .sort(pl.col(keys[-2]).is_null(), pl.col("activities"), pl.col(keys[-2]), descending=[False, True, False])
    )

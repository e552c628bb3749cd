"""Blocking: derived keys, pair-count estimates and the union of candidate pairs of several rules."""

from __future__ import annotations

import logging

import polars as pl

from .settings import MatchSettings

__all__ = ["RID", "BlockingError", "candidate_pairs", "estimate_pairs", "prepare_records"]

logger = logging.getLogger(__name__)

RID = "_rid"
_CJK = r"[\u3400-\u9fff]"


class BlockingError(ValueError):
    """A blocking rule would produce more candidate pairs than ``max_pairs`` allows."""


def check_rid(df: pl.DataFrame) -> None:
    """Raise ``ValueError`` unless ``df`` has a unique, non-null integer ``_rid``."""
    if RID not in df.columns:
        raise ValueError(f"matching needs an integer {RID!r} column")
    if not df.schema[RID].is_integer():
        raise ValueError(f"{RID!r} must be an integer column, not {df.schema[RID]}")
    if df[RID].null_count() or df[RID].is_duplicated().any():
        raise ValueError(f"{RID!r} must be unique and non-null")


def _str(df: pl.DataFrame, col: str) -> pl.Expr:
    if col not in df.columns:
        return pl.lit(None, pl.String)
    expr = pl.col(col).cast(pl.String).str.strip_chars()
    return pl.when(expr.str.len_chars() > 0).then(expr)


def prepare_records(df: pl.DataFrame) -> pl.DataFrame:
    """The normalised records with the helper columns that blocking and comparisons read.

    Adds (when their inputs exist, never replacing a column the input already has): ``phones`` (every number
    of ``phones`` and ``phone``, unique, sorted), ``phone_national`` (last 8 digits of each), ``email_local``,
    ``email_domain``, ``city_key``, ``name_initial``, ``_street`` (address text after the district),
    ``_cjk`` (the full name is written in hanzi) and ``_fname`` (full name, case-folded).
    """
    check_rid(df)
    numbers: list[pl.Expr] = []
    if "phones" in df.columns:
        numbers.append(pl.col("phones").cast(pl.List(pl.String)))
    if "phone" in df.columns:
        numbers.append(pl.concat_list(pl.col("phone").cast(pl.String)))
    phoneset = (
        pl.concat_list(numbers).list.drop_nulls().list.unique().list.sort()
        if numbers
        else pl.lit(None, pl.List(pl.String))
    )
    out = df.with_columns(phoneset.alias("_phoneset"))
    email = _str(df, "email").str.to_lowercase()
    city = _str(df, "city")
    from_address = _str(df, "address").str.extract(r"(?:省|自治区)?([^省市区县\d]{2,6}?)市", 1)
    city_key = pl.coalesce(city, from_address).str.to_lowercase().str.replace(r"(市|\s+city)$", "")
    address = _str(df, "address")
    street = address.str.replace(r"^.*?(区|县|旗)", "")
    name_key = _str(df, "name_key")
    derived = {
        "phones": pl.col("_phoneset"),
        "phone_national": pl.col("_phoneset")
        .list.eval(pl.element().str.replace_all(r"\D", "").str.slice(-8))
        .list.unique(),
        "email_local": email.str.split("@").list.first(),
        "email_domain": email.str.split("@").list.last(),
        "city_key": city_key,
        "name_initial": name_key.str.slice(0, 1),
        "family_key": _str(df, "name_pinyin").str.to_lowercase().str.split(" ").list.first(),
    }
    out = out.with_columns(
        expr.alias(name) for name, expr in derived.items() if name not in df.columns or name == "phones"
    )
    full = _str(df, "full_name")
    return out.with_columns(
        street.alias("_street"),
        full.str.contains(_CJK).fill_null(False).alias("_cjk"),
        full.str.to_lowercase().str.replace_all(r"[\s·.,]+", " ").alias("_fname"),
    )


def _rule_name(cols: list[str]) -> str:
    return "+".join(cols)


def _block_keys(df: pl.DataFrame, cols: list[str]) -> pl.DataFrame:
    keys = df.select(RID, *cols)
    for col in cols:
        if isinstance(keys.schema[col], pl.List):
            keys = keys.explode(col)
        if keys.schema[col] == pl.String:
            keys = keys.with_columns(pl.col(col).str.strip_chars().replace("", None))
    return keys.drop_nulls(cols).unique()


def estimate_pairs(prepared: pl.DataFrame, settings: MatchSettings, new: pl.Series | None = None) -> dict[str, int]:
    """Estimated candidate pairs per blocking rule (Σ n·(n−1)/2 per block; with ``new``, only pairs with a new row).

    Rules naming a column absent from the data are left out.
    """
    out: dict[str, int] = {}
    for cols in settings.blocking:
        if any(c not in prepared.columns for c in cols):
            continue
        keys = _block_keys(prepared, cols)
        if new is None:
            sizes = keys.group_by(cols).len()
            n = pl.col("len").cast(pl.Int64)
            out[_rule_name(cols)] = int(sizes.select((n * (n - 1) // 2).sum()).item() or 0)
        else:
            flagged = keys.with_columns(pl.col(RID).is_in(new.implode()).alias("_new"))
            sizes = flagged.group_by(cols).agg(pl.len().alias("n"), pl.col("_new").sum().alias("k"))
            n, k = pl.col("n").cast(pl.Int64), pl.col("k").cast(pl.Int64)
            out[_rule_name(cols)] = int(sizes.select((k * (k - 1) // 2 + k * (n - k)).sum()).item() or 0)
    return out


def candidate_pairs(prepared: pl.DataFrame, settings: MatchSettings, new: pl.Series | None = None) -> pl.DataFrame:
    """Candidate pairs: the union of the pairs of every blocking rule, each pair once.

    Args:
        prepared: records from :func:`prepare_records` (or any frame with ``_rid`` and the rules' columns).
        settings: the blocking rules and ``max_pairs``.
        new: when given, only pairs with at least one ``_rid`` in ``new`` (incremental matching).

    Returns:
        ``left``, ``right`` (``_rid`` values, ``left < right``, sorted) and ``rules`` (the names of the rules
        that proposed the pair, in settings order, e.g. ``["phones", "name_key+company_key"]``).

    Raises:
        BlockingError: a rule's estimated pair count exceeds ``max_pairs`` (checked before any join).
    """
    check_rid(prepared)
    estimates = estimate_pairs(prepared, settings, new)
    for name, estimate in estimates.items():
        if estimate > settings.max_pairs:
            raise BlockingError(
                f"blocking rule {name!r} would produce about {estimate:,} candidate pairs "
                f"(max_pairs is {settings.max_pairs:,}); make the rule more selective"
            )
    parts: list[pl.DataFrame] = []
    for order, cols in enumerate(settings.blocking):
        name = _rule_name(cols)
        if name not in estimates:
            logger.debug("blocking rule %s skipped: a column is absent", name)
            continue
        keys = _block_keys(prepared, cols)
        if new is None:
            joined = keys.join(keys, on=cols, suffix="_r").filter(pl.col(RID) < pl.col(f"{RID}_r"))
        else:
            fresh = keys.filter(pl.col(RID).is_in(new.implode()))
            joined = fresh.join(keys, on=cols, suffix="_r").filter(
                (pl.col(RID) != pl.col(f"{RID}_r"))
                & (~pl.col(f"{RID}_r").is_in(new.implode()) | (pl.col(RID) < pl.col(f"{RID}_r")))
            )
        pairs = joined.select(
            pl.min_horizontal(RID, f"{RID}_r").alias("left"),
            pl.max_horizontal(RID, f"{RID}_r").alias("right"),
            pl.lit(order, pl.Int32).alias("_order"),
        ).unique()
        parts.append(pairs)
        logger.debug("blocking rule %s: %s pairs", name, pairs.height)
    dtype = prepared.schema[RID]
    if not parts:
        return pl.DataFrame(schema={"left": dtype, "right": dtype, "rules": pl.List(pl.String)})
    names = [_rule_name(c) for c in settings.blocking]
    return (
        pl.concat(parts)
        .sort("left", "right", "_order")
        .group_by("left", "right", maintain_order=True)
        .agg(pl.col("_order").alias("rules"))
        .with_columns(
            pl.col("rules").list.eval(pl.element().replace_strict(dict(enumerate(names)), return_dtype=pl.String))
        )
    )

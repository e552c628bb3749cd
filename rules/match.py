"""Matching v0: blocking -> candidate pairs -> comparison scores -> clusters (connected components).

Input is the NORMALISED frame with a unique integer ``_rid`` and any of the columns ``full_name``,
``name_key``, ``name_pinyin``, ``phone`` (E.164), ``phones`` (list), ``email``, ``company_key``,
``birth_date``, ``city`` (absent columns and nulls are "unknown", never "different").

Score of a pair (all in 0..1)::

    base  = Σ w_c · s_c / Σ w_c        over the comparisons c present on both sides
                                       (w_c · contact_disagreement_weight for a differing phone/email)
    score = base · name_factor · birth_factor

with ``name_factor = 1`` when the name similarity is at least ``name_min`` and the name similarity itself
otherwise (0 when a name is missing: no match without some name agreement, so a shared family landline or
switchboard alone never merges), and ``birth_factor = 1 - birth_date_penalty`` when both birth dates are known
and differ (father and son with the same name and address). Pairs with ``score >= threshold`` are linked
and clusters are the connected components. A later Fellegi–Sunter model replaces ``score`` only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict, Field
from rapidfuzz import fuzz, process, utils

__all__ = [
    "COMPARISONS",
    "BlockingError",
    "ComparisonWeights",
    "MatchResult",
    "MatchSettings",
    "candidate_pairs",
    "cluster",
    "match",
    "score_pairs",
]

logger = logging.getLogger(__name__)

RID = "_rid"
#: Similarity columns produced by :func:`score_pairs`, one per comparison.
COMPARISONS = ("name", "phone", "email", "company", "birth_date", "city")


class BlockingError(ValueError):
    """A blocking rule would produce more candidate pairs than ``max_pairs`` allows."""


class ComparisonWeights(BaseModel):
    """Weight of each comparison in the weighted average (0 switches a comparison off)."""

    model_config = ConfigDict(extra="forbid")

    name: float = Field(default=3.0, ge=0)
    phone: float = Field(default=2.0, ge=0)
    email: float = Field(default=2.0, ge=0)
    company: float = Field(default=1.0, ge=0)
    birth_date: float = Field(default=1.0, ge=0)
    city: float = Field(default=0.5, ge=0)


class MatchSettings(BaseModel):
    """Blocking rules, comparison weights and the link threshold."""

    model_config = ConfigDict(extra="forbid")

    #: Each rule lists the columns whose equal non-null values put two rows in one block (list columns such as
    #: ``phones`` are exploded). A rule naming a column absent from the frame produces no pairs.
    blocking: list[list[str]] = Field(
        default_factory=lambda: [
            ["phone"],
            ["email"],
            ["name_key", "company_key"],
            ["name_key", "birth_date"],
        ],
        min_length=1,
    )
    #: Pairs scoring at least this are linked.
    threshold: float = Field(default=0.8, ge=0, le=1)
    #: Upper bound of candidate pairs per blocking rule (sum over blocks of n·(n-1)/2).
    max_pairs: int = Field(default=5_000_000, ge=1)
    weights: ComparisonWeights = Field(default_factory=ComparisonWeights)
    #: Name similarity needed for a match; below it the score is multiplied by the name similarity.
    name_min: float = Field(default=0.85, ge=0, le=1)
    #: Pinyin similarity below this counts as no pinyin agreement (pinyin collapses different characters:
    #: "wang fang" vs "wang qiang" is 0.84), so by default only equal readings (张伟/張偉/Zhang Wei) agree.
    pinyin_min: float = Field(default=1.0, ge=0, le=1)
    #: Weight multiplier for a phone or email that is known on both sides but differs: people have several
    #: phones and emails, so a different one is weaker evidence than a shared one is.
    contact_disagreement_weight: float = Field(default=0.5, ge=0, le=1)
    #: Share of the score lost when both birth dates are known and differ.
    birth_date_penalty: float = Field(default=0.5, ge=0, le=1)


@dataclass(frozen=True, slots=True)
class MatchResult:
    """Scored candidate pairs (the merge evidence) and the cluster of every row."""

    pairs: pl.DataFrame
    clusters: pl.DataFrame


def _rule_name(cols: list[str]) -> str:
    return "+".join(cols)


def _check_rid(df: pl.DataFrame) -> None:
    if RID not in df.columns:
        raise ValueError(f"matching needs an integer {RID!r} column")
    if not df.schema[RID].is_integer():
        raise ValueError(f"{RID!r} must be an integer column, not {df.schema[RID]}")
    if df[RID].is_duplicated().any() or df[RID].null_count():
        raise ValueError(f"{RID!r} must be unique and non-null")


def _block_keys(df: pl.DataFrame, cols: list[str]) -> pl.DataFrame:
    keys = df.select(RID, *cols)
    for col in cols:
        if isinstance(keys.schema[col], pl.List):
            keys = keys.explode(col)
        if keys.schema[col] == pl.String:
            keys = keys.with_columns(pl.col(col).str.strip_chars().replace("", None))
    return keys.drop_nulls(cols).unique()


def candidate_pairs(df: pl.DataFrame, settings: MatchSettings) -> pl.DataFrame:
    """Candidate pairs from the blocking rules.

    Returns:
        ``left``, ``right`` (``_rid`` values, ``left < right``, each pair once, sorted) and ``rules`` (list of
        the names of the rules that proposed the pair, e.g. ``["phone", "name_key+company_key"]``).

    Raises:
        BlockingError: a rule's estimated pair count exceeds ``max_pairs`` (checked before joining).
    """
    _check_rid(df)
    parts: list[pl.DataFrame] = []
    for cols in settings.blocking:
        name = _rule_name(cols)
        absent = [c for c in cols if c not in df.columns]
        if absent:
            logger.debug("blocking rule %s skipped: no column %s", name, ", ".join(absent))
            continue
        keys = _block_keys(df, cols)
        estimate = int(
            keys.group_by(cols).len().select((pl.col("len").cast(pl.Int64) * (pl.col("len") - 1) // 2).sum()).item()
            or 0
        )
        if estimate > settings.max_pairs:
            raise BlockingError(
                f"blocking rule {name!r} would produce about {estimate:,} candidate pairs "
                f"(max_pairs is {settings.max_pairs:,}); make the rule more selective"
            )
        pairs = (
            keys.join(keys, on=cols, suffix="_r")
            .filter(pl.col(RID) < pl.col(f"{RID}_r"))
            .select(pl.col(RID).alias("left"), pl.col(f"{RID}_r").alias("right"), pl.lit(name).alias("rule"))
            .unique()
        )
        parts.append(pairs)
    if not parts:
        return pl.DataFrame(schema={"left": df.schema[RID], "right": df.schema[RID], "rules": pl.List(pl.String)})
    order = {_rule_name(c): i for i, c in enumerate(settings.blocking)}
    return (
        pl.concat(parts)
        .with_columns(pl.col("rule").replace_strict(order, return_dtype=pl.Int32).alias("_order"))
        .sort("left", "right", "_order")
        .group_by("left", "right", maintain_order=True)
        .agg(pl.col("rule").alias("rules"))
    )


def _fuzzy(left: pl.Series, right: pl.Series, scorer: object) -> pl.Series:
    """Aligned rapidfuzz similarity in 0..1 (character-based, safe for Chinese); null where either is null."""
    a = left.cast(pl.String).fill_null("").to_list()
    b = right.cast(pl.String).fill_null("").to_list()
    sims = process.cpdist(a, b, scorer=scorer, processor=utils.default_process, dtype=np.float64, workers=-1)
    out = pl.Series(sims / 100.0)
    return pl.select(pl.when(left.is_not_null() & right.is_not_null()).then(out)).to_series()


def _equal(col: str) -> pl.Expr:
    return (pl.col(f"{col}_l") == pl.col(f"{col}_r")).cast(pl.Float64)


def score_pairs(df: pl.DataFrame, pairs: pl.DataFrame, settings: MatchSettings) -> pl.DataFrame:
    """Compare every candidate pair and score it (see the module docstring for the formula).

    Returns:
        The pairs' columns plus ``sim_name``, ``sim_phone``, ``sim_email``, ``sim_company``,
        ``sim_birth_date``, ``sim_city`` (Float64 in 0..1, null when the comparison is not possible) and
        ``score``, in the order of ``pairs``.
    """
    cols = [c for c in ("full_name", "name_pinyin", "email", "company_key", "birth_date", "city") if c in df.columns]
    contact: list[pl.Expr] = []
    if "phones" in df.columns:
        contact.append(pl.col("phones").cast(pl.List(pl.String)))
    if "phone" in df.columns:
        contact.append(pl.concat_list(pl.col("phone").cast(pl.String)))
    side = df.select(
        RID,
        *cols,
        (
            pl.concat_list(contact).list.drop_nulls().list.unique() if contact else pl.lit(None, pl.List(pl.String))
        ).alias("phoneset"),
    )
    j = pairs.join(side.rename(lambda c: f"{c}_l"), left_on="left", right_on=f"{RID}_l", maintain_order="left").join(
        side.rename(lambda c: f"{c}_r"), left_on="right", right_on=f"{RID}_r", maintain_order="left"
    )

    def _null() -> pl.Series:
        return pl.Series([None] * j.height, dtype=pl.Float64)

    name = _fuzzy(j["full_name_l"], j["full_name_r"], fuzz.token_sort_ratio) if "full_name" in cols else _null()
    if "name_pinyin" in cols:
        pinyin = _fuzzy(j["name_pinyin_l"], j["name_pinyin_r"], fuzz.token_sort_ratio)
        pinyin = pl.select(pl.when(pinyin >= settings.pinyin_min).then(pinyin).otherwise(pinyin * 0)).to_series()
        name = pl.select(pl.max_horizontal(name, pinyin)).to_series()
    company = (
        pl.select(
            pl.when(j["company_key_l"] == j["company_key_r"])
            .then(1.0)
            .otherwise(_fuzzy(j["company_key_l"], j["company_key_r"], fuzz.ratio))
        ).to_series()
        if "company_key" in cols
        else _null()
    )
    overlap = pl.col("phoneset_l").list.set_intersection(pl.col("phoneset_r")).list.len()
    both_phones = (pl.col("phoneset_l").list.len() > 0) & (pl.col("phoneset_r").list.len() > 0)
    w = settings.weights
    sims = j.with_columns(
        name.alias("sim_name"),
        pl.when(both_phones).then((overlap > 0).cast(pl.Float64)).alias("sim_phone"),
        (_equal("email") if "email" in cols else pl.lit(None, pl.Float64)).alias("sim_email"),
        company.alias("sim_company"),
        (_equal("birth_date") if "birth_date" in cols else pl.lit(None, pl.Float64)).alias("sim_birth_date"),
        (_equal("city") if "city" in cols else pl.lit(None, pl.Float64)).alias("sim_city"),
    )

    def _weight(c: str) -> pl.Expr:
        weight = pl.lit(getattr(w, c), pl.Float64)
        if c in ("phone", "email"):
            disagree = pl.col(f"sim_{c}") == 0.0
            weight = pl.when(disagree).then(weight * settings.contact_disagreement_weight).otherwise(weight)
        return pl.when(pl.col(f"sim_{c}").is_not_null()).then(weight)

    weighted = pl.sum_horizontal(pl.col(f"sim_{c}") * _weight(c) for c in COMPARISONS)
    present = pl.sum_horizontal(_weight(c) for c in COMPARISONS)
    base = pl.when(present > 0).then(weighted / present).otherwise(0.0)
    name_factor = (
        pl.when(pl.col("sim_name") >= settings.name_min).then(1.0).otherwise(pl.col("sim_name").fill_null(0.0))
    )
    birth_factor = pl.when(pl.col("sim_birth_date") == 0.0).then(1.0 - settings.birth_date_penalty).otherwise(1.0)
    sim_cols = [f"sim_{c}" for c in COMPARISONS]
    return sims.select(*pairs.columns, *sim_cols, (base * name_factor * birth_factor).clip(0.0, 1.0).alias("score"))


def cluster(rids: pl.Series | np.ndarray | list[int], scored: pl.DataFrame, threshold: float) -> pl.DataFrame:
    """Connected components of the pairs scoring at least ``threshold``.

    Returns:
        ``_rid`` and ``cluster`` for every rid (sorted by ``_rid``); the cluster label is the smallest
        ``_rid`` of the component, so labels do not depend on row order. Singletons are their own cluster.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    nodes = np.unique(np.asarray(pl.Series(rids).to_numpy(), dtype=np.int64))
    edges = scored.filter(pl.col("score") >= threshold)
    left = edges["left"].to_numpy().astype(np.int64)
    right = edges["right"].to_numpy().astype(np.int64)
    li, ri = np.searchsorted(nodes, left), np.searchsorted(nodes, right)
    n = len(nodes)
    if len(left) and (li.max() >= n or ri.max() >= n or (nodes[li] != left).any() or (nodes[ri] != right).any()):
        raise ValueError("scored pairs reference a _rid that is not among rids")
    graph = coo_matrix((np.ones(len(li), dtype=np.int8), (li, ri)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    # nodes are sorted, so the first node of each label is the component's smallest rid
    _, first = np.unique(labels, return_index=True)
    return pl.DataFrame({RID: nodes, "cluster": nodes[first][labels]})


def match(df: pl.DataFrame, settings: MatchSettings | None = None) -> MatchResult:
    """Block, score and cluster the rows of a normalised frame."""
    settings = settings or MatchSettings()
    pairs = candidate_pairs(df, settings)
    scored = score_pairs(df, pairs, settings)
    return MatchResult(pairs=scored, clusters=cluster(df[RID], scored, settings.threshold))

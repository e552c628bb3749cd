"""Blocking: rules derived from the columns a table has, pair-count estimates, candidate pairs, recall estimates.

Blocking decides which pairs are ever compared. A rule ``on: [a, b]`` pairs records that agree on ``a`` and
``b``; the candidates are the union over the rules. :func:`derive_rules` picks the rules a table can use from
:data:`AUTO_RULES` (a rule is used when every column it names is filled on enough records), so a table of names,
birth dates and addresses without any phone or e-mail still gets name × birth date, name × postcode, birth date ×
postcode, phonetic keys …, and a CRM export gets personal phones and e-mails, name × company brand, and rare names
alone. Each automatic rule drops blocks too large to hold few strangers (``max_block``: a common name alone, a
switchboard) and is capped further if it would still exceed ``max_pairs``. Then looser one-column rules
(:data:`LOOSE_RULES`: surname, birth date, given name, postcode …) are added with the loosest block-size cap that
fits what is left of the pair budget (``pair_budget_per_record`` per record, at least a million): a small table
compares everyone of one surname, a big one the small blocks only.

:func:`estimate_recall` says what share of the true matches the rules can find, without labels: from the pairs
the model is sure of, it measures how often matches agree on each blocking column (per concept, using only pairs
some rule not reading that concept found), and combines the concepts as the model does, as independent.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import polars as pl

from rules.errors import RuleError

from .prepare import RID, check_rid
from .settings import MAX_BLOCKING_RULES, BlockingRule, MatchSettings

__all__ = [
    "AUTO_RULES",
    "BlockingError",
    "BlockingPlan",
    "SampledPairs",
    "block_pairs",
    "candidate_pairs",
    "concept_of",
    "derive_rules",
    "estimate_pairs",
    "estimate_recall",
    "fit_to_budget",
    "proposed_bits",
    "rule_bits",
    "rule_keys",
    "sample_pairs",
    "slice_pairs",
    "split_blocks",
    "union_bits",
    "usable_rules",
    "with_rule_names",
]

logger = logging.getLogger(__name__)


class BlockingError(RuleError, ValueError):
    """A blocking rule would produce more candidate pairs than ``max_pairs`` allows."""


def _rule(*on: str, max_block: int | None = None, train: bool = True) -> BlockingRule:
    return BlockingRule(on=on, max_block=max_block, train=train)


#: Rules :func:`derive_rules` chooses from, strongest first. Identity rules (name, birth date) find people whatever
#: their contact details; location and company rules find them when the birth date is missing or mistyped; contact
#: rules find them by personal numbers and addresses (blocks of more than a few names are switchboards and role
#: mailboxes: left out).
AUTO_RULES: tuple[BlockingRule, ...] = (
    _rule("_mobiles", max_block=8),
    _rule("_lines", max_block=6),
    _rule("phone_national", max_block=8),
    _rule("email", max_block=8),
    _rule("email_local", max_block=4),
    _rule("name_key", "_dob", max_block=60),
    _rule("_fam", "_dob", max_block=60),
    _rule("_giv", "_dob", max_block=60),
    _rule("_fam_sx", "_giv_sx", "_byear", max_block=60),
    _rule("name_key", "_brand", max_block=60),
    _rule("name_key", "postcode", max_block=60),
    _rule("name_key", "city_key", max_block=60),
    _rule("name_key", "_street_key", max_block=60),
    _rule("_dob", "postcode", max_block=60),
    _rule("_dob", "city_key", max_block=60),
    _rule("_dob", "_street_key", max_block=60),
    _rule("_fam", "_street_key", max_block=60),
    _rule("_fam_sx", "_giv_sx", "postcode", max_block=60),
    _rule("name_key", max_block=25),
    _rule("_sylkey", max_block=25),
    _rule("_fam_sx", "_giv_sx", max_block=10),
)

#: Looser rules, one column each, added after :data:`AUTO_RULES` while the pair budget lasts (a small table can
#: afford to compare everyone of one surname, one birth date or one postcode; a big one keeps the small blocks).
LOOSE_RULES: tuple[BlockingRule, ...] = tuple(
    _rule(col, train=False)
    for col in ("_fam", "_dob", "_giv", "postcode", "_street_key", "_fam_sx", "_brand", "city_key")
)
#: Block-size caps tried for a loose rule, loosest first.
_CAPS: tuple[int | None, ...] = (None, 5000, 1000, 300, 100, 30, 10)

#: The comparison (concept) each blocking column belongs to: an EM session on a rule leaves these comparisons
#: out, and blocking recall is estimated per concept.
_CONCEPTS: dict[str, str] = {
    **dict.fromkeys(("name_key", "_sylkey", "_fam", "_giv", "_giv_raw", "_fam_sx", "_giv_sx", "_fname"), "name"),
    **dict.fromkeys(("full_name",), "name"),
    **dict.fromkeys(("name_pinyin", "family_name", "given_name", "name_initial", "family_key"), "name"),
    **dict.fromkeys(("_dob", "_byear", "birth_date"), "birth_date"),
    **dict.fromkeys(("_mobiles", "_lines", "phone_national", "phones", "phone"), "phone"),
    **dict.fromkeys(("email", "email_local", "email_domain"), "email"),
    **dict.fromkeys(("company_key", "company_key_pinyin", "_brand", "company"), "company"),
    **dict.fromkeys(("_street", "_street_key", "postcode", "city_key", "city", "address", "district"), "address"),
}


def concept_of(column: str) -> str | None:
    """The comparison a blocking column belongs to (None for a column no comparison reads)."""
    return _CONCEPTS.get(column)


@dataclass(frozen=True)
class BlockingPlan:
    """The rules a run uses and what each is expected to produce.

    Attributes:
        rules: the rules, in order (automatic ones capped to fit ``max_pairs``).
        estimates: estimated candidate pairs per rule name (before the union).
        dropped: rules of the settings that could not be used, with the reason.
        auto: the rules were derived from the data.
    """

    rules: tuple[BlockingRule, ...]
    estimates: dict[str, int]
    dropped: dict[str, str]
    auto: bool
    #: per rule: the share of the records with a key whose block ``max_block`` keeps (1.0 without a cap)
    open_share: dict[str, float] = field(default_factory=dict)

    def to_frame(self) -> pl.DataFrame:
        """``rule, estimated_pairs``: one row per rule used."""
        return pl.DataFrame(
            {"rule": [r.name for r in self.rules], "estimated_pairs": [self.estimates[r.name] for r in self.rules]},
            schema={"rule": pl.String, "estimated_pairs": pl.Int64},
        )


def _raw_keys(df: pl.DataFrame, cols: list[str], *, clean: bool = False) -> pl.DataFrame:
    """``_rid`` and the rule's key columns, one row per (record, key); list columns exploded; text stripped and
    empty text null (``clean``: the text columns of ``df`` are so already, see :func:`_key_frame`)."""
    return _raw_keys_query(df, cols, clean=clean).collect()


def _raw_keys_query(df: pl.DataFrame, cols: list[str], *, clean: bool = False) -> pl.LazyFrame:
    """:func:`_raw_keys` as a query, to run beside others (see :func:`_all_block_sizes`)."""
    keys = df.lazy().select(RID, *cols)
    exploded = False
    for col in cols:
        kind = df.schema[col]
        listed = isinstance(kind, pl.List)
        if listed:
            keys = keys.explode(col)
            exploded = True
        if (kind.inner if isinstance(kind, pl.List) else kind) == pl.String and (listed or not clean):
            keys = keys.with_columns(_stripped(pl.col(col)))
    keys = keys.drop_nulls(cols)
    return keys.unique() if exploded else keys


def _stripped(text: pl.Expr) -> pl.Expr:
    return text.str.strip_chars().replace("", None)


def _key_frame(prepared: pl.DataFrame, rules: list[BlockingRule]) -> pl.DataFrame:
    """``_rid`` and the columns ``rules`` block on, each text column stripped (empty text null) once: a column
    read by several rules was stripped again for each (a million people: 0.4 s a pass over the rules)."""
    cols = list(dict.fromkeys(c for rule in rules for c in rule.on if c in prepared.columns))
    return prepared.select(RID, *(_stripped(pl.col(c)) if prepared.schema[c] == pl.String else pl.col(c) for c in cols))


def _key(cols: list[str]) -> pl.Expr:
    """One 64-bit hash standing for a rule's key columns: grouping on it costs a third of grouping on the text
    columns. Two keys sharing a hash (about one chance in 10^7 per million keys) only merge two blocks: more pairs
    are scored, none is lost."""
    return pl.struct(cols).hash().alias("_key")


def _block_keys(df: pl.DataFrame, rule: BlockingRule, new: pl.Series | None = None) -> pl.DataFrame:
    """The keys of ``rule`` per record, blocks over ``max_block`` left out; with ``new``, only the blocks holding a
    new record (their sizes are still counted over every record, but only those records are looked at)."""
    cols = list(rule.on)
    if new is None:
        keys = _raw_keys(df, cols)
    else:
        narrow = df.select(RID, *cols)  # filtering a wide frame would copy every column
        fresh = _raw_keys(narrow.filter(pl.col(RID).is_in(new.implode())), cols).select(cols).unique()
        candidates = narrow
        for col in cols:  # first narrow the records to those holding a new record's key value, cheaply
            if not isinstance(df.schema[col], pl.List):
                candidates = candidates.filter(pl.col(col).is_in(fresh[col].unique().implode()))
        keys = _raw_keys(candidates, cols).join(fresh, on=cols, how="semi")
    if rule.max_block is not None:
        keys = keys.filter(pl.len().over(cols) <= rule.max_block)
    return keys


def _pair_count(keys: pl.DataFrame, cols: list[str], new: pl.Series | None) -> int:
    if new is None:
        n = pl.len().cast(pl.Int64)
        return int(keys.group_by(cols).agg((n * (n - 1) // 2).alias("p"))["p"].sum() or 0)
    flagged = keys.with_columns(pl.col(RID).is_in(new.implode()).alias("_new"))
    sizes = flagged.group_by(cols).agg(pl.len().alias("n"), pl.col("_new").sum().alias("k"))
    n, k = pl.col("n").cast(pl.Int64), pl.col("k").cast(pl.Int64)
    return int(sizes.select((k * (k - 1) // 2 + k * (n - k)).sum()).item() or 0)


def estimate_pairs(prepared: pl.DataFrame, rules: list[BlockingRule], new: pl.Series | None = None) -> dict[str, int]:
    """Estimated candidate pairs per rule (Σ n·(n−1)/2 per block; with ``new``, only pairs with a new row).

    Rules naming a column absent from the data are left out.
    """
    return {
        rule.name: _pair_count(_block_keys(prepared, rule, new), list(rule.on), new)
        for rule in rules
        if all(c in prepared.columns for c in rule.on)
    }


def _filled(prepared: pl.DataFrame, col: str) -> float:
    """Share of records with a value in ``col`` (a non-empty list for list columns)."""
    if col not in prepared.columns or not prepared.height:
        return 0.0
    s = prepared[col]
    filled = s.list.len().fill_null(0) > 0 if isinstance(s.dtype, pl.List) else s.is_not_null()
    share = filled.mean()
    return float(share) if isinstance(share, (int, float)) else 0.0


def _block_sizes(prepared: pl.DataFrame, rule: BlockingRule, *, clean: bool = False) -> pl.Series:
    """Records per block of ``rule`` (no cap; ``clean`` as for :func:`_raw_keys`)."""
    return _sizes_query(prepared, rule, clean=clean).collect().to_series()


def _all_block_sizes(keys: pl.DataFrame, rules: list[BlockingRule]) -> dict[str, pl.Series]:
    """:func:`_block_sizes` of each rule over the stripped ``keys`` (see :func:`_key_frame`), the rules' queries run
    side by side (the 29 rules of a million CRM records: 0.87 -> 0.51 s)."""
    found = pl.collect_all([_sizes_query(keys, rule, clean=True) for rule in rules])
    return {rule.name: frame.to_series() for rule, frame in zip(rules, found, strict=True)}


def _sizes_query(prepared: pl.DataFrame, rule: BlockingRule, *, clean: bool) -> pl.LazyFrame:
    cols = list(rule.on)
    return (
        _raw_keys_query(prepared, cols, clean=clean)
        .select(_key(cols))
        .group_by("_key")
        .len()
        .select(pl.col("len").cast(pl.Int64))
    )


def _largest(sizes: pl.Series) -> int:
    largest = sizes.max()
    return largest if isinstance(largest, int) else 0


def _pairs_within(sizes: pl.Series, cap: int | None) -> int:
    kept = sizes if cap is None else sizes.filter(sizes <= cap)
    return int((kept * (kept - 1) // 2).sum() or 0)


def _share_within(sizes: pl.Series, cap: int | None) -> float:
    """Share of the records with a key whose block has at most ``cap`` records."""
    total = int(sizes.sum() or 0)
    if cap is None or not total:
        return 1.0
    return float(sizes.filter(sizes <= cap).sum()) / total


def fit_to_budget(prepared: pl.DataFrame, rule: BlockingRule, budget: int) -> tuple[BlockingRule, int, float]:
    """The rule with ``max_block`` lowered until its pair estimate fits ``budget``: (rule, pairs, open share)."""
    return _fitted(_block_sizes(prepared, rule), rule, budget)


def _fitted(sizes: pl.Series, rule: BlockingRule, budget: int) -> tuple[BlockingRule, int, float]:
    """:func:`fit_to_budget` from the rule's block sizes."""
    cap = rule.max_block
    while _pairs_within(sizes, cap) > budget and (cap or 2**31) > 2:
        cap = max(2, (cap or 1000) // 2)
    capped = BlockingRule(on=rule.on, max_block=cap, train=rule.train)
    return capped, _pairs_within(sizes, cap), _share_within(sizes, cap)


def _loosest(sizes: pl.Series, rule: BlockingRule, budget: int) -> tuple[BlockingRule, int, float] | None:
    """The rule with the loosest cap of :data:`_CAPS` whose pairs fit ``budget`` (None when none does), from the
    rule's block sizes."""
    for cap in _CAPS:
        pairs = _pairs_within(sizes, cap)
        if pairs <= budget and pairs > 0:
            return BlockingRule(on=rule.on, max_block=cap, train=rule.train), pairs, _share_within(sizes, cap)
    return None


def derive_rules(prepared: pl.DataFrame, settings: MatchSettings, *, min_filled: float = 0.01) -> BlockingPlan:
    """The blocking rules of a run: the settings' own rules, or automatic ones chosen from the columns present.

    An automatic rule is used when every column it names is filled on at least ``min_filled`` of the records; it
    is capped (smaller ``max_block``) until its estimated pairs fit ``settings.max_pairs``. Listed rules naming an
    absent column are reported in ``dropped``; a listed rule over ``max_pairs`` is capped the same way and the
    skipped blocks reported in ``dropped`` under its name.

    Raises:
        BlockingError: no listed rule can be used.
    """
    dropped: dict[str, str] = {}
    estimates: dict[str, int] = {}
    shares: dict[str, float] = {}
    chosen: list[BlockingRule] = []

    def use(rule: BlockingRule, estimate: int, share: float) -> None:
        chosen.append(rule)
        estimates[rule.name] = estimate
        shares[rule.name] = share

    if settings.blocking == "auto":
        candidates = [*AUTO_RULES, *LOOSE_RULES]
        filled = {c: _filled(prepared, c) for c in dict.fromkeys(c for rule in candidates for c in rule.on)}
        empty = {rule.name: [c for c in rule.on if filled[c] < min_filled] for rule in candidates}
        for rule in candidates:
            if empty[rule.name]:
                dropped[rule.name] = f"too few values in {', '.join(empty[rule.name])}"
        keys = _key_frame(prepared, candidates)
        by_rule = _all_block_sizes(keys, [rule for rule in candidates if not empty[rule.name]])
        for rule in AUTO_RULES:
            if rule.name in by_rule:
                use(*_fitted(by_rule[rule.name], rule, settings.max_pairs))
        budget = max(1_000_000, settings.pair_budget_per_record * prepared.height) - sum(estimates.values())
        for rule in LOOSE_RULES:
            if rule.name not in by_rule:
                continue
            found = _loosest(by_rule[rule.name], rule, min(budget, settings.max_pairs))
            if found is None:
                dropped[rule.name] = "no block size fits the pair budget"
                continue
            use(*found)
            budget -= found[1]
        return BlockingPlan(tuple(chosen), estimates, dropped, auto=True, open_share=shares)
    listed = _key_frame(prepared, list(settings.blocking))
    present = [rule for rule in settings.blocking if all(c in prepared.columns for c in rule.on)]
    every = _all_block_sizes(listed, present)
    for rule in settings.blocking:
        absent = [c for c in rule.on if c not in prepared.columns]
        if absent:
            dropped[rule.name] = f"no column {', '.join(absent)}"
            continue
        sizes = every[rule.name]
        estimate = _pairs_within(sizes, rule.max_block)
        if estimate > settings.max_pairs:
            # values too common to block on (a placeholder number on thousands of rows): their blocks are skipped,
            # said so, and the run goes on
            capped, pairs, share = _fitted(sizes, rule, settings.max_pairs)
            dropped[rule.name] = (
                f"about {estimate:,} pairs (max_pairs {settings.max_pairs:,}): blocks of more than "
                f"{capped.max_block} records skipped (the largest: {_largest(sizes):,} records share one "
                f"value), used as {capped.name}"
            )
            logger.warning("blocking rule %s: %s", rule.name, dropped[rule.name])
            use(capped, pairs, share)
            continue
        use(rule, estimate, _share_within(sizes, rule.max_block))
    if not chosen:
        raise BlockingError(
            "no blocking rule can be used: every rule names a column the records lack "
            f"({'; '.join(f'{k}: {v}' for k, v in dropped.items())})"
        )
    return BlockingPlan(tuple(chosen), estimates, dropped, auto=False, open_share=shares)


def candidate_pairs(
    prepared: pl.DataFrame, rules: list[BlockingRule], new: pl.Series | None = None, *, named: bool = True
) -> pl.DataFrame:
    """Candidate pairs: the union of the pairs of every rule, each pair once.

    Args:
        prepared: records from :func:`rules.match.prepare.prepare_records`.
        rules: the blocking rules (see :func:`derive_rules`).
        new: when given, only pairs with at least one ``_rid`` in ``new`` (incremental matching).
        named: False gives the rules that proposed each pair as the bit set ``_rules`` (bit ``i``: ``rules[i]``)
            instead of their names: what the matcher carries through sampling, training and the blocking report,
            naming only the pairs it returns (see :func:`with_rule_names`).

    Returns:
        ``left``, ``right`` (``_rid`` values, ``left < right``, sorted) and ``rules`` (the names of the rules
        that proposed the pair, in rule order) or ``_rules``.
    """
    usable = usable_rules(prepared, rules)
    keys = _key_frame(prepared, [rule for _, rule in usable]) if new is None else prepared

    def pairs_of(rule: BlockingRule) -> pl.DataFrame:
        if new is None:
            pairs = block_pairs(rule_keys(keys, rule, clean=True), rule.max_block)
        else:
            pairs = _new_rule_pairs(prepared, rule, new)
        logger.debug("blocking rule %s: %s pairs", rule.name, pairs.height)
        return pairs

    # two rules at once: polars and numpy release the GIL, and one rule alone leaves a core idle part of the time
    # (a million people's 21 rules: 2.5 -> 2.0 s)
    with ThreadPoolExecutor(max_workers=2) as pool:
        found = list(pool.map(pairs_of, [rule for _, rule in usable]))
    parts = {order: [pairs] for (order, _), pairs in zip(usable, found, strict=True)}
    bits = union_bits(parts, prepared.schema[RID])
    return with_rule_names(bits, rules) if named else bits


def usable_rules(prepared: pl.DataFrame, rules: list[BlockingRule]) -> list[tuple[int, BlockingRule]]:
    """The rules whose columns ``prepared`` has, with their place in ``rules`` (their bit in a pair's set)."""
    check_rid(prepared)
    if len(rules) > MAX_BLOCKING_RULES:
        raise ValueError(f"at most {MAX_BLOCKING_RULES} blocking rules can be used together, not {len(rules)}")
    return [(order, rule) for order, rule in enumerate(rules) if all(c in prepared.columns for c in rule.on)]


def rule_keys(prepared: pl.DataFrame, rule: BlockingRule, *, clean: bool = False) -> pl.DataFrame:
    """``_rid`` and ``_key`` (one 64-bit hash of the rule's key columns) per (record, key): what
    :func:`block_pairs` joins. A block is the records of one ``_key``, so records split by ``_key`` (e.g.
    ``_key % parts``, one part per worker of a cluster) give every block whole to one part. ``clean``: the text
    columns of ``prepared`` are stripped already (empty text null), as :func:`candidate_pairs` makes them once."""
    cols = list(rule.on)
    return _raw_keys(prepared, cols, clean=clean).select(RID, _key(cols))


def block_pairs(keys: pl.DataFrame, max_block: int | None) -> pl.DataFrame:
    """``left < right``: the pairs of records sharing a ``_key`` of ``keys`` (see :func:`rule_keys`), blocks over
    ``max_block`` records left out.

    The records are sorted by the key once and each block's pairs are made by index arithmetic (a block of ``s``
    records at ``start``: each member with every later one): grouping and self-joining on a block number cost
    three times as much, joining on the key columns themselves (text, often two or three) nine times."""
    dtype = keys.schema[RID]
    ordered = keys.select(RID, "_key").sort("_key")
    key, rid = ordered["_key"].to_numpy(), ordered[RID].to_numpy().astype(np.int64)
    starts = np.flatnonzero(np.concatenate(([True], key[1:] != key[:-1]))) if len(key) else np.zeros(0, np.int64)
    sizes = np.diff(np.append(starts, len(key)))
    kept = (sizes >= 2) & (sizes <= (max_block if max_block is not None else len(key)))
    starts, sizes = starts[kept], sizes[kept]
    within = np.arange(int(sizes.sum()), dtype=np.int64) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    later = np.repeat(sizes, sizes) - 1 - within  # the members after each member in its block
    first = np.repeat(np.repeat(starts, sizes) + within, later)
    step = np.arange(len(first), dtype=np.int64) - np.repeat(np.cumsum(later) - later, later) + 1
    a, b = rid[first], rid[first + step]
    return pl.DataFrame(
        {"left": np.minimum(a, b), "right": np.maximum(a, b)}, schema={"left": pl.Int64, "right": pl.Int64}
    ).with_columns(pl.col("left", "right").cast(dtype))


def split_blocks(
    keys: pl.DataFrame, max_block: int | None, parts: int, big: int
) -> tuple[list[pl.DataFrame], list[np.ndarray]]:
    """A rule's keys (see :func:`rule_keys`) cut for work in parallel: up to ``parts`` frames split by
    ``_key % parts`` (every block whole in one; each for :func:`block_pairs`), the blocks of more than ``big``
    records left out of them, and those big blocks (up to ``max_block``) as sorted ``_rid`` arrays, whose pairs
    :func:`slice_pairs` makes a slice against a slice."""
    size = pl.len().over("_key")
    is_big = (size > big) & (size <= max_block if max_block is not None else pl.lit(True))
    keys = keys.with_columns(is_big.alias("_big"))
    small = keys.filter(~pl.col("_big")).drop("_big")
    split = small.with_columns((pl.col("_key") % parts).alias("_part")).partition_by("_part", include_key=False)
    blocks = keys.filter(pl.col("_big")).group_by("_key").agg(RID)[RID]
    return split, [np.sort(members.to_numpy()) for members in blocks]


def slice_pairs(one: np.ndarray, other: np.ndarray, same: bool) -> pl.DataFrame:
    """``left < right``: the pairs of a big block between two slices of its (distinct, sorted) ``_rid`` values, or
    within one slice when ``same``."""
    left, right = np.repeat(one, len(other)), np.tile(other, len(one))
    keep = left < right if same else np.ones(len(left), dtype=bool)
    return pl.DataFrame({"left": np.minimum(left, right)[keep], "right": np.maximum(left, right)[keep]})


@dataclass(frozen=True)
class SampledPairs:
    """Candidate pairs with the big sets of pairs cut to samples (see :func:`sample_pairs`).

    Attributes:
        pairs: the pairs compared now, in the order of the candidate pairs.
        weight: per pair of ``pairs``, how many candidate pairs it stands for (1 outside the samples).
        group: per pair of ``pairs``, its sampled set (-1 outside the samples).
        left_out: the pairs of the samples' sets not in them, in the order of the candidate pairs.
        left_group: per pair of ``left_out``, its set.
    """

    pairs: pl.DataFrame
    weight: np.ndarray
    group: np.ndarray
    left_out: pl.DataFrame
    left_group: np.ndarray


def sample_pairs(pairs: pl.DataFrame, rules: list[BlockingRule], limit: int, seed: int) -> SampledPairs | None:
    """The candidate pairs (see :func:`candidate_pairs`) with each big set of pairs cut to a random sample of
    ``limit``: the pairs one same set of rules proposed, when more than ``limit`` (the pairs only untrained, loose
    rules propose as one set), each sampled pair standing for the set's pairs over ``limit``. None when no set is
    that big. A set's sample is the ``limit`` pairs whose hash of ``(left, right, seed)`` is smallest: the same
    pairs on every run and machine.

    In a big table most candidate pairs come from rules on common keys (a surname and a street, a name and a city)
    that add few links: the sample still trains the model and measures what the rest would add, and only the sets
    whose rest holds links worth finding are compared in full (see ``rules.match.engine``)."""
    if not pairs.height:
        return None
    trained = sum(1 << i for i, rule in enumerate(rules) if rule.train)
    bits = proposed_bits(pairs, [rule.name for rule in rules])
    key = np.where((bits & trained) == 0, -1, bits)  # the loose rules' own pairs: one set
    big = pl.DataFrame({"set": key}).group_by("set").len().filter(pl.col("len") > limit).sort("set")
    if not big.height:
        return None
    left, right = pairs["left"].to_numpy().astype(np.uint64), pairs["right"].to_numpy().astype(np.uint64)
    hashed = _mixed(_mixed(left ^ np.uint64(seed)) ^ right)
    keep = np.ones(pairs.height, dtype=bool)
    weight = np.ones(pairs.height)
    group = np.full(pairs.height, -1, dtype=np.int64)
    for g, (rule_set, size) in enumerate(big.iter_rows()):
        members = np.flatnonzero(key == rule_set)
        keep[members[np.argpartition(hashed[members], limit)[limit:]]] = False
        weight[members] = size / limit
        group[members] = g
    mask = pl.Series(keep)
    return SampledPairs(pairs.filter(mask), weight[keep], group[keep], pairs.filter(~mask), group[~keep])


def _mixed(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """SplitMix64's finaliser: each 64-bit value mixed into one that looks random (wrapping arithmetic)."""
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return np.asarray(x ^ (x >> np.uint64(31)), dtype=np.uint64)


def union_bits(parts: dict[int, list[pl.DataFrame]], dtype: pl.DataType) -> pl.DataFrame:
    """Each pair of ``parts`` (``left``, ``right`` per rule's place, in any number of pieces) once, with the rules
    that proposed it as the bit set ``_rules`` (bit ``i``: the rule at place ``i``; see :func:`with_rule_names`)."""
    pieces = [(order, piece) for order, found in parts.items() for piece in found if piece.height]
    if not pieces:
        return pl.DataFrame(schema={"left": dtype, "right": dtype, "_rules": pl.Int64})
    # two records sharing two numbers meet in two blocks of one rule: the union takes them once
    left, right, bits = _union(pieces)
    return pl.DataFrame({"left": left, "right": right, "_rules": bits}).with_columns(
        pl.col("left", "right").cast(dtype)
    )


def with_rule_names(pairs: pl.DataFrame, rules: list[BlockingRule]) -> pl.DataFrame:
    """``pairs`` with their bit set ``_rules`` (see :func:`union_bits`) replaced, in its place, by ``rules``: the
    names of the rules that proposed each pair, in rule order, as a list of ``pl.Enum`` (a byte per name: strings
    took 40 bytes a pair, a quarter of the scored pairs' memory). Each list is made once per distinct set and
    joined (a list per pair built in polars cost more than all the joins)."""
    proposed = pl.List(pl.Enum(list(dict.fromkeys(r.name for r in rules))))
    sets = pairs["_rules"].unique().sort().to_list()  # polars' hash unique: a third of np.unique's sort
    names = pl.DataFrame(
        {"_rules": sets, "rules": [[r.name for i, r in enumerate(rules) if bits >> i & 1] for bits in sets]},
        schema={"_rules": pl.Int64, "rules": proposed},
    )
    # the names alone joined, then put in the bits' place: the pairs' other columns are shared, not copied
    named = pairs.select("_rules").join(names, on="_rules", how="left", maintain_order="left").get_column("rules")
    order = [c if c != "_rules" else "rules" for c in pairs.columns]
    return pairs.with_columns(named).select(order)


def proposed_bits(pairs: pl.DataFrame, names: list[str]) -> np.ndarray:
    """Per pair, the rules (of ``names``, in the order the pairs were found with) that proposed it as bits: its
    ``_rules`` when it carries them (see :func:`candidate_pairs`), else read from its ``rules`` names (see
    :func:`rule_bits`), else none."""
    if "_rules" in pairs.columns:
        return pairs["_rules"].to_numpy()
    if "rules" in pairs.columns and pairs.height:
        return rule_bits(pairs["rules"], names)
    return np.zeros(pairs.height, dtype=np.int64)


#: Bits of a packed pair that hold the rule's place (:data:`~rules.match.settings.MAX_BLOCKING_RULES` fit).
_RULE_BITS = 6


def _union(pieces: list[tuple[int, pl.DataFrame]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``left``, ``right`` (sorted) and the or-ed rule bits of each distinct pair of ``pieces`` (rule place, pairs).

    Each pair is packed with its rule's place into one 64-bit number (``(left, right)`` as one number below
    span², the place in the low bits), the numbers sorted and each run of one pair or-ed together: 16 bytes a pair
    (the numbers and their sorted copy), where grouping on the two columns cost five times the time and sorting
    frames three times the memory.
    Should the ``_rid`` values span more than 2^28 the two columns are grouped after all."""
    lowest = min(min(int(p["left"].min()), int(p["right"].min())) for _, p in pieces)  # type: ignore[arg-type]
    highest = max(max(int(p["left"].max()), int(p["right"].max())) for _, p in pieces)  # type: ignore[arg-type]
    span = highest - lowest + 1
    if span > 2**28:
        frames = [p.select("left", "right").with_columns(pl.lit(1 << o, pl.Int64).alias("_rules")) for o, p in pieces]
        grouped = pl.concat(frames).group_by("left", "right").agg(pl.col("_rules").bitwise_or()).sort("left", "right")
        return grouped["left"].to_numpy(), grouped["right"].to_numpy(), grouped["_rules"].to_numpy()
    pair_of = (pl.col("left").cast(pl.Int64) - lowest) * span + (pl.col("right").cast(pl.Int64) - lowest)
    # packed and sorted by polars: its sort runs on every core (numpy's on one: 1M people, 9.9M pairs 0.9 -> 0.4 s)
    packed = (
        pl.concat([p.select((pair_of * (1 << _RULE_BITS) + order).alias("k")) for order, p in pieces])
        .get_column("k")
        .sort()
        .to_numpy()
    )
    pair = packed >> _RULE_BITS
    first = np.flatnonzero(np.concatenate([[True], pair[1:] != pair[:-1]]))
    bits = np.bitwise_or.reduceat(np.left_shift(np.int64(1), packed & ((1 << _RULE_BITS) - 1)), first)
    del packed
    pair = pair[first]
    return pair // span + lowest, pair % span + lowest, bits


def _new_rule_pairs(prepared: pl.DataFrame, rule: BlockingRule, new: pl.Series) -> pl.DataFrame:
    """The pairs of ``rule`` with at least one record in ``new`` (``left < right``)."""
    cols = list(rule.on)
    keys = _block_keys(prepared, rule, new)
    fresh = keys.filter(pl.col(RID).is_in(new.implode()))
    joined = fresh.join(keys, on=cols, suffix="_r").filter(
        (pl.col(RID) != pl.col(f"{RID}_r"))
        & (~pl.col(f"{RID}_r").is_in(new.implode()) | (pl.col(RID) < pl.col(f"{RID}_r")))
    )
    return joined.select(
        pl.min_horizontal(RID, f"{RID}_r").alias("left"), pl.max_horizontal(RID, f"{RID}_r").alias("right")
    ).unique()


# ----------------------------------------------------------------------------------------- recall estimate


def _agree(prepared: pl.DataFrame, lpos: pl.Series, rpos: pl.Series, col: str) -> np.ndarray:
    """Whether each pair (row positions) agrees on blocking column ``col`` (lists: share an element)."""
    a, b = prepared[col].gather(lpos), prepared[col].gather(rpos)
    if isinstance(a.dtype, pl.List):
        return (a.list.set_intersection(b).list.len() > 0).fill_null(False).to_numpy()
    return (a == b).fill_null(False).to_numpy()


def _positions(prepared: pl.DataFrame, rids: np.ndarray) -> pl.Series:
    """Row positions of ``rids`` in ``prepared``."""
    order = prepared[RID].arg_sort().to_numpy()
    sorted_rids = prepared[RID].to_numpy()[order]
    return pl.Series(order[np.searchsorted(sorted_rids, rids)])


def rule_bits(proposed_by: pl.Series, names: list[str]) -> np.ndarray:
    """Per pair (its ``rules`` list), the rules that proposed it as bits: bit ``i`` set when ``names[i]`` did (one
    pass over the lists; a ``list.contains`` per rule took seconds on five million pairs)."""
    bit = {name: 1 << i for i, name in enumerate(names)}
    inner = proposed_by.dtype.inner if isinstance(proposed_by.dtype, pl.List) else None
    if isinstance(inner, pl.Enum):  # (what candidate_pairs makes) each name's bit looked up by its category code
        flat = proposed_by.explode(empty_as_null=False, keep_nulls=False)
        if not flat.null_count():
            lut = np.array([bit.get(name, 0) for name in inner.categories], dtype=np.int64)
            running = np.concatenate(([0], np.cumsum(lut[flat.to_physical().to_numpy()])))
            ends = np.cumsum(proposed_by.list.len().fill_null(0).to_numpy().astype(np.int64))
            return np.asarray(np.diff(np.concatenate(([0], running[ends]))), dtype=np.int64)
    sets = proposed_by.list.eval(pl.element().replace_strict(bit, default=0, return_dtype=pl.Int64)).list.sum()
    return sets.fill_null(0).to_numpy()


def _agreement_patterns(agree: list[np.ndarray], weight: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of the boolean columns ``agree`` (sorted as ``np.unique(axis=0)`` sorts them) and how many
    pairs have each (the sum of their ``weight`` when given): each row read as a binary number, first column highest
    (``np.unique`` over rows took seconds on a million pairs)."""
    k = len(agree)
    code = np.zeros(len(agree[0]), dtype=np.int64)
    for column in agree:
        code = code * 2 + column
    if weight is None:
        values, counts = np.unique(code, return_counts=True)
    else:
        values, inverse = np.unique(code, return_inverse=True)
        counts = np.bincount(inverse, weights=weight, minlength=len(values))
    patterns = (values[:, None] >> np.arange(k - 1, -1, -1)) & 1 == 1
    return patterns, counts


def estimate_recall(
    prepared: pl.DataFrame,
    rules: list[BlockingRule],
    pairs: pl.DataFrame,
    probability: np.ndarray,
    sure: float = 0.99,
    open_share: dict[str, float] | None = None,
    weight: np.ndarray | None = None,
) -> dict[str, float | None]:
    """Estimated share of the true matches the rules propose, without labels.

    ``weight``: per pair, how many candidate pairs it stands for (a sample of a big set of them, the rest not
    compared: see :func:`sample_pairs`); None: one each.

    The pairs scored at ``sure`` or more stand for the matches. For each concept (name, birth date, address, …)
    the joint agreement of its blocking columns is measured on those of them that some rule not reading the
    concept proposed (so that blocking did not force the agreement); concepts are combined as independent, and a
    rule with ``max_block`` fires on the share of records whose block it keeps.

    Returns:
        ``total``: the estimated recall of the union (None when there are too few sure pairs), and one entry per
        rule name: the estimated recall of that rule alone.
    """
    sure_mask = probability >= sure
    out: dict[str, float | None] = {"total": None, **{r.name: None for r in rules}}
    if sure_mask.sum() < 20 or not rules:
        return out
    sure_pairs = pairs.filter(pl.Series(sure_mask))
    sure_weight = None if weight is None else weight[sure_mask]
    left, right = sure_pairs["left"].to_numpy(), sure_pairs["right"].to_numpy()
    bit = {r.name: 1 << i for i, r in enumerate(rules)}
    proposed = proposed_bits(sure_pairs, [r.name for r in rules])
    columns = sorted({c for r in rules for c in r.on})
    lpos, rpos = _positions(prepared, left), _positions(prepared, right)
    agree = {c: _agree(prepared, lpos, rpos, c) for c in columns}
    concepts: dict[str, list[str]] = {}
    for col in columns:
        concepts.setdefault(concept_of(col) or col, []).append(col)
    distributions: list[tuple[list[str], np.ndarray, np.ndarray]] = []
    for concept, cols in concepts.items():
        blind = [r.name for r in rules if all((concept_of(c) or c) != concept for c in r.on)]
        blind_bits = sum(bit[name] for name in blind)
        use = (proposed & blind_bits) != 0 if blind else None
        if use is None or use.sum() < 20:
            use = np.ones(len(left), dtype=bool)  # every rule reads this concept: biased upwards
        patterns, counts = _agreement_patterns(
            [agree[c][use] for c in cols], None if sure_weight is None else sure_weight[use]
        )
        distributions.append((cols, patterns, counts / counts.sum()))
    if open_share is None or any(r.name not in open_share for r in rules):
        open_share = {r.name: _share_within(_block_sizes(prepared, r), r.max_block) for r in rules}
    share = open_share
    # the joint distribution over concepts, as independent: combos of one agreement pattern per concept
    columns_in = [c for cols, _, _ in distributions for c in cols]
    probs = np.ones(1)
    agreed = np.zeros((1, 0), dtype=bool)
    for _, patterns, p in distributions:
        probs = np.outer(probs, p).ravel()
        agreed = np.concatenate(
            [np.repeat(agreed, len(p), axis=0), np.tile(patterns.astype(bool), (len(agreed), 1))], axis=1
        )
        keep = probs >= 1e-9
        probs, agreed = probs[keep], agreed[keep]
    position = {c: i for i, c in enumerate(columns_in)}
    miss = np.ones(len(probs))
    per_rule: dict[str, float] = {}
    for rule in rules:
        fires = agreed[:, [position[c] for c in rule.on]].all(axis=1)
        per_rule[rule.name] = float((probs * fires).sum() * share[rule.name])
        miss *= 1.0 - share[rule.name] * fires
    total = float((probs * (1.0 - miss)).sum())
    out["total"] = float(min(total, 1.0))
    out.update({k: float(v) for k, v in per_rule.items()})
    return out

"""The matcher: prepare → block → compare → (fit) → score → cluster, for a full run or for new records only."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

import numpy as np
import polars as pl

from .blocking import (
    AUTO_RULES,
    LOOSE_RULES,
    BlockingPlan,
    SampledPairs,
    candidate_pairs,
    concept_of,
    derive_rules,
    estimate_recall,
    fit_to_budget,
    proposed_bits,
    sample_pairs,
    with_rule_names,
)
from .comparisons import MATCHING_COLUMNS, Compared, Comparer, Comparison, PairComparer
from .constraints import (
    FINGERPRINT_FIELDS,
    apply_constraints,
    constrained_review,
    constrained_weights,
    resolve_constraints,
    with_constraints,
)
from .linkage import WeightFn, average_linkage, components, sorted_unique
from .model import MatchModel, fit, prob_to_weight, score, session_comparisons, u_probabilities
from .prepare import READS, RID, check_rid, is_prepared, prepare_records
from .settings import BlockingRule, MatchSettings

__all__ = [
    "LOOSE_MATCH_SHARE",
    "LOOSE_SAMPLE_RECORDS",
    "Engine",
    "LocalEngine",
    "MatchResult",
    "cluster",
    "generations_apart",
    "match",
    "match_columns",
    "match_incremental",
    "score_pairs",
]

T = TypeVar("T")
R = TypeVar("R")

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class MatchResult:
    """What the matcher decided, with its evidence.

    Attributes:
        pairs: every scored candidate pair (with ``keep_pairs_above``, those at least that probable): ``left``,
            ``right`` (``_rid``, left < right), ``rules`` (blocking rules that proposed it, ``pl.Enum`` names),
            ``<comparison>_level`` (label, ``pl.Enum`` of ``null`` + the levels) and ``<comparison>_weight``
            (log2 Bayes factor, tf-adjusted, float32) per comparison, ``related_weight`` (how much
            of the agreement related people would explain, ≤ 0; see :mod:`rules.match.model`), ``match_weight``,
            ``match_probability`` and ``cannot_link`` (never merged: see :func:`never_linked`).
        clusters: ``_rid``, ``cluster`` for every record, sorted by ``_rid``; a cluster's label is its smallest
            ``_rid`` (existing clusters keep their label in incremental runs).
        review: possible matches for a person: the pairs in ``[review_threshold, threshold)`` plus confident
            pairs that clustering refused, with ``reason`` (``band``, ``cannot_link``, ``linkage_check``,
            ``joins_existing``; with constraints also ``decision``: a link a cannot-link cut, and
            ``decision_conflict``: a constraint that contradicts newer ones). Pairs a constraint decided are left out.
        model: the model that scored the pairs (trained in this call when none was given).
        blocking: one row per blocking rule used: ``rule``, ``estimated_pairs``, ``pairs`` (pairs it proposed,
            before the union) and ``recall`` (its estimated share of the true matches, null when unknown).
        blocking_recall: estimated share of the true matches the rules together propose (None when too few pairs
            are certain to tell); see :func:`rules.match.blocking.estimate_recall`.
        dropped_rules: rules that could not be used, with the reason (automatic rules whose columns are empty,
            listed rules naming an absent column).
        candidates: how many candidate pairs were scored (more than ``pairs`` holds with ``keep_pairs_above``).
    """

    pairs: pl.DataFrame
    clusters: pl.DataFrame
    review: pl.DataFrame
    model: MatchModel
    blocking: pl.DataFrame = field(default_factory=pl.DataFrame)
    blocking_recall: float | None = None
    dropped_rules: dict[str, str] = field(default_factory=dict)
    candidates: int = 0


class Engine(Protocol):
    """Where a run's heavy steps run: work on each item of a list (reading a migrate run's sources), on each row
    (normalising, preparing), finding the candidate pairs and comparing pairs.

    :class:`LocalEngine` (the default) runs them in this process; ``pipelines.dask_engine.DaskEngine`` on the
    workers of a Dask cluster. Every engine gives the same rows, pairs and comparison levels, so the same answer:
    the rest of the run (training, scoring, clustering) is the same code either way."""

    def by_rows(self, fn: Callable[[pl.DataFrame], pl.DataFrame], frame: pl.DataFrame) -> pl.DataFrame:
        """``fn`` applied to ``frame``; ``fn`` works row by row (its rows depend on that row alone), so an engine
        may apply it to slices of rows and stack the results in order."""
        ...

    def candidate_pairs(self, prepared: pl.DataFrame, rules: list[BlockingRule]) -> pl.DataFrame:
        """``left``, ``right`` and ``_rules``: :func:`rules.match.blocking.candidate_pairs` with ``named=False``
        (the matcher names the rules of the pairs it returns only)."""
        ...

    def comparer(self, prepared: pl.DataFrame, settings: MatchSettings) -> PairComparer: ...

    def each(self, fn: Callable[[T], R], items: list[T], done: Callable[[R], None] | None = None) -> list[R]:
        """``fn`` of every item, in the items' order (an engine may run them at once, each a task of its own);
        ``done`` hears each result as it comes, in any order."""
        ...


class LocalEngine:
    """This process: ``fn(frame)``, :func:`rules.match.blocking.candidate_pairs` and a :class:`Comparer`."""

    def by_rows(self, fn: Callable[[pl.DataFrame], pl.DataFrame], frame: pl.DataFrame) -> pl.DataFrame:
        return fn(frame)

    def candidate_pairs(self, prepared: pl.DataFrame, rules: list[BlockingRule]) -> pl.DataFrame:
        return candidate_pairs(prepared, rules, named=False)

    def comparer(self, prepared: pl.DataFrame, settings: MatchSettings) -> PairComparer:
        return Comparer(prepared, settings)

    def each(self, fn: Callable[[T], R], items: list[T], done: Callable[[R], None] | None = None) -> list[R]:
        out = []
        for item in items:
            out.append(result := fn(item))
            if done is not None:
                done(result)
        return out


def score_pairs(
    comparer: PairComparer, pairs: pl.DataFrame, model: MatchModel, compared: Compared | None = None
) -> pl.DataFrame:
    """The pairs with their comparison levels and weights, match weight and probability."""
    if compared is None:
        compared = comparer.compare(pairs["left"].to_numpy(), pairs["right"].to_numpy())
    weights, total, prob = score(model, compared)
    cols: list[pl.Series] = []
    # a comparison's weight in 4 bytes (see score; it explains a pair, the match weight decides): a third less
    # memory for the scored pairs, whose weights were half of it
    for c in model.comparisons:
        # each pair's label gathered from the few labels by its level (a replace per pair cost 0.2 s a million)
        labels = pl.Series(f"{c.name}_level", ["null", *c.levels], dtype=pl.Enum(["null", *c.levels]))
        cols.append(labels.gather(compared.levels[c.name].astype(np.uint32)))
        cols.append(pl.Series(f"{c.name}_weight", weights.pop(c.name), dtype=pl.Float32))
    cols.append(pl.Series("related_weight", weights.pop("related"), dtype=pl.Float32))
    veto = never_linked(compared, comparer.comparisons, model)
    out = pairs.with_columns(
        *cols,
        pl.Series("match_weight", total, dtype=pl.Float64),
        pl.Series("match_probability", prob, dtype=pl.Float64),
        pl.Series("cannot_link", veto, dtype=pl.Boolean),
    )
    return out


#: Pairs scored at once when only the pairs above ``keep_pairs_above`` are kept (the weights of one chunk in memory).
SCORE_CHUNK = 2_000_000
#: More candidate pairs than this, all kept, and the run says how to keep fewer.
MANY_PAIRS = 20_000_000


def _scored(
    comparer: PairComparer, pairs: pl.DataFrame, model: MatchModel, compared: Compared, floor: float
) -> tuple[pl.DataFrame, np.ndarray]:
    """The scored pairs with a match probability of at least ``floor`` (every pair at 0), and every pair's
    probability. Above 0 the pairs are scored a chunk at a time, so the left-out ones never all hold weights."""
    if floor <= 0 and pairs.height > MANY_PAIRS:
        logger.warning(
            "keeping all %s scored pairs in memory (about %.1f GiB); match.keep_pairs_above: 0.01 keeps only the "
            "pairs anyone looks at",
            f"{pairs.height:,}",
            pairs.height * 80 / 2**30,
        )
    step = SCORE_CHUNK if floor > 0 else max(pairs.height, 1)  # at 0 one chunk: slices are views, nothing copied
    kept, probability = [], []
    for start in range(0, max(pairs.height, 1), step):
        part = slice(start, start + step)
        chunk = score_pairs(comparer, pairs[part], model, compared.subset(part))
        probability.append(chunk["match_probability"].to_numpy())
        kept.append(chunk.filter(pl.col("match_probability") >= floor) if floor > 0 else chunk)
    return pl.concat(kept), np.concatenate(probability)


#: Records from which the big sets of candidate pairs (see :func:`rules.match.blocking.sample_pairs`) are sampled
#: past ``MatchSettings.loose_pairs``: a smaller table compares them all (a second of work at most).
LOOSE_SAMPLE_RECORDS = 100_000
#: The sampled sets' pairs left out are compared after all, the sets that add the fewest links per pair left out
#: first, while by the samples they would add more than this share of the links (pairs at or above the match
#: threshold) in all.
LOOSE_MATCH_SHARE = 0.001


def _sets_worth_comparing(sampled: SampledPairs, probability: np.ndarray, threshold: float) -> np.ndarray:
    """Per pair left out of a sample, whether to compare it after all: each set's expected links among its pairs
    left out (the sample's links, scaled by pairs left out over pairs kept), and the sets that would add the fewest
    links per pair are left out while, together, they would add at most :data:`LOOSE_MATCH_SHARE` of all links.
    (Links, not the sum of probabilities: a quarter of a million strangers at 10⁻⁴ each would add up to matches
    nobody would link.)"""
    links = probability >= threshold
    sets = int(sampled.group.max()) + 1
    in_sample = sampled.group >= 0
    found = np.bincount(sampled.group[in_sample & links], minlength=sets)
    kept = np.bincount(sampled.group[in_sample], minlength=sets)
    left = np.bincount(sampled.left_group, minlength=sets)
    expected = found * left / np.maximum(kept, 1)
    allowed = LOOSE_MATCH_SHARE * max(float(links.sum()), 1.0)
    compare = np.ones(sets, dtype=bool)
    spent = 0.0
    for g in np.argsort(expected / np.maximum(left, 1), kind="stable"):
        if spent + expected[g] >= allowed:
            break
        spent += expected[g]
        compare[g] = False
    if (~compare).any():
        logger.info(
            "%s candidate pairs left uncompared: about %.0f links among them, by samples of their sets",
            f"{int(left[~compare].sum()):,}",
            spent,
        )
    return np.asarray(compare[sampled.left_group], dtype=bool)


def _with_sets_worth_comparing(
    comparer: PairComparer,
    model: MatchModel,
    settings: MatchSettings,
    sampled: SampledPairs,
    pairs: pl.DataFrame,
    scored: pl.DataFrame,
    probability: np.ndarray,
) -> tuple[pl.DataFrame, pl.DataFrame, np.ndarray, np.ndarray]:
    """The sampled sets whose pairs left out hold links worth finding compared and scored too, and added: the
    pairs, scored pairs and probabilities in the order of the candidate pairs, and each pair's weight (the candidate
    pairs it stands for: more than 1 only in the samples of the sets left out)."""
    worth = _sets_worth_comparing(sampled, probability, settings.threshold)
    rest = sampled.left_out.filter(pl.Series(worth))
    weight = np.where(np.isin(sampled.group, np.unique(sampled.left_group[worth])), 1.0, sampled.weight)
    if not rest.height:
        return pairs, scored, probability, weight
    compared = comparer.compare(rest["left"].to_numpy(), rest["right"].to_numpy())
    more, more_probability = _scored(comparer, rest, model, compared, settings.keep_pairs_above)
    del compared
    # in the order of the candidate pairs, as if compared at once: the pairs sorted once, as one number each, and
    # both frames put in that order (976k CRM records: two sorts on the two columns 0.7 s, this 0.2)
    order = _pair_order(pairs, rest)
    both = pl.concat([pairs, rest], rechunk=True).with_columns(
        pl.Series("_p", np.concatenate([probability, more_probability])),
        pl.Series("_w", np.concatenate([weight, np.ones(rest.height)])),
    )[order]
    aligned = scored.height == pairs.height and more.height == rest.height  # every pair kept (keep_pairs_above 0)
    scored = pl.concat([scored, more], rechunk=True)[order if aligned else _pair_order(scored, more)]
    return both.drop("_p", "_w"), scored, both["_p"].to_numpy(), both["_w"].to_numpy()


def _pair_order(first: pl.DataFrame, second: pl.DataFrame) -> pl.Series:
    """The positions of the rows of ``pl.concat([first, second])`` (distinct pairs) in ``left, right`` order,
    sorted as one number per pair where the ``_rid`` values allow it (a third of sorting on the two columns)."""
    ends = pl.concat([first.select("left", "right"), second.select("left", "right")]).cast(pl.Int64)
    lowest, highest = ends["left"].min(), ends["right"].max()
    if not isinstance(lowest, int) or not isinstance(highest, int) or highest - lowest >= 2**31:
        return ends.select(pl.arg_sort_by("left", "right")).to_series()
    span = highest - lowest + 1
    return ((ends["left"] - lowest) * span + (ends["right"] - lowest)).arg_sort()


def generations_apart(model: MatchModel) -> bool:
    """Whether, in this data, one name with birth dates a generation apart means two people (a father and a son)
    rather than a date replaced wholesale.

    Where dates are replaced wholesale (a typist's guess, a generator's corruption) the matches often carry a date
    15+ years off (``else``), spread as dates between strangers are: ``else`` is no likelier against
    ``within_15_years`` among the pairs EM calls matches than among random pairs. Otherwise (few such matches, or
    an excess exactly a generation apart: people of one name in two generations that EM absorbed) it is a conflict.
    """
    try:
        dob = model.comparison("birth_date")
    except KeyError:
        return False
    if not {"within_15_years", "else"} <= set(dob.levels):
        return True
    far, near = dob.levels.index("else"), dob.levels.index("within_15_years")
    replaced = dob.m[far] >= 0.01 and dob.m[far] / dob.u[far] <= 2.0 * dob.m[near] / dob.u[near]
    return not replaced


def never_linked(compared: Compared, comparisons: list[Comparison], model: MatchModel) -> np.ndarray:
    """Pairs never put in one cluster: a ``cannot_link`` comparison clearly disagrees, or one name is borne by
    two generations (Jr against Sr; the same name with birth dates a generation apart, see
    :func:`generations_apart`)."""
    out = compared.veto.copy() if compared.veto is not None else np.zeros(len(compared), dtype=bool)
    by_name = {c.name: c for c in comparisons}
    name, dob = by_name.get("name"), by_name.get("birth_date")
    name_levels = compared.levels.get("name")
    if name is None or name_levels is None:
        return out
    if "other_generation" in name.labels:
        out |= name_levels == name.labels.index("other_generation") + 1
    dob_levels = compared.levels.get("birth_date")
    if dob is not None and dob_levels is not None and generations_apart(model):
        same_name = np.isin(name_levels, [name.labels.index(x) + 1 for x in ("exact", "same_key") if x in name.labels])
        out |= same_name & (dob_levels == len(dob.levels))
    return out


def _weight_fn(comparer: PairComparer, model: MatchModel) -> WeightFn:
    """Match weight of any pair for the average-linkage clustering, ``-inf`` for a pair never linked."""

    def weight_of(left: np.ndarray, right: np.ndarray) -> np.ndarray:
        compared = comparer.compare(left, right)
        weight = score(model, compared)[1]
        return np.where(never_linked(compared, comparer.comparisons, model), -np.inf, weight)

    return weight_of


def _review(scored: pl.DataFrame, settings: MatchSettings, refused: pl.DataFrame | None = None) -> pl.DataFrame:
    band = scored.filter(
        (pl.col("match_probability") >= settings.review_threshold) & (pl.col("match_probability") < settings.threshold)
    ).with_columns(pl.lit("band").alias("reason"))
    parts = [band]
    if refused is not None and refused.height:
        parts.append(refused)
    return pl.concat(parts, how="vertical_relaxed").sort("left", "right")


def cluster(
    rids: pl.Series | np.ndarray | list[int],
    scored: pl.DataFrame,
    threshold: float,
    *,
    weight_of: WeightFn | None = None,
    max_size: int = 200,
    linkage_threshold: float = 0.5,
) -> pl.DataFrame:
    """Clusters of the pairs at or above ``threshold``.

    Connected components; when ``weight_of`` (match weight of aligned ``_rid`` arrays, ``-inf`` for cannot-link
    pairs) is given, every component that is not complete is re-clustered by average linkage (see
    :mod:`rules.match.linkage`). ``scored`` needs ``left``, ``right`` and ``match_probability``,
    plus ``match_weight`` for the check.

    Returns:
        ``_rid`` and ``cluster`` for every rid (sorted by ``_rid``); the label is the cluster's smallest
        ``_rid``, so labels do not depend on row order. Singletons are their own cluster.
    """
    return _cluster(rids, scored, threshold, weight_of, max_size, linkage_threshold)[0]


def _cluster(
    rids: pl.Series | np.ndarray | list[int],
    scored: pl.DataFrame,
    threshold: float,
    weight_of: WeightFn | None,
    max_size: int,
    linkage_threshold: float = 0.5,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    nodes = sorted_unique(pl.Series(rids).to_numpy())
    edges = scored.filter(pl.col("match_probability") >= threshold)
    refused = edges.clear().with_columns(pl.lit(None, pl.String).alias("reason"))
    if "cannot_link" in edges.columns:
        refused = edges.filter(pl.col("cannot_link")).with_columns(pl.lit("cannot_link").alias("reason"))
        edges = edges.filter(~pl.col("cannot_link"))
    if weight_of is not None and edges.height:
        labels, kept = average_linkage(
            nodes,
            edges,
            weight_of,
            threshold=prob_to_weight(threshold),
            cut=prob_to_weight(linkage_threshold),
            max_size=max_size,
        )
        refused = pl.concat(
            [refused, edges.filter(~pl.Series(kept)).with_columns(pl.lit("linkage_check").alias("reason"))]
        )
    else:
        labels = components(nodes, edges["left"].to_numpy(), edges["right"].to_numpy())
    dtype = scored.schema.get("left", pl.Int64)
    out = pl.DataFrame({RID: nodes, "cluster": labels}).with_columns(
        pl.col(RID).cast(dtype), pl.col("cluster").cast(dtype)
    )
    return out, refused


#: Broader rules used only to train a comparison no blocking rule's session can estimate (a table whose only
#: rule is its phone numbers still gets its phone comparison trained, on pairs of one name).
_TRAINING_RULES: tuple[BlockingRule, ...] = (
    *AUTO_RULES,
    BlockingRule(on=("name_key",), max_block=200),
    BlockingRule(on=("_fam", "_dob"), max_block=500),
    BlockingRule(on=("_dob",), max_block=200),
    BlockingRule(on=("_mobiles",)),
    BlockingRule(on=("email",)),
    BlockingRule(on=("company_key",), max_block=200),
)


def match_columns(settings: MatchSettings | None = None, *, constraints: bool = False) -> frozenset[str]:
    """The columns of a normalised record that :func:`match` may read: those :func:`prepare_records` derives from,
    those comparisons and any blocking or training rule read, and with ``constraints`` the rows' fingerprints. A
    caller holding wide records (notes, owner, attributes, timestamps ...) can read or keep only these and match
    the same: 330k hand-over records read whole held 0.32 GiB more at the peak of matching."""
    settings = settings or MatchSettings()
    listed = [] if settings.blocking == "auto" else settings.blocking
    rules = (*AUTO_RULES, *LOOSE_RULES, *_TRAINING_RULES, *listed)
    wanted = {RID, *READS, *MATCHING_COLUMNS, *(c for r in rules for c in r.on)}
    return frozenset(wanted | set(FINGERPRINT_FIELDS) if constraints else wanted)


def _training_pairs(
    prepared: pl.DataFrame, comparer: PairComparer, settings: MatchSettings
) -> Callable[[Comparison], tuple[str, BlockingRule, Compared] | None]:
    """For a comparison no session estimated: the pairs of the first training rule whose session may estimate it,
    preferring rules on one concept (they leave the most comparisons as evidence)."""
    tried: dict[str, Compared | None] = {}
    ordered = sorted(_TRAINING_RULES, key=lambda r: len({concept_of(c) for c in r.on}))

    def pairs_for(comparison: Comparison) -> tuple[str, BlockingRule, Compared] | None:
        for rule in ordered:
            if any(c not in prepared.columns for c in rule.on):
                continue
            estimable = [comparer.comparisons[i].name for i in session_comparisons(rule, comparer.comparisons)]
            if comparison.name not in estimable:
                continue
            if rule.name not in tried:
                # capped so the session's pairs stay within budget before any join (a birth date alone pairs
                # tens of millions of strangers in a big table)
                capped, _, _ = fit_to_budget(prepared, rule, settings.training.session_pairs)
                pairs = candidate_pairs(prepared, [capped], named=False)
                enough = pairs.height >= 50
                tried[rule.name] = (
                    comparer.compare(pairs["left"].to_numpy(), pairs["right"].to_numpy()) if enough else None
                )
            compared = tried[rule.name]
            if compared is None or (compared.levels[comparison.name] > 0).sum() < 50:
                continue
            return f"training:{rule.name}", rule, compared
        return None

    return pairs_for


def _blocking_table(
    plan: BlockingPlan, pairs: pl.DataFrame, recall: dict[str, float | None], weight: np.ndarray | None = None
) -> pl.DataFrame:
    """One row per rule: its estimated and proposed pairs (``weight``: the candidate pairs each pair of ``pairs``
    stands for, see :func:`rules.match.blocking.sample_pairs`) and its estimated recall."""
    names = [r.name for r in plan.rules]
    bits = proposed_bits(pairs, names)
    each = np.ones(len(bits)) if weight is None else weight
    per_rule = {name: round(float((((bits >> i) & 1) * each).sum())) for i, name in enumerate(names)}
    return pl.DataFrame(
        {
            "rule": names,
            "estimated_pairs": [plan.estimates.get(n, 0) for n in names],
            "pairs": [int(per_rule.get(n, 0)) for n in names],
            "recall": [recall.get(n) for n in names],
        },
        schema={"rule": pl.String, "estimated_pairs": pl.Int64, "pairs": pl.Int64, "recall": pl.Float64},
    )


def _recall_and_table(
    prepared: pl.DataFrame, plan: BlockingPlan, pairs: pl.DataFrame, probability: np.ndarray, weight: np.ndarray | None
) -> tuple[dict[str, float | None], pl.DataFrame]:
    """The estimated blocking recall (see :func:`rules.match.blocking.estimate_recall`) and the blocking table."""
    rules = list(plan.rules)
    recall = estimate_recall(prepared, rules, pairs, probability, open_share=plan.open_share, weight=weight)
    return recall, _blocking_table(plan, pairs, recall, weight)


def match(
    df: pl.DataFrame,
    settings: MatchSettings | None = None,
    model: MatchModel | None = None,
    *,
    labels: pl.DataFrame | None = None,
    constraints: pl.DataFrame | None = None,
    engine: Engine | None = None,
) -> MatchResult:
    """Block, compare, score and cluster the rows of a normalised frame.

    Args:
        df: normalised records with a unique integer ``_rid`` (see :mod:`rules.match.prepare` for the columns
            read; absent columns are "unknown", never "different").
        settings: blocking rules, comparisons, thresholds (default :class:`MatchSettings`).
        model: a trained model to score with; when None one is trained on ``df`` (no labels needed).
        labels: optional ``left, right, is_match`` known pairs used to improve m when training.
        constraints: optional ``left, right, must_link`` (steward decisions, first rows first): every kept
            must-link pair ends in one cluster, no kept cannot-link pair does (see
            :mod:`rules.match.constraints`); decided pairs leave ``review``.
        engine: where candidate pairs are found and compared (default :class:`LocalEngine`: this process); the
            result does not depend on it.

    Raises:
        BlockingError: no listed blocking rule can be used.
        ValueError: ``_rid`` missing, not unique, or a model trained with other comparisons.
    """
    settings = settings or MatchSettings()
    prepared = df if is_prepared(df) else prepare_records(df)
    engine = engine or LocalEngine()

    # the comparer's side table, and u from its random pairs when a model is trained, are made in a thread beside
    # the blocking plan and the candidate pairs, which read the prepared records only: each runs while the other
    # waits on its polars work (976k CRM records: 1.1 s of wall time). From LOOSE_SAMPLE_RECORDS records u goes on
    # beside the comparing of the candidate pairs too, needed only by the training (976k CRM records: the comparing
    # waited 1 s for it); a smaller table waits for u first, where both at once would be the peak of memory
    # (Febrl4's 10k records: 0.42 -> 0.49 GiB) for a fraction of a second
    with ThreadPoolExecutor(max_workers=1) as pool:
        building = pool.submit(engine.comparer, prepared, settings)
        estimating = pool.submit(lambda: u_probabilities(building.result(), settings)) if model is None else None
        plan = derive_rules(prepared, settings)
        rules = list(plan.rules)
        pairs = engine.candidate_pairs(prepared, rules)
        sampled = None
        if prepared.height >= LOOSE_SAMPLE_RECORDS:  # a smaller table compares every pair (a second of work at most)
            sampled = sample_pairs(pairs, rules, settings.loose_pairs, settings.training.seed)
        pairs, pair_weight = (sampled.pairs, sampled.weight) if sampled is not None else (pairs, None)
        comparer = building.result()
        if estimating is not None and prepared.height < LOOSE_SAMPLE_RECORDS:
            estimating.result()
        compared = comparer.compare(pairs["left"].to_numpy(), pairs["right"].to_numpy())
        u = estimating.result() if estimating is not None else None
    if model is None:
        extra = _training_pairs(prepared, comparer, settings)
        model = fit(
            comparer, pairs, compared, settings, rules, labels, extra_sessions=extra, pair_weight=pair_weight, u=u
        )
    else:
        model.check_specs(comparer.comparisons)
    scored, probability = _scored(comparer, pairs, model, compared, settings.keep_pairs_above)
    # what is not needed any more goes now, not at the return: the clusters and review are made beside whatever is
    # still held (1M people: 3.06 -> 2.90 GiB)
    del compared  # the levels live on in `scored` (5M pairs: 0.2 GiB)
    if sampled is not None:
        pairs, scored, probability, pair_weight = _with_sets_worth_comparing(
            comparer, model, settings, sampled, pairs, scored, probability
        )
        del sampled
    candidates = pairs.height
    check = _weight_fn(comparer, model) if settings.cluster_check == "average_linkage" else None
    del comparer  # `check` keeps it for the clustering, then it goes (its coded text columns)
    edges = scored
    if constraints is not None:
        kept, _ = resolve_constraints(constraints, rids=df[RID])
        edges = with_constraints(scored, kept)
        check = constrained_weights(check, kept) if check is not None else None
    # the blocking recall is estimated beside the clustering, whose average-linkage check runs much in Python and
    # leaves a core idle (976k CRM records: 0.9 s of wall time)
    # (and the pairs returned get their rules' names there: they carried them as bits)
    with ThreadPoolExecutor(max_workers=1) as pool:
        recalled = pool.submit(_recall_and_table, prepared, plan, pairs, probability, pair_weight)
        named = pool.submit(with_rule_names, scored, rules)
        del pairs, probability  # `scored` holds the pairs kept; the thread's go when it is done
        clusters, refused = _cluster(
            df[RID], edges, settings.threshold, check, settings.max_cluster_size, settings.linkage_threshold
        )
        recall, blocking = recalled.result()
        scored = named.result()
    del check, edges
    refused = with_rule_names(refused, rules)
    clusters = clusters.with_columns(pl.col(RID).cast(df.schema[RID]), pl.col("cluster").cast(df.schema[RID]))
    review = _review(scored, settings, refused)
    if constraints is not None:
        constrained = apply_constraints(clusters, scored, constraints)
        clusters, review = constrained.clusters, constrained_review(review, scored, constrained, settings.threshold)
    logger.info(
        "matched %s records: %s candidate pairs, %s clusters, blocking recall %s",
        df.height,
        candidates,
        clusters["cluster"].n_unique(),
        "unknown" if recall["total"] is None else f"{recall['total']:.3f}",
    )
    return MatchResult(
        scored,
        clusters,
        review,
        model,
        blocking,
        recall["total"],
        plan.dropped,
        candidates,
    )


class _Sets:
    """Union-find whose sets remember the existing cluster they contain (at most one)."""

    def __init__(self) -> None:
        self.parent: dict[object, object] = {}
        self.existing: dict[object, int | None] = {}

    def add(self, key: object, existing: int | None) -> None:
        if key not in self.parent:
            self.parent[key] = key
            self.existing[key] = existing

    def find(self, key: object) -> object:
        root = key
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[key] != root:
            self.parent[key], key = root, self.parent[key]
        return root

    def union(self, a: object, b: object) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return True
        ea, eb = self.existing[ra], self.existing[rb]
        if ea is not None and eb is not None and ea != eb:
            return False
        self.parent[rb] = ra
        self.existing[ra] = ea if ea is not None else eb
        return True


def match_incremental(
    new_records: pl.DataFrame,
    existing_records: pl.DataFrame,
    existing_clusters: pl.DataFrame,
    settings: MatchSettings,
    model: MatchModel,
    *,
    constraints: pl.DataFrame | None = None,
) -> MatchResult:
    """Match new records against records already clustered, without touching existing decisions.

    Only pairs involving a new record are blocked and scored (existing × existing never is), with the blocking
    rules the model was trained with. Term frequencies come from existing ∪ new, as in a full run, counted only
    for the values the paired records hold; existing records already prepared (``crmkit dedupe``'s saved state)
    are not prepared again, so a thousand new records meet a million existing ones in about a second.

    Links are taken strongest first (union-find); a link that would join two existing clusters is refused and
    returned for review (``joins_existing``): existing clusters are never merged or split and keep their labels.
    New records that join no existing cluster form clusters labelled by their smallest ``_rid``, after the same
    average-linkage clustering as a full run.

    Guarantee (tested on the sample): with ``existing_clusters`` equal to the full run's clusters of the
    existing records and the same model, the result equals the full run on existing ∪ new, except (a) where a
    new record links two existing clusters (the full run may merge them; here the link goes to review as
    ``joins_existing``) and (b) where the full run's average-linkage check, which sees the whole cluster, cuts
    a new record's link into an existing cluster (here a new record joins by its strongest link; existing
    clusters are not re-checked). Measured on 1,259 sample records split 50/50: one record differs. Existing
    records never change cluster. When the existing clusters came from a run on the existing records alone,
    those clusters may differ from a full run (other term frequencies, no evidence from the new records).

    Args:
        new_records: normalised new records with ``_rid`` values not used by ``existing_records``.
        existing_records: the normalised records already matched.
        existing_clusters: ``_rid``, ``cluster`` of every existing record.
        settings: as for :func:`match`.
        model: the model of the earlier run (required: training needs the full population).
        constraints: as for :func:`match`. Existing clusters stay whole: a must-link merges the clusters of its
            records, a cannot-link keeps a new record out of an existing cluster (a cannot-link inside one
            existing cluster is ignored: a full run can split it).

    Returns:
        ``pairs`` and ``review`` of the new pairs; ``clusters`` of every record, existing and new.
    """
    check_rid(new_records)
    check_rid(existing_records)
    if new_records.select(RID).join(existing_records.select(RID), on=RID, how="semi").height:
        raise ValueError("new records reuse _rid values of existing records")
    old = existing_clusters.select(pl.col(RID).cast(pl.Int64), pl.col("cluster").cast(pl.Int64))
    if (
        old.height != existing_records.height
        or old.join(existing_records.select(pl.col(RID).cast(pl.Int64)), on=RID, how="anti").height
    ):
        raise ValueError("existing_clusters must give the cluster of every existing record, and only of those")
    # records prepared by an earlier run (crmkit dedupe's saved state) are not prepared again
    existing = existing_records if is_prepared(existing_records) else prepare_records(existing_records)
    fresh_prepared = new_records if is_prepared(new_records) else prepare_records(new_records)
    rules = model.blocking_rules() or list(derive_rules(existing, settings).rules)
    # only the columns blocking and comparisons read: a narrow union of a million records is cheap to build
    wanted = {RID, *MATCHING_COLUMNS, *(c for r in rules for c in r.on)}
    columns = [c for c in existing.columns if c in wanted and c in fresh_prepared.columns]
    prepared = pl.concat([existing.select(columns), fresh_prepared.select(columns)], how="vertical_relaxed").rechunk()
    new = new_records[RID].cast(prepared.schema[RID])
    pairs = candidate_pairs(prepared, rules, new=new)
    involved = pl.concat([pairs["left"], pairs["right"], new]).unique().implode()
    comparer = Comparer(prepared.filter(pl.col(RID).is_in(involved)), settings, population=prepared)
    model.check_specs(comparer.comparisons)
    scored = score_pairs(comparer, pairs, model)
    candidates = scored
    if constraints is not None:
        candidates = with_constraints(scored, resolve_constraints(constraints, old, rids=prepared[RID])[0])
    vetoed = candidates.filter((pl.col("match_probability") >= settings.threshold) & pl.col("cannot_link"))
    edges = candidates.filter((pl.col("match_probability") >= settings.threshold) & ~pl.col("cannot_link")).sort(
        ["match_probability", "left", "right"], descending=[True, False, False]
    )
    existing_of = dict(zip(old[RID].to_list(), old["cluster"].to_list(), strict=True))
    sets = _Sets()
    for rid in new.to_list():
        sets.add(rid, None)
    refused_rows: list[int] = []
    for i, (a, b) in enumerate(edges.select("left", "right").iter_rows()):
        ka = ("c", existing_of[a]) if a in existing_of else a
        kb = ("c", existing_of[b]) if b in existing_of else b
        for k, r in ((ka, a), (kb, b)):
            sets.add(k, existing_of.get(r))
        if not sets.union(ka, kb):
            refused_rows.append(i)
    refused = pl.concat(
        [
            vetoed.with_columns(pl.lit("cannot_link").alias("reason")),
            edges[refused_rows].with_columns(pl.lit("joins_existing").alias("reason")),
        ]
    )
    accepted = edges.filter(~pl.Series(np.isin(np.arange(edges.height), refused_rows)))
    new_list = new.to_list()
    assigned = {rid: sets.existing[sets.find(rid)] for rid in new_list}
    # new-only groups: the same average-linkage clustering as a full run, on their edges
    fresh = [r for r in new_list if assigned[r] is None]
    fresh_set = set(fresh)
    fresh_ids = pl.Series(fresh, dtype=accepted.schema["left"]).implode()
    inner = accepted.filter(pl.col("left").is_in(fresh_ids) & pl.col("right").is_in(fresh_ids))
    nodes = sorted_unique(fresh)
    if settings.cluster_check == "average_linkage" and inner.height:
        fresh_labels, kept = average_linkage(
            nodes,
            inner,
            _weight_fn(comparer, model),
            threshold=prob_to_weight(settings.threshold),
            cut=prob_to_weight(settings.linkage_threshold),
            max_size=settings.max_cluster_size,
        )
        refused = pl.concat(
            [refused, inner.filter(~pl.Series(kept)).with_columns(pl.lit("linkage_check").alias("reason"))],
            how="vertical_relaxed",
        )
    else:
        fresh_labels = components(nodes, inner["left"].to_numpy(), inner["right"].to_numpy()) if len(nodes) else nodes
    labels = fresh_labels
    fresh_label = dict(zip(nodes.tolist(), labels.tolist(), strict=True))
    rows = [(rid, assigned[rid] if rid not in fresh_set else fresh_label[rid]) for rid in new_list]
    new_clusters = pl.DataFrame(rows, schema={RID: pl.Int64, "cluster": pl.Int64}, orient="row")
    dtype = new_records.schema[RID]
    clusters = (
        pl.concat([old, new_clusters]).sort(RID).with_columns(pl.col(RID).cast(dtype), pl.col("cluster").cast(dtype))
    )
    review = _review(scored, settings, refused)
    if constraints is not None:
        constrained = apply_constraints(clusters, scored, constraints, groups=old)
        clusters, review = constrained.clusters, constrained_review(review, scored, constrained, settings.threshold)
    return MatchResult(scored, clusters, review, model, candidates=scored.height)

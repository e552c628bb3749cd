"""A Fellegi-Sunter model with a third class for related people, trained without labels.

Plain Fellegi-Sunter sorts pairs into matches and non-matches and treats the comparisons as independent within
each class. Real customer data breaks that in one systematic way: colleagues share a switchboard, a company, its
e-mail domain and its address; relatives share a surname, a home landline and an address. Such pairs agree on
several contact details *because* they are related, so independence multiplies that agreement into a confident
match, and EM learns them as matches (their names then look like a normal disagreement among matches). Here the
non-matches are split in two latent classes:

- **matches** (m): the same person, written twice;
- **related** (r): different people who share contact details: colleagues, households, a father and his son;
- **unrelated** (u): everyone else, i.e. random pairs.

Within each class comparisons are independent, as in Fellegi-Sunter. A pair's match probability is
``λm·M / (λm·M + λr·R + λu·U)`` where ``M = Π m``, ``R = Π r``, ``U = Π u`` over its comparison levels.

- **u**: the level frequencies of ``training.u_sample_pairs`` random record pairs (fixed seed; the costly
  string-similarity levels and those after them on ``training.u_fuzzy_pairs`` of them, scaled up), smoothed towards
  an ordered default with ``U_PRIOR_PAIRS`` pseudo-pairs; levels with a term frequency use the agreeing value's
  frequency instead (agreeing on 张伟 or on a big office's address counts less than on a rare value). A
  frequency of records, (count − 1)/(N − 1), also counts the person's own other records: λm·(N − 1) of them
  on average, which are taken out, so a name held by just one person's two records is not "shared".
- **m and r** by expectation-maximisation on the blocked candidate pairs, one session per blocking rule as in
  Splink: a session leaves out the comparisons its rule reads (its pairs agree on them by construction). EM is
  maximum a posteriori: each m and r starts from the level's starting values (:class:`rules.match.Level`:
  agreement for matches; for related people, agreement on contact details and disagreement on who they are)
  worth ``training.m_prior_matches`` pseudo-pairs, and no m ends below ``training.m_floor``, so no level becomes a
  veto by accident. A session estimates a comparison only when the other comparisons it sees carry enough
  evidence; a comparison no rule's session can estimate gets a session on training-only pairs
  (:func:`rules.match.engine.match`); one that still has none is listed in ``MatchModel.untrained``. Pairs vetoed
  by ``cannot_link`` are never matches. Labelled matching pairs, when given, add their level counts to m.
- **λm and λr** (the chance that two random records are the same person, or related): a fixed point over all
  N·(N−1)/2 pairs with m, r and u fixed, where pairs outside the candidates are unrelated, on the likelihoods the
  scoring uses (u adjusted by term frequency). A first estimate by comparison-vector pattern, with one u per level,
  sets the frequencies' own-duplicate correction; with one u per level a household's shared address weighs the same
  in a suburb's register as in a country's, and at a million records the related class fell to nothing (10⁻²²).

**Weights.** Each comparison's weight is log2(m/u) (the classic Fellegi-Sunter weight, tf-adjusted), and one more
term, the *related adjustment* log2(λu·U / (λr·R + λu·U)) ≤ 0, says how much of the agreement relatives or
colleagues would explain. match weight = log2(λm/λu) + Σ weights + related adjustment; match probability =
2^w / (1 + 2^w) (:func:`prob_to_weight`, :func:`weight_to_prob`). Without contact agreement the adjustment is about
0 and the model is plain Fellegi-Sunter.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import polars as pl

from .blocking import concept_of, proposed_bits
from .comparisons import SKIPPED, Compared, Comparison, PairComparer
from .settings import BlockingRule, MatchSettings, TrainingSettings

__all__ = [
    "ComparisonModel",
    "MatchModel",
    "fit",
    "prob_to_weight",
    "score",
    "session_comparisons",
    "u_probabilities",
    "weight_to_prob",
]

logger = logging.getLogger(__name__)

MODEL_VERSION = 3


def prob_to_weight(p: float | np.ndarray) -> Any:
    """Match weight (log2 odds) of a probability: 0.5 → 0, 0.9 → 3.17."""
    p = np.clip(p, 1e-300, 1 - 1e-16)
    out = np.log2(p / (1.0 - p))
    return float(out) if np.ndim(out) == 0 else out


def weight_to_prob(w: float | np.ndarray) -> Any:
    """Probability of a match weight (log2 odds), clipped at ±60 bits."""
    out = 1.0 / (1.0 + np.exp2(-np.clip(w, -60.0, 60.0)))
    return float(out) if np.ndim(out) == 0 else out


@dataclass
class ComparisonModel:
    """One comparison's levels (without ``null``) with their probabilities in each class."""

    name: str
    levels: list[str]
    m: list[float]
    u: list[float]
    tf_levels: list[int] = field(default_factory=list)  # 1-based indexes of term-frequency adjusted levels
    r: list[float] = field(default_factory=list)  # among related people (empty: as u)
    #: tf levels whose frequency counts people (the rest count records, the person's own duplicates included)
    tf_people: list[int] = field(default_factory=list)

    @property
    def weights(self) -> list[float]:
        """log2(m/u) per level."""
        return [math.log2(m / u) for m, u in zip(self.m, self.u, strict=True)]

    @property
    def related(self) -> list[float]:
        """r per level (u when the model has no related class)."""
        return self.r or self.u


@dataclass
class MatchModel:
    """A trained matcher: small, JSON round-trip, saved with a run and shown in its report."""

    prior: float
    comparisons: list[ComparisonModel]
    prior_related: float = 0.0
    tf_minimum_u: float = 1e-8
    n_records: int = 0
    n_candidates: int = 0
    sessions: list[dict[str, Any]] = field(default_factory=list)
    #: Comparisons no session could estimate (their m is the starting guess): shown in the report.
    untrained: list[str] = field(default_factory=list)
    #: The blocking rules of the training run (``BlockingRule`` fields): incremental runs block new records with them.
    blocking: list[dict[str, Any]] = field(default_factory=list)
    version: int = MODEL_VERSION

    @property
    def prior_weight(self) -> float:
        """log2(λm/λu): the weight of the prior, before any comparison."""
        return math.log2(self.prior / max(1.0 - self.prior - self.prior_related, 1e-300))

    def blocking_rules(self) -> list[BlockingRule]:
        """The blocking rules the model was trained with (empty for a model saved without them)."""
        return [BlockingRule.model_validate(rule) for rule in self.blocking]

    def comparison(self, name: str) -> ComparisonModel:
        """The comparison called ``name``."""
        for c in self.comparisons:
            if c.name == name:
                return c
        raise KeyError(f"model has no comparison {name!r}; it has {[c.name for c in self.comparisons]}")

    def to_json(self) -> str:
        """The model as JSON text (stable key order)."""
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True, indent=1)

    @classmethod
    def from_json(cls, text: str) -> MatchModel:
        """Read a model written by :meth:`to_json`."""
        data = json.loads(text)
        if data.get("version") != MODEL_VERSION:
            raise ValueError(f"unsupported match model version {data.get('version')!r} (expected {MODEL_VERSION})")
        data["comparisons"] = [ComparisonModel(**c) for c in data["comparisons"]]
        return cls(**data)

    def to_frame(self) -> pl.DataFrame:
        """``comparison, level, m, u, r, weight, tf_adjusted``: one row per level, for the report."""
        rows = [
            {
                "comparison": c.name,
                "level": lvl,
                "m": m,
                "u": u,
                "r": r,
                "weight": w,
                "tf_adjusted": i + 1 in c.tf_levels,
            }
            for c in self.comparisons
            for i, (lvl, m, u, r, w) in enumerate(zip(c.levels, c.m, c.u, c.related, c.weights, strict=True))
        ]
        return pl.DataFrame(rows)

    def check_specs(self, comparisons: list[Comparison]) -> None:
        """Raise ``ValueError`` when the model was trained with other comparisons or levels than ``comparisons``."""
        mine = [(c.name, tuple(c.levels)) for c in self.comparisons]
        theirs = [(c.name, c.labels) for c in comparisons]
        if mine != theirs:
            raise ValueError(f"the model's comparisons {mine} do not match the settings' comparisons {theirs}")


# ----------------------------------------------------------------------------------------------- training

#: Pseudo-pairs of the default u prior: negligible beside the sampled pairs, decisive when a tiny input offers
#: only a handful of random pairs (where one chance agreement would otherwise make a name look common).
U_PRIOR_PAIRS = 2000.0
#: A session estimates a comparison only when the other comparisons it sees are filled on at least this share of
#: its pairs in total: EM cannot tell the classes apart by one comparison alone.
_MIN_EVIDENCE = 0.2


def _default_u(k: int) -> np.ndarray:
    """Ordered u prior: agreeing levels rare (1e-4, growing 4x per weaker level), ``else`` takes the rest."""
    if k == 1:
        return np.ones(1)
    head = 1e-4 * 4.0 ** np.arange(k - 1)
    if head.sum() > 0.5:  # many levels: keep the agreeing ones rare all the same
        head *= 0.5 / head.sum()
    return np.append(head, 1.0 - head.sum())


#: Random pairs for u compared at once (:data:`U_CHUNK` per thread): their values rarely repeat, so, unlike candidate
#: pairs, bigger chunks share no work and only hold memory; each slice is reduced to level counts at once.
U_CHUNK = 50_000
U_SLICE = 200_000


def u_probabilities(comparer: PairComparer, settings: MatchSettings) -> dict[str, np.ndarray]:
    """u per comparison from random pairs of the comparer's records (none when there are fewer than two records:
    the default alone); what :func:`fit` uses unless given."""
    n = comparer.n
    total = n * (n - 1) // 2
    k = int(min(settings.training.u_sample_pairs, total))
    rng = np.random.default_rng(settings.training.seed)
    i = rng.integers(0, max(n, 1), size=k)
    j = rng.integers(0, max(n - 1, 1), size=k)
    j = j + (j >= i)
    sample = rng.random(k) < settings.training.u_fuzzy_pairs / max(k, 1)
    # compared in the order of their first record (only the counts matter): reading the records in order, not at
    # random, is what most of the time went on
    order = np.argsort(i, kind="stable")
    i, j, sample = i[order], j[order], sample[order]
    tallies = {c.name: np.zeros(len(c.levels) + 2, dtype=np.int64) for c in comparer.comparisons}
    for start in range(0, k, U_SLICE):
        part = slice(start, start + U_SLICE)
        compared = comparer.compare(comparer.rids[i[part]], comparer.rids[j[part]], U_CHUNK, sample[part])
        for name, tally in tallies.items():
            tally += np.bincount(compared.levels[name].astype(np.int64) + 1, minlength=len(tally))
    out = {}
    for comparison in comparer.comparisons:
        counts = _level_counts(tallies[comparison.name], comparison.first_costly)
        out[comparison.name] = (counts + U_PRIOR_PAIRS * _default_u(len(counts))) / (counts.sum() + U_PRIOR_PAIRS)
    return out


def _level_counts(tally: np.ndarray, first_costly: int | None) -> np.ndarray:
    """Pairs per level (1..k) from ``tally`` (pairs per level code + 1: :data:`SKIPPED`, null, then the levels);
    the skipped pairs are shared out among the costly levels as the subsample found them (a ratio estimate: every
    pair that reached them, in the sampled shares)."""
    skipped = tally[SKIPPED + 1]
    counts = tally[2:].astype(np.float64)
    if first_costly is not None and skipped:
        tail = counts[first_costly - 1 :]
        reached = tail.sum() + skipped
        counts[first_costly - 1 :] = tail * reached / max(tail.sum(), 1.0)
    return counts


def _patterns(
    level_arrays: list[np.ndarray], sizes: list[int], weight: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Distinct comparison-vector patterns (rows of level indexes) and how many pairs have each (the sum of their
    ``weight`` when given)."""
    code = np.zeros(len(level_arrays[0]), dtype=np.int64)
    for arr, size in zip(level_arrays, sizes, strict=True):
        code = code * (size + 1) + arr.astype(np.int64)
    # counted by polars' hash grouping, then sorted: np.unique's sort took most of a million-pair session
    found = _counted(pl.DataFrame({"code": code}), "code", weight)
    uniq, counts = found["code"].to_numpy(), found["len"].to_numpy()
    pats = np.zeros((len(uniq), len(sizes)), dtype=np.int64)
    rest = uniq.copy()
    for c in range(len(sizes) - 1, -1, -1):
        pats[:, c] = rest % (sizes[c] + 1)
        rest //= sizes[c] + 1
    return pats, counts.astype(np.float64)


def _counted(frame: pl.DataFrame, key: str, weight: np.ndarray | None) -> pl.DataFrame:
    """``key`` and ``len``: the rows per distinct key (the sum of their ``weight`` when given), in key order (the
    sums in one order: the same result every run)."""
    if weight is None:
        return frame.group_by(key).len().sort(key)
    return frame.with_columns(pl.Series("len", weight)).group_by(key).agg(pl.col("len").sum()).sort(key)


def _likelihoods(pats: np.ndarray, probs: list[np.ndarray]) -> np.ndarray:
    """Π over comparisons of the pattern's level probability (null level: 1)."""
    out = np.ones(len(pats))
    for c, p in enumerate(probs):  # extra trailing columns of pats (the veto flag) are not comparisons
        table = np.concatenate([[1.0], p])
        out *= table[pats[:, c]]
    return out


@dataclass
class _Fit:
    """What one EM run estimated: m and r of its comparisons, the class shares and the posteriors."""

    m: list[np.ndarray]
    r: list[np.ndarray]
    lam_m: float
    lam_r: float
    post_m: np.ndarray
    post_r: np.ndarray
    iterations: int
    converged: bool


def _em(
    pats: np.ndarray,
    counts: np.ndarray,
    starts: tuple[list[np.ndarray], list[np.ndarray]],
    u: list[np.ndarray],
    training: TrainingSettings,
    veto: np.ndarray,
    identity: list[bool],
    fixed: list[bool] | None = None,
    ceilings: list[np.ndarray | None] | None = None,
    r_ceilings: list[np.ndarray | None] | None = None,
) -> _Fit:
    """Maximum a posteriori EM of the three-class model on pattern counts (u fixed; m, r and the shares estimated).

    ``veto`` marks patterns that cannot be matches. Each m and r gets ``training.m_prior_matches`` pseudo-pairs
    spread as its starting values, so a level a session barely sees keeps a sensible probability; r of an
    ``identity`` comparison gets ``training.related_prior_pairs``. The m of a ``fixed`` comparison stays as given;
    an m with ``ceilings`` (per level, ``inf``: none) is held at or under them, the other levels taking the rest,
    and an r with ``r_ceilings`` likewise.
    """
    fixed = fixed or [False] * len(starts[0])
    ceilings = ceilings or [None] * len(starts[0])
    r_ceilings = r_ceilings or [None] * len(starts[0])
    m = [x.copy() for x in starts[0]]
    r = [x.copy() for x in starts[1]]
    related = bool(r)
    r = r if related else [x.copy() for x in m]  # placeholders: the related class is off
    prior_m = [
        x * (training.identity_prior_matches if ident else training.m_prior_matches)
        for x, ident in zip(m, identity, strict=True)
    ]
    prior_r = [
        x * (training.related_prior_pairs if ident else training.m_prior_matches)
        for x, ident in zip(r, identity, strict=True)
    ]
    lam_m, lam_r = 0.3, (0.2 if related else 0.0)
    lu = _likelihoods(pats, u)
    converged = False
    it = 0
    post_m = post_r = np.zeros(len(pats))

    def posteriors() -> tuple[np.ndarray, np.ndarray]:
        a = np.where(veto, 0.0, lam_m * _likelihoods(pats, m))
        b = lam_r * _likelihoods(pats, r)
        c = (1.0 - lam_m - lam_r) * lu
        s = np.maximum(a + b + c, 1e-300)
        return a / s, b / s

    for it in range(1, training.em_iterations + 1):  # noqa: B007
        post_m, post_r = posteriors()
        wm, wr = post_m * counts, post_r * counts
        total = counts.sum()
        lam_m = float(np.clip(wm.sum() / total, 1e-6, 0.98))
        lam_r = float(np.clip(wr.sum() / total, 1e-6, 0.99 - lam_m)) if related else 0.0
        delta = 0.0
        for probs, weights, prior, keep, most in (
            (m, wm, prior_m, fixed, ceilings),
            (r, wr, prior_r, [False] * len(r), r_ceilings),
        )[: 2 if related else 1]:
            for c in range(len(probs)):
                if keep[c]:
                    continue
                k = len(probs[c])
                num = np.bincount(pats[:, c], weights=weights, minlength=k + 1)[1:] + prior[c]
                new = np.clip(num / num.sum(), 1e-9, None)
                new /= new.sum()
                bound = most[c]
                if bound is not None:
                    new = _under(new, bound)
                delta = max(delta, float(np.abs(new - probs[c]).max()))
                probs[c] = new
        if delta < training.em_tolerance:
            converged = True
            break
    post_m, post_r = posteriors()
    return _Fit(m, r, lam_m, lam_r, post_m, post_r, it, converged)


def _under(p: np.ndarray, ceiling: np.ndarray) -> np.ndarray:
    """``p`` with each share over its ceiling lowered to it and the excess spread over the other levels in
    proportion (a ceiling of ``inf`` is none)."""
    over = p > ceiling
    if not over.any():
        return p
    out = np.where(over, ceiling, p)
    free = ~over
    out[free] *= (1.0 - out[over].sum()) / max(out[free].sum(), 1e-300)
    return out


#: Concepts that say how to reach a person; related people (colleagues, relatives) agree on them.
_CONTACT = frozenset({"phone", "email", "company", "address"})


def related_in_session(rule: BlockingRule) -> bool:
    """Whether a session on ``rule`` estimates the related class: only when the rule pairs records by contact
    details alone. A rule that also reads a name or a birth date selects against related people (relatives and
    colleagues rarely share those), so its related pairs are too few to learn from, and EM would fill the class
    with matches whose other details happen to disagree."""
    return {concept_of(c) or c for c in rule.on} <= _CONTACT


def session_comparisons(rule: BlockingRule, comparisons: list[Comparison]) -> list[int]:
    """Indexes of the comparisons an EM session on ``rule`` may estimate: those not reading the rule's concepts
    (its pairs agree on them by construction, which says nothing about matches)."""
    concepts = {concept_of(c) or c for c in rule.on}
    return [i for i, c in enumerate(comparisons) if c.name not in concepts]


@dataclass
class _Session:
    """One session's estimates and how much each counts in the average."""

    idx: list[int]
    m: list[np.ndarray]
    r: list[np.ndarray]
    weight_m: list[float]
    weight_r: list[float]
    info: dict[str, Any]


def _session(
    name: str,
    idx: list[int],
    compared: Compared,
    mask: np.ndarray,
    u: dict[str, np.ndarray],
    comparisons: list[Comparison],
    settings: MatchSettings,
    related: bool,
    known_m: dict[int, np.ndarray] | None = None,
    pair_weight: np.ndarray | None = None,
) -> _Session | None:
    """One EM session on the pairs of ``mask``; None when it has too few pairs or too little evidence.

    ``known_m`` (comparison index → m) are held fixed: they inform which pairs are matches but are not
    estimated again. ``pair_weight``: how many candidate pairs each pair stands for (a sample of a big set of
    them: see :func:`rules.match.blocking.sample_pairs`), so that the session sees the pairs its rule proposed.
    """
    known_m = known_m or {}
    sizes = [len(c.levels) for c in comparisons]
    veto = compared.veto if compared.veto is not None else np.zeros(len(compared), dtype=bool)
    take = np.flatnonzero(mask)
    if len(take) > settings.training.session_pairs:
        rng = np.random.default_rng(settings.training.seed)
        take = np.sort(rng.choice(take, settings.training.session_pairs, replace=False))
    if len(take) < 10:
        return None
    coverage = {c: float((compared.levels[comparisons[c].name][take] > 0).mean()) for c in idx}
    idx = [c for c in idx if coverage[c] > 0.01]
    evidence = {c: sum(v for k, v in coverage.items() if k != c) for c in idx}
    idx = [c for c in idx if evidence[c] >= _MIN_EVIDENCE]
    if not idx:
        return None
    arrays = [compared.levels[comparisons[c].name][take] for c in idx] + [veto[take].astype(np.int8)]
    weight = None if pair_weight is None or (pair_weight[take] == 1).all() else pair_weight[take]
    pats, counts = _patterns(arrays, [sizes[c] for c in idx] + [1], weight)
    # the pairs of the mask, and those taken, as the candidate pairs they stand for
    in_mask = float(mask.sum()) if weight is None else float(np.asarray(pair_weight)[mask].sum())
    in_take = float(len(take)) if weight is None else float(weight.sum())
    m_starts = [known_m.get(c, comparisons[c].m_start) for c in idx]
    starts = (m_starts, [comparisons[c].r_start for c in idx] if related else [])
    u_idx = [u[comparisons[c].name] for c in idx]
    identity = [comparisons[c].identity for c in idx]
    fixed = [c in known_m for c in idx]
    # a session on contact details pairs colleagues and relatives: their bounded levels stay within bounds there
    ceilings = [comparisons[c].m_ceilings for c in idx] if related else None
    r_ceilings = [comparisons[c].r_ceilings for c in idx] if related else None
    fit_ = _em(pats, counts, starts, u_idx, settings.training, pats[:, -1] == 1, identity, fixed, ceilings, r_ceilings)
    scale = in_mask / in_take
    matches = float((fit_.post_m * counts).sum()) * scale
    relatives = float((fit_.post_r * counts).sum()) * scale
    info = {
        "rule": name,
        "pairs": round(in_mask),
        "patterns": len(counts),
        "matches": round(matches, 1),
        "related": round(relatives, 1),
        "iterations": fit_.iterations,
        "converged": fit_.converged,
        "estimated": [comparisons[c].name for c in idx],
    }
    logger.debug("EM session %s: %s pairs, %.0f matches, %.0f related", name, int(mask.sum()), matches, relatives)
    return _Session(
        idx,
        fit_.m,
        fit_.r,
        [0.0 if c in known_m else matches * min(1.0, evidence[c]) for c in idx],
        [relatives * min(1.0, evidence[c]) for c in idx],
        info,
    )


def fit(
    comparer: PairComparer,
    pairs: pl.DataFrame,
    compared: Compared,
    settings: MatchSettings,
    rules: list[BlockingRule],
    labels: pl.DataFrame | None = None,
    extra_sessions: Callable[[Comparison], tuple[str, BlockingRule, Compared] | None] | None = None,
    pair_weight: np.ndarray | None = None,
    u: dict[str, np.ndarray] | None = None,
) -> MatchModel:
    """Estimate a :class:`MatchModel` from the candidate pairs of a set of records.

    Args:
        comparer: the records' comparer (random pairs for u are drawn from its records).
        pairs: the candidate pairs (``left``, ``right``, and ``rules`` or its bit set ``_rules``: see
            :func:`rules.match.blocking.candidate_pairs`) in the order of ``compared``.
        compared: their comparison levels.
        settings: training settings.
        rules: the blocking rules that proposed ``pairs`` (one EM session each).
        labels: optional ``left, right, is_match`` (bool) of known pairs; their levels add to m (matches only).
        extra_sessions: for a comparison no session estimated, pairs to train it on (a training-only blocking
            rule's name, the rule and its compared pairs), or None.
        pair_weight: how many candidate pairs each compared pair stands for (a sample of a big set of pairs: see
            :func:`rules.match.blocking.sample_pairs`), in the EM sessions and the class priors; None: one each.
        u: :func:`u_probabilities` of ``comparer`` when computed already (beside the blocking); None: here.
    """
    comparisons = comparer.comparisons
    u = u if u is not None else u_probabilities(comparer, settings)
    sizes = [len(c.levels) for c in comparisons]
    sums = {k: [np.zeros(s) for s in sizes] for k in ("m", "r")}
    weights = {k: [0.0] * len(sizes) for k in ("m", "r")}
    sessions: list[dict[str, Any]] = []

    def add(session: _Session | None) -> None:
        if session is None:
            return
        for k, c in enumerate(session.idx):
            sums["m"][c] += session.m[k] * session.weight_m[k]
            weights["m"][c] += session.weight_m[k]
            sums["r"][c] += session.r[k] * session.weight_r[k]
            weights["r"][c] += session.weight_r[k]
        sessions.append(session.info)

    names = [r.name for r in rules]
    proposed = proposed_bits(pairs, names)  # none without a rules column: every session then has no pairs

    def proposed_by(rule: BlockingRule) -> np.ndarray:
        return np.asarray((proposed >> names.index(rule.name)) & 1 == 1)

    def session_of(
        rule: BlockingRule,
        name: str,
        compared_: Compared,
        mask: np.ndarray,
        known: dict[int, np.ndarray],
        weight: np.ndarray | None = None,
    ) -> _Session | None:
        idx = session_comparisons(rule, comparisons)
        if not idx:
            return None
        return _session(name, idx, compared_, mask, u, comparisons, settings, related_in_session(rule), known, weight)

    def run_all(group: list[BlockingRule], known: dict[int, np.ndarray]) -> None:
        """The sessions of ``group`` (independent of one another) two at a time, their numpy work side by side,
        added in rule order (the same sums as one after the other: 976k CRM records' fit 1.1 -> 0.8 s)."""
        with ThreadPoolExecutor(max_workers=2) as pool:
            done = pool.map(
                lambda rule: session_of(rule, rule.name, compared, proposed_by(rule), known, pair_weight), group
            )
            for session in done:
                add(session)

    # 1. rules that read a name or a birth date: their strangers are few and unrelated (two classes); they
    #    estimate how matches agree on contact details
    all_rules = list(rules)
    rules = [r for r in rules if r.train]
    contact_rules = [r for r in rules if related_in_session(r)]
    run_all([r for r in rules if r not in contact_rules], {})
    # 2. rules on contact details alone pair many colleagues and relatives (three classes). The matches' contact
    #    agreement learnt in 1 is held fixed there, so that the match class cannot turn into "colleagues" (who
    #    agree on company and address far more than one person's two records do)
    known = {
        c: sums["m"][c] / weights["m"][c]
        for c in range(len(comparisons))
        if weights["m"][c] > 0 and not comparisons[c].identity
    }
    run_all(contact_rules, known)
    if extra_sessions is not None:
        for c, comparison in enumerate(comparisons):
            if weights["m"][c] > 0 or not (compared.levels[comparison.name] > 0).any():
                continue  # estimated already, or no data to estimate it from
            extra = extra_sessions(comparison)
            if extra is not None:
                name, rule, extra_compared = extra
                add(session_of(rule, name, extra_compared, np.ones(len(extra_compared), dtype=bool), known))

    def averaged(kind: str, start: Callable[[Comparison], np.ndarray]) -> list[np.ndarray]:
        return [
            sums[kind][c] / weights[kind][c] if weights[kind][c] > 0 else start(comparisons[c])
            for c in range(len(comparisons))
        ]

    m_final = averaged("m", lambda c: c.m_start)
    r_final = averaged("r", lambda c: c.r_start)
    untrained = [
        c.name for i, c in enumerate(comparisons) if weights["m"][i] <= 0 and (compared.levels[c.name] > 0).any()
    ]
    if untrained:
        logger.warning("no training pairs for %s: their m probabilities keep the starting values", untrained)
    if labels is not None and labels.height:
        matched = labels.filter(pl.col("is_match"))
        if matched.height:
            lab = comparer.compare(matched["left"].to_numpy(), matched["right"].to_numpy())
            for c, comparison in enumerate(comparisons):
                counts = np.bincount(lab.levels[comparison.name], minlength=sizes[c] + 1)[1:].astype(np.float64)
                weight = weights["m"][c]
                m_final[c] = (m_final[c] * weight + counts) / max(weight + counts.sum(), 1e-12)
    m_final = [_floored(x, settings.training.m_floor) for x in m_final]
    r_final = [_floored(x, settings.training.m_floor) for x in r_final]
    u_final = [u[c.name] for c in comparisons]
    lam_m, lam_r = _global_priors(compared, comparisons, m_final, r_final, u_final, comparer.n, pair_weight)
    model = MatchModel(
        prior=lam_m,
        prior_related=lam_r,
        comparisons=[
            ComparisonModel(
                c.name,
                list(c.labels),
                [float(x) for x in m_final[i]],
                [float(x) for x in u_final[i]],
                list(c.tf_levels),
                [float(x) for x in r_final[i]],
                list(c.tf_people_levels),
            )
            for i, c in enumerate(comparisons)
        ],
        tf_minimum_u=settings.training.tf_minimum_u,
        n_records=comparer.n,
        n_candidates=len(compared),
        sessions=sessions,
        untrained=untrained,
        blocking=[r.model_dump(mode="json") for r in all_rules],
    )
    model.prior, model.prior_related = _priors_as_scored(model, compared, pair_weight)
    return model


def _floored(p: np.ndarray, floor: float) -> np.ndarray:
    """``p`` with every level at least ``floor`` (then renormalised): no level becomes a veto by accident."""
    p = np.maximum(np.asarray(p, dtype=np.float64), floor)
    return np.asarray(p / p.sum(), dtype=np.float64)


def _global_priors(
    compared: Compared,
    comparisons: list[Comparison],
    m: list[np.ndarray],
    r: list[np.ndarray],
    u: list[np.ndarray],
    n: int,
    weight: np.ndarray | None = None,
) -> tuple[float, float]:
    """λm and λr, first estimate: a fixed point over all N·(N−1)/2 pairs, those outside the candidates being
    unrelated, by comparison-vector pattern with one u per level (:func:`_priors_as_scored` refines it)."""
    total = max(n * (n - 1) / 2, 1.0)
    if not len(compared):
        return 1.0 / total, 0.0
    veto = compared.veto if compared.veto is not None else np.zeros(len(compared), dtype=bool)
    arrays = [compared.levels[c.name] for c in comparisons] + [veto.astype(np.int8)]
    pats, counts = _patterns(arrays, [len(c.levels) for c in comparisons] + [1], weight)
    lu = np.maximum(_likelihoods(pats, u), 1e-300)
    bf_m = np.where(pats[:, -1] == 1, 0.0, _likelihoods(pats, m) / lu)
    bf_r = _likelihoods(pats, r) / lu
    lam_m = min(max(counts.sum() * 0.25 / total, 1e-12), 0.3)
    return _fixed_point(bf_m, bf_r, counts, total, lam_m, lam_m)


def _fixed_point(
    bf_m: np.ndarray, bf_r: np.ndarray, counts: np.ndarray, total: float, lam_m: float, lam_r: float
) -> tuple[float, float]:
    """λm and λr such that each is the expected share of its class over ``total`` pairs, given ``counts`` candidate
    pairs of each likelihood ratio M/U (``bf_m``) and R/U (``bf_r``) and every other pair unrelated."""
    for _ in range(300):
        lam_u = 1.0 - lam_m - lam_r
        s = lam_m * bf_m + lam_r * bf_r + lam_u
        new_m = float(np.clip((lam_m * bf_m / s * counts).sum() / total, 1e-12, 0.3))
        new_r = float(np.clip((lam_r * bf_r / s * counts).sum() / total, 0.0, 0.3))
        done = abs(new_m - lam_m) <= 1e-9 * lam_m and abs(new_r - lam_r) <= 1e-9 * max(lam_r, 1e-12)
        lam_m, lam_r = new_m, new_r
        if done:
            break
    return lam_m, lam_r


#: Steps per bit of the grid on which :func:`_priors_as_scored` groups the pairs' likelihood ratios.
_PRIOR_GRID = 64.0
#: The step of M/U :func:`_priors_as_scored` gives a vetoed pair (never a match): below every step of a log.
_VETOED = np.iinfo(np.int32).min


def _steps(log2: np.ndarray) -> np.ndarray:
    """log2 values as whole steps of :data:`_PRIOR_GRID` (int32; ±2^30 steps for ±infinity)."""
    return np.rint(np.clip(log2 * _PRIOR_GRID, -(2.0**30), 2.0**30)).astype(np.int32)


def _priors_as_scored(model: MatchModel, compared: Compared, weight: np.ndarray | None = None) -> tuple[float, float]:
    """λm and λr: the fixed point of :func:`_global_priors` on the likelihoods :func:`score` uses, each pair's u
    adjusted by its values' frequency (``model.prior`` corrects the frequencies for a person's own duplicates).

    The pairs are grouped by their likelihood ratios M/U and R/U, rounded to 1/64 of a bit, so each iteration
    runs over the groups, not the pairs; a pair counts ``weight`` pairs when given."""
    total = max(model.n_records * (model.n_records - 1) / 2, 1.0)
    if not len(compared):
        return model.prior, model.prior_related

    def ratios(part: Compared) -> dict[str, np.ndarray]:
        weights, log_u, log_r = _pair_logs(model, part)
        log_m = weights.pop(model.comparisons[0].name)
        for w in weights.values():
            log_m += w
        log_r -= log_u
        return {"m": _steps(log_m), "r": _steps(log_r)}

    found = _in_halves(compared, ratios)
    if compared.veto is not None:
        found["m"][compared.veto] = _VETOED
    # one 64-bit key per pair: M/U's step in the high half, R/U's in the low
    key = (found["m"].astype(np.int64) << 32) | (found["r"].astype(np.int64) & 0xFFFFFFFF)
    groups = _counted(pl.DataFrame({"key": key}), "key", weight)
    keys, counts = groups["key"].to_numpy(), groups["len"].to_numpy().astype(np.float64)
    steps_m, steps_r = keys >> 32, (keys & 0xFFFFFFFF).astype(np.uint32).view(np.int32)
    bf_m = np.where(steps_m == _VETOED, 0.0, np.exp2(steps_m / _PRIOR_GRID))
    bf_r = np.exp2(steps_r / _PRIOR_GRID) if model.prior_related > 0 else np.zeros(len(counts))
    start_r = max(model.prior_related, model.prior) if model.prior_related > 0 else 0.0
    return _fixed_point(bf_m, bf_r, counts, total, model.prior, start_r)


# ----------------------------------------------------------------------------------------------- scoring


#: Pairs from which scoring runs in two threads, each on its half (numpy releases the GIL: 5M pairs 1.7 -> 0.9 s).
SCORE_IN_THREADS = 500_000


def score(model: MatchModel, compared: Compared) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Per-comparison weights (tf-adjusted log2 m/u, plus ``related``: the related adjustment; float32), match
    weight and match probability of compared pairs."""

    def part(rows: Compared) -> dict[str, np.ndarray]:
        weights, total = _score_part(model, rows)
        # a comparison's weight in 4 bytes as soon as it is summed (it explains a pair; the match weight, which
        # decides, keeps 8): the halves and their join held eight float64 arrays a pair (1M records: -0.3 GiB)
        return {name: w.astype(np.float32) for name, w in weights.items()} | {_TOTAL: total}

    found = _in_halves(compared, part)
    total = found.pop(_TOTAL)
    return found, total, weight_to_prob(total)


#: Key of the match weight among :func:`score`'s per-part arrays.
_TOTAL = "\0total"


def _in_halves(compared: Compared, part: Callable[[Compared], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """``part(compared)``; from :data:`SCORE_IN_THREADS` pairs on, run on each half in a thread of its own (numpy
    releases the GIL) and joined."""
    n = len(compared)
    if n < SCORE_IN_THREADS:
        return part(compared)
    half = (n + 1) // 2
    with ThreadPoolExecutor(max_workers=2) as pool:
        first, second = pool.map(part, [compared.subset(slice(0, half)), compared.subset(slice(half, n))])
    return {name: np.concatenate([first[name], second[name]]) for name in first}


def _score_part(model: MatchModel, compared: Compared) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """:func:`score`'s weights and match weight of the pairs of ``compared``."""
    weights, log_u, log_r = _pair_logs(model, compared)
    total = np.full(len(compared), model.prior_weight)
    for c in model.comparisons:
        total = total + weights[c.name]
    lam_u = max(1.0 - model.prior - model.prior_related, 1e-300)
    if model.prior_related > 0:
        a = math.log2(lam_u) + log_u
        b = math.log2(model.prior_related) + log_r
        adjustment = a - np.logaddexp2(a, b)
    else:
        adjustment = np.zeros(len(compared))
    weights["related"] = adjustment
    total = total + adjustment
    return weights, total


def _pair_logs(model: MatchModel, compared: Compared) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Per comparison its weight log2(m/u) of each pair (u adjusted by term frequency), and per pair log2 of U and
    of R (the products of u and of r over the comparisons)."""
    weights: dict[str, np.ndarray] = {}
    n = len(compared)
    log_u = np.zeros(n)
    log_r = np.zeros(n)
    for c in model.comparisons:
        levels = compared.levels[c.name]
        # per level first (index 0: the null level), then gathered: a log of each pair's m/u cost seconds at 1M
        m_level = np.concatenate([[1.0], np.asarray(c.m)])
        u_level = np.concatenate([[1.0], np.asarray(c.u)])
        with np.errstate(divide="ignore"):  # a level no pair reaches may have r = 0
            w_level, log_u_level = np.log2(m_level / u_level), np.log2(u_level)
            log_r_level = np.log2(np.concatenate([[1.0], np.asarray(c.related)]))
        w, pair_log_u = w_level[levels], log_u_level[levels]
        tf = compared.tf.get(c.name)
        if tf is not None and c.tf_levels:
            use = np.flatnonzero(np.isin(levels, c.tf_levels) & ~np.isnan(tf))
            # a frequency of records counts the person's own duplicates too: λm·(N−1) of them on average
            own = np.where(np.isin(levels[use], c.tf_people), 0.0, model.prior)
            u_tf = np.maximum(tf[use] - own, np.maximum(0.2 * own, model.tf_minimum_u))
            w[use] = np.log2(m_level[levels[use]] / u_tf)
            pair_log_u[use] = np.log2(u_tf)
        weights[c.name] = w
        log_u += pair_log_u
        log_r += log_r_level[levels]
    return weights, log_u, log_r

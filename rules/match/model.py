"""Fellegi-Sunter model: u from random pairs, m and the prior by EM without labels, term-frequency adjustment.

- **u** (probability of each level among non-matches): the level frequencies of ``training.u_sample_pairs``
  random record pairs drawn with a fixed seed (almost all random pairs are non-matches), smoothed towards an
  ordered default with ``U_PRIOR_PAIRS`` pseudo-pairs (so tiny inputs do not mistake one chance agreement for a
  common value).
- **m** (probability of each level among matches): expectation-maximisation on the blocked candidate pairs,
  one session per blocking rule as in Splink: in the session of a rule the comparisons reading that rule's
  columns are left out (its pairs agree on them by construction, which says nothing about matches). EM runs on
  the counts of distinct comparison-vector patterns (u fixed, m and the session's match share λ estimated),
  starting from ordered priors; each comparison's m is the average over the sessions that estimated it,
  weighted by the session's expected matches. Pairs vetoed by ``cannot_link`` (e.g. two known, clearly
  different birth dates) are held to be non-matches. Labelled matching pairs, when given, add their level
  counts.
- **prior** (probability that two random records match): a fixed point of EM over all N·(N−1)/2 pairs with m
  and u fixed, where pairs outside the candidates count as non-matches.
- **weight** of a level = log2(m/u); for tf levels log2(m/tf) where tf = (count − 1)/(N − 1) is the chance
  that another record holds the agreeing value (floored at ``tf_minimum_u``), i.e. the level weight plus
  log2(u/tf). Frequencies come from the records being matched (not stored in the model) and are skipped below
  ``training.tf_min_records`` records.
  match weight = log2(prior/(1−prior)) + Σ weights; match probability = 2^w / (1 + 2^w).
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import polars as pl

from .comparisons import Compared, Comparer, ComparisonSpec
from .settings import MatchSettings

__all__ = ["ComparisonModel", "MatchModel", "fit", "score"]

logger = logging.getLogger(__name__)

MODEL_VERSION = 1


@dataclass
class ComparisonModel:
    """One comparison's levels (without ``null``) with their m and u probabilities."""

    name: str
    levels: list[str]
    m: list[float]
    u: list[float]
    tf_levels: list[int] = field(default_factory=list)  # 1-based indexes of term-frequency adjusted levels

    @property
    def weights(self) -> list[float]:
        """log2(m/u) per level."""
        return [math.log2(m / u) for m, u in zip(self.m, self.u, strict=True)]


@dataclass
class MatchModel:
    """A trained matcher: small, JSON round-trip, saved with a run and shown in its report."""

    prior: float
    comparisons: list[ComparisonModel]
    tf_minimum_u: float = 1e-8
    n_records: int = 0
    n_candidates: int = 0
    sessions: list[dict[str, Any]] = field(default_factory=list)
    version: int = MODEL_VERSION

    @property
    def prior_weight(self) -> float:
        """log2 of the prior odds."""
        return math.log2(self.prior / (1.0 - self.prior))

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
        """``comparison, level, m, u, weight``: one row per level, for the report."""
        rows = [
            {"comparison": c.name, "level": lvl, "m": m, "u": u, "weight": w, "tf_adjusted": i + 1 in c.tf_levels}
            for c in self.comparisons
            for i, (lvl, m, u, w) in enumerate(zip(c.levels, c.m, c.u, c.weights, strict=True))
        ]
        return pl.DataFrame(rows)

    def check_specs(self, specs: list[ComparisonSpec]) -> None:
        """Raise ``ValueError`` when the model was trained with other comparisons or levels than ``specs``."""
        mine = [(c.name, tuple(c.levels)) for c in self.comparisons]
        theirs = [(s.name, s.levels) for s in specs]
        if mine != theirs:
            raise ValueError(f"the model's comparisons {mine} do not match the settings' comparisons {theirs}")


# ----------------------------------------------------------------------------------------------- training


def _initial_m(k: int) -> np.ndarray:
    """Ordered prior: the strongest level most likely, ``else`` 5%."""
    if k == 1:
        return np.ones(1)
    head = 0.5 ** np.arange(1, k)
    head = head / head.sum() * 0.95
    return np.append(head, 0.05)


#: Pseudo-pairs of the default u prior: negligible beside 300k sampled pairs, decisive when a tiny input offers
#: only a handful of random pairs (where one chance agreement would otherwise make a name look common).
U_PRIOR_PAIRS = 2000.0


def _default_u(k: int) -> np.ndarray:
    """Ordered u prior: agreeing levels rare (1e-4, growing 4x per weaker level), ``else`` takes the rest."""
    if k == 1:
        return np.ones(1)
    head = 1e-4 * 4.0 ** np.arange(k - 1)
    return np.append(head, 1.0 - head.sum())


def _u_probabilities(comparer: Comparer, settings: MatchSettings) -> dict[str, np.ndarray]:
    n = comparer.n
    total = n * (n - 1) // 2
    k = int(min(settings.training.u_sample_pairs, max(total, 1)))
    rng = np.random.default_rng(settings.training.seed)
    i = rng.integers(0, n, size=k)
    j = rng.integers(0, max(n - 1, 1), size=k)
    j = j + (j >= i)
    compared = comparer.compare(comparer.rids[i], comparer.rids[j])
    out = {}
    for spec in comparer.specs:
        levels = compared.levels[spec.name]
        counts = np.bincount(levels, minlength=len(spec.levels) + 1)[1:].astype(np.float64)
        out[spec.name] = (counts + U_PRIOR_PAIRS * _default_u(len(counts))) / (counts.sum() + U_PRIOR_PAIRS)
    return out


def _patterns(level_arrays: list[np.ndarray], sizes: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Distinct comparison-vector patterns (rows of level indexes) and how many pairs have each."""
    code = np.zeros(len(level_arrays[0]), dtype=np.int64)
    for arr, size in zip(level_arrays, sizes, strict=True):
        code = code * (size + 1) + arr.astype(np.int64)
    uniq, counts = np.unique(code, return_counts=True)
    pats = np.zeros((len(uniq), len(sizes)), dtype=np.int64)
    rest = uniq.copy()
    for c in range(len(sizes) - 1, -1, -1):
        pats[:, c] = rest % (sizes[c] + 1)
        rest //= sizes[c] + 1
    return pats, counts.astype(np.float64)


def _likelihoods(pats: np.ndarray, probs: list[np.ndarray]) -> np.ndarray:
    """Π over comparisons of the pattern's level probability (null level: 1)."""
    out = np.ones(len(pats))
    for c, p in enumerate(probs):  # extra trailing columns of pats (the veto flag) are not comparisons
        table = np.concatenate([[1.0], p])
        out *= table[pats[:, c]]
    return out


def _em(
    pats: np.ndarray,
    counts: np.ndarray,
    m: list[np.ndarray],
    u: list[np.ndarray],
    iterations: int,
    tol: float,
    veto: np.ndarray,
) -> tuple[list[np.ndarray], float, np.ndarray, int, bool]:
    """EM on pattern counts; the last column of ``pats`` is the veto flag (vetoed patterns are non-matches)."""
    lam = 0.3
    m = [x.copy() for x in m]
    converged = False
    it = 0
    for it in range(1, iterations + 1):  # noqa: B007
        lm = lam * _likelihoods(pats, m)
        lu = (1 - lam) * _likelihoods(pats, u)
        post = np.where(veto, 0.0, lm / np.maximum(lm + lu, 1e-300))
        wc = post * counts
        lam = float(np.clip(wc.sum() / counts.sum(), 1e-6, 1 - 1e-6))
        delta = 0.0
        for c in range(len(m)):
            k = len(m[c])
            num = np.bincount(pats[:, c], weights=wc, minlength=k + 1)[1:]
            if num.sum() <= 0:
                continue
            new = np.clip(num / num.sum(), 1e-6, None)
            new /= new.sum()
            delta = max(delta, float(np.abs(new - m[c]).max()))
            m[c] = new
        if delta < tol:
            converged = True
            break
    lm = lam * _likelihoods(pats, m)
    lu = (1 - lam) * _likelihoods(pats, u)
    post = np.where(veto, 0.0, lm / np.maximum(lm + lu, 1e-300))
    return m, lam, post, it, converged


def fit(
    comparer: Comparer,
    pairs: pl.DataFrame,
    compared: Compared,
    settings: MatchSettings,
    labels: pl.DataFrame | None = None,
) -> MatchModel:
    """Estimate a :class:`MatchModel` from the candidate pairs of a set of records.

    Args:
        comparer: the records' comparer (random pairs for u are drawn from its records).
        pairs: the candidate pairs (``left``, ``right``, ``rules``) in the order of ``compared``.
        compared: their comparison levels.
        settings: blocking rules (EM sessions), training settings.
        labels: optional ``left, right, is_match`` (bool) of known pairs; their levels add to m (matches only).
    """
    specs = comparer.specs
    u = _u_probabilities(comparer, settings)
    sizes = [len(s.levels) for s in specs]
    sum_num = [np.zeros(k) for k in sizes]
    sum_w = [0.0 for _ in sizes]
    sessions: list[dict[str, Any]] = []
    veto = compared.veto if compared.veto is not None else np.zeros(len(compared), dtype=bool)
    rules_col = pairs["rules"] if "rules" in pairs.columns else None
    for cols in settings.blocking:
        name = "+".join(cols)
        idx = [c for c, s in enumerate(specs) if not (s.columns & set(cols))]
        if rules_col is None or not idx:
            continue
        mask = rules_col.list.contains(name).fill_null(False).to_numpy()
        if mask.sum() < 10:
            continue
        arrays = [compared.levels[specs[c].name][mask] for c in idx] + [veto[mask].astype(np.int8)]
        pats, counts = _patterns(arrays, [sizes[c] for c in idx] + [1])
        m0 = [_initial_m(sizes[c]) for c in idx]
        m, lam, post, it, conv = _em(
            pats,
            counts,
            m0,
            [u[specs[c].name] for c in idx],
            settings.training.em_iterations,
            settings.training.em_tolerance,
            pats[:, -1] == 1,
        )
        expected = float((post * counts).sum())
        for k, c in enumerate(idx):
            sum_num[c] += m[k] * expected
            sum_w[c] += expected
        sessions.append(
            {
                "rule": name,
                "pairs": int(counts.sum()),
                "patterns": len(counts),
                "lambda": round(lam, 6),
                "iterations": it,
                "converged": conv,
                "estimated": [specs[c].name for c in idx],
            }
        )
        logger.debug("EM session %s: %s pairs, λ=%.4f, %s iterations", name, int(counts.sum()), lam, it)
    m_final = [sum_num[c] / sum_w[c] if sum_w[c] > 0 else _initial_m(sizes[c]) for c in range(len(specs))]
    if labels is not None and labels.height:
        matched = labels.filter(pl.col("is_match"))
        if matched.height:
            lab = comparer.compare(matched["left"].to_numpy(), matched["right"].to_numpy())
            for c, spec in enumerate(specs):
                counts = np.bincount(lab.levels[spec.name], minlength=sizes[c] + 1)[1:].astype(np.float64)
                weight = sum_w[c] if sum_w[c] > 0 else 0.0
                m_final[c] = (m_final[c] * weight + counts) / max(weight + counts.sum(), 1e-12)
    m_final = [np.clip(x, 1e-6, None) / np.clip(x, 1e-6, None).sum() for x in m_final]
    prior = _global_prior(compared, specs, m_final, [u[s.name] for s in specs], comparer.n)
    model = MatchModel(
        prior=prior,
        comparisons=[
            ComparisonModel(
                s.name, list(s.levels), [float(x) for x in m_final[c]], [float(x) for x in u[s.name]], list(s.tf_levels)
            )
            for c, s in enumerate(specs)
        ],
        tf_minimum_u=settings.training.tf_minimum_u,
        n_records=comparer.n,
        n_candidates=len(compared),
        sessions=sessions,
    )
    return model


def _global_prior(
    compared: Compared, specs: list[ComparisonSpec], m: list[np.ndarray], u: list[np.ndarray], n: int
) -> float:
    total = max(n * (n - 1) / 2, 1.0)
    if not len(compared):
        return 1.0 / total
    veto = compared.veto if compared.veto is not None else np.zeros(len(compared), dtype=bool)
    arrays = [compared.levels[s.name] for s in specs] + [veto.astype(np.int8)]
    pats, counts = _patterns(arrays, [len(s.levels) for s in specs] + [1])
    bf = np.where(pats[:, -1] == 1, 0.0, _likelihoods(pats, m) / np.maximum(_likelihoods(pats, u), 1e-300))
    lam = min(max(counts.sum() * 0.5 / total, 1e-12), 0.5)
    for _ in range(200):
        odds = lam / (1 - lam)
        post = bf * odds / (1 + bf * odds)
        new = float(np.clip((post * counts).sum() / total, 1e-12, 0.5))
        if abs(new - lam) <= 1e-9 * lam:
            lam = new
            break
        lam = new
    return lam


# ----------------------------------------------------------------------------------------------- scoring


def score(model: MatchModel, compared: Compared) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Per-comparison weights (tf-adjusted), match weight and match probability of compared pairs."""
    weights: dict[str, np.ndarray] = {}
    total = np.full(len(compared), model.prior_weight)
    for c in model.comparisons:
        table = np.concatenate([[0.0], np.log2(np.asarray(c.m) / np.asarray(c.u))])
        levels = compared.levels[c.name]
        w = table[levels]
        tf = compared.tf.get(c.name)
        if tf is not None and c.tf_levels:
            u_level = np.concatenate([[1.0], np.asarray(c.u)])[levels]
            adj = np.log2(u_level / np.maximum(tf, model.tf_minimum_u))
            use = np.isin(levels, c.tf_levels) & ~np.isnan(tf)
            w = np.where(use, w + np.where(use, adj, 0.0), w)
        weights[c.name] = w
        total = total + w
    prob = 1.0 / (1.0 + np.exp2(-np.clip(total, -60, 60)))
    return weights, total, prob

"""Comparisons: ordered levels, each a label with its condition, evaluated on aligned record pairs.

A comparison reads a few prepared columns (:mod:`rules.match.prepare`). A pair is ``null`` (level 0, weight 0:
"unknown", never "different") when either side lacks what the comparison needs; otherwise it takes the first
level whose condition holds, from the strongest agreement down to ``else``, as a SQL ``CASE WHEN`` would (the
idea of Splink's comparison levels). Conditions are vectorised over a chunk of pairs (:class:`PairView`); fuzzy
scores are computed with rapidfuzz, by characters, only for the pairs still undecided. One comparison per
concept, so that correlated columns are not counted twice.

==============  ================================================================================================
comparison      levels (after ``null``), first match wins
==============  ================================================================================================
name            ``other_generation`` (John Smith Jr / John Smith Sr) · ``exact`` · ``same_key``
                (hanzi/traditional/pinyin, swapped order, nickname: 张伟 = 張偉 = Wei Zhang, Bob = Robert,
                Liz = Bess) ·
                ``typo`` (both parts similar, or one hanzi of a 3+ character name) · ``initial`` (J. Smith; or
                a short form: Sam / Samantha) · ``family_only`` (one side has no given name: 陈总, Smith) ·
                ``fuzzy`` ·
                ``other_given`` (Latin names of one family, given names starting differently: twins,
                siblings, a couple) · ``same_family`` (same family name, other given name: households, siblings,
                colleagues) ·
                ``same_given`` (other family name, Latin names: a name change at marriage) · ``else``
birth_date      ``exact`` · ``day_month_swapped`` · ``one_edit`` (a digit typo or two digits transposed) ·
                ``within_1_year`` · ``within_5_years`` · ``within_15_years`` · ``else`` (a generation apart:
                father and son, unless the data's matches often carry a wrong date: EM learns which)
phone           ``same_mobile`` · ``same_line`` (a landline few people use) · ``same_national`` (last 8
                digits: a wrong country code) · ``shared`` (only a number many names use: a switchboard, a
                family landline) · ``mobile_typo`` (one digit mistyped or two swapped, not the last digit
                alone: numbers bought together) · ``else``. Mobile or landline is decided by the number, not
                the column.
email           ``exact`` · ``same_local`` (other domain) · ``local_fuzzy`` · ``shared`` (a role mailbox such as
                sales@, or an address many names use) · ``else``. Local parts spelled from the person's name
                only count as exact addresses (the name comparison already counts the name).
company         ``exact`` · ``fuzzy`` · ``contains`` (brand only: 正宇 in 正宇钢管) · ``else``
address         ``same_street`` (street and number; frequency-adjusted: an office building many records give
                counts little) · ``same_street_name`` (other house number) · ``same_postcode`` · ``same_city`` ·
                ``else``
gender          ``same`` · ``different``
==============  ================================================================================================

Term frequencies replace u where a level says so: agreeing on 张伟 counts less than on a rare name. For phones
and e-mail addresses the frequency counts the different names holding the value, not the records: a number on
two records of one person is personal; one on five names is not.
"""

from __future__ import annotations

import dataclasses
import io
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import polars as pl
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA, JaroWinkler, Levenshtein

from .prepare import HANZI, RID
from .settings import ComparisonSettings, MatchSettings

#: Chunks of pairs compared at once, in threads: numpy, polars and rapidfuzz release the GIL for most of the work.
COMPARE_THREADS = 2
#: Pairs in a chunk at most: a chunk scores each distinct pair of values once, and bigger chunks share more of them
#: (5M pairs of a million people: 9.8 s in chunks of 50k, 7.1–8.7 in chunks of 200k), at some 320 bytes a pair.
COMPARE_CHUNK = 200_000
#: Pairs in a chunk at least (a chunk's fixed cost is a few milliseconds).
_MIN_CHUNK = 25_000


def _chunk_for(pairs: int) -> int:
    """Pairs per chunk for ``pairs`` pairs: two chunks or more per thread, so the threads end together and a few
    hundred thousand pairs do not hold :data:`COMPARE_CHUNK`-sized chunks (Febrl4's 0.5M pairs: peak 0.48 -> 0.38
    GiB, the same time), within :data:`COMPARE_CHUNK`."""
    return max(_MIN_CHUNK, min(COMPARE_CHUNK, -(-pairs // (2 * COMPARE_THREADS))))


__all__ = [
    "MATCHING_COLUMNS",
    "Compared",
    "Comparer",
    "Comparison",
    "Level",
    "PairComparer",
    "PairView",
    "SideTable",
    "build_comparisons",
    "side_table",
]

Condition = Callable[["PairView", "Mask"], "Mask"]
Frequency = Callable[["PairView"], "Scores"]


@dataclass(frozen=True)
class Level:
    """One comparison level: its label, its condition, its term frequency and its starting values.

    Attributes:
        label: the name shown in reports and explanations (``same_mobile``).
        when: ``(pairs, pending) -> bool array``: where the level holds; ``pending`` marks the pairs no earlier
            level took (a condition may skip work outside it).
        tf: ``(pairs) -> float array``: the chance that another record holds the agreeing value, replacing the
            level's u (NaN where unknown); None for a level without term-frequency adjustment.
        r: starting share of the level among related people (colleagues, relatives), before EM; relative to the
            other levels' (normalised).
        tf_people: ``tf`` counts the different people (names) holding the value rather than the records; a
            frequency of records also counts the person's own duplicates, which the model takes out.
        m: starting share of the level among matches (relative, normalised); None for the comparison's ordered
            default (each level half the one before, ``else`` 5%).
        costly: the condition scores string similarity (rapidfuzz); estimating u, this level and the ones after
            it are evaluated on a subsample of the random pairs (see ``TrainingSettings.u_fuzzy_pairs``).
        m_ceiling: the most m may be in a training session that pairs related people (one on contact details
            alone: colleagues and relatives share numbers and addresses); None for no bound. Such a session cannot
            tell a colleague who shares a number from the person, so without a bound it learns the colleagues'
            different names as the person's own.
        r_ceiling: the most r may be (None for no bound): related people are colleagues and relatives, who rarely
            share a name; without a bound a session's namesakes (two people of one name sharing a name-spelled
            e-mail local part) fill the related class with exact names, and then one person's records at one
            company and street look like two colleagues.
    """

    label: str
    when: Condition
    tf: Frequency | None = None
    r: float = 1.0
    tf_people: bool = False
    m: float | None = None
    costly: bool = False
    m_ceiling: float | None = None
    r_ceiling: float | None = None


#: Boolean and float arrays, one value per pair: what the levels' conditions combine.
Mask = npt.NDArray[np.bool_]
Scores = npt.NDArray[np.float64]

#: A text column as codes by record position (-1: null) and the distinct values they index.
Coded = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class Listed:
    """The phone numbers of a list column of the side table as integer codes: record ``p``'s codes are
    ``codes[offsets[p]:offsets[p + 1]]``; per code, the distinct ``names`` and the records (``count``) holding
    the number (``inf`` where the statistics do not know it)."""

    offsets: npt.NDArray[np.int64]
    codes: npt.NDArray[np.int64]
    names: npt.NDArray[np.float64]
    count: npt.NDArray[np.float64]
    #: Per code, the number's digits as an integer and how many there are (0: none, or too many to hold).
    digits: npt.NDArray[np.int64]
    width: npt.NDArray[np.int64]

    def of(self, positions: np.ndarray) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """(pair index, code) of every number the records at ``positions`` hold (pair ``i`` at ``positions[i]``)."""
        starts, ends = self.offsets[positions], self.offsets[positions + 1]
        sizes = ends - starts
        pair = np.repeat(np.arange(len(positions), dtype=np.int64), sizes)
        first = np.repeat(starts - (np.cumsum(sizes) - sizes), sizes)
        return pair, self.codes[first + np.arange(len(pair), dtype=np.int64)]


#: Digits of a phone number compared digit by digit at most (an int64 holds 18).
_MAX_DIGITS = 18
_POWERS = 10 ** np.arange(_MAX_DIGITS, dtype=np.int64)[:, None]

#: Level code of a pair left out of the costly levels' subsample (see :meth:`Comparison.evaluate`).
SKIPPED = -1


@dataclass(frozen=True)
class Comparison:
    """A named, ordered list of levels (the last one is ``else``), the columns it reads and when it is null."""

    name: str
    reads: frozenset[str]
    known: Callable[[PairView], np.ndarray]
    levels: tuple[Level, ...]
    #: Says who a person is (name, birth date, gender) rather than how to reach them: related people differ here,
    #: so their starting values are held firmly (see ``TrainingSettings.related_prior_pairs``).
    identity: bool = False

    @property
    def labels(self) -> tuple[str, ...]:
        """Level labels without ``null``."""
        return tuple(level.label for level in self.levels)

    @property
    def m_start(self) -> np.ndarray:
        """Starting m: the levels' ``m`` shares when given, else the strongest level most likely, halving per
        level, ``else`` 5%."""
        if all(level.m is not None for level in self.levels):
            shares = np.array([level.m for level in self.levels], dtype=np.float64)
            return np.asarray(shares / shares.sum(), dtype=np.float64)
        k = len(self.levels)
        if k == 1:
            return np.ones(1)
        head = 0.5 ** np.arange(1, k)
        return np.append(head / head.sum() * 0.95, 0.05)

    @property
    def m_ceilings(self) -> np.ndarray | None:
        """Per level, the most m may be in a session that pairs related people (``inf``: no bound); None when no
        level has a :attr:`Level.m_ceiling`."""
        return self._bounds([level.m_ceiling for level in self.levels])

    @property
    def r_ceilings(self) -> np.ndarray | None:
        """Per level, the most r may be (``inf``: no bound); None when no level has a :attr:`Level.r_ceiling`."""
        return self._bounds([level.r_ceiling for level in self.levels])

    @staticmethod
    def _bounds(bounds: list[float | None]) -> np.ndarray | None:
        if all(bound is None for bound in bounds):
            return None
        return np.array([np.inf if bound is None else bound for bound in bounds], dtype=np.float64)

    @property
    def r_start(self) -> np.ndarray:
        """Starting r: the levels' ``r`` shares, normalised."""
        shares = np.array([level.r for level in self.levels], dtype=np.float64)
        return np.asarray(shares / shares.sum(), dtype=np.float64)

    @property
    def tf_levels(self) -> tuple[int, ...]:
        """1-based indexes of the term-frequency adjusted levels."""
        return tuple(i + 1 for i, level in enumerate(self.levels) if level.tf is not None)

    @property
    def tf_people_levels(self) -> tuple[int, ...]:
        """1-based indexes of the levels whose term frequency counts people rather than records."""
        return tuple(i + 1 for i, level in enumerate(self.levels) if level.tf is not None and level.tf_people)

    @property
    def first_costly(self) -> int | None:
        """1-based index of the first costly level (None when no level is)."""
        return next((i for i, level in enumerate(self.levels, start=1) if level.costly), None)

    def evaluate(self, view: PairView, sample: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Level index per pair (0 = null) and the term frequency of the chosen level (NaN where none).

        With ``sample``, pairs outside it that reach the first costly level get :data:`SKIPPED` instead of a level.
        """
        n = view.n
        out = np.zeros(n, dtype=np.int8)
        tf = np.full(n, np.nan, dtype=np.float32)  # 4 bytes a pair: every compared pair carries one per comparison
        pending = self.known(view) if view.reads_any(self.reads) else np.zeros(n, dtype=bool)
        last = len(self.levels)
        for i, level in enumerate(self.levels, start=1):
            if sample is not None and i == self.first_costly:
                out[pending & ~sample] = SKIPPED
                pending &= sample
            if not pending.any():
                break
            hit = pending.copy() if i == last else level.when(view, pending) & pending
            out[hit] = i
            if level.tf is not None and hit.any():
                tf[hit] = np.asarray(level.tf(view))[hit]
            pending &= ~hit
        return out, tf


class Rows:
    """Rows ``positions`` of a frame, each column gathered when first read: a chunk's comparisons read a few of
    the prepared frame's many columns, so gathering all of them for every chunk cost time and most of the memory."""

    def __init__(self, frame: pl.DataFrame, positions: np.ndarray) -> None:
        self.positions = positions
        self._frame, self._positions = frame, pl.Series(positions)
        self._gathered: dict[str, pl.Series] = {}
        self.columns, self.schema, self.height = frame.columns, frame.schema, len(positions)

    def __getitem__(self, col: str) -> pl.Series:
        if col not in self._gathered:
            self._gathered[col] = self._frame.get_column(col).gather(self._positions)
        return self._gathered[col]

    def at(self, col: str, idx: np.ndarray) -> pl.Series:
        """Column ``col`` of the rows ``idx`` only (from the chunk's column when it was gathered already)."""
        if col in self._gathered:
            return self._gathered[col].gather(idx)
        return self._frame.get_column(col).gather(self.positions[idx])


class PairView:
    """Two aligned sides of a chunk of pairs with memoised helpers (equal, both known, fuzzy scores).

    Args:
        left, right: the prepared records of the pairs' left and right sides, row-aligned.
        n: the number of records behind the term frequencies.
        levels: the comparison thresholds.
        coded: a text column of the side table as codes by record position and its distinct values
            (:meth:`Comparer.coded`): fuzzy scores take their strings from there instead of converting each
            chunk's column again, and equality compares integers.
        listed: a list column of phone numbers as codes by record position, with each number's statistics
            (:meth:`Comparer.listed`): shared numbers are found by intersecting integers.
        lengths: the characters of each distinct value of a coded column, 0 last (for code -1: null)
            (:meth:`Comparer.lengths`).
    """

    def __init__(
        self,
        left: Rows,
        right: Rows,
        n: int,
        levels: ComparisonSettings,
        coded: Callable[[str, bool], Coded],
        listed: Callable[[str], Listed],
        lengths: Callable[[str], npt.NDArray[np.int64]],
    ) -> None:
        self.L, self.R = left, right
        self.records = max(n, 2)
        self.levels = levels
        self.n = left.height
        self._coded, self._listed, self._lengths = coded, listed, lengths
        self._memo: dict[tuple[Any, ...], np.ndarray] = {}

    def _similarities(self, col: str, other: str, idx: np.ndarray, scorer: Any) -> Scores:
        """``scorer`` of left ``col`` and right ``other`` for the pairs ``idx`` (both known), each distinct pair of
        values scored once: blocking pairs records that share one value, so the other values repeat (two given
        names compared under one family name) and one value pair is often met many times."""
        if self.L.schema[col] != pl.String or self.R.schema[other] != pl.String:
            a, b = self.L[col].gather(idx).to_list(), self.R[other].gather(idx).to_list()
            return np.asarray(process.cpdist(a, b, scorer=scorer, dtype=np.float32, workers=-1), dtype=np.float64)
        coded, left_pos, right_pos = self._coded, self.L.positions, self.R.positions
        sort_tokens = scorer is fuzz.token_sort_ratio  # the same as fuzz.ratio of the token-sorted values
        if sort_tokens:
            scorer = fuzz.ratio
        (a_codes, a_values), (b_codes, b_values) = coded(col, sort_tokens), coded(other, sort_tokens)
        pair = a_codes[left_pos[idx]].astype(np.int64) * len(b_values) + b_codes[right_pos[idx]]
        distinct, back = np.unique(pair, return_inverse=True)
        sims = process.cpdist(
            a_values[distinct // len(b_values)],
            b_values[distinct % len(b_values)],
            scorer=scorer,
            dtype=np.float32,
            workers=-1,
        )
        return np.asarray(sims, dtype=np.float64)[back]

    def has(self, col: str) -> bool:
        return col in self.L.columns

    def _codes(self, col: str) -> np.ndarray | None:
        """The left (row 0) and right (row 1) codes of a text column (-1 where null; see :meth:`Comparer.coded`),
        or None when the column is not coded: equality and presence then compare integers, and the column's
        strings are never gathered for the chunk."""
        if self.L.schema[col] != pl.String:
            return None
        codes = self._coded(col, False)[0]
        return self._cached(("codes", col), lambda: np.stack((codes[self.L.positions], codes[self.R.positions])))

    def reads_any(self, cols: frozenset[str]) -> bool:
        return any(c in self.L.columns for c in cols)

    def _cached(self, key: tuple[Any, ...], fn: Callable[[], np.ndarray]) -> np.ndarray:
        if key not in self._memo:
            self._memo[key] = fn()
        return self._memo[key]

    def side(self, col: str, right: bool = False) -> np.ndarray:
        """One side of a column as a numpy array (None/NaN where null)."""
        frame = self.R if right else self.L
        if col not in frame.columns:
            return np.full(self.n, None, dtype=object)
        return self._cached(("side", col, right), lambda: frame[col].to_numpy())

    def sides(self, col: str, mask: np.ndarray) -> pl.DataFrame:
        """``i`` (pair index), ``a`` (left value) and ``b`` (right value) of ``col`` for the pairs in ``mask``."""
        idx = np.flatnonzero(mask)
        return pl.DataFrame({"i": idx, "a": self.L.at(col, idx), "b": self.R.at(col, idx)})

    def holds(self, col: str, mask: np.ndarray, condition: pl.Expr) -> Mask:
        """``condition`` over ``a`` and ``b`` (the two sides of ``col``, see :meth:`sides`) for the pairs in
        ``mask``; False elsewhere and where it is null."""
        out = np.zeros(self.n, dtype=bool)
        if self.has(col) and mask.any():
            frame = self.sides(col, mask)
            out[frame["i"].to_numpy()] = frame.select(condition.fill_null(False)).to_series().to_numpy()
        return out

    def both(self, col: str) -> Mask:
        """Both sides hold a value (a non-empty list for list columns)."""

        def compute() -> np.ndarray:
            if not self.has(col):
                return np.zeros(self.n, dtype=bool)
            codes = self._codes(col)
            if codes is not None:
                return np.asarray((codes[0] >= 0) & (codes[1] >= 0))
            a, b = self.L[col], self.R[col]
            if isinstance(a.dtype, pl.List):
                return ((a.list.len() > 0) & (b.list.len() > 0)).fill_null(False).to_numpy()
            return (a.is_not_null() & b.is_not_null()).to_numpy()

        return self._cached(("both", col), compute)

    def either(self, col: str) -> Mask:
        """At least one side holds a value."""
        if not self.has(col):
            return np.zeros(self.n, dtype=bool)
        return self._cached(("either", col), lambda: (self.L[col].is_not_null() | self.R[col].is_not_null()).to_numpy())

    def eq(self, col: str, other: str | None = None) -> Mask:
        """Left ``col`` equals right ``other`` (default the same column), both known."""
        other = other or col
        if not (self.has(col) and self.has(other)):
            return np.zeros(self.n, dtype=bool)
        codes = self._codes(col) if other == col else None
        if codes is not None:
            return self._cached(("eq", col, other), lambda: np.asarray((codes[0] == codes[1]) & (codes[0] >= 0)))
        return self._cached(("eq", col, other), lambda: (self.L[col] == self.R[other]).fill_null(False).to_numpy())

    def length(self, col: str, right: bool = False) -> npt.NDArray[np.int64]:
        frame = self.R if right else self.L
        if col not in frame.columns:
            return np.zeros(self.n, dtype=np.int64)
        codes = self._codes(col)
        if codes is not None:  # from each distinct value's length
            lengths = self._lengths(col)
            return self._cached(("len", col, right), lambda: lengths[codes[1 if right else 0]])
        return self._cached(("len", col, right), lambda: frame[col].str.len_chars().fill_null(0).to_numpy())

    def score(self, col: str, scorer: Any, mask: np.ndarray, other: str | None = None) -> Scores:
        """rapidfuzz ``scorer`` of left ``col`` and right ``other`` where ``mask`` and both known (else 0 or
        ``inf`` for distances). Scores are computed once per column pair; ``mask`` only limits the work of the
        first call, later calls reuse it and fill the rows they add."""
        other = other or col
        distance = scorer in (Levenshtein.distance, OSA.distance)
        key = ("score", col, other, scorer)
        if not (self.has(col) and self.has(other)):
            return np.full(self.n, np.inf if distance else 0.0)
        done = self._memo.get((*key, "mask"))
        out = self._memo.get(key)
        if out is None or done is None:
            out = np.full(self.n, np.inf if distance else 0.0)
            done = np.zeros(self.n, dtype=bool)
        codes = self._codes(col) if other == col else None
        need = mask & ~done
        if codes is not None:
            need &= (codes[0] >= 0) & (codes[1] >= 0)
            # one value on both sides scores as equal (every scorer here gives it 1, or distance 0), unscored: most
            # pairs blocking proposed share the family name, the street or the birth date scored
            same = need & (codes[0] == codes[1])
            out[same] = 0.0 if distance else 1.0
            idx = np.flatnonzero(need & ~same)
        else:
            need &= (self.L[col].is_not_null() & self.R[other].is_not_null()).to_numpy()
            idx = np.flatnonzero(need)
        if len(idx):
            sims = self._similarities(col, other, idx, scorer)
            if scorer in (fuzz.ratio, fuzz.partial_ratio, fuzz.token_sort_ratio):
                sims /= 100.0
            out[idx] = sims
        self._memo[key] = out
        self._memo[(*key, "mask")] = done | need
        return out

    def jw(self, col: str, mask: np.ndarray, other: str | None = None) -> Scores:
        return self.score(col, JaroWinkler.normalized_similarity, mask, other)

    def frequency(self, col: str) -> Scores:
        """Term frequency of the left value of ``col`` (see :class:`Comparer`: ``_tf:<col>``)."""
        name = f"_tf:{col}"
        if name not in self.L.columns:
            return np.full(self.n, np.nan)
        return self._cached(("tf", col), lambda: self.L[name].fill_null(np.nan).to_numpy())

    def holders(self, col: str) -> Scores:
        """Distinct names holding the left value of ``col`` (see :class:`Comparer`: ``_holders:<col>``)."""
        name = f"_holders:{col}"
        if name not in self.L.columns:
            return np.ones(self.n)
        return self._cached(("holders", col), lambda: self.L[name].fill_null(1).to_numpy())

    def number_level(self, col: str) -> tuple[np.ndarray, np.ndarray]:
        """(fewest holders, fewest records) of the numbers of ``col`` both sides share (0 where none)."""
        if not self.has(col):
            return np.zeros(self.n), np.zeros(self.n)
        both = self._cached(("number_level", col), lambda: self._shared_numbers(self._listed(col)))
        return both[0], both[1]

    def _crossed(self, listed: Listed, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """Each of the pairs ``idx``'s left numbers against each of its right ones (a record holds one or two, so
        the cross products are few; sorting the (pair, number) keys of both sides to intersect them took most of
        the phone comparison): the pair (a position in ``idx``) and the two codes. The pairs with one number on
        each side (most of them) come first, without the cross product's index arithmetic, then the others' in
        pair order; the count of the first is returned too."""
        (left_start, left_size), (right_start, right_size) = (
            (listed.offsets[p[idx]], listed.offsets[p[idx] + 1] - listed.offsets[p[idx]])
            for p in (self.L.positions, self.R.positions)
        )
        crossed = left_size * right_size
        single, several = np.flatnonzero(crossed == 1), np.flatnonzero(crossed > 1)
        more = np.repeat(several, crossed[several])
        k = np.arange(len(more), dtype=np.int64) - np.repeat(
            np.cumsum(crossed[several]) - crossed[several], crossed[several]
        )
        pair = np.concatenate((single, more))
        a = listed.codes[np.concatenate((left_start[single], left_start[more] + k // right_size[more]))]
        b = listed.codes[np.concatenate((right_start[single], right_start[more] + k % right_size[more]))]
        return pair, a, b, len(single)

    def _shared_numbers(self, listed: Listed) -> np.ndarray:
        """Fewest holders (row 0) and fewest records (row 1) of the numbers both sides share (:meth:`_crossed`),
        the statistics' minimum per pair (a number the statistics do not know counts 1)."""
        out = np.zeros((2, self.n))
        if not len(listed.names):
            return out
        pair, a, b, singles = self._crossed(listed, np.arange(self.n))
        same = a == b
        # a pair with one number a side shares at most one; the others' shared numbers are reduced per pair
        hit, code = pair[:singles][same[:singles]], a[:singles][same[:singles]]
        for row, stat in enumerate((listed.names, listed.count)):
            least = stat[code]
            out[row, hit] = np.where(np.isinf(least), 1.0, least)
        rest = same[singles:]
        if not rest.any():
            return out
        pair, code = pair[singles:][rest], a[singles:][rest]  # in pair order
        starts = np.flatnonzero(np.concatenate(([True], pair[1:] != pair[:-1])))
        for row, stat in enumerate((listed.names, listed.count)):
            least = np.minimum.reduceat(stat[code], starts)
            out[row, pair[starts]] = np.where(np.isinf(least), 1.0, least)
        return out

    def one_slip(self, col: str, mask: Mask) -> Mask:
        """Where ``mask``, some number of the left side is one keying slip from one of the right side's: as many
        digits, one differs or two neighbours are swapped, and not the last digit alone (numbers bought together
        differ there). Digit by digit on the numbers as integers (:meth:`_crossed`)."""
        out = np.zeros(self.n, dtype=bool)
        if not self.has(col) or not mask.any():
            return out
        listed = self._listed(col)
        idx = np.flatnonzero(mask)
        each, a, b, _ = self._crossed(listed, idx)
        keep = (a != b) & (listed.width[a] == listed.width[b]) & (listed.width[a] > 0)
        each, a, b = each[keep], listed.digits[a[keep]], listed.digits[b[keep]]
        # a slip changes the number by d·10^k (one digit) or (x - y)·9·10^k (neighbours swapped): the difference
        # without its trailing zeros is at most 81; few pairs of other numbers get there, and only those are read
        # digit by digit
        gap = np.abs(a - b)
        tens = np.flatnonzero(gap % 10 == 0)
        while len(tens):
            gap[tens] //= 10
            tens = tens[gap[tens] % 10 == 0]
        near = gap <= 81
        each, a, b = each[near], a[near], b[near]
        if not len(each):
            return out
        da, db = a // _POWERS % 10, b // _POWERS % 10  # row 0: the last digit
        differ = da != db
        count = differ.sum(axis=0)
        swapped = (differ[:-1] & differ[1:] & (da[:-1] == db[1:]) & (da[1:] == db[:-1])).any(axis=0)
        slip = ((count == 1) & ~differ[0]) | ((count == 2) & swapped)
        out[idx[each[slip]]] = True
        return out

    def tf_of_count(self, count: np.ndarray) -> Scores:
        """(count − 1)/(N − 1), floored at a tenth of one record: the chance another record holds the value."""
        return np.asarray(np.maximum(count - 1, 0.1) / (self.records - 1), dtype=np.float64)


# ------------------------------------------------------------------------------------------------- the levels


def _one_in_other(shortest: int, found: Callable[[pl.Expr, pl.Expr], pl.Expr]) -> pl.Expr:
    """Over the two sides ``a`` and ``b`` of :meth:`PairView.holds`: one side, ``shortest`` characters or more, is
    ``found(in_text, text)`` in the other (``found`` e.g. ``str.starts_with`` or a literal ``str.contains``)."""
    a, b = pl.col("a"), pl.col("b")
    return ((a.str.len_chars() >= shortest) & found(b, a)) | ((b.str.len_chars() >= shortest) & found(a, b))


def _inside(text: pl.Expr, part: pl.Expr) -> pl.Expr:
    return text.str.contains(part, literal=True)


def _starts_other(v: PairView, mask: Mask) -> Mask:
    """Where one side's first given name (3+ letters) begins the other's (``chris`` / ``christopher``)."""
    return v.holds("_giv_raw", mask, _one_in_other(3, lambda text, part: text.str.starts_with(part)))


def _inside_other(v: PairView, mask: Mask) -> Mask:
    """Where one side's first given name (4+ letters) lies inside the other's: a short form cut from the middle or
    the end (``topher`` / ``christopher``, ``lotte`` / ``charlotte``, ``jane`` / ``sarah-jane``). Three letters are
    not enough there: ``ian`` / ``brian``, ``dan`` / ``jordan`` and ``eve`` / ``steve`` are siblings' names."""
    return v.holds("_giv_raw", mask, _one_in_other(4, _inside))


def _nicknames(v: PairView, mask: np.ndarray) -> np.ndarray:
    """Where the two first given names are a formal name and its nickname, or two nicknames of one name."""
    from rules.normalise import nickname_pairs

    out = np.zeros(v.n, dtype=bool)
    frame = v.sides("_giv_raw", mask & v.both("_giv_raw"))
    out[frame.join(nickname_pairs(), on=["a", "b"], how="semi")["i"].to_numpy()] = True
    return out


#: The most of related people (colleagues, relatives) who share one exact name or name key: father and son,
#: namesake colleagues.
NAME_R_CEILING = 0.015


def _name(lv: ComparisonSettings) -> Comparison:
    t = lv.name_typo_threshold

    def latin(v: PairView) -> Mask:
        return ~(v.side("_cjk").astype(np.bool_) & v.side("_cjk", right=True).astype(np.bool_))

    def parts_similar(v: PairView, m: Mask) -> Mask:
        # each score only where the earlier ones leave the answer open (random pairs rarely get past the first)
        fam = m & (v.jw("_fam", m) >= t)
        straight = fam & (v.jw("_giv_raw", fam) >= t)
        straight |= fam & ~straight & (v.jw("_giv", fam & ~straight) >= t)
        rest = m & ~straight
        cross = rest & (v.jw("_fam", rest, "_giv_raw") >= t)
        return straight | (cross & (v.jw("_giv_raw", cross, "_fam") >= t))

    def typo(v: PairView, m: Mask) -> Mask:
        lat = m & latin(v)
        out = lat & parts_similar(v, lat)
        han = m & ~latin(v) & (v.length("_han") >= 3) & (v.length("_han", right=True) >= 3)
        one: Mask = v.score("_han", Levenshtein.distance, han) == 1  # (ndarray's == is typed Any)
        sounds = v.jw("name_pinyin", han & one) >= 0.88
        first_differs = ~v.eq("_fam") & v.both("_fam")
        return out | (han & one & (sounds | first_differs))

    def fam_agrees(v: PairView, m: Mask) -> Mask:
        return v.eq("_fam") | (latin(v) & (v.jw("_fam", m) >= t))

    def initial(v: PairView, m: Mask) -> Mask:
        # an initial (J. Smith) or a short form: one given name starts the other (Chris / Christopher, Alex /
        # Alexandra) or lies inside it (Topher / Christopher, Lotte / Charlotte, Jane / Sarah-Jane)
        one: Mask = (v.length("_giv_raw") == 1) | (v.length("_giv_raw", right=True) == 1)
        first = v.eq("_ginit")
        words = m & latin(v) & ~one
        short = words & first & _starts_other(v, words & first)
        short |= words & ~first & _inside_other(v, words & ~first)
        return (one & first | short) & fam_agrees(v, m & (one & first | short))

    def family_only(v: PairView, m: Mask) -> Mask:
        # one side has no given name; the family names agree, or are one slip apart in Latin letters (Burworth /
        # Burwotrh)
        alone = m & ~v.both("_giv_raw")
        return alone & fam_agrees(v, alone)

    def fuzzy(v: PairView, m: Mask) -> Mask:
        lat = m & latin(v)
        similar = lat & (v.jw("name_key", lat) >= lv.name_fuzzy_threshold)
        # a long shared surname makes Chloe / Carl Blenford look alike: one family, two given names is same_family
        other_given = v.eq("_fam") & (np.maximum(v.jw("_giv_raw", similar), v.jw("_giv", similar)) < 0.8)
        return similar & ~other_given

    def same_family(v: PairView, m: Mask) -> Mask:
        return v.eq("_fam")

    def other_given(v: PairView, m: Mask) -> Mask:
        # Latin names of one family whose given names start differently (Ethan / Chris): twins, siblings, a couple
        full = (v.length("_giv_raw") >= 3) & (v.length("_giv_raw", right=True) >= 3)
        differ = latin(v) & v.eq("_fam") & full & ~v.eq("_ginit")
        return differ & (v.jw("_giv_raw", differ) < 0.75)  # not a slip of the first letter (Fheo / Theo)

    def same_given(v: PairView, m: Mask) -> Mask:
        # Latin names only: a new family name after marriage; two hanzi names with other surnames are two people
        return latin(v) & v.eq("_giv") & ~v.eq("_fam") & (v.length("_giv") > 1)

    return Comparison(
        "name",
        frozenset({"_fname", "name_key", "_sylkey", "_fam", "_giv", "_giv_raw", "_han", "_gen", "name_pinyin"}),
        lambda v: v.both("_fname"),
        (
            # John Smith Jr / John Smith Sr: two generations of one name, whatever else agrees
            Level("other_generation", lambda v, m: v.both("_gen") & ~v.eq("_gen"), r=0.01, m=0.0005),
            Level(
                "exact",
                lambda v, m: v.eq("_fname"),
                tf=lambda v: v.frequency("name_key"),
                r=0.01,
                m=0.55,
                r_ceiling=NAME_R_CEILING,
            ),
            Level(
                "same_key",
                lambda v, m: v.eq("name_key") | v.eq("_sylkey") | (v.eq("_fam") & _nicknames(v, m & latin(v))),
                tf=lambda v: v.frequency("name_key"),
                r=0.005,
                m=0.2,
                r_ceiling=NAME_R_CEILING,
            ),
            Level("typo", typo, r=0.02, m=0.08, costly=True),
            Level("initial", initial, r=0.01, m=0.04),
            Level("family_only", family_only, r=0.04, m=0.03),
            Level("fuzzy", fuzzy, r=0.02, m=0.03),
            Level("other_given", other_given, r=0.3, m=0.004),
            Level("same_family", same_family, r=0.3, m=0.01),
            Level("same_given", same_given, r=0.03, m=0.01),
            # two clearly different names: a person's own records rarely carry them (a typist's slip, a swapped
            # row; 0.1% of the true pairs of a CRM hand-over), while colleagues and relatives sharing a number do
            Level("else", lambda v, m: m, r=0.55, m=0.05, m_ceiling=0.005),
        ),
        identity=True,
    )


def _birth_date(lv: ComparisonSettings) -> Comparison:
    def swapped(v: PairView, m: Mask) -> Mask:
        a, b = pl.col("a"), pl.col("b")
        same_year = a.str.slice(0, 4) == b.str.slice(0, 4)
        crossed = (a.str.slice(4, 2) == b.str.slice(6, 2)) & (a.str.slice(6, 2) == b.str.slice(4, 2))
        return v.holds("_dob", m, same_year & crossed)

    def days(v: PairView) -> Scores:
        return np.abs(v.side("_dob_days").astype(np.float64) - v.side("_dob_days", right=True).astype(np.float64))

    def one_edit(v: PairView, m: Mask) -> Mask:
        # the optimal string alignment distance of two YYYYMMDD dates is at most 1: one digit differs, or two
        # neighbouring digits are swapped; on the dates as numbers, digit by digit (rapidfuzz on the text took 0.8 s
        # of a million people's 3M pairs)
        out = np.zeros(v.n, dtype=bool)
        idx = np.flatnonzero(m & v.both("_dob_num"))
        if not len(idx):
            return out
        power = 10 ** np.arange(8, dtype=np.int64)[:, None]
        a = v.side("_dob_num")[idx].astype(np.int64) // power % 10
        b = v.side("_dob_num", right=True)[idx].astype(np.int64) // power % 10
        differ = a != b
        swapped = (differ[:-1] & differ[1:] & (a[:-1] == b[1:]) & (a[1:] == b[:-1])).any(axis=0)
        count = differ.sum(axis=0)
        out[idx] = (count <= 1) | ((count == 2) & swapped)
        return out

    return Comparison(
        "birth_date",
        frozenset({"_dob", "_dob_days", "_dob_num", "birth_date"}),
        lambda v: v.both("_dob"),
        (
            # a birth date a generation apart is hardly ever a typo: the starting m says so, firmly (identity), and
            # only data with many such matches (dates replaced wholesale) moves it
            Level("exact", lambda v, m: v.eq("_dob"), r=0.02, m=0.88),
            Level("day_month_swapped", swapped, r=0.005, m=0.02),
            # costly as the other typo levels: u from the same subsample of random pairs
            Level("one_edit", one_edit, r=0.02, m=0.05, costly=True),
            Level("within_1_year", lambda v, m: days(v) <= 366, r=0.03, m=0.03),
            Level("within_5_years", lambda v, m: days(v) <= 5 * 366, r=0.12, m=0.012),
            Level("within_15_years", lambda v, m: days(v) <= 15 * 366, r=0.25, m=0.004),
            Level("else", lambda v, m: m, r=0.55, m=0.004),
        ),
        identity=True,
    )


def _mobile_typo(v: PairView, m: Mask) -> Mask:
    """A mobile of each side one keying slip apart (:meth:`PairView.one_slip`)."""
    return v.one_slip("_mobiles", m)


def _phone(lv: ComparisonSettings) -> Comparison:
    k = lv.shared_by_names

    def own(col: str) -> Condition:
        def when(v: PairView, m: Mask) -> Mask:
            names, _ = v.number_level(col)
            return (names >= 1) & (names < k)

        return when

    def tf_of(col: str) -> Frequency:
        def freq(v: PairView) -> Scores:
            names, _ = v.number_level(col)
            return v.tf_of_count(names)

        return freq

    def national(v: PairView, m: Mask) -> Mask:
        if not v.has("phone_national"):
            return np.zeros(v.n, dtype=bool)
        names, _ = v.number_level("phone_national")
        exact = (v.number_level("_mobiles")[0] > 0) | (v.number_level("_lines")[0] > 0)
        return (names >= 1) & ~exact

    def shared(v: PairView, m: Mask) -> Mask:
        a, _ = v.number_level("_mobiles")
        b, _ = v.number_level("_lines")
        return (a >= k) | (b >= k)

    def known(v: PairView) -> Mask:
        if not v.has("_numbers"):
            return np.zeros(v.n, dtype=bool)
        return v.both("_numbers")

    return Comparison(
        "phone",
        frozenset({"_mobiles", "_lines", "phone_national", "_numbers"}),
        known,
        (
            Level("same_mobile", own("_mobiles"), tf=tf_of("_mobiles"), r=0.05, tf_people=True),
            Level("same_line", own("_lines"), tf=tf_of("_lines"), r=0.3, tf_people=True),
            Level("same_national", national, r=0.02),
            Level("shared", shared, r=0.3),
            Level("mobile_typo", _mobile_typo, r=0.02),
            Level("else", lambda v, m: m, r=0.33),
        ),
    )


def _email(lv: ComparisonSettings) -> Comparison:
    k = lv.shared_by_names

    def personal(v: PairView) -> Mask:
        role = v.side("email_role").astype(bool) if v.has("email_role") else np.zeros(v.n, dtype=bool)
        return ~role & (v.holders("email") < k)

    def namey(v: PairView) -> Mask:
        if not v.has("_local_is_name"):
            return np.zeros(v.n, dtype=bool)
        return v.side("_local_is_name").astype(np.bool_) | v.side("_local_is_name", right=True).astype(np.bool_)

    def same_local(v: PairView, m: Mask) -> Mask:
        return v.eq("email_local") & personal(v) & ~namey(v)

    def local_fuzzy(v: PairView, m: Mask) -> Mask:
        need = m & ~namey(v) & ~v.eq("email")
        return need & (v.jw("email_local", need) >= lv.email_local_threshold)

    return Comparison(
        "email",
        frozenset({"email", "email_local", "email_role"}),
        lambda v: v.both("email"),
        (
            Level(
                "exact",
                lambda v, m: v.eq("email") & personal(v),
                tf=lambda v: v.tf_of_count(v.holders("email")),
                r=0.03,
                tf_people=True,
            ),
            Level("same_local", same_local, r=0.01),
            Level("local_fuzzy", local_fuzzy, r=0.02, costly=True),
            Level("shared", lambda v, m: v.eq("email"), r=0.25),
            Level("else", lambda v, m: m, r=0.69),
        ),
    )


#: Leading pinyin letters a hanzi and an English company name must share to be one brand (two syllables, most
#: brands: huisheng, julong, tengtian).
_BRAND_LETTERS = 6


def _company(lv: ComparisonSettings) -> Comparison:
    def exact(v: PairView, m: Mask) -> Mask:
        return v.eq("company_key") | v.eq("company_key_pinyin")

    def fuzzy(v: PairView, m: Mask) -> Mask:
        sim = np.maximum(v.score("company_key", fuzz.ratio, m), v.score("company_key_pinyin", fuzz.ratio, m))
        return sim >= lv.company_threshold

    def contains(v: PairView, m: Mask) -> Mask:
        a, b = pl.col("a"), pl.col("b")
        out = np.zeros(v.n, dtype=bool)
        for col, shortest in (("company_key", 2), ("company_key_pinyin", 4)):
            out |= v.holds(col, m, _one_in_other(shortest, _inside))
        # one name in hanzi, the other in English: the brand is the hanzi name's first syllables and the English
        # name's first word (汇盛商贸 / Huisheng Trading, 巨隆阀门 / Julong Valve): their pinyin starts alike
        scripts = m & ~out & v.holds("company_key", m & ~out, a.str.contains(HANZI) != b.str.contains(HANZI))
        out |= v.holds("company_key_pinyin", scripts, a.str.slice(0, _BRAND_LETTERS) == b.str.slice(0, _BRAND_LETTERS))
        return out

    return Comparison(
        "company",
        frozenset({"company_key", "company_key_pinyin"}),
        lambda v: v.both("company_key") | v.both("company_key_pinyin"),
        (
            Level("exact", exact, tf=lambda v: v.frequency("company_key"), r=0.6),
            Level("fuzzy", fuzzy, r=0.1, costly=True),
            Level("contains", contains, r=0.1),
            Level("else", lambda v, m: m, r=0.2),
        ),
    )


def _address(lv: ComparisonSettings) -> Comparison:
    def same_street(v: PairView, m: Mask) -> Mask:
        need = m & v.both("_street")
        # 12 High Street and 40 High Street are one street, not one address: numbers must agree where both have one
        numbers = v.eq("_street_no") | ~v.both("_street_no")
        # word order does not matter: a building name and a street swapped between two address lines
        return numbers & (v.score("_street", fuzz.token_sort_ratio, need & numbers) >= lv.address_threshold)

    def known(v: PairView) -> Mask:
        return v.both("_street") | v.both("postcode") | v.both("city_key")

    return Comparison(
        "address",
        frozenset({"_street", "_street_key", "_street_no", "postcode", "city_key"}),
        known,
        (
            Level("same_street", same_street, tf=lambda v: v.frequency("_street"), r=0.6, costly=True),
            Level("same_street_name", lambda v, m: v.eq("_street_key") & (v.eq("postcode") | v.eq("city_key")), r=0.05),
            Level("same_postcode", lambda v, m: v.eq("postcode"), r=0.05),
            Level("same_city", lambda v, m: v.eq("city_key"), r=0.1),
            # a postcode one typing slip away (4034 / 4043, 3078 / 3074), or the neighbouring area: EM weighs it
            Level("postcode_typo", lambda v, m: v.score("postcode", OSA.distance, m) <= 1, r=0.05),
            Level("else", lambda v, m: m, r=0.2),
        ),
    )


def _gender(lv: ComparisonSettings) -> Comparison:
    return Comparison(
        "gender",
        frozenset({"gender"}),
        lambda v: v.both("gender"),
        (Level("same", lambda v, m: v.eq("gender"), r=0.5), Level("different", lambda v, m: m, r=0.5)),
        identity=True,
    )


_BUILDERS: dict[str, Callable[[ComparisonSettings], Comparison]] = {
    "name": _name,
    "phone": _phone,
    "email": _email,
    "company": _company,
    "address": _address,
    "birth_date": _birth_date,
    "gender": _gender,
}


def build_comparisons(settings: MatchSettings) -> list[Comparison]:
    """The comparisons of ``settings`` in their configured order (term-frequency levels per ``tf_adjust``)."""
    tf = set(settings.training.tf_adjust)
    out = []
    for name in settings.comparisons:
        comparison = _BUILDERS[name](settings.levels)
        if name not in tf:
            levels = tuple(dataclasses.replace(lvl, tf=None, tf_people=False) for lvl in comparison.levels)
            comparison = Comparison(comparison.name, comparison.reads, comparison.known, levels, comparison.identity)
        out.append(comparison)
    return out


# ------------------------------------------------------------------------------------------------ comparing


@dataclass
class Compared:
    """Comparison levels of aligned pairs: ``levels[c]`` int8 (0 = null), ``tf[c]`` the agreeing value's
    frequency (NaN where there is none), ``veto`` where a ``cannot_link`` comparison clearly disagrees."""

    left: np.ndarray
    right: np.ndarray
    levels: dict[str, np.ndarray]
    tf: dict[str, np.ndarray] = field(default_factory=dict)
    veto: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.left)

    @classmethod
    def concat(cls, parts: list[Compared]) -> Compared:
        """The pairs of ``parts``, one after the other (chunks compared apart, e.g. on the workers of a cluster)."""
        if not parts:
            raise ValueError("no compared pairs to concatenate")
        first = parts[0]
        vetoes = [p.veto for p in parts]
        return Compared(
            np.concatenate([p.left for p in parts]),
            np.concatenate([p.right for p in parts]),
            {k: np.concatenate([p.levels[k] for p in parts]) for k in first.levels},
            {k: np.concatenate([p.tf[k] for p in parts]) for k in first.tf},
            None if any(v is None for v in vetoes) else np.concatenate([v for v in vetoes if v is not None]),
        )

    def subset(self, mask: np.ndarray | slice) -> Compared:
        """The pairs where ``mask`` holds (or in the slice, as views)."""
        return Compared(
            self.left[mask],
            self.right[mask],
            {k: v[mask] for k, v in self.levels.items()},
            {k: v[mask] for k, v in self.tf.items()},
            None if self.veto is None else self.veto[mask],
        )


class PairComparer(Protocol):
    """What the matcher asks of a comparer: :class:`Comparer` in one process; an engine may compare elsewhere
    (``pipelines.dask_engine``'s comparer sends chunks of pairs to the workers of a Dask cluster)."""

    settings: MatchSettings
    comparisons: list[Comparison]
    n: int
    rids: npt.NDArray[np.int64]

    def compare(
        self, left: np.ndarray, right: np.ndarray, chunk: int | None = None, sample: np.ndarray | None = None
    ) -> Compared: ...


#: Prepared columns the comparisons read (the side table keeps only these).
_SIDE = (
    "_fname",
    "name_key",
    "name_pinyin",
    "_fam",
    "_giv",
    "_giv_raw",
    "_ginit",
    "_han",
    "_sylkey",
    "_gen",
    "_cjk",
    "_mobiles",
    "_lines",
    "_numbers",
    "phone_national",
    "email",
    "email_local",
    "email_role",
    "company_key",
    "company_key_pinyin",
    "_street",
    "_street_key",
    "_street_no",
    "postcode",
    "city_key",
    "_dob",
    "_dob_days",
    "gender",
)


#: Prepared columns comparisons read (with ``_rid``, what a record needs to be compared).
MATCHING_COLUMNS: tuple[str, ...] = _SIDE


@dataclass(frozen=True)
class SideTable:
    """What comparing needs of a set of records: the columns comparisons read, one row per record in ``_rid``
    order (``rids``), with frequencies and holders counted over a population of ``n`` records, and the phone-number
    statistics (``numbers``). Built once per run (:func:`side_table`); a comparer, or a worker of a cluster, codes
    and compares from it."""

    rids: npt.NDArray[np.int64]
    side: pl.DataFrame
    numbers: pl.DataFrame
    n: int

    def positions(self, rids: np.ndarray) -> npt.NDArray[np.int64]:
        """Row positions of ``rids`` in the table (a ``ValueError`` for a ``_rid`` that is not in it)."""
        rids = np.asarray(rids, dtype=np.int64)
        if len(self.rids) and self.rids[0] == 0 and self.rids[-1] == len(self.rids) - 1:
            # _rid 0 … n−1 (the usual case): the rid is its position
            if len(rids) and (rids.min() < 0 or rids.max() >= len(self.rids)):
                raise ValueError("pairs reference a _rid that is not among the records")
            return rids
        pos = np.clip(np.searchsorted(self.rids, rids), 0, max(len(self.rids) - 1, 0))
        if len(rids) and (self.rids[pos] != rids).any():
            raise ValueError("pairs reference a _rid that is not among the records")
        return pos

    def subset(self, rids: np.ndarray) -> SideTable:
        """The table of the records ``rids`` only (sorted and distinct), with the statistics of the numbers they
        hold: what comparing pairs among them needs. Frequencies stay those of the whole population (``n``), so
        the levels are those the whole table gives (a Dask task carries the subset of its pairs' records)."""
        rids = np.asarray(rids, dtype=np.int64)
        side = self.side[self.positions(rids)]
        numbers = self.numbers
        if numbers.height:
            numbers = numbers.join(_numbers_held(side).unique(), on="number", how="semi")
        return SideTable(rids, side, numbers, self.n)

    def __reduce__(self) -> tuple[Any, ...]:
        # pickled (sent to a Dask worker) as Arrow IPC with offsets, not views: a text column is a 16-byte view per
        # record in memory, empty or not, and a pickled frame keeps them (134k records of a person table: 50 MB in
        # 0.21 s, 37 MB in 0.05 s so). Compressing costs more CPU than a local cluster's transfer (lz4: 17 MB, 0.15
        # s); across a network, Dask's own `distributed.comm.compression` compresses what it sends
        return (_unpacked_table, (self.rids, _packed(self.side), _packed(self.numbers), self.n))


def _packed(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_ipc(buffer, compression="uncompressed", compat_level=pl.CompatLevel.oldest())
    return buffer.getvalue()


def _unpacked_table(rids: npt.NDArray[np.int64], side: bytes, numbers: bytes, n: int) -> SideTable:
    return SideTable(rids, pl.read_ipc(io.BytesIO(side)), pl.read_ipc(io.BytesIO(numbers)), n)


def side_table(prepared: pl.DataFrame, settings: MatchSettings, population: pl.DataFrame | None = None) -> SideTable:
    """The side table of prepared records (``population``: the records frequencies describe, default ``prepared``;
    see :class:`Comparer`)."""
    side = prepared.select(RID, *(c for c in _SIDE if c in prepared.columns))
    if not side[RID].is_sorted():  # records already in _rid order (a run's always are) are taken as they are, uncopied
        side = side.sort(RID)
    rids = side[RID].to_numpy().astype(np.int64)
    side, numbers = _side_table(side.drop(RID), settings, population)
    return SideTable(rids, side, numbers, prepared.height if population is None else population.height)


class Comparer:
    """Compares pairs of prepared records; holds the frequency tables of the population they come from.

    Args:
        prepared: the output of :func:`rules.match.prepare.prepare_records`: the records pairs may reference.
        settings: comparisons and level thresholds.
        population: the prepared records term frequencies and shared-value counts describe (default:
            ``prepared``). An incremental run compares a few records against a large store: ``prepared`` then
            holds only the records of the pairs, ``population`` everything, and only the values those records
            hold are counted.
    """

    def __init__(self, prepared: pl.DataFrame, settings: MatchSettings, population: pl.DataFrame | None = None) -> None:
        self._start(side_table(prepared, settings, population), settings)

    @classmethod
    def of(cls, table: SideTable, settings: MatchSettings) -> Comparer:
        """A comparer over a side table built before (a worker of a cluster receives the table, not the records)."""
        comparer = cls.__new__(cls)
        comparer._start(table, settings)
        return comparer

    def _start(self, table: SideTable, settings: MatchSettings) -> None:
        self.settings = settings
        self.comparisons = build_comparisons(settings)
        self.n = table.n
        self.rids = table.rids
        self._table = table
        self.side, self.numbers = table.side, table.numbers
        self._coded: dict[tuple[str, bool], Coded] = {}
        self._listed: dict[tuple[str, str], Listed] = {}
        self._lengths: dict[tuple[str, str], npt.NDArray[np.int64]] = {}
        # chunks compared in threads code a column once: a lock per column, so that two columns are coded at once
        self._coding = threading.Lock()
        self._column_locks: dict[tuple[str, bool | str], threading.Lock] = {}

    def coded(self, col: str, sort_tokens: bool = False) -> Coded:
        """A text column of the side table as a code per record position (-1 where null) and the distinct values
        the codes index (Python strings): fuzzy scores are computed per distinct pair of values. With
        ``sort_tokens`` each value's words are sorted (what ``token_sort_ratio`` compares), once per value."""
        key = (col, sort_tokens)
        if key not in self._coded:
            plain = self.coded(col) if sort_tokens else None
            with self._lock(key):
                if key not in self._coded:
                    self._coded[key] = self._code(col) if plain is None else _sorted_words(plain)
        return self._coded[key]

    def listed(self, col: str) -> Listed:
        """The numbers of list column ``col`` as codes with their statistics (see :class:`Listed`), made once."""
        key = (col, "listed")
        if key not in self._listed:
            with self._lock(key):
                if key not in self._listed:
                    self._listed[key] = self._list_codes(col)
        return self._listed[key]

    def lengths(self, col: str) -> npt.NDArray[np.int64]:
        """Characters of each distinct value of the coded text column ``col``, and a last 0 (code -1: null)."""
        key = (col, "lengths")
        if key not in self._lengths:
            values = self.coded(col)[1]
            with self._lock(key):
                if key not in self._lengths:
                    counted = pl.Series(values, dtype=pl.String).str.len_chars().fill_null(0).to_numpy()
                    self._lengths[key] = np.append(counted, 0).astype(np.int64)
        return self._lengths[key]

    def _lock(self, key: tuple[str, bool | str]) -> threading.Lock:
        with self._coding:
            return self._column_locks.setdefault(key, threading.Lock())

    def _code_all(self, pool: ThreadPoolExecutor) -> None:
        """Code every text column the comparisons read, the columns side by side (coding a million records' ten
        or so text columns one after the other held both compare threads for seconds)."""
        reads = {col for comparison in self.comparisons for col in comparison.reads}
        texts = [c for c in self.side.columns if c in reads and self.side.schema[c] == pl.String]
        list(pool.map(self.coded, texts))

    def _list_codes(self, col: str) -> Listed:
        exploded = (
            self.side.select(pl.col(col).alias("number")).with_row_index("pos").explode("number").drop_nulls("number")
        )
        distinct = exploded.get_column("number").unique()
        table = (
            pl.DataFrame({"number": distinct})
            .with_row_index("code")
            .with_columns((pl.lit(_number_prefix(col)) + pl.col("number")).alias("key"))
            .join(self.numbers.rename({"number": "key"}), on="key", how="left", maintain_order="left")
        )
        coded = exploded.join(table.select("number", "code"), on="number", how="left", maintain_order="left")
        positions = coded.get_column("pos").to_numpy()
        digits = table.select(pl.col("number").str.replace_all(r"\D", "").alias("d")).with_columns(
            width=pl.when(pl.col("d").str.len_chars().is_between(1, _MAX_DIGITS)).then(pl.col("d").str.len_chars())
        )
        return Listed(
            offsets=np.searchsorted(positions, np.arange(self.side.height + 1)).astype(np.int64),
            codes=coded.get_column("code").to_numpy().astype(np.int64),
            names=table.get_column("names").cast(pl.Float64).fill_null(np.inf).to_numpy(),
            count=table.get_column("count").cast(pl.Float64).fill_null(np.inf).to_numpy(),
            digits=digits.select(pl.when(pl.col("width").is_not_null()).then(pl.col("d")).cast(pl.Int64).fill_null(0))
            .to_series()
            .to_numpy(),
            width=digits.get_column("width").fill_null(0).cast(pl.Int64).to_numpy(),
        )

    def _code(self, col: str) -> Coded:
        column = self.side.get_column(col)
        distinct = column.drop_nulls().unique()
        number = pl.DataFrame({"v": distinct, "c": pl.int_range(distinct.len(), dtype=pl.Int32, eager=True)})
        positions = column.to_frame("v").join(number, on="v", how="left", maintain_order="left")["c"].fill_null(-1)
        return positions.to_numpy(), distinct.to_numpy()

    def index(self, rids: np.ndarray) -> np.ndarray:
        """Row positions of ``rids`` in the side table."""
        return self._table.positions(rids)

    def compare(
        self, left: np.ndarray, right: np.ndarray, chunk: int | None = None, sample: np.ndarray | None = None
    ) -> Compared:
        """Level of every comparison for the aligned pairs ``(left[i], right[i])`` of ``_rid`` values.

        Pairs are compared ``chunk`` (default :func:`_chunk_for`) at a time (`COMPARE_THREADS` chunks at once),
        so memory stays bounded however many pairs there are; the levels come out in the order of the pairs
        whatever the threads do. ``sample`` (bool per pair) limits the costly levels to those pairs
        (:data:`SKIPPED` elsewhere; see :meth:`Comparison.evaluate`).
        """
        chunk = chunk or _chunk_for(len(left))
        left = np.asarray(left, dtype=np.int64)
        right = np.asarray(right, dtype=np.int64)
        li, ri = self.index(left), self.index(right)
        use_tf = self.n >= self.settings.training.tf_min_records
        parts: dict[str, list[np.ndarray]] = {c.name: [] for c in self.comparisons}
        tf_parts: dict[str, list[np.ndarray]] = {c.name: [] for c in self.comparisons if c.tf_levels and use_tf}

        def one(start: int) -> list[tuple[np.ndarray, np.ndarray]]:
            lpos, rpos = li[start : start + chunk], ri[start : start + chunk]
            view = PairView(
                Rows(self.side, lpos),
                Rows(self.side, rpos),
                self.n,
                self.settings.levels,
                self.coded,
                self.listed,
                self.lengths,
            )
            part = None if sample is None else sample[start : start + chunk]
            return [comparison.evaluate(view, part) for comparison in self.comparisons]

        starts = range(0, max(len(left), 1), chunk)
        with ThreadPoolExecutor(max_workers=COMPARE_THREADS) as pool:
            if len(starts) > 1:
                self._code_all(pool)
            for done in pool.map(one, starts) if len(starts) > 1 else [one(0)]:
                for comparison, (levels, tf) in zip(self.comparisons, done, strict=True):
                    parts[comparison.name].append(levels)
                    if comparison.name in tf_parts:
                        tf_parts[comparison.name].append(tf)
        out = Compared(left, right, {k: np.concatenate(v) for k, v in parts.items()})
        out.tf = {k: np.concatenate(v) for k, v in tf_parts.items()}
        veto = np.zeros(len(left), dtype=bool)
        for comparison in self.comparisons:
            if comparison.name in self.settings.cannot_link:
                veto |= out.levels[comparison.name] == len(comparison.levels)
        out.veto = veto
        return out


def _sorted_words(coded: Coded) -> Coded:
    """The same codes, each distinct value's words sorted (what ``token_sort_ratio`` compares)."""
    codes, values = coded
    # sorted inside list.eval: polars 2.1's list.sort() of text took 10 s on 600k names, this takes 0.1 s
    words = pl.Series(values, dtype=pl.String).str.split(" ")
    return codes, words.list.eval(pl.element().filter(pl.element() != "").sort()).list.join(" ").to_numpy()


#: Columns whose value frequency (records holding it) replaces u on agreement.
_TF_COLUMNS = ("name_key", "company_key", "_street")
#: Columns whose agreement is weighed by how many different names hold the value.
_HOLDER_COLUMNS = ("email",)


def _population_stats(side: pl.DataFrame, population: pl.DataFrame) -> pl.DataFrame:
    """``side`` with the frequency and holder columns counted over ``population`` (only the values ``side``
    holds are counted, so a few records against millions stay fast)."""
    n = max(population.height, 2)
    out = side
    for col in _TF_COLUMNS:
        if col in side.columns and col in population.columns:
            values = side[col].drop_nulls().unique().implode()
            counts = population.filter(pl.col(col).is_in(values)).group_by(col).len("_c")
            out = (
                out.join(counts, on=col, how="left")
                .with_columns(((pl.col("_c").fill_null(1) - 1).clip(1) / (n - 1)).alias(f"_tf:{col}"))
                .drop("_c")
            )
    for col in _HOLDER_COLUMNS:
        if col in side.columns and col in population.columns:
            values = side[col].drop_nulls().unique().implode()
            name = pl.col("name_key") if "name_key" in population.columns else pl.lit(None, pl.String)
            held = (
                population.filter(pl.col(col).is_in(values))
                .group_by(col)
                .agg(name.drop_nulls().n_unique().clip(1).alias("_h"))
            )
            out = (
                out.join(held, on=col, how="left")
                .with_columns(
                    pl.when(pl.col(col).is_not_null()).then(pl.col("_h").fill_null(1)).alias(f"_holders:{col}")
                )
                .drop("_h")
            )
    return out


def _side_table(
    side: pl.DataFrame, settings: MatchSettings, population: pl.DataFrame | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The columns comparisons read, with frequencies, holders and phone-number statistics added."""
    n = max(side.height, 2)
    name = pl.col("name_key") if "name_key" in side.columns else pl.lit(None, pl.String)
    extra: list[pl.Expr] = []
    if population is None:
        for col in _TF_COLUMNS:
            if col in side.columns:
                # P(another record holds this value): (count − 1)/(N − 1), the record itself left out
                extra.append(((pl.len().over(col) - 1).clip(1) / (n - 1)).alias(f"_tf:{col}"))
        for col in _HOLDER_COLUMNS:
            if col in side.columns:
                holders = name.drop_nulls().n_unique().over(col).clip(1)
                extra.append(pl.when(pl.col(col).is_not_null()).then(holders).alias(f"_holders:{col}"))
    else:
        side = _population_stats(side, population)
    if "_giv_raw" in side.columns:
        extra.append(pl.col("_giv_raw").str.slice(0, 1).alias("_ginit"))
    if "_dob" in side.columns:
        extra.append(pl.col("_dob").str.to_date("%Y%m%d", strict=False).cast(pl.Int32).alias("_dob_days"))
    lists = [c for c in ("_mobiles", "_lines") if c in side.columns]
    if lists:
        # how many numbers a record holds, null for none: "both known" from two integers, not two gathered lists
        # (a number is a mobile or a line, once: the lengths add up; a concat_list and list.unique of them cost
        # 0.76 s at 976k records, this 0.01)
        held = pl.sum_horizontal(pl.col(c).list.len().fill_null(0) for c in lists)
        extra.append(pl.when(held > 0).then(held).alias("_numbers"))
    side = side.with_columns(extra)
    if "_dob_days" in side.columns:
        side = side.with_columns(
            pl.when(pl.col("_dob_days").is_null()).then(None).otherwise(pl.col("_dob")).alias("_dob")
        ).with_columns(pl.col("_dob").cast(pl.Int32, strict=False).alias("_dob_num"))
    if {"email_local", "_fam"} <= set(side.columns):
        side = side.with_columns(_local_is_name(side).alias("_local_is_name"))
    numbers = _number_stats(side if population is None else _holding_numbers(population, side))
    return side, numbers


def _holding_numbers(population: pl.DataFrame, side: pl.DataFrame) -> pl.DataFrame:
    """The population's records that hold a phone number (or national number) one of ``side``'s records holds."""
    keep = pl.lit(False)
    for col in _NUMBER_COLUMNS:
        if col in side.columns and col in population.columns:
            values = side[col].explode().drop_nulls().unique().implode()
            keep = keep | pl.col(col).list.eval(pl.element().is_in(values)).list.any().fill_null(False)
    cols = [c for c in (*_NUMBER_COLUMNS, "name_key") if c in population.columns]
    return population.select(cols).filter(keep)


def _local_is_name(side: pl.DataFrame) -> pl.Series:
    """True where the e-mail local part is spelled from the person's name (zhangwei88@, wei.zhang@)."""
    letters = side["email_local"].str.replace_all(r"[^a-z]", "")
    fam = side["_fam"].fill_null("")
    giv = side["_giv_raw"].fill_null("") if "_giv_raw" in side.columns else pl.Series([""] * side.height)
    sim = np.zeros(side.height)
    for spelling in (fam + giv, giv + fam, giv.str.slice(0, 1) + fam, fam):
        spelled = pl.select(pl.when(spelling.str.len_chars() >= 3).then(spelling)).to_series()
        # a local part one spelling already matched is not scored again (most match the first: the side table of
        # 976k CRM records 3.7 -> 2.8 s)
        need = (letters.is_not_null() & spelled.is_not_null()).to_numpy() & (sim < 0.85)
        idx = np.flatnonzero(need)
        if len(idx):
            sims = process.cpdist(
                letters.gather(idx).to_list(),
                spelled.gather(idx).to_list(),
                scorer=JaroWinkler.normalized_similarity,
                workers=-1,
            )
            sim[idx] = np.maximum(sim[idx], sims)
    return pl.Series("_local_is_name", sim >= 0.85)


#: List columns of phone numbers, counted per number (:func:`_number_stats`).
_NUMBER_COLUMNS = ("_mobiles", "_lines", "phone_national")


def _number_prefix(col: str) -> str:
    """What keys a number of ``col`` in the statistics: a national form apart from the full numbers (``n:``)."""
    return "n:" if col == "phone_national" else ""


def _numbers_held(side: pl.DataFrame, *carry: pl.Expr) -> pl.DataFrame:
    """Every number the records of ``side`` hold, a row each, keyed as the statistics key it (``number``), with
    the ``carry`` columns of its record."""
    parts = [
        side.select(pl.col(col).alias("number"), *carry)
        .explode("number")
        .drop_nulls("number")
        .with_columns((pl.lit(_number_prefix(col)) + pl.col("number")).alias("number"))
        for col in _NUMBER_COLUMNS
        if col in side.columns
    ]
    return pl.concat(parts) if parts else pl.DataFrame(schema={"number": pl.String})


def _number_stats(side: pl.DataFrame) -> pl.DataFrame:
    """Per phone number (mobiles, lines and national forms): records and distinct names holding it."""
    if not any(c in side.columns for c in _NUMBER_COLUMNS):
        return pl.DataFrame(schema={"number": pl.String, "count": pl.UInt32, "names": pl.UInt32})
    name = pl.col("name_key") if "name_key" in side.columns else pl.lit(None, pl.String)
    exploded = _numbers_held(side, name.alias("nk"))
    return exploded.group_by("number").agg(
        pl.len().alias("count"), pl.col("nk").drop_nulls().n_unique().clip(1).alias("names")
    )

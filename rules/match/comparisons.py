"""Comparisons with ordered levels (null, exact, fuzzy thresholds, else), compared by characters with rapidfuzz.

Each comparison turns a record pair into a level index: 0 is "null" (a side is unknown: weight 0, never
"different"), then the levels in order from the strongest agreement to ``else``. One comparison per concept
(every name column feeds ``name``, every number ``phone``) so that correlated columns are not counted twice.

=============  ==================================================================================================
comparison     levels (after ``null``)
=============  ==================================================================================================
name           ``exact`` full name · ``same_key`` name_key equal (hanzi/pinyin, swapped order, nickname) ·
               ``pinyin_jw>=t`` for each threshold (only when a side is in Latin letters) · ``hanzi_1_edit``
               two hanzi names of 3+ characters one character apart (诗艳晶/邱艳晶) · ``else``
phone          ``same`` a shared number used under few names · ``same_national`` last 8 digits equal (wrong
               country code) · ``shared`` only a line many names use (family landline, switchboard) · ``else``
email          ``exact`` · ``same_local`` local part equal, other domain · ``local_fuzzy`` (both only when
               a local part is not spelled from the person's name: that would count the name twice) ·
               ``shared_role`` same role mailbox (info@, sales@) · ``else``
company        ``exact`` company_key equal · ``fuzzy`` · ``else``
address        ``same_street`` street text (after the district) fuzzy equal · ``same_city`` · ``else``
birth_date     ``exact`` · ``day_month_swapped`` · ``one_digit`` (a typo) · ``same_year`` · ``else``
gender         ``same`` · ``different``
=============  ==================================================================================================

Term frequencies (the chance that another record holds the agreeing value: (count − 1)/(N − 1)) come with
the ``exact``/``same_key`` name levels (of ``name_key``), ``same`` and ``shared`` phone (the rarest common
number: a switchboard on 500 records weighs little), ``exact`` email and ``exact`` company.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl
from rapidfuzz import fuzz, process
from rapidfuzz.distance import JaroWinkler, Levenshtein

from .blocking import RID
from .settings import ComparisonSettings, MatchSettings

__all__ = ["Compared", "Comparer", "ComparisonSpec", "comparison_specs"]


@dataclass(frozen=True)
class ComparisonSpec:
    """A comparison's name, its level labels (without ``null``), the columns it reads and its tf levels."""

    name: str
    levels: tuple[str, ...]
    columns: frozenset[str]
    tf_levels: tuple[int, ...] = ()  # 1-based level indexes whose u is replaced by the value's frequency


def comparison_specs(settings: MatchSettings) -> list[ComparisonSpec]:
    """The comparisons of ``settings`` in their configured order."""
    lv = settings.levels
    name_levels = ("exact", "same_key", *(f"pinyin_jw>={t:g}" for t in lv.name_thresholds), "hanzi_1_edit", "else")
    specs = {
        "name": ComparisonSpec(
            "name",
            name_levels,
            frozenset({"full_name", "name_key", "name_pinyin", "name_initial", "family_name", "given_name"}),
            (1, 2),
        ),
        "phone": ComparisonSpec(
            "phone",
            ("same", "same_national", "shared", "else"),
            frozenset({"phone", "phones", "phone_national"}),
            (1, 3),
        ),
        "email": ComparisonSpec(
            "email",
            ("exact", "same_local", "local_fuzzy", "shared_role", "else"),
            frozenset({"email", "email_local", "email_domain"}),
            (1,),
        ),
        "company": ComparisonSpec(
            "company", ("exact", "fuzzy", "else"), frozenset({"company", "company_key", "company_key_pinyin"}), (1,)
        ),
        "address": ComparisonSpec(
            "address",
            ("same_street", "same_city", "else"),
            frozenset({"address", "city", "city_key", "district", "province", "postcode"}),
        ),
        "birth_date": ComparisonSpec(
            "birth_date", ("exact", "day_month_swapped", "one_digit", "same_year", "else"), frozenset({"birth_date"})
        ),
        "gender": ComparisonSpec("gender", ("same", "different"), frozenset({"gender"})),
    }
    tf = set(settings.training.tf_adjust)
    out = []
    for name in settings.comparisons:
        spec = specs[name]
        out.append(spec if name in tf else ComparisonSpec(spec.name, spec.levels, spec.columns, ()))
    return out


@dataclass
class Compared:
    """Comparison levels of aligned pairs: ``levels[c]`` int8 (0 = null), ``tf[c]`` the agreeing value's
    frequency (NaN where there is none), ``veto`` where a ``cannot_link`` comparison clearly disagrees."""

    left: np.ndarray
    right: np.ndarray
    levels: dict[str, np.ndarray]
    tf: dict[str, np.ndarray] = field(default_factory=dict)
    veto: np.ndarray | None = None  # True where a cannot_link comparison clearly disagrees

    def __len__(self) -> int:
        return len(self.left)


_SIDE = (
    "_fname",
    "name_key",
    "name_pinyin",
    "_cjk",
    "_phoneset",
    "phone_national",
    "email",
    "email_local",
    "email_role",
    "company_key",
    "company_key_pinyin",
    "_street",
    "city_key",
    "birth_date",
    "gender",
)


def _sim(a: pl.Series, b: pl.Series, scorer: object, mask: np.ndarray | None = None) -> np.ndarray:
    """Aligned character similarity in 0..1 (rapidfuzz, all cores); 0 where either side is null or outside
    ``mask`` (only the rows that need a fuzzy score are scored)."""
    need = (a.is_not_null() & b.is_not_null()).to_numpy()
    if mask is not None:
        need &= mask
    out = np.zeros(len(a), dtype=np.float64)
    idx = np.flatnonzero(need)
    if not len(idx):
        return out
    sims = process.cpdist(a.gather(idx).to_list(), b.gather(idx).to_list(), scorer=scorer, dtype=np.float32, workers=-1)
    sims = np.asarray(sims, dtype=np.float64)
    if scorer is fuzz.ratio:
        sims /= 100.0
    out[idx] = sims
    return out


def _b(s: pl.Series) -> np.ndarray:
    return s.fill_null(False).to_numpy().astype(bool)


class Comparer:
    """Compares pairs of one set of prepared records; holds the term-frequency tables of those records.

    Args:
        prepared: the output of :func:`rules.match.blocking.prepare_records` (all records that can be paired,
            so term frequencies describe the whole population).
        settings: comparisons and level thresholds.
    """

    def __init__(self, prepared: pl.DataFrame, settings: MatchSettings) -> None:
        self.settings = settings
        self.specs = comparison_specs(settings)
        self.n = prepared.height
        order = prepared[RID].arg_sort()
        self.rids = prepared[RID].gather(order).to_numpy().astype(np.int64)
        cols = [c for c in _SIDE if c in prepared.columns]
        side = prepared.select(*cols).gather(order)
        n = max(self.n, 1)
        extra = []
        for col, tf_col in (("name_key", "_tf_name"), ("email", "_tf_email"), ("company_key", "_tf_company")):
            if col in side.columns:
                # P(another record holds this value): (count - 1) / (N - 1), the record itself left out
                extra.append(((pl.len().over(col) - 1).clip(1) / max(n - 1, 1)).alias(tf_col))
        side = side.with_columns(extra)
        if {"email_local", "name_key"} <= set(side.columns):
            # a local part spelled from the person's name (zhangwei88@, wei.zhang@) repeats the name comparison:
            # agreeing on it is no evidence beyond the name, so such local parts only count as exact addresses
            letters = side["email_local"].str.replace_all(r"[^a-z]", "")
            key = side["name_key"].str.to_lowercase().str.replace_all(r"[^a-z]", "")
            spellings = [key]
            if "name_pinyin" in side.columns:
                tokens = side["name_pinyin"].str.to_lowercase().str.replace_all(r"[^a-z ]", "").str.split(" ")
                spellings += [tokens.list.join(""), tokens.list.reverse().list.join("")]
            sim = np.zeros(side.height)
            for spelling in spellings:
                sim = np.maximum(sim, _sim(letters, spelling, JaroWinkler.normalized_similarity))
            side = side.with_columns(pl.Series("_local_is_name", sim >= 0.85))
        self.side = side
        # phone number statistics: how many records and how many different names carry each number
        if "_phoneset" in side.columns:
            exploded = side.select(
                pl.col("_phoneset").alias("number"),
                (pl.col("name_key") if "name_key" in side.columns else pl.lit(None, pl.String)).alias("nk"),
            ).explode("number")
            self.numbers = (
                exploded.drop_nulls("number")
                .group_by("number")
                .agg(pl.len().alias("count"), pl.col("nk").n_unique().alias("names"))
                .with_columns((pl.col("names") >= settings.levels.shared_phone_names).alias("shared"))
            )
        else:
            self.numbers = pl.DataFrame(schema={"number": pl.String, "count": pl.UInt32, "shared": pl.Boolean})

    def index(self, rids: np.ndarray) -> np.ndarray:
        """Row positions of ``rids`` in the side table."""
        rids = np.asarray(rids, dtype=np.int64)
        pos = np.searchsorted(self.rids, rids)
        pos = np.clip(pos, 0, max(len(self.rids) - 1, 0))
        if len(rids) and (self.rids[pos] != rids).any():
            raise ValueError("pairs reference a _rid that is not among the records")
        return pos

    def compare(self, left: np.ndarray, right: np.ndarray, chunk: int = 250_000) -> Compared:
        """Level of every comparison for the aligned pairs ``(left[i], right[i])`` of ``_rid`` values.

        Pairs are compared ``chunk`` at a time, so memory stays bounded however many pairs there are.
        """
        left = np.asarray(left, dtype=np.int64)
        right = np.asarray(right, dtype=np.int64)
        li, ri = self.index(left), self.index(right)
        use_tf = self.n >= self.settings.training.tf_min_records
        out = Compared(left, right, {})
        parts: dict[str, list[np.ndarray]] = {s.name: [] for s in self.specs}
        tf_parts: dict[str, list[np.ndarray]] = {s.name: [] for s in self.specs if s.tf_levels and use_tf}
        for start in range(0, max(len(left), 1), chunk):
            L, R = self.side[li[start : start + chunk]], self.side[ri[start : start + chunk]]
            for spec in self.specs:
                levels, tf = getattr(self, f"_{spec.name}")(L, R, self.settings.levels)
                parts[spec.name].append(levels.astype(np.int8))
                if spec.name in tf_parts:
                    tf_parts[spec.name].append(tf if tf is not None else np.full(L.height, np.nan))
            del L, R
        for name, arrays in parts.items():
            out.levels[name] = np.concatenate(arrays)
        for name, arrays in tf_parts.items():
            out.tf[name] = np.concatenate(arrays)
        veto = np.zeros(len(left), dtype=bool)
        for spec in self.specs:
            if spec.name in self.settings.cannot_link:
                veto |= out.levels[spec.name] == len(spec.levels)
        out.veto = veto
        return out

    # ------------------------------------------------------------------------------------------ comparisons

    @staticmethod
    def _col(L: pl.DataFrame, R: pl.DataFrame, col: str) -> tuple[pl.Series, pl.Series] | None:
        if col not in L.columns:
            return None
        return L[col], R[col]

    def _name(self, L: pl.DataFrame, R: pl.DataFrame, lv: ComparisonSettings) -> tuple[np.ndarray, np.ndarray]:
        n = L.height
        levels = np.zeros(n, dtype=np.int8)
        tf = np.full(n, np.nan)
        if "_fname" not in L.columns or L["_fname"].null_count() == n:
            return levels, tf
        fl, fr = L["_fname"], R["_fname"]
        known = (fl.is_not_null() & fr.is_not_null()).to_numpy()
        exact = _b(fl == fr)
        key = _b(L["name_key"] == R["name_key"]) if "name_key" in L.columns else np.zeros(n, bool)
        latin = ~(L["_cjk"].to_numpy() & R["_cjk"].to_numpy())
        conds = [~known, exact, key]
        if "name_pinyin" in L.columns:
            need = known & latin & ~exact & ~key
            jw = _sim(L["name_pinyin"], R["name_pinyin"], JaroWinkler.normalized_similarity, need)
            conds += [latin & (jw >= t) for t in lv.name_thresholds]
        else:
            conds += [np.zeros(n, bool) for _ in lv.name_thresholds]
        long = _b((fl.str.len_chars() >= 3) & (fr.str.len_chars() >= 3))
        need = known & ~latin & long & ~exact & ~key
        dist = _sim(fl, fr, Levenshtein.distance, need)
        conds.append(need & (dist == 1))
        levels = np.select(conds, list(range(len(conds))), default=len(conds)).astype(np.int8)
        if "_tf_name" in L.columns:
            tf = np.where((levels == 1) | (levels == 2), L["_tf_name"].fill_null(np.nan).to_numpy(), np.nan)
        return levels, tf

    def _phone(self, L: pl.DataFrame, R: pl.DataFrame, lv: ComparisonSettings) -> tuple[np.ndarray, np.ndarray]:
        n = L.height
        if "_phoneset" not in L.columns:
            return np.zeros(n, np.int8), np.full(n, np.nan)
        pairs = pl.DataFrame({"a": L["_phoneset"], "b": R["_phoneset"]})
        known = _b((pairs["a"].list.len() > 0) & (pairs["b"].list.len() > 0))
        inter = (
            pairs.with_row_index("i")
            .select("i", pl.col("a").list.set_intersection("b").alias("number"))
            .explode("number")
            .drop_nulls("number")
            .join(self.numbers, on="number", how="left")
            .group_by("i")
            .agg(
                (~pl.col("shared")).any().alias("own"),
                pl.col("count").filter(~pl.col("shared")).min().alias("count"),
                pl.col("count").min().alias("count_any"),
            )
        )
        own = np.zeros(n, bool)
        any_overlap = np.zeros(n, bool)
        count = np.full(n, np.nan)
        idx = inter["i"].to_numpy()
        any_overlap[idx] = True
        own[idx] = inter["own"].fill_null(False).to_numpy()
        count[idx] = inter["count"].cast(pl.Float64).fill_null(np.nan).to_numpy()
        count_any = np.full(n, np.nan)
        count_any[idx] = inter["count_any"].cast(pl.Float64).to_numpy()
        national = np.zeros(n, bool)
        if "phone_national" in L.columns:
            national = _b(L["phone_national"].list.set_intersection(R["phone_national"]).list.len() > 0)
        levels = np.select([~known, own, national & ~any_overlap, any_overlap], [0, 1, 2, 3], default=4)
        tf = np.where(levels == 1, np.maximum(count - 1, 1) / max(self.n - 1, 1), np.nan)
        tf = np.where(levels == 3, np.maximum(count_any - 1, 1) / max(self.n - 1, 1), tf)
        return levels.astype(np.int8), tf

    def _email(self, L: pl.DataFrame, R: pl.DataFrame, lv: ComparisonSettings) -> tuple[np.ndarray, np.ndarray]:
        n = L.height
        if "email" not in L.columns:
            return np.zeros(n, np.int8), np.full(n, np.nan)
        el, er = L["email"], R["email"]
        known = (el.is_not_null() & er.is_not_null()).to_numpy()
        role = np.zeros(n, bool)
        if "email_role" in L.columns:
            role = _b(L["email_role"]) | _b(R["email_role"])
        exact = _b(el == er)
        namey = np.zeros(n, bool)
        if "_local_is_name" in L.columns:
            namey = L["_local_is_name"].to_numpy() & R["_local_is_name"].to_numpy()
        same_local = _b(L["email_local"] == R["email_local"]) & ~role & ~namey
        need = known & ~exact & ~same_local & ~role & ~namey
        jw = _sim(L["email_local"], R["email_local"], JaroWinkler.normalized_similarity, need)
        levels = np.select(
            [~known, exact & ~role, same_local, need & (jw >= lv.email_local_threshold), exact & role],
            [0, 1, 2, 3, 4],
            default=5,
        )
        tf = np.full(n, np.nan)
        if "_tf_email" in L.columns:
            tf = np.where(levels == 1, L["_tf_email"].fill_null(np.nan).to_numpy(), np.nan)
        return levels.astype(np.int8), tf

    def _company(self, L: pl.DataFrame, R: pl.DataFrame, lv: ComparisonSettings) -> tuple[np.ndarray, np.ndarray]:
        n = L.height
        if "company_key" not in L.columns:
            return np.zeros(n, np.int8), np.full(n, np.nan)
        cl, cr = L["company_key"], R["company_key"]
        known = (cl.is_not_null() & cr.is_not_null()).to_numpy()
        exact = _b(cl == cr)
        need = known & ~exact
        sim = _sim(cl, cr, fuzz.ratio, need)
        if "company_key_pinyin" in L.columns:
            sim = np.maximum(sim, _sim(L["company_key_pinyin"], R["company_key_pinyin"], fuzz.ratio, need))
        levels = np.select([~known, exact, sim >= lv.company_threshold], [0, 1, 2], default=3)
        tf = np.full(n, np.nan)
        if "_tf_company" in L.columns:
            tf = np.where(levels == 1, L["_tf_company"].fill_null(np.nan).to_numpy(), np.nan)
        return levels.astype(np.int8), tf

    def _address(self, L: pl.DataFrame, R: pl.DataFrame, lv: ComparisonSettings) -> tuple[np.ndarray, None]:
        n = L.height
        street_known = np.zeros(n, bool)
        same_street = np.zeros(n, bool)
        if "_street" in L.columns:
            sl, sr = L["_street"], R["_street"]
            street_known = _b((sl.str.len_chars() >= 4) & (sr.str.len_chars() >= 4))
            same_street = street_known & (_sim(sl, sr, fuzz.ratio, street_known) >= lv.address_threshold)
        city_known = np.zeros(n, bool)
        same_city = np.zeros(n, bool)
        if "city_key" in L.columns:
            city_known = (L["city_key"].is_not_null() & R["city_key"].is_not_null()).to_numpy()
            same_city = _b(L["city_key"] == R["city_key"])
        levels = np.select(
            [same_street, same_city, city_known | street_known],
            [1, 2, 3],
            default=0,
        )
        return levels.astype(np.int8), None

    def _birth_date(self, L: pl.DataFrame, R: pl.DataFrame, lv: ComparisonSettings) -> tuple[np.ndarray, None]:
        n = L.height
        if "birth_date" not in L.columns:
            return np.zeros(n, np.int8), None
        bl, br = L["birth_date"].cast(pl.String), R["birth_date"].cast(pl.String)
        known = (bl.is_not_null() & br.is_not_null()).to_numpy()
        year = _b(bl.str.slice(0, 4) == br.str.slice(0, 4))
        ml, dl, mr, dr = bl.str.slice(5, 2), bl.str.slice(8, 2), br.str.slice(5, 2), br.str.slice(8, 2)
        swapped = year & _b((ml == dr) & (dl == mr))
        exact = _b(bl == br)
        digit = _sim(bl, br, Levenshtein.distance, known & ~exact & ~swapped) == 1
        levels = np.select([~known, exact, swapped, known & digit, year], [0, 1, 2, 3, 4], default=5)
        return levels.astype(np.int8), None

    def _gender(self, L: pl.DataFrame, R: pl.DataFrame, lv: ComparisonSettings) -> tuple[np.ndarray, None]:
        n = L.height
        if "gender" not in L.columns:
            return np.zeros(n, np.int8), None
        gl, gr = L["gender"].cast(pl.String), R["gender"].cast(pl.String)
        known = (gl.is_not_null() & gr.is_not_null()).to_numpy()
        levels = np.select([~known, _b(gl == gr)], [0, 1], default=2)
        return levels.astype(np.int8), None

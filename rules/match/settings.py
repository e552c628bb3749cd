"""Matching settings: blocking rules, comparison thresholds, model training and clustering (``match:`` in YAML)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["ComparisonSettings", "MatchSettings", "TrainingSettings"]

ComparisonName = Literal["name", "phone", "email", "company", "address", "birth_date", "gender"]
ALL_COMPARISONS: tuple[ComparisonName, ...] = ("name", "phone", "email", "company", "address", "birth_date", "gender")


class ComparisonSettings(BaseModel):
    """Thresholds of the fuzzy comparison levels (similarities in 0..1, compared by characters with rapidfuzz)."""

    model_config = ConfigDict(extra="forbid")

    #: Jaro-Winkler on ``name_pinyin`` for the two fuzzy name levels, highest first. Only used when at least one
    #: side is written in Latin letters: two different hanzi names are never "fuzzy" equal (王芳/王强 read
    #: "wang fang"/"wang qiang", Jaro-Winkler 0.94), a hanzi typo of the same sound already has the same name_key.
    name_thresholds: list[float] = Field(default_factory=lambda: [0.94, 0.88], min_length=1, max_length=3)
    #: Jaro-Winkler on the e-mail local part for the "local part fuzzy" level (typos such as wagn/wang).
    email_local_threshold: float = Field(default=0.9, ge=0, le=1)
    #: Indel ratio on ``company_key`` (or its pinyin) for the "company fuzzy" level.
    company_threshold: float = Field(default=0.85, ge=0, le=1)
    #: Indel ratio on the street part of ``address`` (text after the district) for the "same street" level.
    address_threshold: float = Field(default=0.85, ge=0, le=1)
    #: A number that records under at least this many different ``name_key`` values carry is a shared line
    #: (family landline, company switchboard): agreeing on it only reaches the level ``shared``.
    shared_phone_names: int = Field(default=3, ge=2)


class TrainingSettings(BaseModel):
    """How :func:`rules.match.fit` estimates the Fellegi-Sunter parameters (no labels needed)."""

    model_config = ConfigDict(extra="forbid")

    #: Random record pairs sampled (fixed seed) to estimate the u probabilities (non-match agreement rates).
    u_sample_pairs: int = Field(default=300_000, ge=1_000)
    #: Maximum EM iterations per blocking-rule session, and the convergence tolerance on any m probability.
    em_iterations: int = Field(default=25, ge=1)
    em_tolerance: float = Field(default=1e-4, gt=0)
    #: Seed of the u sample: same data, same model.
    seed: int = 42
    #: Comparisons whose exact levels are term-frequency adjusted: agreeing on 张伟 or on a switchboard counts
    #: less than agreeing on a rare value (u of the level replaced by the value's frequency).
    tf_adjust: list[ComparisonName] = Field(default_factory=lambda: ["name", "phone", "email", "company"])
    #: Below this many records no term-frequency adjustment is made (frequencies of a few records are noise).
    tf_min_records: int = Field(default=1000, ge=0)
    #: Floor of a term frequency (keeps a unique value from weighing without bound).
    tf_minimum_u: float = Field(default=1e-8, gt=0, lt=1)


class MatchSettings(BaseModel):
    """Blocking rules, comparisons, model training and clustering of the matcher.

    Probabilities are Fellegi-Sunter match probabilities (0..1) from :class:`rules.match.MatchModel`.
    """

    model_config = ConfigDict(extra="forbid")

    #: Each rule lists the columns whose equal non-null values make two rows a candidate pair; the candidates
    #: are the union over rules (each pair scored once). List columns (``phones``, ``phone_national``) are
    #: exploded. Besides the normalised columns, the derived keys ``phone_national`` (last 8 digits of each
    #: number: catches a wrong country code), ``email_local``, ``email_domain``, ``city_key`` (city without
    #: 市/city suffix, or read from ``address``), ``name_initial`` (first letter of ``name_key``) and
    #: ``family_key`` (pinyin of the family name) can be used. A rule naming a column absent from the data produces
    #: no pairs. The defaults leave out ``name_key+city_key`` and ``company_key+name_initial``: on the sample they
    #: add under 1% recall, and at 1M records 10M candidate pairs, most of them same-name strangers.
    blocking: list[list[str]] = Field(
        default_factory=lambda: [
            ["phones"],
            ["phone_national"],
            ["email"],
            ["name_key", "company_key"],
            ["name_key", "birth_date"],
        ],
        min_length=1,
    )
    #: Upper bound of the candidate pairs of one rule, estimated before joining (Σ n·(n−1)/2 over its blocks).
    max_pairs: int = Field(default=20_000_000, ge=1)
    #: Comparisons scored (each reads its own columns; absent columns or nulls are "unknown", weight 0).
    comparisons: list[ComparisonName] = Field(default_factory=lambda: list(ALL_COMPARISONS), min_length=1)
    #: Comparisons whose clear disagreement (their last level: ``else``/``different``) is a veto: such a pair
    #: is never merged, counts as a non-match when training, and cuts any weak link whose cross pairs include
    #: it (father and son with one name, phone and address differ only in their birth dates). Typos stay
    #: possible through the ``day_month_swapped`` and ``one_digit`` birth-date levels.
    cannot_link: list[ComparisonName] = Field(default_factory=lambda: ["birth_date"])
    levels: ComparisonSettings = Field(default_factory=ComparisonSettings)
    training: TrainingSettings = Field(default_factory=TrainingSettings)
    #: Pairs with match probability at least this are merged (connected components, then the linkage check).
    threshold: float = Field(default=0.9, gt=0, lt=1)
    #: Pairs with ``review_threshold <= probability < threshold`` are returned in ``MatchResult.review`` as
    #: possible matches for a person to decide, never merged.
    review_threshold: float = Field(default=0.5, gt=0, lt=1)
    #: ``average_linkage``: an edge of a component that no third record confirms (it is in no triangle) is kept
    #: only when the mean match weight between the two records' neighbourhoods reaches the threshold's weight;
    #: this splits households and strangers chained by one weak link. ``none``: plain connected components.
    cluster_check: Literal["average_linkage", "none"] = "average_linkage"
    #: The average-linkage check keeps an unconfirmed edge when the mean match weight of the cross pairs reaches
    #: the weight of this probability, log2(p/(1−p)).
    linkage_threshold: float = Field(default=0.5, gt=0, lt=1)
    #: Components larger than this are not checked (all their pairs would be scored); they are logged.
    max_checked_cluster: int = Field(default=60, ge=3)

    @model_validator(mode="after")
    def _bands(self) -> MatchSettings:
        problems = []
        if self.review_threshold > self.threshold:
            problems.append(f"review_threshold ({self.review_threshold}) must not exceed threshold ({self.threshold})")
        for i, rule in enumerate(self.blocking):
            if not rule:
                problems.append(f"blocking[{i}] is empty")
        th = self.levels.name_thresholds
        if th != sorted(th, reverse=True):
            problems.append("levels.name_thresholds must be in decreasing order")
        if problems:
            raise ValueError("; ".join(problems))
        return self

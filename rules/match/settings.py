"""Matching settings: blocking rules, comparison thresholds, model training and clustering (``match:`` in YAML)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["MAX_BLOCKING_RULES", "BlockingRule", "ComparisonSettings", "MatchSettings", "TrainingSettings"]

ComparisonName = Literal["name", "phone", "email", "company", "address", "birth_date", "gender"]
_TF_ADJUSTED: tuple[ComparisonName, ...] = ("name", "phone", "email", "company", "address")
ALL_COMPARISONS: tuple[ComparisonName, ...] = ("name", "phone", "email", "company", "address", "birth_date", "gender")


class BlockingRule(BaseModel):
    """Records whose values agree on every column of ``on`` become candidate pairs.

    In YAML a rule is either a list of columns (``[name_key, birth_date]``) or a mapping
    (``{on: [name_key], max_block: 30}``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Columns of the prepared records (see :mod:`rules.match.prepare`); list columns such as ``_mobiles`` explode.
    on: tuple[str, ...] = Field(min_length=1)
    #: Blocks with more records than this are left out of this rule (a common name alone, a switchboard): their
    #: pairs are mostly strangers, and the other rules still see them. None: every block.
    max_block: int | None = Field(default=None, ge=2)
    #: Whether the model is trained on this rule's pairs (an EM session). Loose rules, whose pairs are mostly
    #: strangers and relatives, only propose pairs to score.
    train: bool = True

    @model_validator(mode="before")
    @classmethod
    def _from_list(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return {"on": tuple(value)}
        return value

    @property
    def name(self) -> str:
        """``a+b`` (and ``≤N`` when blocks are capped): the rule's name in logs, reports and pair evidence."""
        return "+".join(self.on) + (f"≤{self.max_block}" if self.max_block else "")


class ComparisonSettings(BaseModel):
    """Thresholds of the fuzzy comparison levels (similarities in 0..1, compared by characters with rapidfuzz)."""

    model_config = ConfigDict(extra="forbid")

    #: Jaro-Winkler of the family and of the given name (pinyin or folded Latin) for the name level ``typo``:
    #: both parts at least this similar (also when written the other way round).
    name_typo_threshold: float = Field(default=0.9, ge=0, le=1)
    #: Jaro-Winkler of the whole name key for the level ``fuzzy`` (only when a side is in Latin letters: two
    #: different hanzi names are never "fuzzy" equal: 王芳/王强 read "wang fang"/"wang qiang").
    name_fuzzy_threshold: float = Field(default=0.88, ge=0, le=1)
    #: Jaro-Winkler on the e-mail local part for the "local part fuzzy" level (typos such as wagn/wang).
    email_local_threshold: float = Field(default=0.9, ge=0, le=1)
    #: Indel ratio on ``company_key`` (or its pinyin) for the "company fuzzy" level.
    company_threshold: float = Field(default=0.85, ge=0, le=1)
    #: Indel ratio on the street and house number for the "same street" level.
    address_threshold: float = Field(default=0.85, ge=0, le=1)
    #: A phone number, e-mail address or street address that records under at least this many different names
    #: carry is shared (a switchboard, a role mailbox, an office building): agreeing on it is weak evidence.
    shared_by_names: int = Field(default=3, ge=2)


class TrainingSettings(BaseModel):
    """How :func:`rules.match.fit` estimates the Fellegi-Sunter parameters (no labels needed)."""

    model_config = ConfigDict(extra="forbid")

    #: Random record pairs sampled (fixed seed) to estimate the u probabilities (non-match agreement rates).
    u_sample_pairs: int = Field(default=1_000_000, ge=1_000)
    #: Of those, the pairs on which the string-similarity levels (and the levels after them) are evaluated: their
    #: u are far more common than an exact agreement's, so fewer pairs estimate them as well, and they cost most.
    u_fuzzy_pairs: int = Field(default=300_000, ge=1_000)
    #: Maximum EM iterations per session, and the convergence tolerance on any m probability.
    em_iterations: int = Field(default=40, ge=1)
    em_tolerance: float = Field(default=1e-4, gt=0)
    #: Strength of the ordered prior on m, in pseudo-matches per session (maximum a posteriori EM): keeps a level
    #: that a session barely sees from collapsing to 0 (a veto by accident) or to an extreme.
    m_prior_matches: float = Field(default=20.0, ge=0)
    #: Strength of the starting m of the comparisons that say who a person is (name, birth date, gender), in
    #: pseudo-matches per session: a session whose only other evidence is contact details cannot tell a father and
    #: son from one person, so what a name or birth date disagreement means among matches is held firmly.
    identity_prior_matches: float = Field(default=500.0, ge=0)
    #: Strength of the starting values of the related class (colleagues, relatives) on the comparisons that say who
    #: a person is (name, birth date, gender), in pseudo-pairs per session: related people are different people,
    #: and only strong evidence should teach EM that they often share a name or a birth date.
    related_prior_pairs: float = Field(default=500.0, ge=0)
    #: No m probability goes below this: only ``cannot_link`` makes a pair impossible.
    m_floor: float = Field(default=1e-3, gt=0, lt=0.1)
    #: Seed of the samples: same data, same model.
    seed: int = 42
    #: Comparisons whose exact levels are term-frequency adjusted: agreeing on 张伟 or on a switchboard counts
    #: less than agreeing on a rare value (u of the level replaced by the value's frequency).
    tf_adjust: list[ComparisonName] = Field(default_factory=lambda: list(_TF_ADJUSTED))
    #: Below this many records no term-frequency adjustment is made (frequencies of a few records are noise).
    tf_min_records: int = Field(default=1000, ge=0)
    #: Floor of a term frequency (keeps a unique value from weighing without bound).
    tf_minimum_u: float = Field(default=1e-8, gt=0, lt=1)
    #: Candidate pairs a training session samples at most (sessions are sampled evenly; pairs scored anyway).
    session_pairs: int = Field(default=2_000_000, ge=1_000)


#: Blocking rules one run can use together (each candidate pair records the rules that proposed it as a bit set).
MAX_BLOCKING_RULES = 62


class MatchSettings(BaseModel):
    """Blocking rules, comparisons, model training and clustering of the matcher.

    Probabilities are Fellegi-Sunter match probabilities (0..1) from :class:`rules.match.MatchModel`.
    """

    model_config = ConfigDict(extra="forbid")

    #: ``auto`` (default): rules derived from the columns the records actually have (names × birth date,
    #: postcode, city, street, company; birth date × postcode; phonetic keys; personal phones and e-mails), each
    #: capped so that no block of strangers explodes (see :func:`rules.match.blocking.derive_rules`). Or a list
    #: of rules (each a list of columns or ``{on, max_block}``, at most :data:`MAX_BLOCKING_RULES`); the candidates
    #: are the union over rules.
    blocking: Literal["auto"] | Annotated[list[BlockingRule], Field(max_length=MAX_BLOCKING_RULES)] = "auto"
    #: Automatic blocking adds looser one-column rules while all rules together stay under this many candidate
    #: pairs per record (and at least a million pairs in all).
    pair_budget_per_record: int = Field(default=10, ge=0)
    #: From 100k records (``rules.match.engine.LOOSE_SAMPLE_RECORDS``), the pairs one same set of blocking rules
    #: proposes (those only untrained, loose rules propose count as one set) are compared and scored up to this
    #: many; beyond it a random sample of this size is (fixed seed), each sampled pair standing for the ones left out
    #: in the EM sessions, the class priors and the blocking report, and the rest of a set is compared too unless,
    #: by the samples, the sets left out add at most 0.1% of all links together (those adding the fewest links per
    #: pair first). In a big table most candidate pairs come from common keys (a surname and a street, a name and a
    #: city: strangers and relatives) and add little recall (1M CRM records: 5.3M of 6.85M pairs, 460 of 486k
    #: links), but the samples still train the model and measure the related prior. 100k a set rather than 250k: the
    #: 976k sample compares 3.27M pairs instead of 3.67M, half a second and 0.17 GiB less, the same F1 there (0.9584);
    #: 0.0002 less on 100k people, 0.0001 less on 330k hand-over records.
    loose_pairs: int = Field(default=100_000, ge=1)
    #: Upper bound of the candidate pairs of one rule, estimated before joining (Σ n·(n−1)/2 over its blocks).
    #: A listed rule over it is an error; an automatic rule is capped to fit.
    max_pairs: int = Field(default=20_000_000, ge=1)
    #: Comparisons scored (each reads its own columns; absent columns or nulls are "unknown", weight 0).
    comparisons: list[ComparisonName] = Field(default_factory=lambda: list(ALL_COMPARISONS), min_length=1)
    #: Comparisons whose clear disagreement (their last level) is a veto: such a pair is never merged, counts as a
    #: non-match when training, and never ends up in one cluster. Empty by default: a birth date a generation apart
    #: already weighs heavily against a match when the data's matches rarely carry a wrong date (EM learns that),
    #: and a veto would split every duplicate whose date was mistyped beyond a typo. ``[birth_date]`` makes father
    #: and son (same name, phone and address, born 30 years apart) impossible whatever else agrees.
    cannot_link: list[ComparisonName] = Field(default_factory=list)
    levels: ComparisonSettings = Field(default_factory=ComparisonSettings)
    training: TrainingSettings = Field(default_factory=TrainingSettings)
    #: Pairs with match probability at least this are merged (average-linkage clustering, see below).
    threshold: float = Field(default=0.9, gt=0, lt=1)
    #: Pairs with ``review_threshold <= probability < threshold`` are returned in ``MatchResult.review`` as
    #: possible matches for a person to decide, never merged.
    review_threshold: float = Field(default=0.5, gt=0, lt=1)
    #: Scored pairs below this match probability are left out of ``MatchResult.pairs`` of a full match as they are
    #: scored (they still count in the blocking table and the recall estimate; an incremental match keeps its
    #: few). 0 (default) keeps every candidate pair. A table of millions of records sets e.g. 0.01, as Splink's
    #: ``predict(threshold_match_probability=…)`` does: the pairs anyone looks at stay, the others never hold
    #: weights all at once (10M people: 69.6M candidate pairs, 8.0M kept).
    keep_pairs_above: float = Field(default=0.0, ge=0, lt=1)
    #: ``average_linkage``: within each group of records connected by confident pairs, records are merged
    #: strongest pair first, and two groups join only when the mean match weight over all their cross pairs (scored
    #: now if blocking never proposed them) reaches the weight of ``linkage_threshold``; a cannot-link pair never
    #: joins. This splits households and strangers chained by one weak link. ``none``: connected components.
    cluster_check: Literal["average_linkage", "none"] = "average_linkage"
    #: The mean match weight two groups need to join, as a probability (weight log2(p/(1−p))).
    linkage_threshold: float = Field(default=0.5, gt=0, lt=1)
    #: Groups of connected records larger than this are first split by raising the threshold (0.99, 0.999 …)
    #: until every part fits; no cluster grows unchecked (a placeholder shared by hundreds of fake sign-ups).
    max_cluster_size: int = Field(default=200, ge=3)

    @model_validator(mode="after")
    def _bands(self) -> MatchSettings:
        problems = []
        if self.review_threshold > self.threshold:
            problems.append(f"review_threshold ({self.review_threshold}) must not exceed threshold ({self.threshold})")
        if self.keep_pairs_above > self.review_threshold:
            problems.append(
                f"keep_pairs_above ({self.keep_pairs_above}) must not exceed review_threshold "
                f"({self.review_threshold}): the pairs to review would be left out"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self

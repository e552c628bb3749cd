"""Entity resolution: blocking, comparisons, a Fellegi-Sunter model, clustering, explanations.

``match(records, settings)`` prepares the normalised records (derived keys), blocks them with rules derived from
the columns they have, compares every candidate pair with ordered comparison levels, trains a Fellegi-Sunter
model without labels (u from random pairs, m by EM, term-frequency adjusted), and clusters the confident pairs by
average linkage so that strangers never chain; possible matches go to review. ``match_incremental`` adds new
records to existing clusters; ``explain`` shows why a pair scored as it did; ``dedupe_table`` is the analyst's
one-table deduplication (``crmkit dedupe``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crm_store._lazy import lazy_exports

#: Public name -> its submodule, imported on first use (``MatchSettings`` alone does not load scipy).
_EXPORTS: dict[str, tuple[str, ...]] = {
    "blocking": (
        "AUTO_RULES",
        "BlockingError",
        "BlockingPlan",
        "block_pairs",
        "candidate_pairs",
        "derive_rules",
        "estimate_pairs",
        "rule_keys",
        "slice_pairs",
        "split_blocks",
        "union_bits",
        "usable_rules",
        "with_rule_names",
    ),
    "comparisons": (
        "Compared",
        "Comparer",
        "Comparison",
        "Level",
        "PairComparer",
        "SideTable",
        "build_comparisons",
        "side_table",
    ),
    "dedupe": (
        "DedupeConfig",
        "Deduped",
        "dedupe_table",
        "normalise_people",
    ),
    "engine": (
        "Engine",
        "LocalEngine",
        "MatchResult",
        "cluster",
        "match",
        "match_columns",
        "match_incremental",
        "score_pairs",
    ),
    "explanation": (
        "explain",
        "explain_frame",
    ),
    "model": (
        "ComparisonModel",
        "MatchModel",
        "fit",
        "prob_to_weight",
        "weight_to_prob",
    ),
    "prepare": (
        "RID",
        "prepare_records",
    ),
    "settings": (
        "MAX_BLOCKING_RULES",
        "BlockingRule",
        "ComparisonSettings",
        "MatchSettings",
        "TrainingSettings",
    ),
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from .blocking import (
        AUTO_RULES,
        BlockingError,
        BlockingPlan,
        block_pairs,
        candidate_pairs,
        derive_rules,
        estimate_pairs,
        rule_keys,
        slice_pairs,
        split_blocks,
        union_bits,
        usable_rules,
        with_rule_names,
    )
    from .comparisons import (
        Compared,
        Comparer,
        Comparison,
        Level,
        PairComparer,
        SideTable,
        build_comparisons,
        side_table,
    )
    from .dedupe import DedupeConfig, Deduped, dedupe_table, normalise_people
    from .engine import Engine, LocalEngine, MatchResult, cluster, match, match_columns, match_incremental, score_pairs
    from .explanation import explain, explain_frame
    from .model import ComparisonModel, MatchModel, fit, prob_to_weight, weight_to_prob
    from .prepare import RID, prepare_records
    from .settings import MAX_BLOCKING_RULES, BlockingRule, ComparisonSettings, MatchSettings, TrainingSettings

__all__ = [
    "AUTO_RULES",
    "MAX_BLOCKING_RULES",
    "RID",
    "BlockingError",
    "BlockingPlan",
    "BlockingRule",
    "Compared",
    "Comparer",
    "Comparison",
    "ComparisonModel",
    "ComparisonSettings",
    "DedupeConfig",
    "Deduped",
    "Engine",
    "Level",
    "LocalEngine",
    "MatchModel",
    "MatchResult",
    "MatchSettings",
    "PairComparer",
    "SideTable",
    "TrainingSettings",
    "block_pairs",
    "build_comparisons",
    "candidate_pairs",
    "cluster",
    "dedupe_table",
    "derive_rules",
    "estimate_pairs",
    "explain",
    "explain_frame",
    "fit",
    "match",
    "match_columns",
    "match_incremental",
    "normalise_people",
    "prepare_records",
    "prob_to_weight",
    "rule_keys",
    "score_pairs",
    "side_table",
    "slice_pairs",
    "split_blocks",
    "union_bits",
    "usable_rules",
    "weight_to_prob",
    "with_rule_names",
]

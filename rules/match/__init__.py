"""Entity resolution: blocking, comparisons, a Fellegi-Sunter model, clustering, explanations.

``match(records, settings)`` blocks the normalised records with several rules, compares every candidate pair
with ordered comparison levels, trains a Fellegi-Sunter model without labels (u from random pairs, m by EM,
term-frequency adjusted), and clusters the confident pairs without chaining strangers; possible matches go to
review. ``match_incremental`` adds new records to existing clusters; ``explain`` shows why a pair scored as it
did; ``dedupe_frame`` is the analyst's one-file deduplication (``crmkit dedupe``).
"""

from __future__ import annotations

from .blocking import BlockingError, candidate_pairs, estimate_pairs, prepare_records
from .comparisons import Comparer, ComparisonSpec, comparison_specs
from .dedupe import DedupeConfig, dedupe_frame
from .engine import MatchResult, cluster, match, match_incremental, score_pairs
from .explain import explain, explain_frame
from .model import ComparisonModel, MatchModel, fit
from .settings import ComparisonSettings, MatchSettings, TrainingSettings

__all__ = [
    "BlockingError",
    "Comparer",
    "ComparisonModel",
    "ComparisonSettings",
    "ComparisonSpec",
    "DedupeConfig",
    "MatchModel",
    "MatchResult",
    "MatchSettings",
    "TrainingSettings",
    "candidate_pairs",
    "cluster",
    "comparison_specs",
    "dedupe_frame",
    "estimate_pairs",
    "explain",
    "explain_frame",
    "fit",
    "match",
    "match_incremental",
    "prepare_records",
    "score_pairs",
]

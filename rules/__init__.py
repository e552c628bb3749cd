"""crmkit rules: pure functions over polars frames — mapping, normalisers, validation, matching, survivorship.

No I/O, no Prefect, no database sessions here; ``rules`` imports only ``crm_store.schema`` of the project.
The subpackage and modules follow the flow: ``mapping`` → ``normalise`` → ``validate`` → ``match`` → ``survive``;
``mask`` and ``reasons`` serve them all. The matcher is used through its subpackage (``rules.match.match``,
``rules.match.match_incremental``): nothing here is named ``match``, so ``rules.match`` is always the subpackage.
"""

from __future__ import annotations

from rules.mapping import apply_mapping, check_mapping
from rules.mask import mask_email, mask_name, mask_phone, mask_text, mask_value
from rules.match import MatchResult, MatchSettings
from rules.normalise import NORMALISERS, get_normaliser, normalise_frame
from rules.reasons import REASONS, describe
from rules.survive import customer_ids, survive
from rules.validate import ValidationResult, ValidationSettings, connector_failures, validate

__all__ = [
    "NORMALISERS",
    "REASONS",
    "MatchResult",
    "MatchSettings",
    "ValidationResult",
    "ValidationSettings",
    "apply_mapping",
    "check_mapping",
    "connector_failures",
    "customer_ids",
    "describe",
    "get_normaliser",
    "mask_email",
    "mask_name",
    "mask_phone",
    "mask_text",
    "mask_value",
    "normalise_frame",
    "survive",
    "validate",
]

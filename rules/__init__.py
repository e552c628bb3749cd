"""crmkit rules: pure functions over polars frames — mapping, normalisers, validation, matching, survivorship.

No I/O, no Prefect, no database sessions here; ``rules`` imports only ``crm_store.schema`` of the project.
The subpackage and modules follow the flow: ``mapping`` → ``normalise`` → ``validate`` → ``match`` → ``survive``;
``mask`` and ``reasons`` serve them all. The matcher is used through its subpackage (``rules.match.match``,
``rules.match.match_incremental``): no public name here is also a module's (``match``, ``survive``, ``validate``),
so ``rules.survive`` is always the module; ``rules.survive.survive`` the function. The names below are imported on
first use (a test holds that none shadows a module).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crm_store._lazy import lazy_exports

#: Public name -> its module, imported on first use (checking a project file loads no matcher or normaliser).
_EXPORTS: dict[str, tuple[str, ...]] = {
    "errors": ("RuleError",),
    "mapping": (
        "apply_mapping",
        "check_mapping",
    ),
    "mask": (
        "mask_email",
        "mask_name",
        "mask_phone",
        "mask_text",
        "mask_value",
    ),
    "match": (
        "MatchResult",
        "MatchSettings",
    ),
    "normalise": (
        "NORMALISERS",
        "get_normaliser",
        "normalise_frame",
    ),
    "reasons": (
        "REASONS",
        "describe",
    ),
    "survive": ("customer_ids",),
    "validate": (
        "ValidationResult",
        "ValidationSettings",
        "connector_failures",
    ),
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from rules.errors import RuleError
    from rules.mapping import apply_mapping, check_mapping
    from rules.mask import mask_email, mask_name, mask_phone, mask_text, mask_value
    from rules.match import MatchResult, MatchSettings
    from rules.normalise import NORMALISERS, get_normaliser, normalise_frame
    from rules.reasons import REASONS, describe
    from rules.survive import customer_ids
    from rules.validate import ValidationResult, ValidationSettings, connector_failures

__all__ = [
    "NORMALISERS",
    "REASONS",
    "MatchResult",
    "MatchSettings",
    "RuleError",
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
]

"""The rules' error family: every error ``rules`` raises on purpose is a :class:`RuleError`.

Bad *values* never raise (they get issue codes); a :class:`RuleError` is a definition that cannot be applied (an
unknown normaliser, a rule naming no field, a blocking rule over its budget). None is worth retrying unchanged.
"""

from __future__ import annotations


class RuleError(Exception):
    """A rule, normaliser or matcher setting that cannot be applied as given."""

    retryable: bool = False

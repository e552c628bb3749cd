"""The pipelines' error family: every error ``pipelines`` raises on purpose is a :class:`PipelineError`.

The CLI turns this family, :class:`crm_store.errors.StoreError`, :class:`rules.errors.RuleError` and
:class:`connectors.SourceError` into one message and an exit code; anything else is a bug and keeps its
traceback (with ``--debug``).
"""

from __future__ import annotations


class PipelineError(Exception):
    """A run, project file or steward action that cannot go on as asked."""

    retryable: bool = False

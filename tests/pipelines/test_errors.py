"""The CLI turns the packages' error families into one message and exit 1 (no traceback); other exceptions are
bugs and keep their traceback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from connectors import SourceError, UnknownConnectorError
from crm_store import RunLockedError, StoreError
from pipelines.cli import app
from pipelines.errors import PipelineError
from rules import RuleError


@pytest.fixture
def raising() -> Iterator[list[BaseException]]:
    """A throwaway ``crmkit boom`` command that raises the exception put in the list."""
    errors: list[BaseException] = []

    @app.command("boom", hidden=True)
    def boom() -> None:
        raise errors[0]

    yield errors
    app.registered_commands[:] = [c for c in app.registered_commands if c.name != "boom"]


@pytest.mark.parametrize(
    "error",
    [
        StoreError("the store sqlite:///x.db does not exist"),
        RuleError("rule 'email_or_phone' names no field"),
        PipelineError("the ledger does not balance"),
        SourceError("crm", "a.csv", 2, "unterminated quote"),
        UnknownConnectorError("unknown connector kind 'cvs'; known kinds: csv"),
    ],
)
def test_an_error_of_a_family_is_one_message(raising: list[BaseException], error: Exception) -> None:
    raising.append(error)
    result = CliRunner().invoke(app, ["boom"])
    assert result.exit_code == 1
    assert str(error) in result.output and "Traceback" not in result.output
    assert "run again later" not in result.output  # not retryable


def test_a_retryable_error_says_so(raising: list[BaseException]) -> None:
    raising.append(RunLockedError("sqlite:///x.db", None, 0))
    result = CliRunner().invoke(app, ["boom"])
    assert result.exit_code == 1 and "may succeed if run again later" in result.output


def test_a_bug_is_not_swallowed(raising: list[BaseException]) -> None:
    raising.append(ZeroDivisionError("division by zero"))
    result = CliRunner().invoke(app, ["boom"])
    assert result.exit_code == 1 and isinstance(result.exception, ZeroDivisionError)

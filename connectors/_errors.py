"""The connectors' error family: a source that cannot be read at all, and a connector kind nobody registered."""

from __future__ import annotations

from pathlib import Path


class ConnectorError(Exception):
    """Every error the connectors raise on purpose; ``retryable``: the same call may succeed later unchanged."""

    retryable: bool = False


class UnknownConnectorError(ConnectorError, KeyError):
    """No connector is registered under a kind (the message lists the known kinds)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class SourceError(ConnectorError):
    """A source that cannot be read at all: missing file, corrupt workbook, undecodable text, no header.

    Bad *rows* never raise: they are yielded with ``_error_code`` / ``_skip_reason`` set. This error fails one
    source with a message naming the file, the row where known, and the problem; retrying does not help
    until the file or the settings change.

    Attributes:
        source: The source name from the configuration.
        path: The file that could not be read.
        row: Where the problem is (a line number or ``Sheet!row``), or ``None`` for the whole file.
        problem: What is wrong, in words a user can act on.
    """

    def __init__(self, source: str, path: str | Path, row: int | str | None, problem: str) -> None:
        self.source = source
        self.path = str(path)
        self.row = row
        self.problem = problem
        super().__init__(str(self))

    def __str__(self) -> str:
        if self.row is None:
            return f"{self.path}: {self.problem}"
        return f"{self.path}: row {self.row}: {self.problem}"

    def __reduce__(self) -> tuple[type[SourceError], tuple[str, str, int | str | None, str]]:
        return (SourceError, (self.source, self.path, self.row, self.problem))

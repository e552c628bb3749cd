"""The fuzz suite's marker: it runs in ``make test`` (the regression net); ``-m "not fuzz"`` leaves it out."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "fuzz: the bad-file corpus run through the pipeline in capped child processes")

"""Every normaliser test runs strict: a normaliser that raises fails the test instead of reporting ``invalid``."""

from __future__ import annotations

import pytest

from rules.normalise import STRICT_ENV


@pytest.fixture(autouse=True)
def _strict_normalisers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(STRICT_ENV, "1")

"""How the analyst notebooks run in the test suite (nbmake): each one, kernel start included, within a time budget.

A notebook that an analyst waits minutes for is not run. ``CRMKIT_NOTEBOOK_BUDGET=30`` holds every notebook to 30
seconds: over it, the notebook's test fails, saying how long it took. Unset (the default, as in ``make test``) no
time is enforced: a timing on a shared CI machine is not a result (speed is measured in ``benchmarks/``); the
durations are in pytest's ``--durations`` list. A notebook that fails on its own fails as it did, not for its time.
"""

from __future__ import annotations

import os
import time
from collections.abc import Generator

import pytest

#: Seconds a notebook may take, kernel start included (None: not enforced).
BUDGET_SECONDS = float(os.environ["CRMKIT_NOTEBOOK_BUDGET"]) if os.environ.get("CRMKIT_NOTEBOOK_BUDGET") else None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    """Fail a notebook that passed but took longer than the budget."""
    started = time.perf_counter()
    result = yield
    took = time.perf_counter() - started
    if item.path.suffix == ".ipynb" and BUDGET_SECONDS is not None and took > BUDGET_SECONDS:
        pytest.fail(
            f"{item.path.name} took {took:.1f} s; a notebook must run in {BUDGET_SECONDS:g} s "
            "(CRMKIT_NOTEBOOK_BUDGET): make it read less, or generate a smaller sample",
            pytrace=False,
        )
    return result

"""The notebooks' time budget (``notebooks/conftest.py``): a notebook that takes longer fails, saying how long it took.

Runs the real conftest in a pytest of its own over a one-cell notebook, with a budget no kernel can meet."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_a_notebook_over_its_budget_fails_with_its_time(tmp_path: Path) -> None:
    shutil.copy(ROOT / "notebooks" / "conftest.py", tmp_path / "conftest.py")
    cell = {
        "cell_type": "code",
        "execution_count": None,
        "id": "c0",
        "metadata": {},
        "outputs": [],
        "source": ["1 + 1"],
    }
    notebook = {
        "cells": [cell],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (tmp_path / "quick.ipynb").write_text(json.dumps(notebook), "utf-8")
    (tmp_path / "pytest.ini").write_text("[pytest]\n", "utf-8")  # this folder is the rootdir, not the project
    env = {**os.environ, "CRMKIT_NOTEBOOK_BUDGET": "0.001"}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbmake", "-p", "no:cacheprovider", "-q", "quick.ipynb"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 failed" in done.stdout
    assert "quick.ipynb took" in done.stdout and "a notebook must run in 0.001 s" in done.stdout

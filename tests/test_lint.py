"""The code base stays lint clean, checked in the same run as the tests: ruff (Python) and sqlfluff (SQL models)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import PROJECT_ROOT

BIN = os.path.dirname(sys.executable)


@pytest.mark.parametrize("command", [["check", "."], ["format", "--check", "."]])
def test_ruff(command):
    result = subprocess.run(
        [os.path.join(BIN, "ruff"), *command], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow  # sqlfluff parses every model: about a minute here
@pytest.mark.timeout(600)
def test_sql_models_keep_the_house_style():
    """`sqlfluff lint sql` with the configuration in pyproject.toml (the style sql/README.md describes)."""
    result = subprocess.run(
        [os.path.join(BIN, "sqlfluff"), "lint", "sql"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=540
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]

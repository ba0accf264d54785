"""The linters people run on this project stay clean: ruff, snakefmt and Snakemake's own lint."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from snakemake_run import ROOT

BIN = Path(sys.executable).parent  # the environment's console scripts
CHECKS = {
    "ruff-check": [BIN / "ruff", "check", "."],
    "ruff-format": [BIN / "ruff", "format", "--check", "."],
    "snakefmt": [BIN / "snakefmt", "--check", "."],
    "snakemake-lint": [BIN / "snakemake", "--lint"],
}


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_lint_is_clean(name):
    result = subprocess.run(CHECKS[name], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, f"{name} found problems:\n{result.stdout}\n{result.stderr}"

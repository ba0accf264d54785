"""The linters people run on this project stay clean: ruff, snakefmt and Snakemake's own lint;
and no function of the package is longer than a screen."""

from __future__ import annotations

import ast
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


LONGEST_FUNCTION = 60  # lines, docstring included


def test_no_function_of_the_package_is_longer_than_a_screen():
    long = []
    for path in sorted((ROOT / "src").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                if lines > LONGEST_FUNCTION:
                    long.append(
                        f"{path.relative_to(ROOT)}:{node.lineno} {node.name}: {lines} lines"
                    )
    assert long == []

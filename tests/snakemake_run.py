"""Running the real workflow from tests: a tiny configuration, Snakemake in a subprocess.

Each test run works in a fresh copy of the workflow (Snakefile, rules, scripts, profiles and the
package sources its rules list as code inputs) in a temporary folder, as a user works in a clone:
results, logs and Snakemake's metadata stay there, and a test may edit the copy's code. The jobs
import the installed package. JAX's compiled programs are shared between the test runs through
one persistent cache (the workflow keeps a cache directory set by its caller).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW_FILES = ("Snakefile", "workflow", "profiles", "envs", "src")
JAX_CACHE = Path(tempfile.gettempdir()) / "ntk-evolution-test-jax-cache"

# The smallest configuration that still exercises every rule: two regimes, two seeds (so the
# benign-vs-benign yardstick exists), a fractional checkpoint, tiled kernels (20 probes, tiles
# of 8: a ragged last tile), every dynamics and phase-2 regime from one spawn epoch, and both
# attack norms at evaluation.
TINY: dict[str, Any] = {
    "dataset": {
        "name": "digits",
        "root": "data",
        "test_fraction": 0.25,
        "probes_per_class": 2,
        "seed": 0,
    },
    "model": {
        "architecture": "mlp",
        "width": 16,
        "depth": 1,
        "parameterization": "standard",
        "zero_readout": True,
    },
    "phase1": {
        "regimes": ["benign", "adversarial"],
        "seeds": [0, 1],
        "epochs": 2,
        "batch_size": 128,
        "optimizer": {"learning_rate": 0.05, "momentum": 0.9},
        "adversarial_mix": "pure",
        "flip_epoch": 1,
        "attack": {
            "norm": "linf",
            "epsilon": 0.1,
            "step_size": 0.05,
            "steps": 2,
            "random_start": True,
        },
        "checkpoints": {"every": 2, "fractional": [0.5]},
    },
    "phase2": {
        "spawn_epochs": [2],
        "dynamics": ["linearized", "centered", "standard"],
        "regimes": ["benign", "adversarial"],
        "epochs": 1,
        "batch_size": 128,
        "optimizer": {"learning_rate": 0.01, "momentum": 0.9},
        "adversarial_mix": "pure",
        "attack": {
            "norm": "linf",
            "epsilon": 0.1,
            "step_size": 0.05,
            "steps": 2,
            "random_start": True,
        },
    },
    "evaluation": {
        "batch_size": 256,
        "seed": 0,
        "transfer": True,
        "attacks": {
            "pgd_linf": {
                "norm": "linf",
                "epsilon": 0.1,
                "step_size": 0.05,
                "steps": 3,
                "random_start": True,
            },
            "pgd_l2": {
                "norm": "l2",
                "epsilon": 0.5,
                "step_size": 0.25,
                "steps": 3,
                "random_start": True,
            },
        },
    },
    "ntk": {"implementation": "structured_derivatives", "tile_size": 8},
    "statistics": {"spectrum": {"top_k": 3}, "alignment": {"centered": True}},
    "gpu": False,
}


def write_config(checkout: Path, config: dict[str, Any], name: str = "config.yaml") -> Path:
    """Write ``config`` as YAML into ``checkout``; returns its path."""
    path = checkout / name
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def make_checkout(path: Path, config: dict[str, Any]) -> Path:
    """A copy of the workflow at ``path`` whose ``config.yaml`` is ``config``."""
    path.mkdir(parents=True, exist_ok=True)
    for name in WORKFLOW_FILES:
        source = ROOT / name
        if source.is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
            shutil.copytree(source, path / name, ignore=ignore, dirs_exist_ok=True)
        else:
            shutil.copy2(source, path / name)
    write_config(path, config)
    return path


def snakemake(
    checkout: Path, *args: str, configfile: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run Snakemake in ``checkout`` (with ``configfile`` on top of its config.yaml)."""
    env = {**os.environ, "JAX_COMPILATION_CACHE_DIR": str(JAX_CACHE)}
    extra = ["--configfile", configfile] if configfile else []
    command = [sys.executable, "-m", "snakemake", "--cores", "2", *extra, *args]
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=checkout)
    if check and result.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed with exit code {result.returncode}:\n"
            f"{result.stdout[-6000:]}\n{result.stderr[-6000:]}"
        )
    return result


Job = tuple[str, tuple[tuple[str, str], ...]]
_RULE = re.compile(r"^(?:local)?rule (\w+):$")
_WILDCARDS = re.compile(r"^\s+wildcards: (.*)$")


def planned_jobs(checkout: Path, *args: str, configfile: str | None = None) -> set[Job]:
    """The jobs a dry run plans, as ``(rule, ((wildcard, value), ...))`` pairs."""
    out = snakemake(checkout, "--dry-run", *args, configfile=configfile).stdout
    jobs: set[Job] = set()
    rule = None
    wildcards: tuple[tuple[str, str], ...] = ()
    for line in [*out.splitlines(), ""]:
        if match := _RULE.match(line):
            rule, wildcards = match.group(1), ()
        elif rule and (match := _WILDCARDS.match(line)):
            pairs = (item.split("=", 1) for item in match.group(1).split(", "))
            wildcards = tuple(sorted((k, v) for k, v in pairs))
        elif rule and not line.strip():
            jobs.add((rule, wildcards))
            rule = None
    return jobs


def rules_of(jobs: set[Job]) -> dict[str, int]:
    """How many planned jobs each rule has."""
    counts: dict[str, int] = {}
    for rule, _ in jobs:
        counts[rule] = counts.get(rule, 0) + 1
    return counts

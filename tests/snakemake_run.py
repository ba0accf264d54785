"""Running the real workflow from tests: a tiny configuration, Snakemake in a subprocess.

Every run uses this checkout's Snakefile with ``--directory`` pointing at a temporary folder, so
results, logs and Snakemake's metadata stay there. JAX's compiled programs are shared between the
test runs through one persistent cache (the workflow keeps a cache directory set by its caller).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
SNAKEFILE = ROOT / "Snakefile"
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
}


def write_config(workdir: Path, config: dict[str, Any], name: str = "config.yaml") -> Path:
    """Write ``config`` as YAML into ``workdir``; returns its path."""
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / name
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def snakemake(
    workdir: Path, *args: str, config: str = "config.yaml", check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run Snakemake on this checkout's workflow in ``workdir`` with ``workdir/config``."""
    env = {**os.environ, "JAX_COMPILATION_CACHE_DIR": str(JAX_CACHE)}
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(SNAKEFILE),
        "--directory",
        str(workdir),
        "--configfile",
        str(workdir / config),
        "--cores",
        "2",
        *args,
    ]
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=workdir)
    if check and result.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed with exit code {result.returncode}:\n"
            f"{result.stdout[-6000:]}\n{result.stderr[-6000:]}"
        )
    return result


Job = tuple[str, tuple[tuple[str, str], ...]]
_RULE = re.compile(r"^(?:local)?rule (\w+):$")
_WILDCARDS = re.compile(r"^\s+wildcards: (.*)$")


def planned_jobs(workdir: Path, *args: str, config: str = "config.yaml") -> set[Job]:
    """The jobs a dry run plans, as ``(rule, ((wildcard, value), ...))`` pairs."""
    out = snakemake(workdir, "--dry-run", *args, config=config).stdout
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

"""How config files combine, seen by Snakemake for real: a dry run of a checkout whose
``config.yaml`` is TINY, with a user's ``--configfile`` on top.

The checkout's Snakefile is given one more line that writes the configuration the rules see
(the one scenario's, ``tiny``) and the evaluation settings the evaluation jobs are planned with,
so a dry run shows them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from snakemake_run import TINY, make_checkout, planned_jobs, rules_of, snakemake

SEEN = "seen.json"
SHOW = f"""
import json
SEEN_SCENARIO = SCENARIOS[{TINY["name"]!r}]
Path({SEEN!r}).write_text(
    json.dumps(
        {{
            "config": SEEN_SCENARIO.config,
            "evaluation": evaluation_settings(SEEN_SCENARIO)["evaluation"],
        }}
    )
)
"""

PGD_L2 = {"method": "pgd", "norm": "l2", "epsilon": 1.0, "step_size": 0.25, "steps": 8}
PGD_L2["random_start"] = True


def checkout_with(tmp_path: Path, mine: str) -> Path:
    """A checkout of TINY that writes what its rules see, with ``mine.yaml`` holding ``mine``."""
    checkout = make_checkout(tmp_path, TINY)
    with open(checkout / "Snakefile", "a") as snakefile:
        snakefile.write(SHOW)
    (checkout / "mine.yaml").write_text(mine)
    return checkout


def seen(checkout: Path) -> dict[str, Any]:
    return json.loads((checkout / SEEN).read_text())


def test_a_config_file_replaces_the_attacks_whole(tmp_path):
    """TINY evaluates pgd_linf and pgd_l2; a file that lists only its own pgd_l2 gets only it,
    while its single key of phase1 merges into the rest of phase1."""
    mine = {
        "phase1": {"epochs": 3},
        "evaluation": {"attacks": {"pgd_l2": PGD_L2}},
        "findings": {"attack": "pgd_l2", "black_box": "pgd_l2"},
    }
    checkout = checkout_with(tmp_path, yaml.safe_dump(mine))
    jobs = rules_of(planned_jobs(checkout, configfile="mine.yaml"))
    assert jobs["evaluate_phase1"] == 4 and jobs["evaluate_children"] == 4
    assert seen(checkout)["evaluation"]["attacks"] == {"pgd_l2": PGD_L2}
    assert seen(checkout)["config"]["phase1"] == {**TINY["phase1"], "epochs": 3}


def test_exponent_notation_is_read_as_a_number(tmp_path):
    """PyYAML reads 1e-2 and 5.0e-2 as text; where the schema wants a number they are numbers."""
    mine = """
phase1:
  optimizer: {learning_rate: 1e-2}
  attack: {epsilon: 1E-1, step_size: 5.0e-2}
  checkpoints: {fractional: [5e-1]}
"""
    checkout = checkout_with(tmp_path, mine)
    snakemake(checkout, "--dry-run", configfile="mine.yaml")
    phase1 = seen(checkout)["config"]["phase1"]
    assert phase1["optimizer"] == {"learning_rate": 0.01, "momentum": 0.9}
    assert (phase1["attack"]["epsilon"], phase1["attack"]["step_size"]) == (0.1, 0.05)
    assert phase1["checkpoints"]["fractional"] == [0.5]


def refusal(tmp_path: Path, mine: dict[str, Any]) -> str:
    """The message of a dry run that refuses ``mine``, before any job."""
    result = snakemake(
        checkout_with(tmp_path, yaml.safe_dump(mine)),
        "--dry-run",
        configfile="mine.yaml",
        check=False,
    )
    assert result.returncode != 0
    assert "Building DAG of jobs" not in result.stdout + result.stderr
    return result.stdout + result.stderr


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"phase1": {"batch_size": 5000}},
            "invalid configuration: phase1.batch_size = 5000 exceeds the 1347 training images "
            "of digits (dataset.test_fraction = 0.25), so an epoch has no batch; use a "
            "batch_size from 1 to 1347.",
        ),
        (
            {"dataset": {"test_fraction": 0.001}},
            "invalid configuration: dataset.test_fraction = 0.001 splits the 1797 digits images "
            "into 1795 training and 2 test images, but each set needs one image of each of the "
            "10 classes at least; use a test_fraction from 0.0056 to 0.9944.",
        ),
    ],
    ids=["batch-larger-than-the-training-set", "test-fraction-too-small-for-every-class"],
)
def test_a_size_the_dataset_cannot_meet_is_refused(tmp_path, changes, expected):
    assert expected in refusal(tmp_path, changes)

# Config validation and the helpers every rule module uses.

import os
from pathlib import Path

from snakemake.exceptions import WorkflowError

from ntk_evolution.config import (
    ConfigError,
    Run,
    checkpoint_epochs,
    epoch_label,
    phase1_runs,
    run_pairs,
    validate_config,
)

try:
    validate_config(
        config, Path(workflow.basedir) / "workflow/schemas/config.schema.yaml"
    )
except ConfigError as err:
    raise WorkflowError(f"invalid configuration: {err}") from None

# Jobs share JAX's compiled programs through a persistent cache (a set value is kept).
os.environ.setdefault(
    "JAX_COMPILATION_CACHE_DIR", str(Path(".snakemake/jax-cache").resolve())
)
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")

PACKAGE = Path(workflow.basedir) / "src" / "ntk_evolution"
ENV = "../../envs/ntk-evolution.yaml"
RUNS = phase1_runs(config)
EPOCHS = [epoch_label(epoch) for epoch in checkpoint_epochs(config["phase1"])]
REGIMES = sorted({run.regime for run in RUNS})
RUN_KEYS = [[run.regime, run.seed] for run in RUNS]  # how scripts receive the runs


wildcard_constraints:
    regime="benign|adversarial|flip",
    seed=r"\d+",
    epoch=r"\d+(\.\d+)?",


def code(*modules):
    """Package modules a rule's results depend on: editing one reruns that rule (by mtime)."""
    return [str(PACKAGE / module) for module in modules]


def figure_code(name):
    """A figure's own plotting module and the shared style: editing one reruns that figure."""
    return code(f"figures/{name}.py", "figures/style.py")


def run_paths(pattern, runs=None):
    """``pattern`` with ``{run}`` filled in for every phase-1 run (or for ``runs``)."""
    return [pattern.format(run=run.path) for run in (runs or RUNS)]


def phase1_settings(wildcards):
    """The phase-1 settings a run of this regime depends on (and nothing more)."""
    phase1 = config["phase1"]
    keys = ["epochs", "batch_size", "optimizer", "checkpoints"]
    if wildcards.regime != "benign":
        keys += ["attack", "adversarial_mix"]
    if wildcards.regime == "flip":
        keys += ["flip_epoch"]
    return {key: phase1[key] for key in keys}

# Config validation and the helpers every rule module uses.

import math
import os
import re
import shlex
from pathlib import Path

from snakemake.common.configfile import load_configfile
from snakemake.exceptions import WorkflowError

from ntk_evolution import recovery
from ntk_evolution.cifar import FORMATS, DatasetMissing, locate
from ntk_evolution.config import (
    ConfigError,
    Run,
    attack_epsilons,
    checkpoint_epochs,
    epoch_label,
    phase1_runs,
    resolve_config,
    run_pairs,
)

# Snakemake merged config.yaml, the --configfile files and --config key by key; a table of
# named entries (the evaluation attacks) is the last one given, whole.
try:
    resolve_config(
        config,
        [
            *map(load_configfile, workflow.overwrite_configfiles),
            workflow.config_settings.config,
        ],
        Path(workflow.basedir) / "workflow/schemas/config.schema.yaml",
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
FINAL_EPOCH = EPOCHS[-1]
REGIMES = sorted({run.regime for run in RUNS})
RUN_KEYS = [[run.regime, run.seed] for run in RUNS]  # how scripts receive the runs
PAIRS = run_pairs(RUNS)  # runs whose kernels are compared (none with a single run)
SPAWNS = [epoch_label(epoch) for epoch in config["phase2"]["spawn_epochs"]]
CHILD_KINDS = [  # (dynamics, phase-2 regime) of the children of every spawn point
    [dynamics, regime]
    for dynamics in config["phase2"]["dynamics"]
    for regime in config["phase2"]["regimes"]
]


wildcard_constraints:
    regime="benign|adversarial|flip",
    phase2_regime="benign|adversarial",
    dynamics="linearized|centered|standard",
    seed=r"\d+",
    epoch=r"\d+(\.\d+)?",
    spawn=r"\d+(\.\d+)?",


def code(*modules):
    """Package modules a rule's results depend on: editing one reruns that rule (by mtime).
    The paths are relative, so a copy of a finished checkout has nothing to rerun."""
    return [os.path.relpath(PACKAGE / module) for module in modules]


def figure_code(name):
    """A figure's own plotting module and the shared style: editing one reruns that figure."""
    return code(f"figures/{name}.py", "figures/style.py")


def run_paths(pattern, runs=None):
    """``pattern`` with ``{run}`` filled in for every phase-1 run (or for ``runs``)."""
    return [pattern.format(run=run.path) for run in (runs or RUNS)]


def training_settings(section, regime, keys):
    """The settings of ``config[section]`` a run of ``regime`` depends on (and nothing more)."""
    keys = [*keys, "epochs", "batch_size", "optimizer"]
    if regime != "benign":
        keys += ["attack", "adversarial_mix"]
    if regime == "flip":
        keys += ["flip_epoch"]
    return {key: config[section][key] for key in keys}


def child_paths(pattern):
    """``pattern`` with ``{dynamics}`` and ``{phase2_regime}`` filled in for every child of a
    spawn point (the other wildcards are left to the job)."""
    return [
        pattern.replace("{dynamics}", dynamics).replace("{phase2_regime}", regime)
        for dynamics, regime in CHILD_KINDS
    ]


DATA_ROOT = os.path.normpath(config["dataset"]["root"])
ARCHIVES = {fmt.archive: fmt for fmt in FORMATS.values()}


CONFIGFILES = [os.path.relpath(f) for f in workflow.overwrite_configfiles]
# Jobs name these in the command that regenerates a damaged input (ntk_evolution.recovery).
os.environ[recovery.CONFIGFILES_VARIABLE] = shlex.join(CONFIGFILES)


def snakemake_command(*args):
    """A Snakemake command line with ``args`` and the config files of this run."""
    return recovery.snakemake_command(*map(str, args), configfiles=CONFIGFILES)


def fetch_command(path):
    """The command that fetches the archive at ``path`` with the configuration in use."""
    return snakemake_command(path, "--cores", "1")


def dataset_source(wildcards):
    """The configured dataset's archive or extracted folder (digits: none); a missing dataset
    stops the run with the paths expected and the command that fetches it."""
    name = config["dataset"]["name"]
    if name not in FORMATS:
        return []
    try:
        return str(locate(name, DATA_ROOT))
    except DatasetMissing as missing:
        raise WorkflowError(
            f"{missing}\nFetch it (the download is checked against its published MD5) with:\n"
            f"  {fetch_command(missing.archive)}"
        ) from None


def archive_url(archive):
    """``dataset.url`` for the configured dataset's archive if set, else the official address."""
    fmt = ARCHIVES[archive]
    if config["dataset"]["url"] and FORMATS.get(config["dataset"]["name"]) is fmt:
        return config["dataset"]["url"]
    return fmt.url


def archive_in_place(wildcards):
    """No input for an absent archive. For one in place, an input that never exists: no job can
    then replace the archive, which Snakemake reads as a source file whatever the settings
    (a changed dataset.url, --forcerun download_dataset, --forceall), and asking for the archive
    fails with this input's name as the message."""
    path = os.path.join(DATA_ROOT, wildcards.archive)
    if os.path.exists(path):
        return [f"{path} is in place (move it aside to fetch it again)"]
    return []


# Job resources. Memory is sized for the paper's scale (CIFAR-10, ResNet-18). Time limits grow
# with the passes over the data a job makes: at most TRAIN_PASS_MINUTES per pass over the
# training set and TEST_PASS_MINUTES per pass over the test set, upper bounds for ResNet-18 on
# CIFAR-10 on one GPU (the default digits run needs seconds per job). Site-specific values
# (partition, account, other limits) belong in a profile, not here.
TRAIN_PASS_MINUTES = 0.5
TEST_PASS_MINUTES = 0.1


def job_resources(mem_mb, runtime, gpu=False):
    """A rule's ``resources``: memory in MB, a time limit in minutes (a number or a function of
    the wildcards) and, for a job that can use one and with ``gpu: true`` in the config, one GPU.
    """
    resources = {"mem_mb": mem_mb, "runtime": runtime}
    if gpu and config.get("gpu", False):
        resources["gpu"] = 1
    return resources


def passes_per_epoch(section, regime):
    """Forward-backward passes over the data one epoch of ``regime`` takes (flip: its
    adversarial epochs)."""
    if regime == "benign":
        return 1
    benign_steps = (
        2 if config[section]["adversarial_mix"] == "benign_then_adversarial" else 1
    )
    return config[section]["attack"]["steps"] + benign_steps


def training_minutes(section, regimes, weight=1):
    """Time limit of a job that trains one model per entry of ``regimes`` with the settings of
    ``config[section]``; ``weight`` is the cost of one model's pass relative to the network's.
    """
    passes = weight * sum(passes_per_epoch(section, regime) for regime in regimes)
    return math.ceil(10 + TRAIN_PASS_MINUTES * config[section]["epochs"] * passes)


def evaluation_minutes(models):
    """Time limit of a job that evaluates ``models`` models clean and under every attack at
    every epsilon it is measured at."""
    attacks = config["evaluation"]["attacks"].values()
    passes = models * (
        1
        + sum(
            (attack["steps"] + 1) * len(attack_epsilons(attack)) for attack in attacks
        )
    )
    return math.ceil(10 + TEST_PASS_MINUTES * passes)

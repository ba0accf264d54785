# Config validation and the helpers every rule module uses.

import os
import re
import shlex
from pathlib import Path

from snakemake.common.configfile import load_configfile
from snakemake.exceptions import WorkflowError
from snakemake.logging import logger

from ntk_evolution import experiment, recovery
from ntk_evolution.cifar import FORMATS, DatasetMissing, locate
from ntk_evolution.config import DATASET_SIZES, ConfigError, resolve_config
from ntk_evolution.imports import package_modules
from ntk_evolution.infinite_reach import reference_reason
from ntk_evolution.time_limits import (
    evaluation_minutes,
    machine_minutes,
    training_minutes,
)

# Snakemake merged config.yaml, the --configfile files and --config key by key; a table of
# named entries (the evaluation attacks) is the last one given, whole.
SCHEMA = Path(workflow.basedir) / "workflow/schemas/config.schema.yaml"
CONFIGFILES = [os.path.relpath(f) for f in workflow.overwrite_configfiles]
try:
    layers = [*map(load_configfile, CONFIGFILES), workflow.config_settings.config]
    SETTINGS = resolve_config(config, layers, SCHEMA)  # the typed config (settings.py)
except ConfigError as err:
    raise WorkflowError(f"invalid configuration: {err}") from None

# Jobs name the config files in the command that regenerates a damaged input (recovery.py),
# and share JAX's compiled programs through the persistent cache of `compilation_cache` (a
# JAX_COMPILATION_CACHE_DIR set in the environment is kept). Not a parameter: moving the cache
# reruns nothing.
os.environ[recovery.CONFIGFILES_VARIABLE] = shlex.join(CONFIGFILES)
if SETTINGS.compilation_cache:
    JAX_CACHE = str(Path(SETTINGS.compilation_cache).resolve())
    os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", JAX_CACHE)
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")

SOURCES = Path(workflow.basedir) / "src"
SCRIPTS = Path(workflow.basedir) / "workflow" / "scripts"
ENV = "../../envs/ntk-evolution.yaml"  # every job's conda environment; every job: 1 thread
# The jobs that may run on a GPU (gpu=True in their resources): with `gpu: true`, with CUDA.
GPU_ENV = "../../envs/ntk-evolution-cuda.yaml" if SETTINGS.gpu else ENV
RUNS = SETTINGS.phase1.runs
CHECKPOINT_EPOCHS = SETTINGS.phase1.checkpoint_epochs
EPOCHS = [experiment.epoch_label(epoch) for epoch in CHECKPOINT_EPOCHS]
FINAL_EPOCH = EPOCHS[-1]
REGIMES = sorted({run.regime for run in RUNS})
PAIRS = experiment.run_pairs(RUNS)  # runs whose kernels are compared (none for one run)
SPAWNS = [experiment.epoch_label(e) for e in SETTINGS.phase2.spawn_epochs]
CHILD_KINDS = SETTINGS.phase2.child_kinds  # (dynamics, phase2_regime)
# What a training job reads of its phase's settings: a benign job never reruns for the attack.
PHASE2_TRAINING = SETTINGS.phase2.training(SETTINGS.phase2.regimes)
PER_RUN = "{regime}-seed{seed}"  # a job of one run, in log and benchmark paths
PHASE1_RUN = "results/phase1/{regime}/seed{seed}/"  # the folder of a phase-1 run


wildcard_constraints:
    regime="benign|adversarial|flip",
    phase2_regime="benign|adversarial",
    dynamics="linearized|centered|standard",
    seed=r"\d+",
    spawn=r"\d+(\.\d+)?",


def code_of(script):
    """The package modules ``workflow/scripts/<script>.py`` runs (ntk_evolution.imports): an
    edited one reruns the rule's jobs. Relative: a moved checkout reruns nothing."""
    modules = package_modules(SCRIPTS / f"{script}.py", SOURCES)
    return [os.path.relpath(module) for module in modules]


def logs(rule, *job):
    """The log of a rule's job, named by the parts of ``job`` joined by ``-``."""
    name = f"{rule}/{'-'.join(job)}" if job else rule
    return f"logs/{name}.log"


def benchmarks(rule, *job):
    """The benchmark of a rule's job, named as its log (:func:`logs`)."""
    name = f"{rule}/{'-'.join(job)}" if job else rule
    return f"logs/benchmarks/{name}.tsv"


def phase1_checkpoint(epoch):
    """A phase-1 run's checkpoint at ``epoch`` (a label or a wildcard)."""
    return f"{PHASE1_RUN}epoch{epoch}.npz"


def job_resources(mem_mb, runtime, gpu=False):
    """A rule's ``resources``: memory in MB (sized for CIFAR-10 and ResNet-18), a time limit in
    minutes (ntk_evolution.time_limits) and, for a job that can use one and with ``gpu: true``
    in the config, one GPU. Site-specific values belong in a profile."""
    resources = {"mem_mb": mem_mb, "runtime": runtime}
    if gpu and config.get("gpu", False):
        resources["gpu"] = 1
    return resources


def each_run(pattern, regime=None):
    """``pattern`` for every phase-1 run (of ``regime``, if given); other wildcards stay."""
    runs = [run for run in RUNS if regime in (None, run.regime)]
    regimes, seeds = [run.regime for run in runs], [run.seed for run in runs]
    return expand(pattern, zip, regime=regimes, seed=seeds, allow_missing=True)


def each_epoch(pattern):
    """``pattern`` for every checkpoint epoch of a run, in schedule order; other wildcards stay."""
    return expand(pattern, epoch=EPOCHS, allow_missing=True)


def each_child(pattern):
    """``pattern`` for every child of a spawn point, in the order a job's script reads the
    children from these paths (ntk_evolution.experiment.JobSubject); other wildcards stay.
    """
    dynamics, regimes = zip(*CHILD_KINDS)
    return expand(
        pattern, zip, dynamics=dynamics, phase2_regime=regimes, allow_missing=True
    )


def phase1_training(regime):
    """The phase-1 settings a run of ``regime`` depends on (settings.Phase1Settings.training)."""
    return SETTINGS.phase1.training([regime])


def figure(name, category, label, caption=None, **labels):
    """``results/figures/<name>`` in the report: in ``category``, labelled ``figure: label`` (and
    ``labels``), with the caption ``workflow/report/<caption>.rst`` (by default ``name``'s).
    """
    caption = f"../report/{caption or Path(name).stem}.rst"
    labels = {"figure": label, **labels}
    return report(
        f"results/figures/{name}", caption=caption, category=category, labels=labels
    )


# The dataset's files (data.smk).
DATA_ROOT = os.path.normpath(config["dataset"]["root"])
ARCHIVES = {fmt.archive: fmt for fmt in FORMATS.values()}


def fetch_command(path):
    """The command that fetches the archive at ``path`` with the configuration in use."""
    return recovery.snakemake_command(
        str(path), "--cores", "1", configfiles=CONFIGFILES
    )


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

# The run's scenarios, the keys of the jobs they share and the helpers every rule module uses.
#
# Every job writes below results/shared/<key>/, in the layout of a single run, where the key is
# a digest of the job's rule, its settings and the keys of its inputs
# (ntk_evolution.configuration.scenarios).
# A module defines, next to each rule, the function that gives the rule's settings for a
# scenario (and the job's wildcards) and the one that gives a job's key; the rule's params are
# those settings, read from a scenario that asks for the key (owner). Two scenarios whose job
# has the same settings and inputs ask for the same files, so it runs once.

import inspect
import os
import re
import shlex
from pathlib import Path
from typing import get_args

from snakemake.exceptions import WorkflowError
from snakemake.logging import logger

from ntk_evolution._infra import recovery
from ntk_evolution.configuration import experiment
from ntk_evolution.configuration.config import (
    DATASET_SIZES,
    ConfigError,
    read_config_file,
    resolve_config,
)
from ntk_evolution.configuration.infinite_reach import reference_reason
from ntk_evolution.configuration.scenarios import (
    job_key,
    link_scenario,
    resolve_scenarios,
)
from ntk_evolution.configuration.settings import Dynamics, Phase2Regime, Regime
from ntk_evolution.datasets.cifar import FORMATS, DatasetMissing, locate
from ntk_evolution.pipeline.imports import package_modules
from ntk_evolution.pipeline.time_limits import (
    evaluation_minutes,
    machine_minutes,
    training_minutes,
)

# Snakemake merged the defaults, config.yaml, the --configfile files and --config key by key;
# a table of named entries (the evaluation attacks) is the last one given, whole.
SCHEMA = Path(workflow.basedir) / "workflow/schemas/config.schema.yaml"
DEFAULTS = Path(workflow.basedir) / "workflow/config.default.yaml"
# Snakemake's internals, where it offers no public way: the --configfile paths (the files a
# regenerating command must name again) and the --config values (applied after the files, as
# Snakemake does) are not exposed otherwise; `config` holds only their merge.
CONFIGFILES = [os.path.relpath(f) for f in workflow.overwrite_configfiles]
try:
    given = [DEFAULTS, *(["config.yaml"] if Path("config.yaml").exists() else [])]
    layers = [*map(read_config_file, [*given, *CONFIGFILES])]
    BASE = resolve_config(config, [*layers, workflow.config_settings.config], SCHEMA)
    SCENARIOS = resolve_scenarios(config, BASE, SCHEMA)  # name -> Scenario
except ConfigError as err:
    raise WorkflowError(f"invalid configuration: {err}") from None

# Jobs name the config files in the command that regenerates a damaged input (recovery.py),
# and share JAX's compiled programs through the persistent cache of `compilation_cache` (a
# JAX_COMPILATION_CACHE_DIR set in the environment is kept). Not a parameter: moving the cache
# reruns nothing.
os.environ[recovery.CONFIGFILES_VARIABLE] = shlex.join(CONFIGFILES)
if BASE.compilation_cache:
    JAX_CACHE = str(Path(BASE.compilation_cache).resolve())
    os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", JAX_CACHE)
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")

SOURCES = Path(workflow.basedir) / "src"
SCRIPTS = Path(workflow.basedir) / "workflow" / "scripts"
ENV = "../../envs/ntk-evolution.yaml"  # every job's conda environment; every job: 1 thread
# The jobs that may run on a GPU (gpu=True in their resources): with `gpu: true`, with CUDA.
GPU_ENV = "../../envs/ntk-evolution-cuda.yaml" if BASE.gpu else ENV
SHARED = "results/shared"  # every job's results, by key
SCENARIO = (
    "results/{scenario}/"  # a scenario's figures, findings and links to its results
)
PER_RUN = "{regime}-seed{seed}"  # a job of one run, in log and benchmark paths
RUN = "{regime}/seed{seed}/"  # a run's folder in a stage's layout


def one_of(literal):
    """A wildcard constraint matching exactly the values of a settings ``Literal``."""
    return "|".join(map(re.escape, get_args(literal)))


wildcard_constraints:
    key=r"[0-9a-f]{12}",
    scenario="|".join(map(re.escape, SCENARIOS)),
    regime=one_of(Regime),
    phase2_regime=one_of(Phase2Regime),
    dynamics=one_of(Dynamics),
    seed=r"\d+",
    spawn=r"\d+(\.\d+)?",


OWNERS = {}  # job key -> a scenario that asks for that job


def keyed(rule, scenario, settings, inputs=()):
    """The key of ``rule``'s job with ``settings`` reading the results of ``inputs`` (their
    keys), for ``scenario``; the scenario is recorded as one that asks for it."""
    key = job_key(rule, settings, inputs)
    OWNERS.setdefault(key, scenario)
    return key


def owner(wildcards):
    """A scenario that asks for the job of ``wildcards.key``."""
    try:
        return OWNERS[wildcards.key]
    except KeyError:
        raise WorkflowError(
            f"results/shared/{wildcards.key} belongs to no job of this configuration: ask for "
            "a scenario's results (results/<scenario>/scenario.yaml), or give the config "
            "that made it."
        ) from None


def job_params(settings_of, *names):
    """A rule's params: each of ``names`` from ``settings_of(scenario, *wildcards)``, the
    function that also keys the job, so that a job's key covers exactly its params."""
    wildcards = list(inspect.signature(settings_of).parameters)[1:]

    def value(w, name):
        settings = settings_of(owner(w), *(getattr(w, name) for name in wildcards))
        if set(settings) != set(names):
            raise WorkflowError(
                f"params {names} are not the settings {sorted(settings)}"
            )
        return settings[name]

    return {name: (lambda w, name=name: value(w, name)) for name in names}


def shared(key, layout, **wildcards):
    """The path of a job's result ``layout`` (a single run's layout) below its ``key``."""
    return f"{SHARED}/{key}/{layout.format(**wildcards)}"


def single(paths):
    """An optional input: its one path (a script reads it as a string), or none."""
    return paths[0] if paths else []


def shared_pattern(layout):
    """A rule's output pattern: ``layout`` below the job's key."""
    return f"{SHARED}/{{key}}/{layout}"


def code_of(script):
    """The package modules ``workflow/scripts/<script>.py`` runs
    (ntk_evolution.pipeline.imports): an edited one reruns the rule's jobs. Relative: a moved
    checkout reruns nothing."""
    modules = package_modules(SCRIPTS / f"{script}.py", SOURCES)
    return [os.path.relpath(module) for module in modules]


def logs(rule, *job):
    """The log of a rule's job, named by the parts of ``job`` joined by ``-``."""
    name = f"{rule}/{'-'.join(job)}" if job else rule
    return f"logs/{name}.log"


onstart:
    clear_logs()


def clear_logs():
    """Remove the logs of the jobs about to run, before any starts: a job that fails before it
    writes its log (a submission Slurm refuses, a job killed at once) must not show an earlier
    attempt's log in its place."""
    for job in workflow.dag.needrun_jobs():
        for path in job.log:
            Path(path).unlink(missing_ok=True)


def benchmarks(rule, *job):
    """The benchmark of a rule's job, named as its log (:func:`logs`)."""
    name = f"{rule}/{'-'.join(job)}" if job else rule
    return f"logs/benchmarks/{name}.tsv"


def job_resources(mem_mb, runtime, gpu=False):
    """A rule's ``resources``: memory in MB (sized for CIFAR-10 and ResNet-18), a time limit in
    minutes (ntk_evolution.pipeline.time_limits; a function of the job's owner scenario and wildcards
    where it depends on the settings) and, for a job that can use one and with ``gpu: true``
    in the config, one GPU. Site-specific values belong in a profile."""
    if callable(runtime):
        minutes = runtime
        runtime = lambda w: minutes(owner(w), w)
    resources = {"mem_mb": mem_mb, "runtime": runtime}
    if gpu and BASE.gpu:
        resources["gpu"] = 1
    return resources


def one_of(scenarios, keys_of):
    """Group the job keys that ``keys_of(scenario)`` gives, as (key, value) pairs, by value: a
    rule whose outputs differ by a setting (the checkpoint schedule, the children's kinds) is
    made once per value, for its keys. Returns (value, key pattern) pairs in the order met.
    """
    groups = {}
    for scenario in scenarios:
        for key, value in keys_of(scenario):
            groups.setdefault(value, set()).add(key)
    return [(value, "|".join(sorted(keys))) for value, keys in groups.items()]


def variant(rule, index):
    """The name of the ``index``-th version of ``rule`` (the first keeps the plain name)."""
    return rule if index == 0 else f"{rule}_{index + 1}"


def figure(name, category, label, caption=None, **labels):
    """``results/<scenario>/figures/<name>`` in the report: in ``category``, labelled by
    scenario, ``figure: label`` (and ``labels``), with the caption ``workflow/report/<caption>.rst``
    (by default ``name``'s)."""
    caption = f"../report/{caption or Path(name).stem}.rst"
    labels = {"scenario": "{scenario}", "figure": label, **labels}
    return report(
        f"{SCENARIO}figures/{name}", caption=caption, category=category, labels=labels
    )


# The dataset's files (data.smk): one root and URL for the whole run.
DATA_ROOT = os.path.normpath(BASE.dataset.root)
ARCHIVES = {fmt.archive: fmt for fmt in FORMATS.values()}


def fetch_command(path):
    """The command that fetches the archive at ``path`` with the configuration in use."""
    return recovery.snakemake_command(
        str(path), "--cores", "1", configfiles=CONFIGFILES
    )


def dataset_source(wildcards):
    """The archive or extracted folder of the job's dataset (digits: none); a missing dataset
    stops the run with the paths expected and the command that fetches it."""
    name = owner(wildcards).settings.dataset.name
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
    if BASE.dataset.url and FORMATS.get(BASE.dataset.name) is fmt:
        return BASE.dataset.url
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

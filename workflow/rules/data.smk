# The dataset: a seeded train/test split and a class-balanced probe set for the kernels.
# CIFAR archives are fetched only on request (`snakemake <archive path>`), never as a side
# effect of a run: a missing archive stops the run before any job, naming the command.

import re
import shlex

from ntk_evolution.cifar import FORMATS, DatasetMissing, locate

DATA_ROOT = os.path.normpath(config["dataset"]["root"])
ARCHIVES = {fmt.archive: fmt for fmt in FORMATS.values()}


def fetch_command(path):
    """The command that fetches the archive at ``path`` with the configuration in use."""
    configfiles = [
        f"--configfile {shlex.quote(os.path.relpath(f))}"
        for f in workflow.overwrite_configfiles
    ]
    return " ".join(["uv run snakemake --cores 1", *configfiles, shlex.quote(str(path))])


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


localrules:
    download_dataset,


rule download_dataset:
    output:
        f"{DATA_ROOT}/{{archive}}",
    log:
        "logs/download_dataset/{archive}.log",
    benchmark:
        "logs/benchmarks/download_dataset/{archive}.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=500,
        runtime=60,
    wildcard_constraints:
        archive="|".join(re.escape(name) for name in ARCHIVES),
    params:
        url=lambda w: archive_url(w.archive),
        md5=lambda w: ARCHIVES[w.archive].md5,
    script:
        "../scripts/download_dataset.py"


rule split_dataset:
    input:
        dataset=dataset_source,
        code=code("data.py", "cifar.py"),
    output:
        "results/data/split.npz",
    log:
        "logs/split_dataset.log",
    benchmark:
        "logs/benchmarks/split_dataset.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        dataset={
            key: config["dataset"][key]
            for key in ("name", "root", "test_fraction", "seed")
        },
    script:
        "../scripts/split_dataset.py"


rule select_probes:
    input:
        split="results/data/split.npz",
        code=code("data.py"),
    output:
        "results/data/probes.npz",
    log:
        "logs/select_probes.log",
    benchmark:
        "logs/benchmarks/select_probes.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        per_class=config["dataset"]["probes_per_class"],
        seed=config["dataset"]["seed"],
    script:
        "../scripts/select_probes.py"

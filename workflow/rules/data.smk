# The dataset: a seeded train/test split and a class-balanced probe set for the kernels.
# CIFAR archives are fetched only on request (`snakemake <archive path>`), never as a side
# effect of a run: a missing archive stops the run before any job, naming the command. An
# archive in place is never fetched again, so never deleted (archive_in_place, common.smk).


localrules:
    download_dataset,


rule download_dataset:
    input:
        archive_in_place,
    output:
        f"{DATA_ROOT}/{{archive}}",
    log:
        "logs/download_dataset/{archive}.log",
    benchmark:
        "logs/benchmarks/download_dataset/{archive}.tsv"
    wildcard_constraints:
        archive="|".join(re.escape(name) for name in ARCHIVES),
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=500,
        runtime=60,
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
        **job_resources(mem_mb=4000, runtime=10),
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
        **job_resources(mem_mb=4000, runtime=10),
    params:
        per_class=config["dataset"]["probes_per_class"],
        seed=config["dataset"]["seed"],
    script:
        "../scripts/select_probes.py"

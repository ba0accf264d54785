# The dataset: a seeded train/test split and a class-balanced probe set for the kernels.


rule split_dataset:
    input:
        code=code("data.py"),
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

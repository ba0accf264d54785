# Empirical per-logit NTK of the probe set at every checkpoint, then one store per run.


rule extract_ntk:
    input:
        checkpoint="results/phase1/{regime}/seed{seed}/epoch{epoch}.npz",
        split="results/data/split.npz",
        probes="results/data/probes.npz",
        code=code("ntk.py", "compat.py", "storage.py"),
    output:
        directory("results/kernels/{regime}/seed{seed}/epoch{epoch}.zarr"),
    log:
        "logs/extract_ntk/{regime}-seed{seed}-epoch{epoch}.log",
    benchmark:
        "logs/benchmarks/extract_ntk/{regime}-seed{seed}-epoch{epoch}.tsv"
    conda:
        ENV
    threads: 1
    resources:
        **job_resources(mem_mb=8000, runtime=60, gpu=True),
    params:
        model=config["model"],
        ntk=config["ntk"],
    script:
        "../scripts/extract_ntk.py"


rule gather_kernels:
    input:
        snapshots=expand(
            "results/kernels/{{regime}}/seed{{seed}}/epoch{epoch}.zarr",
            epoch=EPOCHS,
        ),
        code=code("storage.py"),
    output:
        directory("results/kernels/{regime}/seed{seed}/ntk.zarr"),
    log:
        "logs/gather_kernels/{regime}-seed{seed}.log",
    benchmark:
        "logs/benchmarks/gather_kernels/{regime}-seed{seed}.tsv"
    conda:
        ENV
    threads: 1
    resources:
        **job_resources(mem_mb=4000, runtime=30),
    params:
        tile_size=config["ntk"]["tile_size"],
    script:
        "../scripts/gather_kernels.py"

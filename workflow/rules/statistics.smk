# Kernel-evolution statistics: per run (distances across epochs, spectra, alignment) and
# across runs (benign vs adversarial kernels, with benign vs benign as the yardstick).


rule kernel_evolution:
    input:
        kernels="results/kernels/{regime}/seed{seed}/ntk.zarr",
        code=code("statistics.py"),
    output:
        directory("results/statistics/{regime}/seed{seed}/evolution.zarr"),
    log:
        "logs/kernel_evolution/{regime}-seed{seed}.log",
    benchmark:
        "logs/benchmarks/kernel_evolution/{regime}-seed{seed}.tsv"
    conda:
        ENV
    threads: 1
    resources:
        **job_resources(mem_mb=4000, runtime=20),
    script:
        "../scripts/kernel_evolution.py"


rule kernel_spectrum:
    input:
        kernels="results/kernels/{regime}/seed{seed}/ntk.zarr",
        code=code("statistics.py"),
    output:
        directory("results/statistics/{regime}/seed{seed}/spectrum.zarr"),
    log:
        "logs/kernel_spectrum/{regime}-seed{seed}.log",
    benchmark:
        "logs/benchmarks/kernel_spectrum/{regime}-seed{seed}.tsv"
    conda:
        ENV
    threads: 1
    resources:
        **job_resources(mem_mb=4000, runtime=20),
    params:
        top_k=config["statistics"]["spectrum"]["top_k"],
    script:
        "../scripts/kernel_spectrum.py"


rule kernel_alignment:
    input:
        kernels="results/kernels/{regime}/seed{seed}/ntk.zarr",
        code=code("statistics.py"),
    output:
        directory("results/statistics/{regime}/seed{seed}/alignment.zarr"),
    log:
        "logs/kernel_alignment/{regime}-seed{seed}.log",
    benchmark:
        "logs/benchmarks/kernel_alignment/{regime}-seed{seed}.tsv"
    conda:
        ENV
    threads: 1
    resources:
        **job_resources(mem_mb=4000, runtime=20),
    params:
        centered=config["statistics"]["alignment"]["centered"],
    script:
        "../scripts/kernel_alignment.py"


rule kernel_pair_distances:
    input:
        kernels=run_paths("results/kernels/{run}/ntk.zarr"),
        code=code("statistics.py"),
    output:
        directory("results/statistics/pair_distances.zarr"),
    log:
        "logs/kernel_pair_distances.log",
    benchmark:
        "logs/benchmarks/kernel_pair_distances.tsv"
    conda:
        ENV
    threads: 1
    resources:
        **job_resources(mem_mb=4000, runtime=20),
    params:
        runs=RUN_KEYS,
    script:
        "../scripts/kernel_pair_distances.py"

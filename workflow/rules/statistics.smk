# Kernel-evolution statistics: per run (distances across epochs, spectra, alignment) and
# across runs (benign vs adversarial kernels, with benign vs benign as the yardstick).

# One rule per statistic of a run's kernels, kernel_<statistic>, with the settings it takes.
# A rule made in a loop names its script in params: Snakemake fills the path in as a job runs.
for statistic, settings_of in RUN_STATISTICS.items():

    rule:
        name:
            f"kernel_{statistic}"
        input:
            kernels=lambda w: kernel_path(owner(w), w.regime, w.seed),
            infinite=(
                (lambda w: single(infinite_kernel(owner(w))))
                if statistic == "evolution"
                else []
            ),
            code=code_of(f"kernel_{statistic}"),
        output:
            directory(shared_pattern(f"statistics/{RUN}{statistic}.zarr")),
        log:
            logs(f"kernel_{statistic}", "{key}", PER_RUN),
        benchmark:
            benchmarks(f"kernel_{statistic}", "{key}", PER_RUN)
        conda:
            ENV
        resources:
            **job_resources(mem_mb=4000, runtime=20),
        params:
            **job_params(settings_of, *settings_of(next(iter(SCENARIOS.values())))),
            script=f"kernel_{statistic}",
        script:
            "../scripts/{params.script}.py"


rule kernel_pair_distances:
    input:
        runs=lambda w: each_run(kernel_path, owner(w)),
        code=code_of("kernel_pair_distances"),
    output:
        directory(shared_pattern(PAIR_DISTANCES)),
    log:
        logs("kernel_pair_distances", "{key}"),
    benchmark:
        benchmarks("kernel_pair_distances", "{key}")
    conda:
        ENV
    resources:
        **job_resources(mem_mb=4000, runtime=20),
    params:
        **job_params(pair_settings, "top_k"),
    script:
        "../scripts/kernel_pair_distances.py"

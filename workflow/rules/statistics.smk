# Kernel-evolution statistics: per run (distances across epochs, spectra, alignment) and
# across runs (benign vs adversarial kernels, with benign vs benign as the yardstick).

# One rule per statistic of a run's kernels, kernel_<statistic>, with the settings it takes.
# A rule made in a loop names its script in params: Snakemake fills the path in as a job runs.
RUN_STATISTICS = {
    "evolution": {},
    "spectrum": {"top_k": config["statistics"]["spectrum"]["top_k"]},
    "alignment": {"centered": config["statistics"]["alignment"]["centered"]},
    "eigenspace": {"top_k": config["statistics"]["eigenspace"]["top_k"]},
}

for statistic, settings in RUN_STATISTICS.items():

    rule:
        name:
            f"kernel_{statistic}"
        input:
            kernels=rules.extract_ntk.output[0],
            infinite=INFINITE_KERNEL if statistic == "evolution" else [],
            code=code_of(f"kernel_{statistic}"),
        output:
            directory(f"results/statistics/{{regime}}/seed{{seed}}/{statistic}.zarr"),
        log:
            logs(f"kernel_{statistic}", PER_RUN),
        benchmark:
            benchmarks(f"kernel_{statistic}", PER_RUN)
        conda:
            ENV
        resources:
            **job_resources(mem_mb=4000, runtime=20),
        params:
            **settings,
            script=f"kernel_{statistic}",
        script:
            "../scripts/{params.script}.py"


rule kernel_pair_distances:
    input:
        runs=each_run(rules.extract_ntk.output[0]),
        code=code_of("kernel_pair_distances"),
    output:
        directory("results/statistics/pair_distances.zarr"),
    log:
        logs("kernel_pair_distances"),
    benchmark:
        benchmarks("kernel_pair_distances")
    conda:
        ENV
    resources:
        **job_resources(mem_mb=4000, runtime=20),
    params:
        top_k=config["statistics"]["eigenspace"]["top_k"],
    script:
        "../scripts/kernel_pair_distances.py"

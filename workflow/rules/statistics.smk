# Kernel-evolution statistics: per run (distances across epochs, spectra, alignment) and
# across runs (benign vs adversarial kernels, with benign vs benign as the yardstick).

# One rule per statistic of a run's kernels, kernel_<statistic>, with the settings it takes.
# A rule made in a loop names its script in params: Snakemake fills the path in as a job runs.
RUN_STATISTICS = {
    "evolution": lambda s: {},
    "spectrum": lambda s: {"top_k": s.settings.statistics.spectrum.top_k},
    "alignment": lambda s: {"centered": s.settings.statistics.alignment.centered},
    "eigenspace": lambda s: {"top_k": s.settings.statistics.eigenspace.top_k},
}


def statistic_key(statistic, s, regime):
    infinite = [infinite_key(s)] if statistic == "evolution" and infinite_kernel(s) else []
    inputs = [kernel_key(s, regime), *infinite]
    return keyed(f"kernel_{statistic}", s, RUN_STATISTICS[statistic](s), inputs)


def statistic_path(statistic, s, regime, seed):
    layout = f"statistics/{RUN}{statistic}.zarr"
    return shared(statistic_key(statistic, s, regime), layout, regime=regime, seed=seed)


def each_run(path_of, s):
    """``path_of(s, regime, seed)`` for every run of scenario ``s``."""
    return [path_of(s, run.regime, run.seed) for run in s.runs]


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


PAIR_DISTANCES = "statistics/pair_distances.zarr"


def pair_settings(s):
    return {"top_k": s.settings.statistics.eigenspace.top_k}


def pair_key(s):
    return keyed("kernel_pair_distances", s, pair_settings(s), [each_run(kernel_path, s)])


def pair_distances(s):
    """The scenario's distances between runs: none for a single run."""
    return [shared(pair_key(s), PAIR_DISTANCES)] if s.pairs else []


def statistics_results(s):
    runs = [
        statistic_path(statistic, s, run.regime, run.seed)
        for statistic in RUN_STATISTICS
        for run in s.runs
    ]
    return [*runs, *pair_distances(s)]


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

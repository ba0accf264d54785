# Figures for the report, one rule per figure; each depends on its own plotting module only.

FIGURES = [
    *expand("results/figures/distance_matrix_{regime}.png", regime=REGIMES),
    "results/figures/distance_curves.png",
    "results/figures/spectrum.png",
    "results/figures/alignment.png",
    "results/figures/training_curves.png",
    *(["results/figures/pair_distance.png"] if PAIRS else []),
    "results/figures/accuracy_vs_spawn.png",
    "results/figures/fixed_kernel.png",
    "results/figures/fixed_kernel.csv",
    "results/figures/robustness_vs_epsilon.png",
    "results/figures/robustness_vs_epsilon.csv",
]


rule plot_distance_matrix:
    input:
        evolutions=lambda w: run_paths(
            "results/statistics/{run}/evolution.zarr",
            [run for run in RUNS if run.regime == w.regime],
        ),
        code=figure_code("distance_matrix"),
    output:
        report(
            "results/figures/distance_matrix_{regime}.png",
            caption="../report/distance_matrix.rst",
            category="Kernel evolution",
            labels={"figure": "distance matrix", "regime": "{regime}"},
        ),
    log:
        "logs/plot_distance_matrix/{regime}.log",
    benchmark:
        "logs/benchmarks/plot_distance_matrix/{regime}.tsv"
    conda:
        ENV
    threads: 1
    resources:
        **job_resources(mem_mb=2000, runtime=10),
    params:
        runs=lambda w: [key for key in RUN_KEYS if key[0] == w.regime],
    script:
        "../scripts/plot_distance_matrix.py"


rule plot_distance_curves:
    input:
        evolutions=run_paths("results/statistics/{run}/evolution.zarr"),
        code=figure_code("distance_curves"),
    output:
        report(
            "results/figures/distance_curves.png",
            caption="../report/distance_curves.rst",
            category="Kernel evolution",
            labels={"figure": "distance to init / final, velocity"},
        ),
    log:
        "logs/plot_distance_curves.log",
    benchmark:
        "logs/benchmarks/plot_distance_curves.tsv"
    conda:
        ENV
    threads: 1
    resources:
        **job_resources(mem_mb=2000, runtime=10),
    params:
        runs=RUN_KEYS,
    script:
        "../scripts/plot_distance_curves.py"


rule plot_pair_distance:
    input:
        pairs="results/statistics/pair_distances.zarr",
        code=figure_code("pair_distance"),
    output:
        report(
            "results/figures/pair_distance.png",
            caption="../report/pair_distance.rst",
            category="Kernel evolution",
            labels={"figure": "benign vs adversarial kernels"},
        ),
    log:
        "logs/plot_pair_distance.log",
    benchmark:
        "logs/benchmarks/plot_pair_distance.tsv"
    conda:
        ENV
    threads: 1
    resources:
        **job_resources(mem_mb=2000, runtime=10),
    script:
        "../scripts/plot_pair_distance.py"


rule plot_spectrum:
    input:
        spectra=run_paths("results/statistics/{run}/spectrum.zarr"),
        code=figure_code("spectrum"),
    output:
        report(
            "results/figures/spectrum.png",
            caption="../report/spectrum.rst",
            category="Kernel spectra",
            labels={"figure": "spectrum"},
        ),
    log:
        "logs/plot_spectrum.log",
    benchmark:
        "logs/benchmarks/plot_spectrum.tsv"
    conda:
        ENV
    threads: 1
    resources:
        **job_resources(mem_mb=2000, runtime=10),
    params:
        runs=RUN_KEYS,
    script:
        "../scripts/plot_spectrum.py"


rule plot_alignment:
    input:
        alignments=run_paths("results/statistics/{run}/alignment.zarr"),
        code=figure_code("alignment"),
    output:
        report(
            "results/figures/alignment.png",
            caption="../report/alignment.rst",
            category="Kernel spectra",
            labels={"figure": "kernel-target alignment"},
        ),
    log:
        "logs/plot_alignment.log",
    benchmark:
        "logs/benchmarks/plot_alignment.tsv"
    conda:
        ENV
    threads: 1
    resources:
        **job_resources(mem_mb=2000, runtime=10),
    params:
        runs=RUN_KEYS,
    script:
        "../scripts/plot_alignment.py"


rule plot_training_curves:
    input:
        histories=run_paths("results/phase1/{run}/history.csv"),
        code=figure_code("training_curves"),
    output:
        report(
            "results/figures/training_curves.png",
            caption="../report/training_curves.rst",
            category="Training",
            labels={"figure": "phase-1 training curves"},
        ),
    log:
        "logs/plot_training_curves.log",
    benchmark:
        "logs/benchmarks/plot_training_curves.tsv"
    conda:
        ENV
    threads: 1
    resources:
        **job_resources(mem_mb=2000, runtime=10),
    script:
        "../scripts/plot_training_curves.py"


rule plot_accuracy_vs_spawn:
    input:
        table="results/evaluation/accuracy.csv",
        code=figure_code("accuracy_vs_spawn"),
    output:
        report(
            "results/figures/accuracy_vs_spawn.png",
            caption="../report/accuracy_vs_spawn.rst",
            category="Children on frozen kernels",
            labels={"figure": "accuracy vs spawn epoch"},
        ),
    log:
        "logs/plot_accuracy_vs_spawn.log",
    benchmark:
        "logs/benchmarks/plot_accuracy_vs_spawn.tsv"
    conda:
        ENV
    threads: 1
    resources:
        **job_resources(mem_mb=2000, runtime=10),
    params:
        headline=HEADLINE_EPSILONS,
    script:
        "../scripts/plot_accuracy_vs_spawn.py"


rule fixed_kernel_table:
    input:
        table="results/evaluation/accuracy.csv",
        code=figure_code("fixed_kernel_table"),
    output:
        table=report(
            "results/figures/fixed_kernel.csv",
            caption="../report/fixed_kernel.rst",
            category="Children on frozen kernels",
            labels={"figure": "fixed-kernel grid (table)"},
        ),
        figure=report(
            "results/figures/fixed_kernel.png",
            caption="../report/fixed_kernel.rst",
            category="Children on frozen kernels",
            labels={"figure": "fixed-kernel grid"},
        ),
    log:
        "logs/fixed_kernel_table.log",
    benchmark:
        "logs/benchmarks/fixed_kernel_table.tsv"
    conda:
        ENV
    threads: 1
    resources:
        **job_resources(mem_mb=2000, runtime=10),
    params:
        headline=HEADLINE_EPSILONS,
    script:
        "../scripts/fixed_kernel_table.py"


rule plot_robustness_vs_epsilon:
    input:
        table="results/evaluation/accuracy.csv",
        code=figure_code("robustness_vs_epsilon"),
    output:
        table=report(
            "results/figures/robustness_vs_epsilon.csv",
            caption="../report/robustness_vs_epsilon.rst",
            category="Children on frozen kernels",
            labels={"figure": "robustness vs epsilon (table)"},
        ),
        figure=report(
            "results/figures/robustness_vs_epsilon.png",
            caption="../report/robustness_vs_epsilon.rst",
            category="Children on frozen kernels",
            labels={"figure": "robustness vs epsilon"},
        ),
    log:
        "logs/plot_robustness_vs_epsilon.log",
    benchmark:
        "logs/benchmarks/plot_robustness_vs_epsilon.tsv"
    conda:
        ENV
    threads: 1
    resources:
        **job_resources(mem_mb=2000, runtime=10),
    script:
        "../scripts/plot_robustness_vs_epsilon.py"

# Figures and tables for the report, one rule per figure, each drawn by stages/figures.py.

EVOLUTION = "Kernel evolution"  # the report's categories
SPECTRA = "Kernel spectra"
CHILDREN = "Children on frozen kernels"


rule plot_distance_matrix:
    input:
        runs=lambda w: each_run(rules.kernel_evolution.output[0], w.regime),
        code=code_of("plot_distance_matrix"),
    output:
        figure(
            "distance_matrix_{regime}.png",
            EVOLUTION,
            "distance matrix",
            caption="distance_matrix",
            regime="{regime}",
        ),
    log:
        logs("plot_distance_matrix", "{regime}"),
    benchmark:
        benchmarks("plot_distance_matrix", "{regime}")
    conda:
        ENV
    resources:
        **job_resources(mem_mb=2000, runtime=10),
    script:
        "../scripts/plot_distance_matrix.py"


rule plot_pair_distance:
    input:
        pairs=rules.kernel_pair_distances.output[0],
        code=code_of("plot_pair_distance"),
    output:
        figure("pair_distance.png", EVOLUTION, "benign vs adversarial kernels"),
    log:
        logs("plot_pair_distance"),
    benchmark:
        benchmarks("plot_pair_distance")
    conda:
        ENV
    resources:
        **job_resources(mem_mb=2000, runtime=10),
    script:
        "../scripts/plot_pair_distance.py"


# Figures of one result of every run, plot_<figure>: the rule of that result (its first
# output), the report's category and label.
RUN_FIGURES = {
    "distance_curves": (
        rules.kernel_evolution,
        EVOLUTION,
        "distance to init / final, velocity",
    ),
    "spectrum": (rules.kernel_spectrum, SPECTRA, "spectrum"),
    "alignment": (rules.kernel_alignment, SPECTRA, "kernel-target alignment"),
    "training_curves": (rules.train_phase1, "Training", "phase-1 training curves"),
}

for name, (result, category, label) in RUN_FIGURES.items():

    rule:
        name:
            f"plot_{name}"
        input:
            runs=each_run(result.output[0]),
            code=code_of(f"plot_{name}"),
        output:
            figure(f"{name}.png", category, label),
        log:
            logs(f"plot_{name}"),
        benchmark:
            benchmarks(f"plot_{name}")
        conda:
            ENV
        resources:
            **job_resources(mem_mb=2000, runtime=10),
        params:
            script=f"plot_{name}",
        script:
            "../scripts/{params.script}.py"


rule plot_accuracy_vs_spawn:
    input:
        table=rules.gather_evaluation.output.table,
        code=code_of("plot_accuracy_vs_spawn"),
    output:
        figure("accuracy_vs_spawn.png", CHILDREN, "accuracy vs spawn epoch"),
    log:
        logs("plot_accuracy_vs_spawn"),
    benchmark:
        benchmarks("plot_accuracy_vs_spawn")
    conda:
        ENV
    resources:
        **job_resources(mem_mb=2000, runtime=10),
    params:
        **HEADLINE,
    script:
        "../scripts/plot_accuracy_vs_spawn.py"


# Tables of the accuracies, each with its figure: rule -> (file name, report label, settings).
ACCURACY_TABLES = {
    "fixed_kernel_table": ("fixed_kernel", "fixed-kernel grid", HEADLINE),
    "plot_robustness_vs_epsilon": (
        "robustness_vs_epsilon",
        "robustness vs epsilon",
        {},
    ),
}

for name, (file, label, settings) in ACCURACY_TABLES.items():

    rule:
        name:
            name
        input:
            table=rules.gather_evaluation.output.table,
            code=code_of(name),
        output:
            table=figure(f"{file}.csv", CHILDREN, f"{label} (table)"),
            figure=figure(f"{file}.png", CHILDREN, label),
        log:
            logs(name),
        benchmark:
            benchmarks(name)
        conda:
            ENV
        resources:
            **job_resources(mem_mb=2000, runtime=10),
        params:
            **settings,
            script=name,
        script:
            "../scripts/{params.script}.py"

# Figures and tables for the report, drawn in one job by stages/figures.py: a figure takes about
# a second to draw and several to start a job for (matplotlib, seaborn, xarray).

EVOLUTION = "Kernel evolution"  # the report's categories
SPECTRA = "Kernel spectra"
CHILDREN = "Children on frozen kernels"
MACHINES = "Kernel machines and eigen-features"


rule figures:
    input:
        evolution=each_run(rules.kernel_evolution.output[0]),
        spectra=each_run(rules.kernel_spectrum.output[0]),
        alignments=each_run(rules.kernel_alignment.output[0]),
        eigenspaces=each_run(rules.kernel_eigenspace.output[0]),
        attacked=each_run(rules.attacked_ntk.output.statistics),
        histories=each_run(rules.train_phase1.output[0]),
        pairs=rules.kernel_pair_distances.output if PAIRS else [],
        evaluation=rules.gather_evaluation.output.table,
        machines=each_run(rules.kernel_machines.output.machines),
        features=each_run(rules.kernel_machines.output.features),
        pictures=rules.feature_pictures.output[0],
        infinite_machine=(rules.infinite_machine.output[0] if INFINITE_MACHINE else []),
        code=code_of("figures"),
    output:
        distance_matrices=[
            figure(
                f"distance_matrix_{regime}.png",
                EVOLUTION,
                "distance matrix",
                caption="distance_matrix",
                regime=regime,
            )
            for regime in REGIMES
        ],
        distance_curves=figure(
            "distance_curves.png", EVOLUTION, "distance to init / final, velocity"
        ),
        pair_distance=(
            figure("pair_distance.png", EVOLUTION, "benign vs adversarial kernels")
            if PAIRS
            else []
        ),
        spectrum=figure("spectrum.png", SPECTRA, "spectrum"),
        polar_dynamics=figure(
            "polar_dynamics.png",
            SPECTRA,
            "polar dynamics in and out of the top-k eigenspace",
        ),
        eigenspace_overlap=figure(
            "eigenspace_overlap.png", SPECTRA, "overlap of top-k eigenspaces"
        ),
        attacked_kernels=figure(
            "attacked_kernels.png", EVOLUTION, "kernels on attacked inputs"
        ),
        alignment=figure("alignment.png", SPECTRA, "kernel-target alignment"),
        training_curves=figure(
            "training_curves.png", "Training", "phase-1 training curves"
        ),
        accuracy_vs_spawn=figure(
            "accuracy_vs_spawn.png", CHILDREN, "accuracy vs spawn epoch"
        ),
        fixed_kernel_table=figure(
            "fixed_kernel.csv", CHILDREN, "fixed-kernel grid (table)"
        ),
        fixed_kernel=figure("fixed_kernel.png", CHILDREN, "fixed-kernel grid"),
        robustness_table=figure(
            "robustness_vs_epsilon.csv", CHILDREN, "robustness vs epsilon (table)"
        ),
        robustness_vs_epsilon=figure(
            "robustness_vs_epsilon.png", CHILDREN, "robustness vs epsilon"
        ),
        machine_accuracy=figure(
            "machine_accuracy.png", MACHINES, "kernel machines vs epoch"
        ),
        feature_accuracy=figure(
            "feature_accuracy.png", MACHINES, "eigen-features at the final epoch"
        ),
        feature_robust_share=figure(
            "feature_robust_share.png",
            MACHINES,
            "robust share of the leading features",
        ),
        feature_pictures=figure("feature_pictures.png", MACHINES, "feature pictures"),
    log:
        logs("figures"),
    benchmark:
        benchmarks("figures")
    conda:
        ENV
    resources:
        **job_resources(mem_mb=2000, runtime=10),
    params:
        **HEADLINE,
        regimes=REGIMES,
    script:
        "../scripts/figures.py"

# Figures and tables for the report, drawn in one job per scenario by stages/figures.py: a
# figure takes about a second to draw and several to start a job for (matplotlib, seaborn,
# xarray). They lie in the scenario's own folder, labelled by scenario in the report.


rule figures:
    input:
        unpack(lambda w: figure_inputs(SCENARIOS[w.scenario])),
        code=code_of("figures"),
    output:
        distance_matrix=figure("distance_matrix.png", EVOLUTION, "distance matrix"),
        distance_curves=figure(
            "distance_curves.png", EVOLUTION, "distance to init / final, velocity"
        ),
        pair_distance=figure(
            "pair_distance.png", EVOLUTION, "benign vs adversarial kernels"
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
            "machine_accuracy.png", MACHINES_CATEGORY, "kernel machines vs epoch"
        ),
        feature_accuracy=figure(
            "feature_accuracy.png",
            MACHINES_CATEGORY,
            "eigen-features at the final epoch",
        ),
        feature_robust_share=figure(
            "feature_robust_share.png",
            MACHINES_CATEGORY,
            "robust share of the leading features",
        ),
        feature_pictures=figure(
            "feature_pictures.png", MACHINES_CATEGORY, "feature pictures"
        ),
    log:
        logs("figures", "{scenario}"),
    benchmark:
        benchmarks("figures", "{scenario}")
    conda:
        ENV
    resources:
        **job_resources(mem_mb=2000, runtime=10),
    params:
        headline=lambda w: headline(SCENARIOS[w.scenario]),
    script:
        "../scripts/figures.py"

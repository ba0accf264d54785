# Figures and tables for the report, drawn in one job per scenario by stages/figures.py: a
# figure takes about a second to draw and several to start a job for (matplotlib, seaborn,
# xarray). They lie in the scenario's own folder, labelled by scenario in the report.

EVOLUTION = "Kernel evolution"  # the report's categories
SPECTRA = "Kernel spectra"
CHILDREN = "Children on frozen kernels"
MACHINES_CATEGORY = "Kernel machines and eigen-features"


def figure_inputs(s):
    """Every result the figures read, in run order where they are per run."""
    return {
        "evolution": [statistic_path("evolution", s, r.regime, r.seed) for r in s.runs],
        "spectra": [statistic_path("spectrum", s, r.regime, r.seed) for r in s.runs],
        "alignments": [statistic_path("alignment", s, r.regime, r.seed) for r in s.runs],
        "eigenspaces": [statistic_path("eigenspace", s, r.regime, r.seed) for r in s.runs],
        "attacked": each_run(attacked_statistics, s),
        "histories": [phase1_file(s, r.regime, r.seed, "history.csv") for r in s.runs],
        "pairs": pair_distances(s),
        "evaluation": accuracy(s, ".csv"),
        "machines": each_run(machine_path(MACHINES), s),
        "features": each_run(machine_path(FEATURES), s),
        "pictures": pictures_path(s),
        "infinite_machine": single(infinite_machine(s)),
    }


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
        # Each attack's own epsilon: figures and tables that show one number per attack use it.
        headline=lambda w: {
            name: attack.epsilon
            for name, attack in SCENARIOS[w.scenario].settings.evaluation.attacks.items()
        },
    script:
        "../scripts/figures.py"

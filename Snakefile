# ntk-evolution: how a network's neural tangent kernel evolves under benign and adversarial
# training (after Loo et al., NeurIPS 2022). Read top to bottom, the rule modules follow the
# method: data -> phase-1 training -> NTK snapshots -> phase-2 children on frozen kernels ->
# evaluation -> statistics -> figures -> the paper's findings judged on this run.

from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/phase1.smk"
include: "workflow/rules/kernels.smk"
include: "workflow/rules/phase2.smk"
include: "workflow/rules/evaluation.smk"
include: "workflow/rules/statistics.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/findings.smk"


rule all:
    default_target: True
    input:
        each_run(rules.gather_kernels.output[0]),
        rules.gather_evaluation.output.store,
        expand(rules.plot_distance_matrix.output[0], regime=REGIMES),
        rules.plot_distance_curves.output,
        rules.plot_spectrum.output,
        rules.plot_alignment.output,
        rules.plot_training_curves.output,
        rules.plot_pair_distance.output if PAIRS else [],
        rules.plot_accuracy_vs_spawn.output,
        rules.fixed_kernel_table.output,
        rules.plot_robustness_vs_epsilon.output,
        rules.findings.output,

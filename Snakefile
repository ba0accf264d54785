# ntk-evolution: how a network's neural tangent kernel evolves under benign and adversarial
# training (after Loo et al., NeurIPS 2022). Read top to bottom, the rule modules follow the
# method: data -> phase-1 training -> NTK snapshots -> phase-2 children on frozen kernels ->
# evaluation -> statistics -> figures -> the paper's findings judged on each scenario, and the
# scenarios compared.

from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version

from ntk_evolution.configuration.config import ConfigError, read_config_file

min_version("9.0")


# Run from the folder of this file whatever the working directory (`-s ../Snakefile`), so
# that results, logs and Snakemake's records stay in the project.
workdir: workflow.basedir


# Every default in one place; config.yaml, a --configfile and a scenarios file list only what
# they change (workflow/rules/common.smk). config.yaml is read here first, so that one YAML
# cannot read is named; empty or absent, it changes nothing.
configfile: "workflow/config.default.yaml"


try:
    CHANGES = read_config_file("config.yaml", missing_ok=True)
except ConfigError as err:
    raise WorkflowError(f"invalid configuration: {err}") from None
if CHANGES:

    configfile: "config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/jobs.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/phase1.smk"
include: "workflow/rules/kernels.smk"
include: "workflow/rules/phase2.smk"
include: "workflow/rules/evaluation.smk"
include: "workflow/rules/statistics.smk"
include: "workflow/rules/machines.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/findings.smk"
include: "workflow/rules/scenarios.smk"


# Every result a scenario promises is an input of the target itself: Snakemake rebuilds a missing
# file only where a job that needs it runs, and the scenario's record would otherwise stand for
# them all. A lost result is thus rebuilt, with exactly what follows from its job.
rule all:
    default_target: True
    input:
        expand(rules.scenario.output, scenario=SCENARIOS),
        expand(rules.figures.output, scenario=SCENARIOS),
        expand(rules.findings.output, scenario=SCENARIOS),
        [path for s in SCENARIOS.values() for path in scenario_results(s)],
        rules.compare_scenarios.output if BASE.scenarios else [],

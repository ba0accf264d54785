"""The paper's findings judged on this run.

Writes ``findings.csv`` (finding, measure, subject, value, low, high, threshold, decisive, outcome) and
``findings.md`` (per finding: the claim, the verdict shown / not shown / inconclusive / not measured, its rows), and
``robustness.md`` (every model's accuracy under each attack, with intervals) and
``verdicts.csv`` (one row per finding: claim, verdict, evidence; the report opens on it).
"""

from ntk_evolution.configuration.experiment import JobSubject
from ntk_evolution.configuration.settings import (
    FindingsSettings,
    ModelSettings,
    Phase1Settings,
    read_attack,
)
from ntk_evolution.pipeline.joblog import setup_logging
from ntk_evolution.pipeline.params import typed_params
from ntk_evolution.stages.findings import write_findings

setup_logging(snakemake.log[0])
write_findings(
    snakemake.input.pairs[0] if snakemake.input.pairs else None,
    snakemake.input.runs,
    snakemake.input.evaluation,
    snakemake.output.table,
    snakemake.output.markdown,
    snakemake.output.robustness,
    snakemake.output.verdicts,
    runs=JobSubject(snakemake).runs,
    dataset=snakemake.params.dataset,
    **typed_params(
        snakemake, thresholds=FindingsSettings, model=ModelSettings, phase1=Phase1Settings
    ),
    attacks={name: read_attack(a) for name, a in snakemake.params.attacks.items()},
)

"""The paper's findings judged on this run.

Writes ``findings.csv`` (finding, measure, subject, value, threshold, decisive, holds) and
``findings.md`` (per finding: the claim, the verdict shown / not shown / not measured, its rows).
"""

from ntk_evolution.experiment import JobSubject
from ntk_evolution.joblog import setup_logging
from ntk_evolution.settings import EvaluationAttack, FindingsSettings, ModelSettings, Phase1Settings
from ntk_evolution.stages.findings import write_findings

setup_logging(snakemake.log[0])
write_findings(
    snakemake.input.pairs[0] if snakemake.input.pairs else None,
    snakemake.input.runs,
    snakemake.input.evaluation,
    snakemake.output.table,
    snakemake.output.markdown,
    runs=JobSubject(snakemake).runs,
    thresholds=FindingsSettings.model_validate(snakemake.params.thresholds),
    dataset=snakemake.params.dataset,
    model=ModelSettings.model_validate(snakemake.params.model),
    phase1=Phase1Settings.model_validate(snakemake.params.phase1),
    attack=EvaluationAttack.model_validate(snakemake.params.attack),
)

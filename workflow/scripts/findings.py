"""The paper's findings judged on this run.

Writes ``findings.csv`` (finding, measure, subject, value, threshold, decisive, holds) and
``findings.md`` (per finding: the claim, the verdict shown / not shown / not measured, its rows).
"""

from ntk_evolution.config import Run
from ntk_evolution.joblog import setup_logging
from ntk_evolution.stages.findings import write_findings

setup_logging(snakemake.log[0])
write_findings(
    snakemake.input.pairs[0] if snakemake.input.pairs else None,
    snakemake.input.evolutions,
    snakemake.input.evaluation,
    snakemake.output.table,
    snakemake.output.markdown,
    runs=[Run(regime, seed) for regime, seed in snakemake.params.runs],
    settings=snakemake.params.settings,
)

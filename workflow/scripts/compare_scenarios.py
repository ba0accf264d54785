"""Every scenario's findings side by side.

Writes ``results/comparison/findings.csv`` (scenario, then the columns of a scenario's
findings.csv), ``findings.md``, ``findings.png`` (the decisive figures across scenarios) and
``verdicts.csv`` (every scenario's verdict on every finding, which the report opens on).
"""

from ntk_evolution.pipeline.joblog import setup_logging
from ntk_evolution.stages.comparison import compare_scenarios

setup_logging(snakemake.log[0])
compare_scenarios(
    dict(zip(snakemake.params.scenarios, snakemake.input.findings, strict=True)),
    snakemake.output.table,
    snakemake.output.markdown,
    snakemake.output.figure,
    snakemake.output.verdicts,
)

"""Every scenario's findings side by side.

Writes ``results/comparison/findings.csv`` (scenario, then the columns of a scenario's
findings.csv), ``findings.md`` and ``findings.png`` (the decisive figures across scenarios).
"""

from ntk_evolution.pipeline.joblog import setup_logging
from ntk_evolution.stages.comparison import compare_scenarios

setup_logging(snakemake.log[0])
compare_scenarios(
    dict(zip(snakemake.params.scenarios, snakemake.input.findings, strict=True)),
    snakemake.output.table,
    snakemake.output.markdown,
    snakemake.output.figure,
)

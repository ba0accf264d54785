"""The fixed-kernel grid CC / CA / AC / AA of the last spawn epoch, each attack at its headline
epsilon.

Writes ``fixed_kernel.csv`` (dynamics, spawn_epoch, code, measure, mean, min, max, seeds) and the
same means as an annotated heat map (PNG).
"""

from ntk_evolution.joblog import setup_logging
from ntk_evolution.stages.figures import fixed_kernel_table

setup_logging(snakemake.log[0])
fixed_kernel_table(
    snakemake.input.table,
    snakemake.output.table,
    snakemake.output.figure,
    headline=snakemake.params.headline,
)

"""Clean and robust accuracy of the children against spawn epoch (PNG), each attack at its
headline epsilon."""

from ntk_evolution.joblog import setup_logging
from ntk_evolution.stages.figures import plot_accuracy_vs_spawn

setup_logging(snakemake.log[0])
plot_accuracy_vs_spawn(
    snakemake.input.table, snakemake.output[0], headline=snakemake.params.headline
)

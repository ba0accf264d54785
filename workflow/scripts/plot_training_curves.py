"""Phase-1 loss and accuracy per epoch, by regime (PNG)."""

from ntk_evolution.joblog import setup_logging
from ntk_evolution.stages.figures import plot_training_curves

setup_logging(snakemake.log[0])
plot_training_curves(snakemake.input.runs, snakemake.output[0])

"""Phase-1 loss and accuracy per epoch, by regime (PNG)."""

from ntk_evolution.figures import training_curves
from ntk_evolution.joblog import setup_logging
from ntk_evolution.stages.figures import histories

setup_logging(snakemake.log[0])
training_curves.plot(histories(snakemake.input.histories), snakemake.output[0])

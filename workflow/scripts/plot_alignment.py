"""Kernel-target alignment against epoch, by regime (PNG)."""

from ntk_evolution.config import Run
from ntk_evolution.figures import alignment
from ntk_evolution.joblog import setup_logging
from ntk_evolution.stages.figures import stacked_statistics

setup_logging(snakemake.log[0])
runs = [Run(regime, seed) for regime, seed in snakemake.params.runs]
alignment.plot(stacked_statistics(snakemake.input.alignments, runs), snakemake.output[0])

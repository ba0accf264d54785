"""Distance to init / to final kernel and kernel velocity against epoch, by regime (PNG)."""

from ntk_evolution.config import Run
from ntk_evolution.figures import distance_curves
from ntk_evolution.joblog import setup_logging
from ntk_evolution.stages.figures import stacked_statistics

setup_logging(snakemake.log[0])
runs = [Run(regime, seed) for regime, seed in snakemake.params.runs]
distance_curves.plot(stacked_statistics(snakemake.input.evolutions, runs), snakemake.output[0])

"""Effective rank, top-k share and final eigenvalue decay, by regime (PNG)."""

from ntk_evolution.config import Run
from ntk_evolution.figures import spectrum
from ntk_evolution.joblog import setup_logging
from ntk_evolution.stages.figures import stacked_statistics

setup_logging(snakemake.log[0])
runs = [Run(regime, seed) for regime, seed in snakemake.params.runs]
spectrum.plot(stacked_statistics(snakemake.input.spectra, runs), snakemake.output[0])

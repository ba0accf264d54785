"""Effective rank, top-k share and final eigenvalue decay, by regime (PNG)."""

from ntk_evolution.experiment import JobSubject
from ntk_evolution.joblog import setup_logging
from ntk_evolution.stages.figures import plot_spectrum

setup_logging(snakemake.log[0])
plot_spectrum(snakemake.input.runs, snakemake.output[0], runs=JobSubject(snakemake).runs)

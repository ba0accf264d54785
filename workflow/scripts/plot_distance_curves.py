"""Distance to init / to final kernel and kernel velocity against epoch, by regime (PNG)."""

from ntk_evolution.experiment import JobSubject
from ntk_evolution.joblog import setup_logging
from ntk_evolution.stages.figures import plot_distance_curves

setup_logging(snakemake.log[0])
plot_distance_curves(snakemake.input.runs, snakemake.output[0], runs=JobSubject(snakemake).runs)

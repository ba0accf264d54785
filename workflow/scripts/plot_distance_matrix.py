"""Heat maps of one regime's epoch x epoch kernel distance matrices, one panel per seed (PNG)."""

from ntk_evolution.experiment import JobSubject
from ntk_evolution.joblog import setup_logging
from ntk_evolution.stages.figures import plot_distance_matrix

setup_logging(snakemake.log[0])
plot_distance_matrix(snakemake.input.runs, snakemake.output[0], runs=JobSubject(snakemake).runs)

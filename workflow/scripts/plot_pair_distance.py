"""Benign vs adversarial kernel distance with benign vs benign as yardstick, against epoch (PNG)."""

from ntk_evolution.joblog import setup_logging
from ntk_evolution.stages.figures import plot_pair_distance

setup_logging(snakemake.log[0])
plot_pair_distance(snakemake.input.pairs, snakemake.output[0])

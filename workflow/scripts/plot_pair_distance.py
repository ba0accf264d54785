"""Benign vs adversarial kernel distance with benign vs benign as yardstick, against epoch (PNG)."""

from ntk_evolution.figures import pair_distance
from ntk_evolution.joblog import setup_logging
from ntk_evolution.storage import open_store

setup_logging(snakemake.log[0])
pair_distance.plot(open_store(snakemake.input.pairs, load=True), snakemake.output[0])

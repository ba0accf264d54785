"""Heat maps of one regime's epoch x epoch kernel distance matrices, one panel per seed (PNG)."""

from ntk_evolution.config import Run
from ntk_evolution.figures import distance_matrix
from ntk_evolution.joblog import setup_logging
from ntk_evolution.storage import open_store

setup_logging(snakemake.log[0])
distance_matrix.plot(
    [open_store(path, load=True) for path in snakemake.input.evolutions],
    [Run(regime, seed) for regime, seed in snakemake.params.runs],
    snakemake.output[0],
)

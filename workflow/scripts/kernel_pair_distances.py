"""Distances between paired runs' kernels at each epoch.

Writes a zarr store with ``distance`` (pair, epoch) and coordinates kind, run_a, run_b on pair:
every non-benign run against the benign run of its seed, and every pair of benign seeds.
"""

from ntk_evolution.config import Run, run_pairs
from ntk_evolution.joblog import setup_logging
from ntk_evolution.stages.statistics import kernel_pair_distances

setup_logging(snakemake.log[0])
runs = [Run(regime, seed) for regime, seed in snakemake.params.runs]
kernel_pair_distances(
    dict(zip(runs, snakemake.input.kernels, strict=True)),
    snakemake.output[0],
    pairs=run_pairs(runs),
)

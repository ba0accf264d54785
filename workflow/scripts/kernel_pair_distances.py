"""Distances between paired runs' kernels at each epoch.

Writes a zarr store with ``distance``, ``centered_distance`` and ``top_k_overlap`` (pair, epoch) and coordinates
kind, comparison, seeds, run_a, run_b on pair: every two runs of different regimes (same seed and
across seeds) and every two seeds of one regime (the yardsticks).
"""

from ntk_evolution.configuration.experiment import JobSubject, run_pairs
from ntk_evolution.pipeline.joblog import setup_logging
from ntk_evolution.stages.statistics import kernel_pair_distances

setup_logging(snakemake.log[0])
runs = JobSubject(snakemake).runs
kernel_pair_distances(
    dict(zip(runs, snakemake.input.runs, strict=True)),
    snakemake.output[0],
    pairs=run_pairs(runs),
    top_k=snakemake.params.top_k,
)

"""Eigen-spectra of one run's kernels.

Writes a zarr store with ``eigenvalues`` (epoch, logit, rank), ``effective_rank``,
``top_k_share`` and ``trace`` (epoch, logit).
"""

from ntk_evolution.configuration.experiment import JobSubject
from ntk_evolution.pipeline.joblog import setup_logging
from ntk_evolution.stages.statistics import kernel_spectrum

setup_logging(snakemake.log[0])
kernel_spectrum(
    snakemake.input.kernels,
    snakemake.output[0],
    run=JobSubject(snakemake).run,
    top_k=snakemake.params.top_k,
)

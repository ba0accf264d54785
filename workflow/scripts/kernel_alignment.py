"""Kernel-target alignment of one run's kernels.

Writes a zarr store with ``alignment`` (epoch, logit) and ``mean_alignment`` (epoch).
"""

from ntk_evolution.configuration.experiment import JobSubject
from ntk_evolution.pipeline.joblog import setup_logging
from ntk_evolution.stages.statistics import kernel_alignment

setup_logging(snakemake.log[0])
kernel_alignment(
    snakemake.input.kernels,
    snakemake.output[0],
    run=JobSubject(snakemake).run,
    centered=snakemake.params.centered,
)

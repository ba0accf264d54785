"""Kernel distances across one run's epochs.

Writes a zarr store with ``distance_matrix`` (epoch, other_epoch), ``distance_to_init``,
``distance_to_final`` and ``velocity`` (epoch); with the infinite-width NTK (where the config
asks for it and it is within reach), ``distance_to_infinite`` and
``centered_distance_to_infinite`` (epoch).
"""

from ntk_evolution.configuration.experiment import JobSubject
from ntk_evolution.pipeline.joblog import setup_logging
from ntk_evolution.stages.statistics import kernel_evolution

setup_logging(snakemake.log[0])
kernel_evolution(
    snakemake.input.kernels,
    snakemake.output[0],
    run=JobSubject(snakemake).run,
    infinite_path=snakemake.input.infinite or None,
)

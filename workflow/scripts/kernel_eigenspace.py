"""Where one run's kernels move: polar dynamics and eigenspace overlaps.

Writes a zarr store with ``radius`` and ``angle`` (space, epoch), ``class_radius`` and
``class_angle`` (space, epoch, logit), ``overlap_to_final`` (epoch, logit) and
``mean_overlap_to_final`` (epoch); see ntk_evolution.kernels.eigenspace.
"""

from ntk_evolution.configuration.experiment import JobSubject
from ntk_evolution.pipeline.joblog import setup_logging
from ntk_evolution.stages.statistics import kernel_eigenspace

setup_logging(snakemake.log[0])
kernel_eigenspace(
    snakemake.input.kernels,
    snakemake.output[0],
    run=JobSubject(snakemake).run,
    top_k=snakemake.params.top_k,
)

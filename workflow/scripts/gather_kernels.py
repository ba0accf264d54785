"""Stack one run's kernel snapshots.

Writes a consolidated zarr store with ``ntk`` (epoch, logit, probe_i, probe_j), one chunk per
(epoch, tile, tile), and the snapshots' provenance in its attrs.
"""

from ntk_evolution.experiment import JobSubject
from ntk_evolution.joblog import setup_logging
from ntk_evolution.stages.gather import gather_kernels

setup_logging(snakemake.log[0])
gather_kernels(
    snakemake.input.snapshots,
    snakemake.output[0],
    run=JobSubject(snakemake).run,
    tile_size=snakemake.params.tile_size,
)

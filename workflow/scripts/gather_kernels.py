"""Stack one run's kernel snapshots.

Writes a consolidated zarr store with ``ntk`` (epoch, logit, probe_i, probe_j), one chunk per
(epoch, tile, tile), and the snapshots' provenance in its attrs.
"""

from ntk_evolution.config import Run
from ntk_evolution.joblog import setup_logging
from ntk_evolution.stages.kernels import gather_kernels

setup_logging(snakemake.log[0])
gather_kernels(
    snakemake.input.snapshots,
    snakemake.output[0],
    run=Run(snakemake.wildcards.regime, int(snakemake.wildcards.seed)),
    tile_size=snakemake.params.tile_size,
)

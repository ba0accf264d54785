"""Choose the class-balanced probe set on which kernels are computed.

Writes ``results/data/probes.npz``: ``indices`` (probe,) into the training set, grouped by class,
and their ``labels`` (probe,).
"""

from ntk_evolution.pipeline.joblog import setup_logging
from ntk_evolution.stages.data import prepare_probes

setup_logging(snakemake.log[0])
prepare_probes(
    snakemake.input.split,
    snakemake.output[0],
    per_class=snakemake.params.per_class,
    seed=snakemake.params.seed,
)

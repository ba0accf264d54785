"""Every evaluation in one table and one dataset.

Writes ``accuracy.csv`` (tidy: phase1_regime, seed, spawn_epoch, dynamics, phase2_regime, attack,
epsilon, source, accuracy) and ``accuracy.zarr`` with ``accuracy`` (phase1_regime, seed,
spawn_epoch, dynamics, phase2_regime, attack, epsilon, source) and ``parent_accuracy``
(phase1_regime, seed, attack, epsilon).
"""

from ntk_evolution.pipeline.joblog import setup_logging
from ntk_evolution.stages.gather import gather_evaluation

setup_logging(snakemake.log[0])
gather_evaluation(
    [*snakemake.input.phase1, *snakemake.input.children],
    snakemake.output.table,
    snakemake.output.store,
    config=snakemake.params.config,
)

"""Train one phase-1 run (regime, seed).

Writes one checkpoint ``.npz`` per scheduled epoch (parameter leaves + JSON metadata, no pickle)
and ``history.csv`` with one row per epoch: regime, seed, epoch, adversarial, train_loss,
train_accuracy, test_accuracy, seconds.
"""

from ntk_evolution.config import Run
from ntk_evolution.joblog import setup_logging
from ntk_evolution.stages.phase1 import train_phase1

setup_logging(snakemake.log[0])
train_phase1(
    snakemake.input.split,
    snakemake.output.checkpoints,
    snakemake.output.history,
    run=Run(snakemake.wildcards.regime, int(snakemake.wildcards.seed)),
    model=snakemake.params.model,
    phase1=snakemake.params.phase1,
    checkpoint_epochs=snakemake.params.checkpoint_epochs,
)

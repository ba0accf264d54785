"""Train one phase-1 run (regime, seed).

Writes ``history.csv`` (with ``history.provenance.json`` beside it) and one checkpoint
``epoch{e}.npz`` per scheduled epoch (parameter leaves + JSON metadata, no pickle); the history
has one row per epoch: regime, seed, epoch, adversarial, train_loss, train_accuracy,
test_accuracy, seconds.
"""

from ntk_evolution.configuration.experiment import JobSubject
from ntk_evolution.configuration.settings import ModelSettings, Training
from ntk_evolution.pipeline.joblog import setup_logging
from ntk_evolution.pipeline.params import typed_params
from ntk_evolution.stages.phase1 import train_phase1

setup_logging(snakemake.log[0])
history, _provenance, *checkpoints = snakemake.output  # the provenance is the history's sidecar
train_phase1(
    snakemake.input.split,
    checkpoints,
    history,
    run=JobSubject(snakemake).run,
    **typed_params(snakemake, model=ModelSettings, training=Training),
    checkpoint_epochs=snakemake.params.checkpoint_epochs,
)

"""Train the children of one spawn checkpoint (every dynamics x phase-2 regime).

Writes, per child, ``params.npz`` (final parameters, pickle-free, same tree as the network) and
``history.csv`` with one row per epoch: phase1_regime, seed, spawn_epoch, dynamics,
phase2_regime, epoch, adversarial, train_loss, train_accuracy, test_accuracy, seconds.
"""

from ntk_evolution.configuration.experiment import JobSubject
from ntk_evolution.configuration.settings import ModelSettings, Training
from ntk_evolution.pipeline.joblog import setup_logging
from ntk_evolution.pipeline.params import typed_params
from ntk_evolution.stages.phase2 import train_children

setup_logging(snakemake.log[0])
train_children(
    snakemake.input.spawn,
    snakemake.input.split,
    snakemake.output.children,
    snakemake.output.histories,
    children=JobSubject(snakemake).children,
    **typed_params(snakemake, model=ModelSettings, training=Training),
)

"""Kernel machines and eigen-features of one run's checkpoints.

Writes two zarr stores: the machines' ``accuracy`` (epoch, attack, source), and the
eigen-features' ``accuracy`` (epoch, eigen, measure), ``class_accuracy`` (epoch, class, eigen,
measure), ``eigenvalue`` (epoch, logit, eigen) and ``robust_share`` (epoch); see
ntk_evolution.stages.machines.
"""

from ntk_evolution.configuration.experiment import JobSubject
from ntk_evolution.configuration.settings import EvaluationSettings, MachinesSettings, ModelSettings
from ntk_evolution.pipeline.joblog import setup_logging
from ntk_evolution.pipeline.params import typed_params
from ntk_evolution.stages.machines import judge_machines

setup_logging(snakemake.log[0])
judge_machines(
    snakemake.input.checkpoints,
    snakemake.input.kernels,
    snakemake.input.split,
    snakemake.input.parent_adversarial,
    snakemake.output.machines,
    snakemake.output.features,
    run=JobSubject(snakemake).run,
    epochs=snakemake.params.epochs,
    **typed_params(
        snakemake, model=ModelSettings, machines=MachinesSettings, evaluation=EvaluationSettings
    ),
)

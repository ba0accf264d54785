"""Kernel machines and eigen-features of one run's checkpoints.

Writes the machines' and the eigen-features' zarr stores (docs/results.md lists their variables;
ntk_evolution.stages.machines says what they mean).
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

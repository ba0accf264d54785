"""Clean and robust accuracy of the infinite-width NTK's kernel machine.

Writes a zarr store with ``accuracy`` (attack): "clean" and every evaluation attack at its own
epsilon, crafted against the machine; see ntk_evolution.stages.infinite.
"""

from ntk_evolution.configuration.settings import EvaluationSettings, MachinesSettings, ModelSettings
from ntk_evolution.pipeline.joblog import setup_logging
from ntk_evolution.pipeline.params import typed_params
from ntk_evolution.stages.infinite import judge_infinite_machine

setup_logging(snakemake.log[0])
judge_infinite_machine(
    snakemake.input.kernel,
    snakemake.input.split,
    snakemake.output[0],
    **typed_params(
        snakemake, model=ModelSettings, machines=MachinesSettings, evaluation=EvaluationSettings
    ),
)

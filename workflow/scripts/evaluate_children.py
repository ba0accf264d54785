"""Clean, robust and transfer test accuracy of the children of one spawn point.

Writes a CSV with one row per (child, attack, epsilon, source): phase1_regime, seed, spawn_epoch,
dynamics, phase2_regime, attack, epsilon (0 for "clean"), source ("self" or "parent"), accuracy.
"""

from ntk_evolution.configuration.experiment import JobSubject
from ntk_evolution.configuration.settings import EvaluationSettings, ModelSettings
from ntk_evolution.pipeline.joblog import setup_logging
from ntk_evolution.pipeline.params import typed_params
from ntk_evolution.stages.evaluation import evaluate_children

setup_logging(snakemake.log[0])
evaluate_children(
    snakemake.input.children,
    snakemake.input.spawn,
    snakemake.input.parent_adversarial,
    snakemake.input.split,
    snakemake.output[0],
    children=JobSubject(snakemake).children,
    **typed_params(snakemake, model=ModelSettings, evaluation=EvaluationSettings),
)

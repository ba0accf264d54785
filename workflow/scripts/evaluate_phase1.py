"""Clean and robust test accuracy of one run's final phase-1 network.

Writes a CSV with one row per attack and epsilon ("clean" included, at epsilon 0): phase1_regime,
seed, spawn_epoch (empty), dynamics, phase2_regime ("none"), attack, epsilon, source, accuracy;
and the network's adversarial test images, one array per attack and epsilon (``pgd_linf@0.1``),
the transfer attack on the run's children.
"""

from ntk_evolution.configuration.experiment import JobSubject
from ntk_evolution.configuration.settings import EvaluationSettings, ModelSettings
from ntk_evolution.pipeline.joblog import setup_logging
from ntk_evolution.pipeline.params import typed_params
from ntk_evolution.stages.evaluation import evaluate_phase1

setup_logging(snakemake.log[0])
evaluate_phase1(
    snakemake.input.checkpoint,
    snakemake.input.split,
    snakemake.output.table,
    snakemake.output.adversarial,
    run=JobSubject(snakemake).run,
    **typed_params(snakemake, model=ModelSettings, evaluation=EvaluationSettings),
)

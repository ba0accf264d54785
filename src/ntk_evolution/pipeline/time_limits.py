"""Time limits of the workflow's jobs, from the passes over the data each makes (no JAX here).

A job may take at most :data:`TRAIN_PASS_MINUTES` per forward-backward pass over the training
set and :data:`TEST_PASS_MINUTES` per pass over the test set, upper bounds for ResNet-18 on
CIFAR-10 on one GPU (the default digits run needs seconds per job), plus ten minutes to start.
The rules size memory for the same scale; site-specific values (partition, account, other
limits) belong in a profile.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ntk_evolution.configuration.settings import EvaluationSettings, MachinesSettings, Training

TRAIN_PASS_MINUTES = 0.5
TEST_PASS_MINUTES = 0.1
START_MINUTES = 10


def passes_per_epoch(training: Training, regime: str) -> int:
    """Forward-backward passes over the data one epoch of ``regime`` takes with the
    ``training`` settings (flip: its adversarial epochs)."""
    if regime == "benign" or training.attack is None:
        return 1
    benign_steps = 2 if training.adversarial_mix == "benign_then_adversarial" else 1
    return training.attack.steps + benign_steps


def training_minutes(training: Training, regimes: Sequence[str], weight: float = 1) -> int:
    """Time limit of a job that trains one model per entry of ``regimes`` with the ``training``
    settings; ``weight`` is the cost of one model's pass relative to the network's."""
    passes = weight * sum(passes_per_epoch(training, regime) for regime in regimes)
    return math.ceil(START_MINUTES + TRAIN_PASS_MINUTES * training.epochs * passes)


def evaluation_minutes(evaluation: EvaluationSettings, models: int) -> int:
    """Time limit of a job that evaluates ``models`` models clean and under every attack of the
    ``evaluation`` settings at every epsilon it is measured at."""
    attacks = evaluation.attacks.values()
    per_model = 1 + sum(a.passes * len(a.radii) for a in attacks)
    passes = models * per_model
    return math.ceil(START_MINUTES + TEST_PASS_MINUTES * passes)


MACHINE_PASS_WEIGHT = 30  # a machine's pass: a Jacobian-vector product per logit and its gradient


def machine_minutes(machines: MachinesSettings, evaluation: EvaluationSettings, epochs: int) -> int:
    """Time limit of a job that judges the kernel machine and eigen-features of ``epochs``
    checkpoints: per checkpoint, a machine under each of its evaluation attacks at its own epsilon and
    each judged feature under its attack, a pass of either costing :data:`MACHINE_PASS_WEIGHT`
    network passes over the whole test set (an upper bound: both may judge fewer images)."""
    attacks = machines.judged_by(evaluation).attacks.values()
    machine = 1 + sum(a.passes for a in attacks)
    judged = machines.features.top + machines.features.bottom
    features = judged * (machines.features.attack.steps + 2)
    passes = MACHINE_PASS_WEIGHT * epochs * (machine + features)
    return math.ceil(START_MINUTES + TEST_PASS_MINUTES * passes)

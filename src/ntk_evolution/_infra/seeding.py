"""Every PRNG key of the workflow, derived from the seeds in the config.

A phase-1 run's seed s gives ``key = PRNGKey(s)``, split as

- ``init``   = fold_in(key, 0): the initial parameters (shared by all regimes of one seed, so a
  benign and an adversarial run start from the same network and the same kernel);
- ``phase1`` = fold_in(key, 1): phase-1 shuffling and PGD starts;
- ``phase2`` = fold_in(key, 2): shuffling and PGD starts of every child of the run (children of
  one run see the same batches, so they differ only in spawn epoch, dynamics and data).

Evaluation attacks start from ``PRNGKey(evaluation.seed)`` for every model, so all models are
attacked from the same random starts. Adding a seed, a spawn epoch or a child never changes the
keys of the others.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax


@dataclass(frozen=True)
class RunKeys:
    """The keys of one phase-1 run and its children."""

    init: jax.Array
    phase1: jax.Array
    phase2: jax.Array


def run_keys(seed: int) -> RunKeys:
    """Keys of the phase-1 run with seed ``seed`` (see the module docstring)."""
    key = jax.random.PRNGKey(seed)
    return RunKeys(*(jax.random.fold_in(key, i) for i in range(3)))


def evaluation_key(seed: int) -> jax.Array:
    """Key of the evaluation attacks."""
    return jax.random.PRNGKey(seed)

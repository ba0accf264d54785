"""Training under standard, benign or adversarial dynamics, with checkpoints on an epoch schedule.

The loop is generic over ``apply(params, images) -> logits``, so the same code trains phase-1
networks and phase-2 children (:mod:`ntk_evolution.dynamics`). Regimes:

- ``benign``: SGD on clean batches;
- ``adversarial``: SGD on PGD examples (L-inf or L2, as the :class:`Attack` says) crafted against
  the current parameters; with ``adversarial_mix = "benign_then_adversarial"`` every batch gets a
  clean step and then an adversarial step (two optimiser updates, as in the authors' loop), with
  ``"pure"`` only the adversarial step;
- ``flip``: benign until ``flip_epoch``, adversarial from then on.

All randomness (initialisation, shuffling, PGD starts) derives from the run's seed: epoch ``e``
shuffles with ``fold_in(fold_in(key, e), 0)`` and its batch ``b`` starts PGD from
``fold_in(fold_in(key, e), b + 1)``, so a rerun is bitwise identical on the same machine.
Checkpoint epochs are mapped to optimiser steps as ``ceil(epoch * steps_per_epoch)``: a fractional
epoch is saved at the first step past the fraction.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ntk_evolution.attacks import Attack
from ntk_evolution.config import checkpoint_steps
from ntk_evolution.dynamics import as_pytree

Params = Any
ApplyFn = Callable[[Params, jax.Array], jax.Array]
SaveFn = Callable[[float, Params, dict[str, Any]], None]
log = logging.getLogger(__name__)


class DivergedError(RuntimeError):
    """Training produced a non-finite loss or non-finite parameters."""


@dataclass(frozen=True)
class TrainSettings:
    """Everything the loop needs besides the model and the data."""

    regime: str
    epochs: int
    batch_size: int
    learning_rate: float
    momentum: float
    attack: Attack | None = None
    adversarial_mix: str = "pure"
    flip_epoch: int | None = None

    @classmethod
    def from_config(cls, phase: Mapping[str, Any], regime: str) -> TrainSettings:
        """Settings of one regime from a ``phase1``-shaped config section."""
        return cls(
            regime=regime,
            epochs=int(phase["epochs"]),
            batch_size=int(phase["batch_size"]),
            learning_rate=float(phase["optimizer"]["learning_rate"]),
            momentum=float(phase["optimizer"]["momentum"]),
            attack=Attack.from_config(phase["attack"]) if "attack" in phase else None,
            adversarial_mix=phase.get("adversarial_mix", "pure"),
            flip_epoch=phase.get("flip_epoch") if regime == "flip" else None,
        )

    def adversarial_in(self, epoch: int) -> bool:
        """Whether epoch ``epoch`` (0-based) trains on adversarial examples."""
        if self.regime == "benign":
            return False
        if self.regime == "flip":
            return self.flip_epoch is not None and epoch >= self.flip_epoch
        return True


def cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Mean softmax cross-entropy of integer labels."""
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


def accuracy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Fraction of rows whose arg-max logit is the label."""
    return jnp.mean(jnp.argmax(logits, axis=-1) == labels)


def _steps(optimizer: optax.GradientTransformation, attack: Attack | None):
    """Jitted clean and adversarial update steps of ``(apply, params, state, images, labels[,
    key])``, ``apply`` a pytree (:func:`ntk_evolution.dynamics.as_pytree`); each returns
    ``(params, state, loss, accuracy)``."""

    def loss_and_accuracy(params, apply, images, labels):
        logits = apply(params, images)
        return cross_entropy(logits, labels), accuracy(logits, labels)

    grad_fn = jax.value_and_grad(loss_and_accuracy, has_aux=True)

    def update(apply, params, state, images, labels):
        (loss, acc), grads = grad_fn(params, apply, images, labels)
        updates, state = optimizer.update(grads, state, params)
        return optax.apply_updates(params, updates), state, loss, acc

    def adversarial(apply, params, state, images, labels, key):
        def input_loss(x, y):
            return cross_entropy(apply(params, x), y)

        x_adv = attack.perturb(input_loss, images, labels, key)
        return update(apply, params, state, x_adv, labels)

    def benign_then_adversarial(apply, params, state, images, labels, key):
        params, state, _, _ = update(apply, params, state, images, labels)
        return adversarial(apply, params, state, images, labels, key)

    return (
        jax.jit(update),
        jax.jit(adversarial),
        jax.jit(benign_then_adversarial),
    )


def _all_finite(tree: Params) -> bool:
    return all(bool(jnp.all(jnp.isfinite(leaf))) for leaf in jax.tree_util.tree_leaves(tree))


def train(
    apply: ApplyFn,
    params: Params,
    train_set: tuple[jax.Array, jax.Array],
    test_set: tuple[jax.Array, jax.Array],
    *,
    settings: TrainSettings,
    key: jax.Array,
    checkpoints: list[float],
    save: SaveFn,
    name: str = "run",
) -> list[dict[str, Any]]:
    """Train ``params`` for ``settings.epochs`` epochs, calling ``save`` at each checkpoint epoch.

    Args:
        apply: the dynamics, ``apply(params, images) -> logits``.
        params: initial parameters; saved as the epoch-0 checkpoint when 0 is scheduled.
        train_set: ``(images, labels)`` with images in [0, 1].
        test_set: ``(images, labels)`` for the per-epoch clean test accuracy.
        settings: regime, optimiser and attack settings.
        key: PRNG key for shuffling and PGD starts.
        checkpoints: epochs (fractions allowed) at which to call ``save(epoch, params, meta)``.
        save: receives parameters that are checked to be finite.
        name: run name used in log lines and errors.

    Returns:
        One dict per epoch with the keys ``epoch, adversarial, train_loss, train_accuracy,
        test_accuracy, seconds``; train loss and accuracy are on the batches as trained (adversarial ones when
        the epoch is adversarial), averaged over the epoch.

    Raises:
        DivergedError: the loss or the parameters became non-finite; nothing is saved for that
            state.
    """
    images, labels = (jnp.asarray(a) for a in train_set)
    test_images, test_labels = (jnp.asarray(a) for a in test_set)
    steps_per_epoch = len(images) // settings.batch_size
    if steps_per_epoch == 0:
        raise ValueError(
            f"batch_size = {settings.batch_size} exceeds the {len(images)} training images"
        )
    if settings.regime != "benign" and settings.attack is None:
        raise ValueError(f"{name}: the {settings.regime!r} regime needs attack settings")
    save_at = checkpoint_steps(checkpoints, steps_per_epoch)
    optimizer = optax.sgd(settings.learning_rate, momentum=settings.momentum or None)
    state = optimizer.init(params)
    benign_step, adversarial_step, mixed_step = _steps(optimizer, settings.attack)
    both = settings.adversarial_mix == "benign_then_adversarial"
    apply = as_pytree(apply)
    evaluate = jax.jit(lambda apply, p, x, y: accuracy(apply(p, x), y))

    def checkpoint(step: int, epoch_done: float) -> None:
        if not _all_finite(params):
            raise DivergedError(
                f"{name}: parameters became non-finite by epoch {epoch_done:g} (step {step}); "
                f"no checkpoint written. Lower the learning rate (now {settings.learning_rate:g})."
            )
        epoch = save_at[step]
        save(epoch, params, {"epoch": epoch, "step": step, "steps_per_epoch": steps_per_epoch})
        log.info("%s: checkpoint at epoch %g (step %d)", name, epoch, step)

    if 0 in save_at:
        checkpoint(0, 0.0)
    rows = []
    step = 0
    for epoch in range(settings.epochs):
        started = time.perf_counter()
        epoch_key = jax.random.fold_in(key, epoch)
        order = jax.random.permutation(jax.random.fold_in(epoch_key, 0), len(images))
        adversarial = settings.adversarial_in(epoch)
        losses, accuracies = [], []
        for b in range(steps_per_epoch):
            batch = order[b * settings.batch_size : (b + 1) * settings.batch_size]
            x, y = images[batch], labels[batch]
            if adversarial:
                fn = mixed_step if both else adversarial_step
                params, state, loss, acc = fn(
                    apply, params, state, x, y, jax.random.fold_in(epoch_key, b + 1)
                )
            else:
                params, state, loss, acc = benign_step(apply, params, state, x, y)
            step += 1
            loss = float(loss)
            if not math.isfinite(loss):
                raise DivergedError(
                    f"{name}: training diverged, loss is {loss} in epoch {epoch + 1} (step {step}); "
                    f"no checkpoint written for this state. Lower the learning rate (now "
                    f"{settings.learning_rate:g}) or the attack strength and rerun."
                )
            losses.append(loss)
            accuracies.append(float(acc))
            if step in save_at:
                checkpoint(step, step / steps_per_epoch)
        row = {
            "epoch": epoch + 1,
            "adversarial": adversarial,
            "train_loss": float(np.mean(losses)),
            "train_accuracy": float(np.mean(accuracies)),
            "test_accuracy": float(evaluate(apply, params, test_images, test_labels)),
            "seconds": time.perf_counter() - started,
        }
        rows.append(row)
        log.info(
            "%s: epoch %d/%d %s loss %.4f train acc %.3f test acc %.3f (%.1f s)",
            name,
            epoch + 1,
            settings.epochs,
            "adversarial" if adversarial else "benign",
            row["train_loss"],
            row["train_accuracy"],
            row["test_accuracy"],
            row["seconds"],
        )
    return rows

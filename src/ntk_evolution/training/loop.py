"""Training under standard, benign or adversarial dynamics, with checkpoints on an epoch schedule.

The loop is generic over a network's two modes (:class:`ntk_evolution.models.networks.Modes`) and
carries its state (batch-norm running statistics; none for most networks) from step to step, so
the same code trains phase-1 networks and phase-2 children (:mod:`ntk_evolution.models.dynamics`, a
function ``apply(params, images) -> logits`` without state). A step computes the loss with the
training mode (batch-norm: batch statistics) and keeps the state that pass leaves; the epoch's
test accuracy uses the evaluation mode with the current state. Regimes:

- ``benign``: SGD on clean batches;
- ``adversarial``: SGD on PGD examples (L-inf or L2, as the :class:`Attack` says) crafted against
  the current parameters, in training mode (batch statistics of the attacked batch; the
  attack's passes leave the state as it is); with
  ``adversarial_mix = "benign_then_adversarial"`` every batch gets a clean step and then an
  adversarial step (two optimiser updates, as in the authors' loop), with ``"pure"`` only the
  adversarial step;
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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ntk_evolution._infra.type_aliases import ApplyFn, Params, State
from ntk_evolution.attacks.pgd import pgd
from ntk_evolution.configuration.config import checkpoint_steps
from ntk_evolution.configuration.settings import Attack, Training
from ntk_evolution.models.classifier import accuracy, cross_entropy
from ntk_evolution.models.networks import Modes, stateless

SaveFn = Callable[[float, Params, State, dict[str, Any]], None]
Update = Callable[..., tuple[Params, State, optax.OptState, jax.Array, jax.Array]]
log = logging.getLogger(__name__)


class DivergedError(RuntimeError):
    """Training produced a non-finite loss or non-finite parameters."""


class _Updates(NamedTuple):
    """Jitted update steps of ``(modes, params, state, opt_state, images, labels[, key])``,
    ``modes`` a pytree (:class:`ntk_evolution.models.networks.Modes`), ``state`` the network's and
    ``opt_state`` the optimiser's; each returns ``(params, state, opt_state, loss, accuracy)``.
    ``adversarial`` takes a key for the PGD start; with ``benign_then_adversarial`` it is a clean
    step followed by an adversarial one."""

    benign: Update
    adversarial: Update


def _updates(
    optimizer: optax.GradientTransformation,
    attack: Attack | None,
    adversarial_mix: str | None,
) -> _Updates:
    """The update steps of a run (see :class:`_Updates`)."""

    def loss_and_accuracy(params, modes, state, images, labels):
        logits, state = modes.train(params, state, images)
        return cross_entropy(logits, labels), (accuracy(logits, labels), state)

    grad_fn = jax.value_and_grad(loss_and_accuracy, has_aux=True)

    def update(modes, params, state, opt_state, images, labels):
        (loss, (acc, state)), grads = grad_fn(params, modes, state, images, labels)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), state, opt_state, loss, acc

    def adversarial(modes, params, state, opt_state, images, labels, key):
        def input_loss(x, y):
            return cross_entropy(modes.train(params, state, x)[0], y)

        x_adv = pgd(input_loss, images, labels, key, attack)
        return update(modes, params, state, opt_state, x_adv, labels)

    def benign_then_adversarial(modes, params, state, opt_state, images, labels, key):
        params, state, opt_state, _, _ = update(modes, params, state, opt_state, images, labels)
        return adversarial(modes, params, state, opt_state, images, labels, key)

    both = adversarial_mix == "benign_then_adversarial"
    return _Updates(jax.jit(update), jax.jit(benign_then_adversarial if both else adversarial))


def _all_finite(tree: Params) -> bool:
    return all(bool(jnp.all(jnp.isfinite(leaf))) for leaf in jax.tree_util.tree_leaves(tree))


@dataclass(frozen=True)
class _CheckpointSchedule:
    """The optimiser steps a run saves at, ``save_at`` (step -> checkpoint epoch), and the saving."""

    save_at: dict[int, float]
    steps_per_epoch: int
    save: SaveFn
    name: str
    learning_rate: float

    def reached(self, step: int, params: Params, state: State) -> None:
        """Save ``params`` and the network's ``state`` if ``step`` is scheduled; raise
        :class:`DivergedError` instead if they are not finite."""
        if step not in self.save_at:
            return
        if not (_all_finite(params) and _all_finite(state)):
            raise DivergedError(
                f"{self.name}: parameters or running statistics became non-finite by epoch "
                f"{step / self.steps_per_epoch:g} (step {step}); no checkpoint written. Lower "
                f"the learning rate (now {self.learning_rate:g})."
            )
        epoch = self.save_at[step]
        meta = {"epoch": epoch, "step": step, "steps_per_epoch": self.steps_per_epoch}
        self.save(epoch, params, state, meta)
        log.info("%s: checkpoint at epoch %g (step %d)", self.name, epoch, step)


@dataclass(frozen=True)
class _EpochLoop:
    """What stays fixed from epoch to epoch of a run: model, data, update steps and schedule."""

    modes: Modes
    train_set: tuple[jax.Array, jax.Array]
    test_set: tuple[jax.Array, jax.Array]
    settings: Training
    regime: str
    updates: _Updates
    evaluate: Callable[..., jax.Array]
    schedule: _CheckpointSchedule

    def run(
        self, epoch: int, params: Params, state: State, opt_state: optax.OptState, key: jax.Array
    ) -> tuple[Params, State, optax.OptState, dict[str, Any]]:
        """Train epoch ``epoch`` (0-based) with its key; returns the new parameters, network
        state, optimiser state and the epoch's row (see :func:`train`)."""
        started = time.perf_counter()
        images, labels = self.train_set
        size, steps_per_epoch = self.settings.batch_size, self.schedule.steps_per_epoch
        order = jax.random.permutation(jax.random.fold_in(key, 0), len(images))
        adversarial = self.settings.adversarial_in(self.regime, epoch)
        losses, accuracies = [], []
        for b in range(steps_per_epoch):
            batch = order[b * size : (b + 1) * size]
            x, y = images[batch], labels[batch]
            if adversarial:
                batch_key = jax.random.fold_in(key, b + 1)
                params, state, opt_state, loss, acc = self.updates.adversarial(
                    self.modes, params, state, opt_state, x, y, batch_key
                )
            else:
                params, state, opt_state, loss, acc = self.updates.benign(
                    self.modes, params, state, opt_state, x, y
                )
            step = epoch * steps_per_epoch + b + 1
            losses.append(self._finite(float(loss), epoch, step))
            accuracies.append(float(acc))
            self.schedule.reached(step, params, state)
        row = {
            "epoch": epoch + 1,
            "adversarial": adversarial,
            "train_loss": float(np.mean(losses)),
            "train_accuracy": float(np.mean(accuracies)),
            "test_accuracy": float(self.evaluate(self.modes, params, state, *self.test_set)),
            "seconds": time.perf_counter() - started,
        }
        self._log(row)
        return params, state, opt_state, row

    def _finite(self, loss: float, epoch: int, step: int) -> float:
        """``loss``, checked to be finite."""
        if not math.isfinite(loss):
            raise DivergedError(
                f"{self.schedule.name}: training diverged, loss is {loss} in epoch {epoch + 1} "
                f"(step {step}); no checkpoint written for this state. Lower the learning rate "
                f"(now {self.settings.optimizer.learning_rate:g}) or the attack strength and rerun."
            )
        return loss

    def _log(self, row: dict[str, Any]) -> None:
        log.info(
            "%s: epoch %d/%d %s loss %.4f train acc %.3f test acc %.3f (%.1f s)",
            self.schedule.name,
            row["epoch"],
            self.settings.epochs,
            "adversarial" if row["adversarial"] else "benign",
            row["train_loss"],
            row["train_accuracy"],
            row["test_accuracy"],
            row["seconds"],
        )


def _steps_per_epoch(num_images: int, settings: Training, regime: str, name: str) -> int:
    """Optimiser steps per epoch, ``num_images // batch_size``, once the settings are checked."""
    steps_per_epoch = num_images // settings.batch_size
    if steps_per_epoch == 0:
        raise ValueError(
            f"batch_size = {settings.batch_size} exceeds the {num_images} training images"
        )
    if regime != "benign" and settings.attack is None:
        raise ValueError(f"{name}: the {regime!r} regime needs attack settings")
    return steps_per_epoch


def train(
    apply: ApplyFn | Modes,
    params: Params,
    train_set: tuple[jax.Array, jax.Array],
    test_set: tuple[jax.Array, jax.Array],
    *,
    settings: Training,
    regime: str,
    key: jax.Array,
    checkpoints: list[float],
    save: SaveFn,
    name: str = "run",
    state: State | None = None,
) -> list[dict[str, Any]]:
    """Train ``params`` for ``settings.epochs`` epochs, calling ``save`` at each checkpoint epoch.

    Args:
        apply: the dynamics: a function ``apply(params, images) -> logits`` without state, or
            the :class:`~ntk_evolution.models.networks.Modes` of a network with state.
        params: initial parameters; saved as the epoch-0 checkpoint when 0 is scheduled.
        train_set, test_set: ``(images, labels)``, images in [0, 1]; test: each epoch's accuracy.
        settings: optimiser and attack; regime: ``benign``, ``adversarial`` or ``flip`` (module doc).
        key: PRNG key for shuffling and PGD starts.
        checkpoints: epochs (fractions allowed) at which ``save(epoch, params, state, meta)`` runs.
        save: receives parameters and state that are checked to be finite.
        name: run name used in log lines and errors.
        state: the network's initial state (with ``Modes``); None: no state (``{}``).

    Returns:
        One dict per epoch (``epoch, adversarial, train_loss, train_accuracy, test_accuracy,
        seconds``), the train loss and accuracy on the batches as trained, averaged over the epoch.

    Raises:
        DivergedError: the loss or the parameters became non-finite (that state is not saved).
    """
    images, labels = (jnp.asarray(a) for a in train_set)
    steps_per_epoch = _steps_per_epoch(len(images), settings, regime, name)
    save_at = checkpoint_steps(checkpoints, steps_per_epoch)
    learning_rate = settings.optimizer.learning_rate
    schedule = _CheckpointSchedule(save_at, steps_per_epoch, save, name, learning_rate)
    optimizer = optax.sgd(learning_rate, momentum=settings.optimizer.momentum or None)
    opt_state = optimizer.init(params)
    state = {} if state is None else state
    loop = _EpochLoop(
        modes=apply if isinstance(apply, Modes) else stateless(apply),
        train_set=(images, labels),
        test_set=tuple(jnp.asarray(a) for a in test_set),
        settings=settings,
        regime=regime,
        updates=_updates(optimizer, settings.attack, settings.adversarial_mix),
        evaluate=jax.jit(lambda modes, p, s, x, y: accuracy(modes.evaluate(p, s, x), y)),
        schedule=schedule,
    )
    schedule.reached(0, params, state)
    rows = []
    for epoch in range(settings.epochs):
        epoch_key = jax.random.fold_in(key, epoch)
        params, state, opt_state, row = loop.run(epoch, params, state, opt_state, epoch_key)
        rows.append(row)
    return rows

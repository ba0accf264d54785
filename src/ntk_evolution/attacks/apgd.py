"""Auto-PGD (Croce & Hein 2020, "Reliable evaluation of adversarial robustness with an ensemble
of diverse parameter-free attacks"), batched and per example, in an L-infinity or L2 ball.

APGD ascends a per-example loss L(x) from a uniform point of the ball B around the clean image x0
(:func:`ntk_evolution.attacks.pgd.ball`), with a step size eta that starts at 2 * epsilon and a
momentum alpha = 0.75 (alpha = 1 at the first step):

    z(k+1) = P( x(k) + eta(k) s(grad L(x(k))) )
    x(k+1) = P( x(k) + alpha (z(k+1) - x(k)) + (1 - alpha) (x(k) - x(k-1)) )

with s and P the ball's step direction and projection. At the checkpoints w_j = ceil(p_j N) of
N steps, p_0 = 0, p_1 = 0.22, p_(j+1) = p_j + max(p_j - p_(j-1) - 0.03, 0.06)
(:func:`checkpoints`), an example halves its eta and restarts from the best point found so far
x_max (the one of largest loss) when

1. the loss rose in fewer than rho = 0.75 of the steps since the last checkpoint, or
2. eta was not halved at the last checkpoint and the best loss L_max has not grown since it.

Two losses, of the logits z of an example with label y (:data:`LOSSES`):

- ``ce``: the cross-entropy -log softmax(z)_y;
- ``dlr_targeted``: the targeted difference-of-logits ratio
  -(z_y - z_t) / (z_pi1 - (z_pi3 + z_pi4) / 2), with pi the classes sorted by decreasing logit
  and t the target, the class that the clean image's logits rank ``rank``-th after y. It needs
  four classes at least.

An example's result is the first iterate the model misclassifies, or else x_max. Every
quantity is per example, so examples of one batch do not interact.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ntk_evolution.attacks.pgd import Ball, ball

LogitsFn = Callable[[jax.Array], jax.Array]
RHO = 0.75
MOMENTUM = 0.75


def checkpoints(steps: int) -> list[int]:
    """The steps w_j (1..steps) after which APGD may halve its step size (module docstring)."""
    p = [0.0, 0.22]
    while p[-1] + max(p[-1] - p[-2] - 0.03, 0.06) <= 1:
        p.append(p[-1] + max(p[-1] - p[-2] - 0.03, 0.06))
    return sorted({min(max(math.ceil(q * steps - 1e-9), 1), steps) for q in p[1:]})


def target_classes(logits: jax.Array, labels: jax.Array, rank: int | jax.Array) -> jax.Array:
    """Per example, the class the logits rank ``rank``-th (1: highest) among the classes other
    than its label."""
    others = jnp.where(jax.nn.one_hot(labels, logits.shape[-1], dtype=bool), -jnp.inf, logits)
    return jnp.argsort(-others, axis=-1)[:, rank - 1]


def cross_entropy_loss(logits: jax.Array, labels: jax.Array, _: jax.Array) -> jax.Array:
    """Per-example cross-entropy -log softmax(z)_y."""
    return -jnp.take_along_axis(jax.nn.log_softmax(logits), labels[:, None], axis=-1)[:, 0]


def targeted_dlr_loss(logits: jax.Array, labels: jax.Array, targets: jax.Array) -> jax.Array:
    """Per-example targeted DLR loss -(z_y - z_t) / (z_pi1 - (z_pi3 + z_pi4) / 2)."""
    ranked = -jnp.sort(-logits, axis=-1)
    z_y = jnp.take_along_axis(logits, labels[:, None], axis=-1)[:, 0]
    z_t = jnp.take_along_axis(logits, targets[:, None], axis=-1)[:, 0]
    spread = ranked[:, 0] - (ranked[:, 2] + ranked[:, 3]) / 2
    return -(z_y - z_t) / (spread + 1e-12)


LOSSES = {"ce": cross_entropy_loss, "dlr_targeted": targeted_dlr_loss}


class _State(NamedTuple):
    x: jax.Array  # current iterate x(k)
    previous: jax.Array  # x(k-1)
    grad: jax.Array  # grad L at x(k)
    loss: jax.Array  # L(x(k)), per example
    best: jax.Array  # x_max
    best_grad: jax.Array
    best_loss: jax.Array  # L_max
    found: jax.Array  # whether an iterate was misclassified
    broken: jax.Array  # the first such iterate
    eta: jax.Array  # step size, per example
    rises: jax.Array  # steps since the last checkpoint at which the loss rose
    best_at_check: jax.Array  # L_max at the last checkpoint
    halved_at_check: jax.Array  # whether eta was halved at the last checkpoint


def _per_example(shape: tuple[int, ...], values: jax.Array) -> jax.Array:
    """``values`` (batch,) shaped to broadcast against a batch of ``shape``."""
    return values.reshape((-1,) + (1,) * (len(shape) - 1))


def _step(
    k: jax.Array,
    s: _State,
    *,
    around: Ball,
    value_and_grad: Callable[[jax.Array], Any],
    is_check: jax.Array,
    window: jax.Array,
) -> _State:
    """Step ``k`` of APGD from state ``s``: a momentum step, the best point kept, the step size
    halved at a checkpoint where the loss stalled."""
    shape = s.x.shape
    alpha = jnp.where(k == 0, 1.0, MOMENTUM)
    z = around.project(s.x + _per_example(shape, s.eta) * around.direction(s.grad))
    x = around.project(s.x + alpha * (z - s.x) + (1 - alpha) * (s.x - s.previous))
    (_, (value, wrong)), grad = value_and_grad(x)
    first = wrong & ~s.found
    broken = jnp.where(_per_example(shape, first), x, s.broken)
    better = value > s.best_loss
    best = jnp.where(_per_example(shape, better), x, s.best)
    best_grad = jnp.where(_per_example(shape, better), grad, s.best_grad)
    best_loss = jnp.where(better, value, s.best_loss)
    rises = s.rises + (value > s.loss)
    halve = is_check[k] & (
        (rises < RHO * window[k]) | (~s.halved_at_check & (s.best_at_check >= best_loss))
    )
    back = _per_example(shape, halve)
    return _State(
        x=jnp.where(back, best, x),
        previous=s.x,
        grad=jnp.where(back, best_grad, grad),
        loss=value,
        best=best,
        best_grad=best_grad,
        best_loss=best_loss,
        found=s.found | wrong,
        broken=broken,
        eta=jnp.where(halve, s.eta / 2, s.eta),
        rises=jnp.where(is_check[k], 0, rises),
        best_at_check=jnp.where(is_check[k], best_loss, s.best_at_check),
        halved_at_check=jnp.where(is_check[k], halve, s.halved_at_check),
    )


def _check_schedule(steps: int) -> tuple[jax.Array, jax.Array]:
    """Per step, whether it ends a checkpoint window, and that window's length (else 0)."""
    is_check = np.zeros(steps, bool)
    window = np.zeros(steps, np.float32)
    marks = checkpoints(steps)
    for start, end in zip([0, *marks], marks, strict=False):
        is_check[end - 1], window[end - 1] = True, end - start
    return jnp.asarray(is_check), jnp.asarray(window)


def _start_state(
    start: jax.Array,
    value: jax.Array,
    wrong: jax.Array,
    grad: jax.Array,
    epsilon: float | jax.Array,
) -> _State:
    """The state at the random start ``start``, with its loss, misclassification and gradient."""
    n = len(start)
    at_start = dict.fromkeys(("x", "previous", "best", "broken"), start)
    at_value = dict.fromkeys(("loss", "best_loss", "best_at_check"), value)
    return _State(
        **at_start,
        **at_value,
        grad=grad,
        best_grad=grad,
        found=wrong,
        eta=jnp.full((n,), 2.0, start.dtype) * epsilon,
        rises=jnp.zeros((n,), jnp.int32),
        halved_at_check=jnp.zeros((n,), bool),
    )


def apgd(
    logits_fn: LogitsFn,
    images: jax.Array,
    labels: jax.Array,
    key: jax.Array,
    *,
    norm: str,
    epsilon: float | jax.Array,
    steps: int,
    loss: str,
    rank: int | jax.Array = 1,
) -> tuple[jax.Array, jax.Array]:
    """One APGD run from a random start (module docstring) against ``logits_fn``.

    Args:
        logits_fn: the attacked model, images -> logits (batch, C).
        images: clean images in [0, 1]; labels: their labels.
        key: PRNG key of the random start.
        norm, epsilon: the ball; steps: N; loss: a name of :data:`LOSSES`.
        rank: for ``dlr_targeted``, which class to target (:func:`target_classes`).

    Returns:
        The adversarial images and, per example, whether the model misclassifies them.
    """
    around = ball(norm, images, epsilon)
    targets = target_classes(logits_fn(images), labels, rank)
    loss_of = LOSSES[loss]

    def total(x: jax.Array) -> tuple[jax.Array, tuple[jax.Array, jax.Array]]:
        logits = logits_fn(x)
        per_example = loss_of(logits, labels, targets)
        return per_example.sum(), (per_example, jnp.argmax(logits, -1) != labels)

    value_and_grad = jax.value_and_grad(total, has_aux=True)
    is_check, window = _check_schedule(steps)

    start = around.project(images + around.random_offset(key))
    (_, (value, wrong)), grad = value_and_grad(start)
    state = _start_state(start, value, wrong, grad, epsilon)
    step = functools.partial(
        _step, around=around, value_and_grad=value_and_grad, is_check=is_check, window=window
    )
    state = jax.lax.fori_loop(0, steps, step, state)
    adversarial = jnp.where(_per_example(images.shape, state.found), state.broken, state.best)
    return jax.lax.stop_gradient(adversarial), state.found

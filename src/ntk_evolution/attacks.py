"""Projected gradient descent (Madry et al. 2018) in the L-infinity ball, on any differentiable loss.

For a loss L(x, y) and a clean input x0, with ``random_start`` the attack starts at
x0 + U(-eps, eps)^d, and every step is

    x <- clip_[0,1]( clip_[x0-eps, x0+eps]( x + alpha * sign(grad_x L(x, y)) ) ),

so the result stays inside the eps-ball around x0 and inside the valid pixel range [0, 1].
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

LossFn = Callable[[jax.Array, jax.Array], jax.Array]


def pgd_linf(
    loss_fn: LossFn,
    images: jax.Array,
    labels: jax.Array,
    key: jax.Array,
    *,
    epsilon: float,
    step_size: float,
    steps: int,
    random_start: bool = True,
) -> jax.Array:
    """Adversarial images maximising ``loss_fn(images, labels)`` within an L-inf ``epsilon``-ball.

    Args:
        loss_fn: scalar loss of a batch, ``loss_fn(images, labels)``; its gradient drives the attack.
        images: clean images in [0, 1].
        labels: their labels, passed through to ``loss_fn``.
        key: PRNG key for the random start.
        epsilon: radius of the L-inf ball.
        step_size: size ``alpha`` of each signed-gradient step.
        steps: number of steps.
        random_start: start from a uniform point of the ball instead of the clean images.

    Returns:
        Adversarial images, same shape as ``images``.
    """
    lower = jnp.clip(images - epsilon, 0.0, 1.0)
    upper = jnp.clip(images + epsilon, 0.0, 1.0)
    start = images
    if random_start:
        noise = jax.random.uniform(key, images.shape, images.dtype, -epsilon, epsilon)
        start = jnp.clip(images + noise, lower, upper)
    grad_fn = jax.grad(loss_fn)

    def step(_, x):
        x = x + step_size * jnp.sign(grad_fn(x, labels))
        return jnp.clip(x, lower, upper)

    adversarial = jax.lax.fori_loop(0, steps, step, start)
    return jax.lax.stop_gradient(adversarial)

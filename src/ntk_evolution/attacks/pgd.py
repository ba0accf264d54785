"""Projected gradient descent (Madry et al. 2018) in an L-infinity or L2 ball, on any loss.

For a loss L(x, y), clean inputs x0 in [0, 1] and a ball B of radius eps around them,
:func:`pgd` starts at x0 (or, with ``random_start``, at P(x0 + r) for a uniform point x0 + r of
B) and takes ``steps`` steps

    x <- P( x + s(grad_x L(x, y)) ),

where only the step s of size alpha and the projection P onto B and the pixel range depend on
the norm (:data:`NORMS`):

- ``linf``: s(g) = alpha * sign(g), P(x) = clip_[0,1]( clip_[x0-eps, x0+eps](x) ), and
  r ~ U(-eps, eps)^d;
- ``l2``, per example: s(g) = alpha * g / ||g||_2,
  P(x) = clip_[0,1]( x0 + (x - x0) * min(1, eps / ||x - x0||_2) ), and
  r = eps * u^(1/d) * z / ||z||_2 with z ~ N(0, I_d), u ~ U(0, 1).

Clipping to [0, 1] moves every pixel towards x0's (which lies in [0, 1]), so it never leaves the
ball. An attack's settings are a :class:`ntk_evolution.configuration.settings.Attack`, read from the config.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from ntk_evolution.configuration.settings import Attack

LossFn = Callable[[jax.Array, jax.Array], jax.Array]
ArrayMap = Callable[[jax.Array], jax.Array]


class Ball(NamedTuple):
    """What a gradient attack in one norm needs around the clean images x0 (see the module
    docstring); the attacks of :mod:`ntk_evolution.attacks.apgd` and :mod:`ntk_evolution.attacks.square` use it
    too."""

    random_offset: ArrayMap  # key -> r, a uniform point of the ball less x0
    direction: ArrayMap  # gradient g -> the step of unit size s(g) / alpha
    project: ArrayMap  # x -> P(x), in the ball and the pixel range


def _linf_ball(images: jax.Array, epsilon: float) -> Ball:
    lower = jnp.clip(images - epsilon, 0.0, 1.0)
    upper = jnp.clip(images + epsilon, 0.0, 1.0)

    def random_offset(key: jax.Array) -> jax.Array:
        return jax.random.uniform(key, images.shape, images.dtype, -epsilon, epsilon)

    def project(x: jax.Array) -> jax.Array:
        return jnp.clip(x, lower, upper)

    return Ball(random_offset, jnp.sign, project)


def l2_norms(x: jax.Array) -> jax.Array:
    """Per-example L2 norms of a batch, shaped to broadcast against it."""
    return jnp.sqrt(jnp.sum(jnp.square(x), axis=tuple(range(1, x.ndim)), keepdims=True))


def _l2_ball(images: jax.Array, epsilon: float) -> Ball:
    def random_offset(key: jax.Array) -> jax.Array:
        direction_key, radius_key = jax.random.split(key)
        z = jax.random.normal(direction_key, images.shape, images.dtype)
        u = jax.random.uniform(radius_key, (len(images),) + (1,) * (images.ndim - 1), images.dtype)
        radius = epsilon * u ** (1.0 / images[0].size)
        return radius * z / l2_norms(z)

    def direction(g: jax.Array) -> jax.Array:
        norm = l2_norms(g)
        return g / jnp.where(norm > 0, norm, 1.0)

    def project(x: jax.Array) -> jax.Array:
        delta = x - images
        norm = l2_norms(delta)
        scale = jnp.where(norm > epsilon, epsilon / norm, 1.0)
        return jnp.clip(images + delta * scale, 0.0, 1.0)

    return Ball(random_offset, direction, project)


_BALLS: dict[str, Callable[[jax.Array, float], Ball]] = {"linf": _linf_ball, "l2": _l2_ball}
NORMS = tuple(_BALLS)


def ball(norm: str, images: jax.Array, epsilon: float) -> Ball:
    """The ball of radius ``epsilon`` in ``norm`` (one of :data:`NORMS`) around ``images``."""
    return _BALLS[norm](images, epsilon)


def pgd(
    loss_fn: LossFn, images: jax.Array, labels: jax.Array, key: jax.Array, attack: Attack
) -> jax.Array:
    """Adversarial images maximising ``loss_fn(images, labels)`` within a ball around each image.

    Args:
        loss_fn: scalar loss of a batch, ``loss_fn(images, labels)``; its gradient drives the attack.
        images: clean images in [0, 1].
        labels: their labels, passed through to ``loss_fn``.
        key: PRNG key for the random start.
        attack: the ball's norm (one of :data:`NORMS`) and radius ``epsilon``, the size
            ``step_size`` (alpha) of each of its ``steps`` steps, and whether to start from a
            uniform point of the ball (``random_start``) instead of the clean images. Its radius
            and step size may be arguments of a compiled program (traced arrays, in an attack
            made by ``Attack.model_construct``, which does not validate).

    Returns:
        Adversarial images, same shape as ``images``.
    """
    around = ball(attack.norm, images, attack.epsilon)
    start = around.project(images + around.random_offset(key)) if attack.random_start else images
    grad_fn = jax.grad(loss_fn)

    def ascend(_: Any, x: jax.Array) -> jax.Array:
        return around.project(x + attack.step_size * around.direction(grad_fn(x, labels)))

    adversarial = jax.lax.fori_loop(0, attack.steps, ascend, start)
    return jax.lax.stop_gradient(adversarial)

"""Projected gradient descent (Madry et al. 2018) in an L-infinity or L2 ball, on any loss.

For a loss L(x, y), a clean input x0 and a ball of radius eps around it, each attack takes
``steps`` steps of size alpha from a start x, and the result stays inside the ball and inside the
valid pixel range [0, 1].

L-infinity (:func:`pgd_linf`): with ``random_start`` the attack starts at x0 + U(-eps, eps)^d,
and every step is

    x <- clip_[0,1]( clip_[x0-eps, x0+eps]( x + alpha * sign(grad_x L(x, y)) ) ).

L2 (:func:`pgd_l2`), per example: with ``random_start`` the attack starts at a point drawn
uniformly from the ball, x0 + eps * u^(1/d) * z / ||z||_2 with z ~ N(0, I_d), u ~ U(0, 1), clipped
to [0, 1]; every step is

    g <- grad_x L(x, y),
    x <- x + alpha * g / ||g||_2,
    x <- clip_[0,1]( x0 + (x - x0) * min(1, eps / ||x - x0||_2) ).

Clipping to [0, 1] moves every pixel towards x0's (which lies in [0, 1]), so it never leaves the
ball. :class:`Attack` holds the settings of either and runs the one its ``norm`` names;
:func:`attack_grid` expands configured attacks to every radius they are measured at.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import jax
import jax.numpy as jnp

from ntk_evolution.config import attack_epsilons

LossFn = Callable[[jax.Array, jax.Array], jax.Array]
NORMS = ("linf", "l2")


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


def _l2_norms(x: jax.Array) -> jax.Array:
    """Per-example L2 norms of a batch, shaped to broadcast against it."""
    return jnp.sqrt(jnp.sum(jnp.square(x), axis=tuple(range(1, x.ndim)), keepdims=True))


def pgd_l2(
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
    """Adversarial images maximising ``loss_fn(images, labels)`` within per-example L2 balls.

    Args:
        loss_fn: scalar loss of a batch, ``loss_fn(images, labels)``; its gradient drives the attack.
        images: clean images in [0, 1].
        labels: their labels, passed through to ``loss_fn``.
        key: PRNG key for the random start.
        epsilon: radius of the L2 ball around each image.
        step_size: L2 length ``alpha`` of each normalised-gradient step.
        steps: number of steps.
        random_start: start from a uniform point of the ball instead of the clean images.

    Returns:
        Adversarial images, same shape as ``images``.
    """

    def project(x):
        delta = x - images
        norm = _l2_norms(delta)
        scale = jnp.where(norm > epsilon, epsilon / norm, 1.0)
        return jnp.clip(images + delta * scale, 0.0, 1.0)

    start = images
    if random_start:
        direction_key, radius_key = jax.random.split(key)
        z = jax.random.normal(direction_key, images.shape, images.dtype)
        u = jax.random.uniform(radius_key, (len(images),) + (1,) * (images.ndim - 1), images.dtype)
        radius = epsilon * u ** (1.0 / images[0].size)
        start = project(images + radius * z / _l2_norms(z))
    grad_fn = jax.grad(loss_fn)

    def step(_, x):
        g = grad_fn(x, labels)
        norm = _l2_norms(g)
        return project(x + step_size * g / jnp.where(norm > 0, norm, 1.0))

    adversarial = jax.lax.fori_loop(0, steps, step, start)
    return jax.lax.stop_gradient(adversarial)


@dataclass(frozen=True)
class Attack:
    """PGD settings; ``norm`` picks the ball, ``"linf"`` (:func:`pgd_linf`) or ``"l2"`` (:func:`pgd_l2`)."""

    epsilon: float
    step_size: float
    steps: int
    random_start: bool = True
    norm: str = "linf"

    def __post_init__(self) -> None:
        if self.norm not in NORMS:
            raise ValueError(f"unknown attack norm {self.norm!r}; available: {list(NORMS)}")

    @classmethod
    def from_config(cls, attack: Mapping[str, Any]) -> Attack:
        """Settings from an ``attack`` config section; ``norm`` defaults to ``"linf"``."""
        return cls(
            epsilon=float(attack["epsilon"]),
            step_size=float(attack["step_size"]),
            steps=int(attack["steps"]),
            random_start=bool(attack["random_start"]),
            norm=str(attack.get("norm", "linf")),
        )

    def at(self, epsilon: float) -> Attack:
        """The same attack in a ball of radius ``epsilon``, its step size scaled in proportion,
        alpha' = alpha * (epsilon' / epsilon), so that steps * alpha' / epsilon' is unchanged."""
        return replace(self, epsilon=epsilon, step_size=self.step_size * (epsilon / self.epsilon))

    def perturb(
        self, loss_fn: LossFn, images: jax.Array, labels: jax.Array, key: jax.Array
    ) -> jax.Array:
        """Adversarial images against ``loss_fn(images, labels)`` under these settings."""
        pgd = pgd_linf if self.norm == "linf" else pgd_l2
        return pgd(
            loss_fn,
            images,
            labels,
            key,
            epsilon=self.epsilon,
            step_size=self.step_size,
            steps=self.steps,
            random_start=self.random_start,
        )


def attack_grid(attacks: Mapping[str, Mapping[str, Any]]) -> dict[tuple[str, float], Attack]:
    """Every attack of an ``evaluation.attacks`` config section at every radius it is measured
    at (:func:`ntk_evolution.config.attack_epsilons`), keyed by ``(name, epsilon)``: the same
    steps and random start, the step size scaled with the radius (:meth:`Attack.at`)."""
    grid = {}
    for name, settings in attacks.items():
        attack = Attack.from_config(settings)
        for epsilon in attack_epsilons(settings):
            grid[name, epsilon] = attack.at(epsilon)
    return grid

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
ball. :class:`Attack` holds the settings of an attack; :func:`attack_grid` expands configured
attacks to every radius they are measured at.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from ntk_evolution.config import attack_epsilons
from ntk_evolution.type_aliases import Settings

LossFn = Callable[[jax.Array, jax.Array], jax.Array]
ArrayMap = Callable[[jax.Array], jax.Array]


class _Ball(NamedTuple):
    """What PGD in one norm needs around the clean images x0 (see the module docstring)."""

    random_offset: ArrayMap  # key -> r, a uniform point of the ball less x0
    step: ArrayMap  # gradient g -> step s(g)
    project: ArrayMap  # x -> P(x), in the ball and the pixel range


def _linf_ball(images: jax.Array, epsilon: float, step_size: float) -> _Ball:
    lower = jnp.clip(images - epsilon, 0.0, 1.0)
    upper = jnp.clip(images + epsilon, 0.0, 1.0)

    def random_offset(key: jax.Array) -> jax.Array:
        return jax.random.uniform(key, images.shape, images.dtype, -epsilon, epsilon)

    def step(g: jax.Array) -> jax.Array:
        return step_size * jnp.sign(g)

    def project(x: jax.Array) -> jax.Array:
        return jnp.clip(x, lower, upper)

    return _Ball(random_offset, step, project)


def _l2_norms(x: jax.Array) -> jax.Array:
    """Per-example L2 norms of a batch, shaped to broadcast against it."""
    return jnp.sqrt(jnp.sum(jnp.square(x), axis=tuple(range(1, x.ndim)), keepdims=True))


def _l2_ball(images: jax.Array, epsilon: float, step_size: float) -> _Ball:
    def random_offset(key: jax.Array) -> jax.Array:
        direction_key, radius_key = jax.random.split(key)
        z = jax.random.normal(direction_key, images.shape, images.dtype)
        u = jax.random.uniform(radius_key, (len(images),) + (1,) * (images.ndim - 1), images.dtype)
        radius = epsilon * u ** (1.0 / images[0].size)
        return radius * z / _l2_norms(z)

    def step(g: jax.Array) -> jax.Array:
        norm = _l2_norms(g)
        return step_size * g / jnp.where(norm > 0, norm, 1.0)

    def project(x: jax.Array) -> jax.Array:
        delta = x - images
        norm = _l2_norms(delta)
        scale = jnp.where(norm > epsilon, epsilon / norm, 1.0)
        return jnp.clip(images + delta * scale, 0.0, 1.0)

    return _Ball(random_offset, step, project)


_BALLS: dict[str, Callable[[jax.Array, float, float], _Ball]] = {
    "linf": _linf_ball,
    "l2": _l2_ball,
}
NORMS = tuple(_BALLS)


def pgd(
    loss_fn: LossFn,
    images: jax.Array,
    labels: jax.Array,
    key: jax.Array,
    *,
    norm: str,
    epsilon: float,
    step_size: float,
    steps: int,
    random_start: bool = True,
) -> jax.Array:
    """Adversarial images maximising ``loss_fn(images, labels)`` within a ball around each image.

    Args:
        loss_fn: scalar loss of a batch, ``loss_fn(images, labels)``; its gradient drives the attack.
        images: clean images in [0, 1].
        labels: their labels, passed through to ``loss_fn``.
        key: PRNG key for the random start.
        norm: the ball's norm, one of :data:`NORMS`.
        epsilon: radius of the ball.
        step_size: size ``alpha`` of each step, in that norm.
        steps: number of steps.
        random_start: start from a uniform point of the ball instead of the clean images.

    Returns:
        Adversarial images, same shape as ``images``.
    """
    ball = _BALLS[norm](images, epsilon, step_size)
    start = ball.project(images + ball.random_offset(key)) if random_start else images
    grad_fn = jax.grad(loss_fn)

    def ascend(_: Any, x: jax.Array) -> jax.Array:
        return ball.project(x + ball.step(grad_fn(x, labels)))

    adversarial = jax.lax.fori_loop(0, steps, ascend, start)
    return jax.lax.stop_gradient(adversarial)


@dataclass(frozen=True)
class Attack:
    """Settings of :func:`pgd`; ``norm`` picks the ball, ``"linf"`` or ``"l2"``."""

    epsilon: float
    step_size: float
    steps: int
    random_start: bool = True
    norm: str = "linf"

    def __post_init__(self) -> None:
        if self.norm not in NORMS:
            raise ValueError(f"unknown attack norm {self.norm!r}; available: {list(NORMS)}")

    @classmethod
    def from_config(cls, attack: Settings) -> Attack:
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
        return pgd(
            loss_fn,
            images,
            labels,
            key,
            norm=self.norm,
            epsilon=self.epsilon,
            step_size=self.step_size,
            steps=self.steps,
            random_start=self.random_start,
        )


def attack_grid(attacks: Mapping[str, Settings]) -> dict[tuple[str, float], Attack]:
    """Every attack of an ``evaluation.attacks`` config section at every radius it is measured
    at (:func:`ntk_evolution.config.attack_epsilons`), keyed by ``(name, epsilon)``: the same
    steps and random start, the step size scaled with the radius (:meth:`Attack.at`)."""
    grid = {}
    for name, settings in attacks.items():
        attack = Attack.from_config(settings)
        for epsilon in attack_epsilons(settings):
            grid[name, epsilon] = attack.at(epsilon)
    return grid

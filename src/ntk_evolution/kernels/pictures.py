"""Feature pictures: the image an eigenvector of a class kernel stands for.

For class c's kernel K_c = sum_k mu_k u_k u_k^T on the probes x_1..x_n, eigenvector k has the
parameter direction v_k = sum_j u_kj grad f_c(x_j) (one vector-Jacobian product,
:func:`ntk_evolution.kernels.machines.parameter_directions`). Its picture is the image x in [0, 1]^d
that maximises

    cos(grad f_c(x), v_k) = grad f_c(x) . v_k / (||grad f_c(x)|| ||v_k||),

the image whose tangent feature points along v_k. It is found by signed-gradient ascent from
mid-grey, x <- clip(x + eta sign(d cos / dx), 0, 1), for a set number of steps; the picture is
the image of the highest cosine met on the way (a step across a kink of a ReLU network's
gradient may lower it). An
eigenvector's sign is arbitrary, so u_k is oriented towards its class first: u_k^T y_c > 0, or,
where u_k carries no share of the class (|u_k^T y_c| below 1e-6 ||y_c||, as for a constant
eigenvector and centred targets), towards the probes' mean: u_k^T 1 >= 0 (:func:`oriented`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import jax
import jax.numpy as jnp
import numpy as np

from ntk_evolution._infra.type_aliases import ApplyFn, Params
from ntk_evolution.models.classifier import as_pytree

MID_GREY = 0.5


def oriented(eigenvectors: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """``eigenvectors`` (n, k) of one class kernel, each negated where it points away from the
    class's ``targets`` (n,), or from the probes' mean where it carries no share of the class
    (see the module docstring)."""
    targets = np.asarray(targets, np.float64)
    share = targets @ eigenvectors
    tiny = np.abs(share) < 1e-6 * np.linalg.norm(targets)
    toward = np.where(tiny, eigenvectors.sum(axis=0), share)
    return eigenvectors * np.where(toward < 0, -1.0, 1.0)


def _norm(tree: Params) -> jax.Array:
    return jnp.sqrt(sum(jnp.vdot(leaf, leaf) for leaf in jax.tree_util.tree_leaves(tree)))


def cosine(apply: ApplyFn, params: Params, direction: Params, logit: jax.Array, image: jax.Array):
    """cos(grad f_logit(image), direction) for one image (no batch axis)."""
    gradient = jax.grad(lambda p: apply(p, image[None])[0, logit])(params)
    dot = sum(
        jnp.vdot(g, v)
        for g, v in zip(
            jax.tree_util.tree_leaves(gradient), jax.tree_util.tree_leaves(direction), strict=True
        )
    )
    return dot / (_norm(gradient) * _norm(direction))


@cache
def _ascent_fn(steps: int) -> Callable[..., tuple[jax.Array, jax.Array, jax.Array]]:
    """Jitted ``(model, params, directions, logits, shape, step_size) -> (images, cosine at
    the start, cosine at the end)``, vectorised over the pictures."""

    def one(model, params, direction, logit, start, step_size):
        score_and_grad = jax.value_and_grad(lambda x: cosine(model, params, direction, logit, x))

        def step(_, state):
            x, best, best_score = state
            score, gradient = score_and_grad(x)
            better = score > best_score
            best, best_score = jnp.where(better, x, best), jnp.maximum(score, best_score)
            return jnp.clip(x + step_size * jnp.sign(gradient), 0.0, 1.0), best, best_score

        first = score_and_grad(start)[0]
        x, best, best_score = jax.lax.fori_loop(0, steps, step, (start, start, first))
        last = score_and_grad(x)[0]
        return jnp.where(last > best_score, x, best), first, jnp.maximum(last, best_score)

    def pictures(model, params, directions, logits, starts, step_size):
        return jax.vmap(one, in_axes=(None, None, 0, 0, 0, None))(
            model, params, directions, logits, starts, step_size
        )

    return jax.jit(pictures)


def feature_pictures(
    apply: ApplyFn,
    params: Params,
    directions: Params,
    logits: np.ndarray,
    image_shape: tuple[int, ...],
    *,
    steps: int,
    step_size: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The picture of every direction b: the image of the highest cos(grad f_{logits[b]}(x),
    directions[b]) that the ascent meets (see the module docstring). ``directions`` has a
    leading axis of size B.

    Returns ``(images (B, *image_shape), cosine at mid-grey (B,), cosine of the picture (B,))``.
    """
    starts = jnp.full((len(logits), *image_shape), MID_GREY, jnp.float32)
    images, before, after = _ascent_fn(steps)(
        as_pytree(apply), params, directions, jnp.asarray(logits), starts, step_size
    )
    return np.asarray(images), np.asarray(before), np.asarray(after)

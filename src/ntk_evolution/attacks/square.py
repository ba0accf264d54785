"""The Square attack (Andriushchenko et al. 2020, "Square Attack: a query-efficient black-box
adversarial attack via random search"): it calls the model's logits only, never its gradient.

It lowers the margin m(x) = z_y - max_(j != y) z_j of each example, which is negative once the
model is wrong, by random search. Images are (batch, height, width, channels) in [0, 1], with x0
the clean image and delta = x - x0 the perturbation:

- start: vertical stripes, delta = epsilon * v with v = +-1 drawn per column and channel
  (L-infinity), or v scaled to ||delta||_2 = epsilon (L2); then clipped to [0, 1];
- each of the other ``queries - 1`` steps draws, per example, a square window of side
  s = round(sqrt(p * height * width)) (at least 1, at most the image's side less 1) at a uniform
  position and proposes a new delta there, keeping the proposal if its margin is lower:
  L-infinity: delta = epsilon * (+-1 per channel) in the window;
  L2: the window gets a constant +-1 pattern per channel scaled so that ||delta||_2 = epsilon
  (the paper's L2 proposal moves mass between two windows with a peaked pattern; this is the
  same random search on the sphere with a flat pattern);
- p starts at ``p_init`` and halves after 10, 50, 200, 500, 1000, 2000, 4000, 6000 and 8000 of
  10000 steps, those counts scaled to ``queries`` (:func:`window_share`).

Examples the model already misclassifies stop moving.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from ntk_evolution.attacks.pgd import l2_norms

LogitsFn = Callable[[jax.Array], jax.Array]
HALVINGS = (10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000)


def margins(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """z_y - max_(j != y) z_j per example."""
    label = jax.nn.one_hot(labels, logits.shape[-1], dtype=bool)
    z_y = jnp.where(label, logits, 0.0).sum(-1)
    return z_y - jnp.where(label, -jnp.inf, logits).max(-1)


def window_share(p_init: float, step: jax.Array, queries: int) -> jax.Array:
    """The share p of the image a window covers at ``step`` (module docstring)."""
    progress = jnp.floor(step / queries * 10000)
    halvings = sum((progress > mark).astype(jnp.float32) for mark in HALVINGS)
    return p_init / 2.0**halvings


def _signs(key: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    return jax.random.rademacher(key, shape).astype(jnp.float32)


def square(
    logits_fn: LogitsFn,
    images: jax.Array,
    labels: jax.Array,
    *,
    key: jax.Array,
    epsilon: float | jax.Array,
    norm: str,
    queries: int,
    p_init: float,
) -> tuple[jax.Array, jax.Array]:
    """The Square attack (module docstring) on ``logits_fn``, ``queries`` forward passes from
    ``key``'s random start.

    Returns:
        The adversarial images and, per example, whether the model misclassifies them.
    """
    if images.ndim != 4:
        raise ValueError(
            f"the Square attack needs (batch, height, width, channels) images, not {images.shape}"
        )
    n, height, width, channels = images.shape
    start_key, search_key = jax.random.split(key)
    stripes = _signs(start_key, (n, 1, width, channels)) * jnp.ones_like(images)
    if norm == "l2":
        stripes = stripes / l2_norms(stripes)
    x = jnp.clip(images + epsilon * stripes, 0.0, 1.0)
    margin = margins(logits_fn(x), labels)
    rows = jnp.arange(height)[None, :, None, None]
    cols = jnp.arange(width)[None, None, :, None]

    def step(i: jax.Array, carry: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, jax.Array]:
        x, margin = carry
        row_key, col_key, sign_key = jax.random.split(jax.random.fold_in(search_key, i), 3)
        p = window_share(p_init, i, queries)
        side = jnp.clip(jnp.round(jnp.sqrt(p * height * width)), 1, min(height, width) - 1)
        side = side.astype(jnp.int32)
        top = jax.random.randint(row_key, (n, 1, 1, 1), 0, height - side + 1)
        left = jax.random.randint(col_key, (n, 1, 1, 1), 0, width - side + 1)
        window = (rows >= top) & (rows < top + side) & (cols >= left) & (cols < left + side)
        signs = _signs(sign_key, (n, 1, 1, channels))
        delta = x - images
        if norm == "l2":
            outside = jnp.where(window, 0.0, delta)
            room = jnp.sqrt(jnp.maximum(epsilon**2 - l2_norms(outside) ** 2, 0.0))
            pattern = jnp.where(window, signs, 0.0)
            delta = outside + room * pattern / l2_norms(pattern)
        else:
            delta = jnp.where(window, epsilon * signs, delta)
        proposal = jnp.clip(images + delta, 0.0, 1.0)
        proposed = margins(logits_fn(proposal), labels)
        keep = (margin > 0) & (proposed < margin)
        x = jnp.where(keep[:, None, None, None], proposal, x)
        return x, jnp.where(keep, proposed, margin)

    x, margin = jax.lax.fori_loop(1, queries, step, (x, margin))
    return jax.lax.stop_gradient(x), jnp.argmax(logits_fn(x), -1) != labels

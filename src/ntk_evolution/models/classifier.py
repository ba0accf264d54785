"""What training and evaluation share about a classifier ``apply(params, images) -> logits``:
its loss, its hits, and its form as an argument of jitted functions.

For logits z_i and integer labels y_i, i = 1..n:

- cross-entropy: (1/n) sum_i -log softmax(z_i)_{y_i};
- correct:       [argmax_c z_ic = y_i], per example;
- accuracy:      (1/n) sum_i [argmax_c z_ic = y_i].
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from ntk_evolution._infra.type_aliases import ApplyFn


def cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Mean softmax cross-entropy of integer labels."""
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


def correct(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Whether each row's arg-max logit is its label."""
    return jnp.argmax(logits, axis=-1) == labels


def accuracy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Fraction of rows whose arg-max logit is the label."""
    return jnp.mean(correct(logits, labels))


def as_pytree(apply: ApplyFn) -> jax.tree_util.Partial:
    """``apply`` as a pytree, so that jitted functions take it as an argument: a
    ``jax.tree_util.Partial`` (such as a child of :func:`ntk_evolution.models.dynamics.child_apply`)
    as it is, any other function wrapped in one. Its leaves are inputs of the compiled
    program, not constants baked into it, so one program serves every model of one kind."""
    if isinstance(apply, jax.tree_util.Partial):
        return apply
    return jax.tree_util.Partial(apply)

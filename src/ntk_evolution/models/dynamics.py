"""The three dynamics of phase 2: a child trained on the kernel of a frozen spawn point.

With f(theta, x) a network, theta_s its parameters at the spawn epoch (held fixed) and theta the
child's parameters, which start at theta_s:

- ``standard``:   g(theta, x) = f(theta, x), the network itself (the control);
- ``linearized``: g(theta, x) = f(theta_s, x) + J(x) (theta - theta_s), the first-order Taylor
  expansion of f around theta_s;
- ``centered``:   g(theta, x) = J(x) (theta - theta_s), the same without f(theta_s, x), so the
  child starts as the zero function,

where J(x) = df(theta, x)/dtheta at theta = theta_s. For a network with state (batch-norm
running statistics), f is its evaluation-mode function with the spawn checkpoint's state held
fixed (:meth:`ntk_evolution.models.networks.Network.evaluation`): the children's training never
changes it, and the standard child trains that same function. The linearized and centered children are
affine in theta with the fixed Jacobian J(x), so their empirical NTK, J(x) J(x')^T, is the spawn
kernel k_s at every theta. J(x) (theta - theta_s) is one forward-mode Jacobian-vector product
(``jax.jvp``) through f at theta_s; the Jacobian is never formed.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ntk_evolution._infra.type_aliases import ApplyFn, Params
from ntk_evolution.models.classifier import as_pytree

DYNAMICS = ("standard", "linearized", "centered")


def _expansion(
    apply: ApplyFn, spawn_params: Params, params: Params, images: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """(f(theta_s, x), J(x) (theta - theta_s)) in one Jacobian-vector product."""
    step = jax.tree_util.tree_map(jnp.subtract, params, spawn_params)
    return jax.jvp(lambda p: apply(p, images), (spawn_params,), (step,))


def _linearized(
    apply: ApplyFn, spawn_params: Params, params: Params, images: jax.Array
) -> jax.Array:
    spawn_logits, change = _expansion(apply, spawn_params, params, images)
    return spawn_logits + change


def _centered(apply: ApplyFn, spawn_params: Params, params: Params, images: jax.Array) -> jax.Array:
    return _expansion(apply, spawn_params, params, images)[1]


def child_apply(apply: ApplyFn, spawn_params: Params, dynamics: str) -> ApplyFn:
    """The child ``apply(params, images) -> logits`` of ``apply`` spawned at ``spawn_params``.

    The child's parameters have the tree structure of ``spawn_params`` and start at
    ``spawn_params`` themselves, so :func:`ntk_evolution.training.loop.train` trains a child as it
    trains any network. Frozen children are returned as a ``jax.tree_util.Partial`` whose leaves
    are ``spawn_params`` and those of ``apply`` (a network's state): passed to a jitted function
    (see :func:`ntk_evolution.models.classifier.as_pytree`), they are inputs of the compiled program,
    not constants baked into it, so one program serves every child of one architecture and
    dynamics.

    Args:
        apply: the network, ``apply(params, images) -> logits`` (a network with state: its
            evaluation-mode function with the spawn state).
        spawn_params: theta_s, the parameters the child is expanded around (held fixed).
        dynamics: one of :data:`DYNAMICS`; see the module docstring for the formulas.

    Returns:
        ``apply`` itself for ``"standard"``, otherwise the linearized or centered child.

    Raises:
        ValueError: ``dynamics`` is not one of :data:`DYNAMICS`.
    """
    if dynamics not in DYNAMICS:
        raise ValueError(f"unknown dynamics {dynamics!r}; available: {list(DYNAMICS)}")
    if dynamics == "standard":
        return apply
    child = _linearized if dynamics == "linearized" else _centered
    return jax.tree_util.Partial(child, as_pytree(apply), spawn_params)

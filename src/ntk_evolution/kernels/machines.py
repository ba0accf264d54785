"""Kernel machines of a checkpoint's per-logit NTK, and their eigen-features.

For logit c with probe kernel K_c = K_c(X, X) (n x n) and targets y_c (one-hot, optionally
centred: y - 1/C), the kernel machine is kernel ridge regression on the probes,

    f_c(x) = K_c(x, X) alpha_c,   alpha_c = (K_c + lambda_c I)^-1 y_c,

with lambda_c = ridge * tr(K_c) / n, the ``ridge`` share of K_c's mean eigenvalue
(:func:`dual_coefficients`). The classifier predicts argmax_c f_c(x).

The machine needs no test-by-probe kernel. K_c(x, X) alpha_c = grad f_c(x) . w_c with
w_c = sum_i alpha_ic grad f_c(x_i): one vector-Jacobian product over the probes gives every w_c
(:func:`machine_weights`, vectorised over the logits), and the machine is a centred linearized
model with one displacement per logit, evaluated by one Jacobian-vector product per logit
(:func:`machine_apply`). This form is cheaper than the explicit one: a batch of m images costs C
Jacobian-vector products (about C forward passes) instead of an m x n kernel (m + n gradients
per logit), and PGD against the machine differentiates it like any network.

Eigen-features split the machine. With K_c = sum_k mu_k u_k u_k^T (mu_1 >= mu_2 >= ...), the
feature-k coefficients are alpha_c^(k) = u_k (u_k^T y_c) / (mu_k + lambda_c), so that
sum_k alpha_c^(k) = alpha_c and the feature machines f_c^(k)(x) = K_c(x, X) alpha_c^(k) sum to
f_c (:func:`feature_coefficients`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ntk_evolution._infra.type_aliases import ApplyFn, Params
from ntk_evolution.models.classifier import as_pytree


def targets(labels: np.ndarray, num_classes: int, *, centered: bool) -> np.ndarray:
    """One-hot targets of the probes, (C, n); centred: less 1/C, so each probe's sum is 0."""
    one_hot = np.eye(num_classes)[np.asarray(labels)].T
    return one_hot - 1.0 / num_classes if centered else one_hot


def regularizers(kernels: np.ndarray, ridge: float) -> np.ndarray:
    """lambda_c = ridge * tr(K_c) / n for every logit of ``kernels`` (C, n, n)."""
    kernels = np.asarray(kernels, np.float64)
    return ridge * np.trace(kernels, axis1=1, axis2=2) / kernels.shape[-1]


def dual_coefficients(kernels: np.ndarray, targets: np.ndarray, ridge: float) -> np.ndarray:
    """alpha_c = (K_c + lambda_c I)^-1 y_c for every logit, (C, n), in float64."""
    kernels = np.asarray(kernels, np.float64)
    shifted = kernels + regularizers(kernels, ridge)[:, None, None] * np.eye(kernels.shape[-1])
    return np.linalg.solve(shifted, np.asarray(targets, np.float64)[..., None])[..., 0]


def eigen(kernels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(mu, u)`` of every logit's kernel in float64, in decreasing order of eigenvalue:
    ``mu`` (C, n) and ``u`` (C, n, n), eigenvector k of logit c in ``u[c, :, k]``."""
    eigenvalues, eigenvectors = np.linalg.eigh(np.asarray(kernels, np.float64))  # ascending
    return eigenvalues[:, ::-1], eigenvectors[:, :, ::-1]


def feature_coefficients(kernels: np.ndarray, targets: np.ndarray, ridge: float) -> np.ndarray:
    """alpha_c^(k) of every eigen-feature k of every logit c, (C, n_features, n), features in
    decreasing order of eigenvalue; they sum over k to :func:`dual_coefficients`."""
    kernels = np.asarray(kernels, np.float64)
    eigenvalues, eigenvectors = eigen(kernels)
    projections = np.einsum("cnk,cn->ck", eigenvectors, np.asarray(targets, np.float64))
    scale = projections / (eigenvalues + regularizers(kernels, ridge)[:, None])
    return np.einsum("cnk,ck->ckn", eigenvectors, scale)


def parameter_directions(
    apply: ApplyFn, params: Params, probes: jax.Array, cotangents: jax.Array
) -> Params:
    """v_b = sum_i sum_c cotangents[b, i, c] grad f_c(x_i) for every b: a pytree like
    ``params`` with a leading axis of size B, from one vector-Jacobian product over the
    ``probes`` (n images); ``cotangents`` is (B, n, C)."""
    _, pullback = jax.vjp(lambda p: apply(p, probes), params)
    (directions,) = jax.vmap(pullback)(cotangents.astype(probes.dtype))
    return directions


def machine_weights(
    apply: ApplyFn, params: Params, probes: jax.Array, coefficients: jax.Array
) -> Params:
    """w_c = sum_i alpha_ic grad f_c(x_i) for every logit: a pytree like ``params`` with a
    leading logit axis (:func:`parameter_directions`). ``coefficients`` is alpha, (C, n)."""
    num_classes = coefficients.shape[0]
    # Logit c's cotangent is alpha_c in column c of the (n, C) logits, zero elsewhere.
    cotangents = jnp.einsum("cn,cd->cnd", coefficients, jnp.eye(num_classes))
    return parameter_directions(apply, params, probes, cotangents)


def _machine(apply: ApplyFn, params: Params, weights: Params, images: jax.Array) -> jax.Array:
    """Logits grad f_c(x) . w_c of ``images``, (batch, C)."""

    def along(weight: Params) -> jax.Array:
        _, tangent = jax.jvp(lambda p: apply(p, images), (params,), (weight,))
        return tangent  # (batch, C): grad f(x) . w for every logit

    return jnp.diagonal(jax.vmap(along)(weights), axis1=0, axis2=2)


def machine_apply(apply: ApplyFn, params: Params) -> ApplyFn:
    """The kernel machine of the network ``apply`` at ``params`` as ``machine(weights, images)
    -> logits``, its weights from :func:`machine_weights`. It is a ``jax.tree_util.Partial``
    holding ``apply`` (as a pytree: a network's state among its leaves) and ``params``, as a
    frozen child is (:func:`ntk_evolution.models.dynamics.child_apply`), so one compiled program serves
    every checkpoint of a run."""
    return jax.tree_util.Partial(_machine, as_pytree(apply), params)

"""Kernel machines of a per-logit NTK: the Jacobian-vector form, interpolation, eigen-features."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ntk_evolution.kernels.machines import (
    dual_coefficients,
    feature_coefficients,
    machine_apply,
    machine_weights,
    regularizers,
    targets,
)
from ntk_evolution.kernels.ntk import per_logit_ntk_fn

PROBES, TESTS = 8, 4  # 8 probe images, 4 other images (of the 12 the fixtures share)
LABELS = np.array([0, 1, 2, 3, 0, 1, 2, 3])


@pytest.fixture(scope="module", params=["mlp", "cnn"])
def network(request, model_and_params, images):
    model, params = model_and_params(request.param, False)
    x = jnp.asarray(images)
    kernel_fn = per_logit_ntk_fn(model.apply, "structured_derivatives")
    probes, others = x[:PROBES], x[PROBES : PROBES + TESTS]
    return model.apply, params, probes, others, kernel_fn


def machine_logits(apply, params, probes, images, alpha):
    weights = machine_weights(apply, params, probes, jnp.asarray(alpha, jnp.float32))
    return np.asarray(machine_apply(apply, params)(weights, images))


def test_targets_are_one_hot_or_centred():
    plain = targets(np.array([2, 0]), 3, centered=False)
    np.testing.assert_array_equal(plain, [[0, 1], [0, 0], [1, 0]])
    centred = targets(np.array([2, 0]), 3, centered=True)
    np.testing.assert_allclose(centred.sum(axis=0), 0, atol=1e-15)
    np.testing.assert_allclose(centred, plain - 1 / 3)


def test_the_jacobian_vector_form_is_the_explicit_kernel_machine(network, tol):
    """grad f_c(x) . w_c equals K_c(x, X) alpha_c for images that are not probes."""
    apply, params, probes, others, kernel_fn = network
    kernels = np.asarray(kernel_fn(probes, probes, params))
    num_classes = kernels.shape[0]
    alpha = dual_coefficients(kernels, targets(LABELS, num_classes, centered=True), ridge=0.1)
    explicit = np.einsum("cmn,cn->mc", np.asarray(kernel_fn(others, probes, params)), alpha)
    jvp = machine_logits(apply, params, probes, others, alpha)
    assert jvp.shape == (TESTS, num_classes)
    np.testing.assert_allclose(jvp, explicit, **tol(np.float32, 10 * np.abs(explicit).max()))


def test_the_machine_interpolates_the_probes_as_the_ridge_vanishes(network):
    apply, params, probes, _, kernel_fn = network
    kernels = np.asarray(kernel_fn(probes, probes, params), np.float64)
    y = targets(LABELS, kernels.shape[0], centered=False)
    errors = []
    for ridge in (1e-1, 1e-3, 1e-6):
        fitted = np.einsum("cmn,cn->cm", kernels, dual_coefficients(kernels, y, ridge))
        errors.append(np.abs(fitted - y).max())
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 1e-4
    jvp = machine_logits(apply, params, probes, probes, dual_coefficients(kernels, y, 1e-6))
    np.testing.assert_allclose(jvp.T, y, atol=1e-2)  # through float32 gradients
    assert (jvp.argmax(axis=1) == LABELS).all()


def test_the_ridge_is_a_share_of_the_mean_eigenvalue():
    kernels = np.stack([np.diag([1.0, 2.0, 3.0]), 10 * np.eye(3)])
    np.testing.assert_allclose(regularizers(kernels, 0.5), [1.0, 5.0])


def test_the_feature_machines_sum_to_the_machine(network, tol):
    apply, params, probes, others, kernel_fn = network
    kernels = np.asarray(kernel_fn(probes, probes, params))
    y = targets(LABELS, kernels.shape[0], centered=True)
    features = feature_coefficients(kernels, y, ridge=0.1)
    alpha = dual_coefficients(kernels, y, ridge=0.1)
    assert features.shape == (kernels.shape[0], PROBES, PROBES)
    np.testing.assert_allclose(
        features.sum(axis=1), alpha, rtol=1e-9, atol=1e-9 * np.abs(alpha).max()
    )
    # Feature 0 has the largest eigenvalue: its coefficients lie along the top eigenvector.
    top = np.linalg.eigh(np.asarray(kernels[0], np.float64))[1][:, -1]
    assert abs(abs(features[0, 0] @ top) - np.linalg.norm(features[0, 0])) < 1e-9
    summed = sum(
        machine_logits(apply, params, probes, others, features[:, k]) for k in range(PROBES)
    )
    whole = machine_logits(apply, params, probes, others, alpha)
    np.testing.assert_allclose(summed, whole, **tol(np.float32, 10 * np.abs(whole).max()))


def test_one_compiled_machine_serves_other_parameters(network):
    """The network's parameters are an argument of the machine's compiled program."""
    apply, params, probes, others, kernel_fn = network
    kernels = np.asarray(kernel_fn(probes, probes, params))
    alpha = jnp.asarray(dual_coefficients(kernels, targets(LABELS, 10, centered=True), 0.1))
    call = jax.jit(lambda machine, weights, x: machine(weights, x))
    moved = jax.tree_util.tree_map(lambda leaf: 1.5 * leaf, params)
    for p in (params, moved):
        weights = machine_weights(apply, p, probes, alpha.astype(jnp.float32))
        expected = np.asarray(machine_apply(apply, p)(weights, others))
        np.testing.assert_allclose(
            call(machine_apply(apply, p), weights, others), expected, rtol=1e-5, atol=1e-6
        )
    assert call._cache_size() == 1

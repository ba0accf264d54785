"""Kernels on attacked inputs: the attacked kernel, the cross diagonal and their statistics."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ntk_evolution.configuration.settings import Attack
from ntk_evolution.kernels.attacked import (
    _cross_fn,
    attack_statistics,
    attacked_kernel,
    attacked_kernels,
    attacked_probes,
    class_means,
    cross_kernel_diagonal,
    self_similarity,
)
from ntk_evolution.kernels.ntk import compile_tile_kernel, per_logit_ntk, per_logit_ntk_fn

NUM_CLASSES = 10  # conftest.NUM_CLASSES
TILE = 5  # 12 probes: tiles of 5, 5 and 2
BATCH = 5  # 12 probes: batches of 5, 5 and 2 (padded)
LABELS = np.arange(12) % 4  # classes 0..3 of 10: six classes have no probe
KEY = jax.random.PRNGKey(7)
PGD = Attack(norm="linf", epsilon=0.2, step_size=0.05, steps=8, random_start=True)
TINY = Attack(norm="linf", epsilon=1e-7, step_size=1e-7, steps=1, random_start=False)


@pytest.fixture(scope="module")
def mlp(model_and_params, images):
    """The random-readout MLP, its tile kernel (tiles of 5) and its clean kernel."""
    model, params = model_and_params("mlp", False)
    kernel = compile_tile_kernel(
        model.apply,
        params,
        images.shape[1:],
        implementation="structured_derivatives",
        tile_size=TILE,
    )
    clean = attacked_kernel(kernel, params, images)  # the same engine on the clean probes
    return model.apply, params, kernel, clean


def _attack(mlp, images, attack):
    apply, params, kernel, clean = mlp
    return attacked_kernels(
        kernel, apply, params, (images, LABELS), attack, key=KEY, batch_size=BATCH, clean=clean
    )


def test_a_vanishing_attack_leaves_kernel_and_features_unchanged(mlp, images, tol):
    result = _attack(mlp, images, TINY)
    assert np.abs(result.attacked_probes - images).max() <= 1.5e-7
    scale = np.abs(result.clean).max()
    np.testing.assert_allclose(result.attacked, result.clean, **tol(np.float32, scale))
    diag = np.diagonal(result.clean, axis1=1, axis2=2)
    np.testing.assert_allclose(result.cross, diag, **tol(np.float32, scale))
    stats = attack_statistics(result.clean, result.attacked, result.cross, LABELS, NUM_CLASSES)
    assert float(stats.distance) < 1e-6
    assert float(stats.centered_distance) < 1e-5
    assert (stats.logit_distance.values < 1e-6).all()
    np.testing.assert_allclose(stats.probe_self_similarity, 1.0, atol=1e-5)
    present = stats.self_similarity.values[:4]
    np.testing.assert_allclose(present, 1.0, atol=1e-5)
    assert np.isnan(stats.self_similarity.values[4:]).all()  # classes without probes


def test_a_real_attack_stays_in_its_ball_and_moves_the_kernel(mlp, images):
    result = _attack(mlp, images, PGD)
    moved = result.attacked_probes - images
    assert result.attacked_probes.dtype == np.float32
    assert result.attacked_probes.min() >= 0.0 and result.attacked_probes.max() <= 1.0
    assert np.abs(moved).max() <= PGD.epsilon + 1e-6
    assert np.abs(moved).max() > PGD.epsilon / 2
    stats = attack_statistics(result.clean, result.attacked, result.cross, LABELS, NUM_CLASSES)
    assert float(stats.distance) > 1e-4 and float(stats.centered_distance) > 1e-3
    assert (stats.logit_distance.values > 1e-4).all()
    s = stats.probe_self_similarity.values
    assert ((s >= -1) & (s <= 1)).all() and s.mean() < 1 - 1e-4
    for name in ("self_similarity", "label_self_similarity", "joint_self_similarity"):
        values = stats[name].values[:4]
        assert ((values > -1) & (values < 1)).all(), name


def test_tiled_attacked_kernel_is_the_kernel_in_one_go(mlp, images, tol):
    """Ragged tiles (5, 5, 2) of the attacked probes give per_logit_ntk of them in one tile."""
    apply, params, kernel, _ = mlp
    x_tilde = attacked_probes(apply, params, images, LABELS, PGD, key=KEY, batch_size=BATCH)
    tiled = attacked_kernel(kernel, params, x_tilde)
    whole = per_logit_ntk(apply, params, jnp.asarray(x_tilde))
    assert tiled.shape == (NUM_CLASSES, len(images), len(images))
    np.testing.assert_allclose(tiled, whole, **tol(np.float32, np.abs(whole).max()))


@pytest.mark.parametrize("architecture", ["mlp", "cnn"])
def test_cross_diagonal_is_the_explicit_kernel_diagonal(
    model_and_params, images, tol, architecture
):
    model, params = model_and_params(architecture, False)
    x, x_tilde = images[:7], np.clip(images[5:] + 0.1 * (images[:7] - 0.5), 0.0, 1.0)
    explicit = per_logit_ntk_fn(model.apply, "structured_derivatives")(x, x_tilde, params)
    expected = np.diagonal(np.asarray(explicit), axis1=1, axis2=2)
    for implementation in ("structured_derivatives", "jacobian_contraction"):
        cross = cross_kernel_diagonal(
            model.apply, params, x, x_tilde, batch_size=3, implementation=implementation
        )
        assert cross.shape == (NUM_CLASSES, 7)
        np.testing.assert_allclose(cross, expected, **tol(np.float32, np.abs(expected).max()))


def test_one_compiled_cross_kernel_serves_every_batch_and_checkpoint(model_and_params, images):
    model, params = model_and_params("mlp", False)
    fn = _cross_fn("structured_derivatives")
    cross_kernel_diagonal(model.apply, params, images, images[::-1], batch_size=BATCH)
    compiled = fn._cache_size()
    moved = jax.tree_util.tree_map(lambda leaf: 1.5 * leaf, params)
    cross_kernel_diagonal(model.apply, moved, images, images[::-1], batch_size=BATCH)
    cross_kernel_diagonal(model.apply, params, images[:7], images[5:], batch_size=BATCH)
    assert fn._cache_size() == compiled


def test_cross_diagonal_falls_back_where_structured_derivatives_fails(tol, caplog):
    """f(x) = x W (I + A^T A)^-1 V: STRUCTURED_DERIVATIVES has no rule for the linear solve."""
    keys = jax.random.split(jax.random.PRNGKey(6), 4)
    params = {name: jax.random.normal(k, (3, 3)) for name, k in zip("WAV", keys[:3], strict=True)}

    def apply(p, x):
        hidden = x.reshape(len(x), -1) @ p["W"]
        return jnp.linalg.solve(jnp.eye(3) + p["A"].T @ p["A"], hidden.T).T @ p["V"]

    x = jax.random.uniform(keys[3], (5, 3, 1, 1))
    with caplog.at_level("WARNING", logger="ntk_evolution.kernels.attacked"):
        cross = cross_kernel_diagonal(apply, params, x, x[::-1], batch_size=2)
    assert "falling back to JACOBIAN_CONTRACTION" in caplog.text
    explicit = per_logit_ntk_fn(apply, "jacobian_contraction")(x, x[::-1], params)
    expected = np.diagonal(np.asarray(explicit), axis1=1, axis2=2)
    np.testing.assert_allclose(cross, expected, **tol(np.float32, np.abs(expected).max()))


def _features(rng, num_logits, n, dim):
    """Kernels from explicit features: K = phi phi^T, K~ = psi psi^T, k_ic = phi_ci . psi_ci."""
    phi, psi = rng.normal(size=(2, num_logits, n, dim))
    cross = np.einsum("cid,cid->ci", phi, psi)
    return np.einsum("cid,cjd->cij", phi, phi), np.einsum("cid,cjd->cij", psi, psi), cross, phi, psi


def test_self_similarity_is_the_feature_cosine_in_its_bounds():
    rng = np.random.default_rng(0)
    clean, attacked, cross, phi, psi = _features(rng, 3, 6, 4)
    s = self_similarity(clean, attacked, cross)
    norms = np.linalg.norm(phi, axis=-1) * np.linalg.norm(psi, axis=-1)
    np.testing.assert_allclose(s, cross / norms, rtol=1e-12)
    assert ((s >= -1) & (s <= 1)).all()
    np.testing.assert_array_equal(self_similarity(clean, clean, -np.diagonal(clean, 0, 1, 2)), -1)
    zero = clean.copy()
    zero[1, 2, :] = zero[1, :, 2] = 0.0  # probe 2 has no gradient for logit 1
    assert np.isnan(self_similarity(zero, attacked, cross)[1, 2])


def test_class_averages_match_a_hand_computation():
    """Two logits, four probes of classes (0, 1, 1, 0); the kernels' diagonals are 1 and 4."""
    clean = np.stack([np.eye(4), 4 * np.eye(4)])
    attacked = np.stack([4 * np.eye(4), np.eye(4)])
    cross = np.array([[2.0, -1.0, 0.0, 1.0], [0.5, 1.0, 2.0, -2.0]])  # /2 gives the cosines
    labels = np.array([0, 1, 1, 0])
    stats = attack_statistics(clean, attacked, cross, labels, num_classes=2)
    np.testing.assert_allclose(stats.probe_self_similarity, cross / 2)
    # logit 0: class 0 (1 + 0.5) / 2, class 1 (-0.5 + 0) / 2; logit 1: (0.25 - 1) / 2, (0.5 + 1) / 2
    per_logit = np.array([[0.75, -0.25], [-0.375, 0.75]])
    np.testing.assert_allclose(stats.logit_self_similarity, per_logit)
    np.testing.assert_allclose(stats.self_similarity, per_logit.mean(axis=0))
    np.testing.assert_allclose(stats.label_self_similarity, [0.75, 0.75])  # diag of per_logit
    joint = cross.sum(0) / np.sqrt(5.0 * 5.0)  # sum_c K_c[i, i] = 1 + 4 = 5 for both kernels
    np.testing.assert_allclose(
        stats.joint_self_similarity, [joint[[0, 3]].mean(), joint[[1, 2]].mean()]
    )
    np.testing.assert_allclose(
        class_means(np.array([1.0, np.nan, 3.0]), [0, 0, 0], 2), [2.0, np.nan]
    )


def test_distances_are_scale_invariant_and_positive_for_other_kernels():
    rng = np.random.default_rng(1)
    clean, attacked, cross, _, _ = _features(rng, 2, 5, 3)
    same = attack_statistics(clean, 3.0 * clean, 3.0 * np.diagonal(clean, 0, 1, 2), [0] * 5, 2)
    assert float(same.distance) < 1e-12 and (same.logit_distance.values < 1e-12).all()
    np.testing.assert_allclose(same.probe_self_similarity, 1.0)
    other = attack_statistics(clean, attacked, cross, [0, 1, 0, 1, 0], 2)
    assert 0 < float(other.distance) <= 1 and (other.logit_distance.values > 0).all()
    with pytest.raises(ValueError, match="shapes"):
        attack_statistics(clean, attacked[:, :4, :4], cross, [0] * 5, 2)
    with pytest.raises(ValueError, match="labels"):
        attack_statistics(clean, attacked, cross, [0, 1, 2, 0, 0], 2)

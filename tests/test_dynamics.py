"""Phase-2 children: their value at the spawn point, their frozen kernel, and that they learn."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ntk_evolution.configuration.settings import Optimizer, Training
from ntk_evolution.kernels.ntk import per_logit_ntk
from ntk_evolution.models.classifier import cross_entropy
from ntk_evolution.models.dynamics import DYNAMICS, child_apply
from ntk_evolution.models.stax_models import build_model
from ntk_evolution.training.loop import train

from pgd_settings import pgd_attack

ARCHITECTURES = ["mlp", "cnn"]
FROZEN = ["linearized", "centered"]


def perturbed(params, scale: float, key: int = 7):
    """``params`` plus Gaussian noise of ``scale`` times each leaf's spread, at least 0.1."""
    leaves, treedef = jax.tree_util.tree_flatten(params)
    keys = jax.random.split(jax.random.PRNGKey(key), len(leaves))
    moved = [
        leaf + scale * jnp.maximum(jnp.std(leaf), 0.1) * jax.random.normal(k, leaf.shape)
        for leaf, k in zip(leaves, keys, strict=True)
    ]
    return jax.tree_util.tree_unflatten(treedef, moved)


def along(params, direction, t: float):
    """``params + t * (direction - params)``."""
    return jax.tree_util.tree_map(lambda p, d: p + t * (d - p), params, direction)


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_children_at_the_spawn_point(model_and_params, images, tol, architecture):
    model, params = model_and_params(architecture, False)
    parent = np.asarray(model.apply(params, images))
    linearized = child_apply(model.apply, params, "linearized")(params, images)
    centered = child_apply(model.apply, params, "centered")(params, images)
    np.testing.assert_allclose(linearized, parent, **tol(parent.dtype, np.abs(parent).max()))
    np.testing.assert_array_equal(centered, np.zeros_like(parent))
    assert child_apply(model.apply, params, "standard") == model.apply


@pytest.mark.parametrize("dynamics", FROZEN)
@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_child_kernel_is_the_spawn_kernel(
    model_and_params, images, kernel, tol, architecture, dynamics
):
    model, params = model_and_params(architecture, False)
    spawn = kernel(architecture, False, "structured_derivatives")
    moved = perturbed(params, 0.5)
    child = per_logit_ntk(child_apply(model.apply, params, dynamics), moved, images)
    np.testing.assert_allclose(child, spawn, **tol(spawn.dtype, np.abs(spawn).max()))


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_network_kernel_moves_with_the_same_perturbation(
    model_and_params, images, kernel, architecture
):
    # The control of the test above: the perturbation is large enough to change the kernel of
    # the network itself.
    model, params = model_and_params(architecture, False)
    spawn = kernel(architecture, False, "structured_derivatives")
    moved = per_logit_ntk(model.apply, perturbed(params, 0.5), images)
    assert np.abs(moved - spawn).max() > 0.05 * np.abs(spawn).max()


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_frozen_children_are_affine_in_the_parameters(model_and_params, images, tol, architecture):
    model, params = model_and_params(architecture, False)
    target = perturbed(params, 0.5)

    def values(apply):
        return [np.asarray(apply(along(params, target, t), images)) for t in (0.0, 1.0, 2.0)]

    at0, at1, at2 = values(child_apply(model.apply, params, "linearized"))
    scale = np.abs(at2).max()
    np.testing.assert_allclose(at2 - at0, 2 * (at1 - at0), **tol(at0.dtype, 10 * scale))
    _, c1, c2 = values(child_apply(model.apply, params, "centered"))
    np.testing.assert_allclose(c2, 2 * c1, **tol(c1.dtype, 10 * scale))
    np.testing.assert_allclose(c1, at1 - at0, **tol(c1.dtype, 10 * scale))
    # The network itself is not affine along the same line.
    n0, n1, n2 = values(model.apply)
    assert np.abs((n2 - n0) - 2 * (n1 - n0)).max() > 0.01 * np.abs(n2).max()


@pytest.mark.parametrize(
    ("dynamics", "regime"),
    [("linearized", "benign"), ("centered", "benign"), ("linearized", "adversarial")],
)
def test_children_learn_with_the_training_loop(dynamics, regime):
    kx, kp = jax.random.split(jax.random.PRNGKey(3))
    images = jax.random.uniform(kx, (64, 8, 8, 1))
    quadrants = images.reshape(64, 2, 4, 2, 4).mean(axis=(2, 4))
    labels = jnp.argmax(quadrants.reshape(64, 4), axis=-1)
    model = build_model("mlp", num_classes=4, width=32, depth=1)
    spawn = model.init(kp, (8, 8, 1))
    child = child_apply(model.apply, spawn, dynamics)
    settings = Training(
        epochs=3,
        batch_size=16,
        optimizer=Optimizer(learning_rate=0.1, momentum=0.9),
        adversarial_mix="pure",
        attack=pgd_attack(epsilon=0.2, step_size=0.1, steps=3, norm="l2"),
    )
    saved = {}
    history = train(
        child,
        spawn,
        (images, labels),
        (images, labels),
        settings=settings,
        regime=regime,
        key=jax.random.PRNGKey(0),
        checkpoints=[3.0],
        save=lambda epoch, params, state, meta: saved.update(params=params),
    )
    assert history[-1]["train_loss"] < 0.9 * history[0]["train_loss"]
    assert [row["adversarial"] for row in history] == [regime == "adversarial"] * 3
    before = float(cross_entropy(child(spawn, images), labels))
    after = float(cross_entropy(child(saved["params"], images), labels))
    if dynamics == "centered":
        assert before == pytest.approx(math.log(4), rel=1e-6)  # the zero function
    assert after < 0.8 * before


def test_unknown_dynamics_is_rejected(model_and_params):
    model, params = model_and_params("mlp", False)
    with pytest.raises(ValueError, match="'tangent'") as info:
        child_apply(model.apply, params, "tangent")
    assert all(name in str(info.value) for name in DYNAMICS)

"""Feature pictures: the orientation of eigenvectors, the cosine and the ascent from mid-grey."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from ntk_evolution.kernels.machines import eigen, parameter_directions, targets
from ntk_evolution.kernels.ntk import per_logit_ntk_fn
from ntk_evolution.kernels.pictures import MID_GREY, cosine, feature_pictures, oriented

PROBES = 8  # of the 12 images the fixtures share
LABELS = np.array([0, 1, 2, 3, 0, 1, 2, 3])
CLASSES, TOP = (0, 1), 2


def row(tree, b):
    """Direction ``b`` of a pytree of directions with a leading axis."""
    return jax.tree_util.tree_map(lambda leaf: leaf[b], tree)


@pytest.fixture(scope="module", params=["mlp", "cnn"])
def network(request, model_and_params, images):
    """``(apply, params, probes, directions, logits)``: the parameter directions of the top
    ``TOP`` oriented eigenvectors of the kernels of ``CLASSES`` on the probes, as the pictures
    stage makes them, and the logit of each."""
    model, params = model_and_params(request.param, False)
    probes = jnp.asarray(images[:PROBES])
    kernels = np.asarray(
        per_logit_ntk_fn(model.apply, "structured_derivatives")(probes, probes, params)
    )
    y = targets(LABELS, kernels.shape[0], centered=True)
    _, u = eigen(kernels[list(CLASSES)])
    cotangents = np.zeros((len(CLASSES), TOP, PROBES, kernels.shape[0]))
    for i, c in enumerate(CLASSES):
        cotangents[i, :, :, c] = oriented(u[i][:, :TOP], y[c]).T
    flat = jnp.asarray(cotangents.reshape(len(CLASSES) * TOP, PROBES, kernels.shape[0]))
    directions = parameter_directions(model.apply, params, probes, flat)
    return model.apply, params, probes, directions, np.repeat(CLASSES, TOP)


def test_the_pictures_stay_in_the_unit_cube_and_report_their_cosines(network):
    apply, params, probes, directions, logits = network
    shape, steps, step_size = probes.shape[1:], 8, 0.02
    pictures, before, after = feature_pictures(
        apply, params, directions, logits, shape, steps=steps, step_size=step_size
    )
    assert pictures.shape == (len(logits), *shape) and pictures.dtype == np.float32
    assert before.shape == after.shape == (len(logits),)
    assert np.all(np.abs(after) <= 1 + 1e-5)
    # Every step moves a pixel by +-step_size (0 where its gradient is 0): whole steps in all.
    moved = np.abs(pictures - MID_GREY)
    assert moved.max() > 0 and moved.max() <= steps * step_size + 1e-6
    np.testing.assert_allclose(moved / step_size, np.round(moved / step_size), atol=1e-4)
    # A step that would leave [0, 1] is clipped to it: one of 0.6 from mid-grey ends on 0 or 1
    # (or, where it lowers the cosine, the picture stays mid-grey).
    clipped, start, end = feature_pictures(
        apply, params, directions, logits, shape, steps=1, step_size=0.6
    )
    stepped = end > start
    assert stepped.any()
    assert np.isin(clipped[stepped], [0.0, 1.0]).all()
    assert (clipped[~stepped] == MID_GREY).all()
    # The reported cosines are those of mid-grey and of the returned pictures.
    grey = jnp.full(shape, MID_GREY, jnp.float32)
    for b, logit in enumerate(logits):
        direction = row(directions, b)
        start = cosine(apply, params, direction, logit, grey)
        end = cosine(apply, params, direction, logit, jnp.asarray(pictures[b]))
        np.testing.assert_allclose([before[b], after[b]], [start, end], rtol=1e-4, atol=1e-5)


def test_a_small_step_raises_every_cosine(network):
    """One step of 1e-3 from mid-grey: the ascent follows the cosine's gradient."""
    apply, params, probes, directions, logits = network
    _, before, after = feature_pictures(
        apply, params, directions, logits, probes.shape[1:], steps=1, step_size=1e-3
    )
    assert np.all(after > before)


def test_the_ascent_raises_the_cosine(network):
    """A longer ascent never lowers a picture's cosine and raises it on average by a clear
    margin. A step may lower it (grad f_c(x) of a ReLU network jumps where a unit switches, and
    a step of fixed size can cross such a kink: the MLP's leading class-1 picture goes from
    0.905 at mid-grey to 0.885 after 8 steps of 0.02), so the best image met is returned."""
    apply, params, probes, directions, logits = network
    _, before, after = feature_pictures(
        apply, params, directions, logits, probes.shape[1:], steps=8, step_size=0.02
    )
    assert np.all(after >= before)
    assert np.count_nonzero(after > before) > len(logits) / 2
    assert after.mean() > before.mean() + 0.05


def test_cosine_is_the_cosine_of_the_flattened_gradient_and_direction(network):
    apply, params, probes, directions, logits = network
    image = probes[0]
    for b, logit in enumerate(logits):
        direction = row(directions, b)
        gradient, _ = ravel_pytree(jax.grad(lambda p, c=logit: apply(p, image[None])[0, c])(params))
        v, _ = ravel_pytree(direction)
        g, v = np.asarray(gradient, np.float64), np.asarray(v, np.float64)
        explicit = g @ v / (np.linalg.norm(g) * np.linalg.norm(v))
        assert abs(explicit) > 1e-3  # not a trivially vanishing cosine
        got = cosine(apply, params, direction, jnp.asarray(logit), image)
        np.testing.assert_allclose(float(got), explicit, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("logit", [0, 3])
def test_the_gradient_at_an_image_has_cosine_one_with_itself(network, logit):
    """v = grad f_c(x), made from a one-hot cotangent on the single probe x, has cos 1 at x."""
    apply, params, probes, *_ = network
    image = probes[5]
    cotangent = jnp.zeros((1, 1, 10)).at[0, 0, logit].set(1.0)
    direction = row(parameter_directions(apply, params, image[None], cotangent), 0)
    np.testing.assert_allclose(float(cosine(apply, params, direction, logit, image)), 1, atol=1e-5)
    # Elsewhere the gradient points another way.
    assert float(cosine(apply, params, direction, logit, probes[6])) < 1 - 1e-4


def test_oriented_points_every_eigenvector_towards_the_class():
    rng = np.random.default_rng(0)
    u = np.linalg.qr(rng.normal(size=(6, 6)))[0]
    y = rng.normal(size=6)
    turned = oriented(u, y)
    assert np.all(y @ turned >= 0)
    np.testing.assert_allclose(np.linalg.norm(turned, axis=0), np.linalg.norm(u, axis=0))
    signs = np.sign(y @ u)
    np.testing.assert_array_equal(turned, u * signs)
    assert (signs < 0).any() and (signs > 0).any()  # both cases occur
    # The sign an eigensolver returns does not matter.
    np.testing.assert_array_equal(oriented(-u, y), turned)


def test_oriented_points_a_classless_eigenvector_towards_the_probes_mean():
    """A constant eigenvector has u^T y = 0 for centred targets: its sum decides the sign."""
    n = 4
    constant = -np.ones(n) / 2  # a solver may return it with either sign
    other = np.array([1.0, -1.0, 0.0, 0.0]) / np.sqrt(2)
    u = np.stack([constant, other], axis=1)
    y = targets(np.array([0, 1, 0, 1]), 2, centered=True)[0]  # [0.5, -0.5, 0.5, -0.5]
    assert abs(y @ constant) < 1e-12
    turned = oriented(u, y)
    np.testing.assert_array_equal(turned[:, 0], -constant)
    np.testing.assert_array_equal(turned[:, 1], other)  # u^T y = 1/sqrt(2) > 0: kept
    np.testing.assert_array_equal(oriented(-u, y), turned)
    np.testing.assert_allclose(np.linalg.norm(turned, axis=0), 1)
    # A share just above the threshold (1e-6 ||y||) still follows the class, not the sum.
    tilted = constant + 1e-5 * y
    assert y @ tilted > 1e-6 * np.linalg.norm(y) and tilted.sum() < 0
    np.testing.assert_array_equal(oriented(tilted[:, None], y)[:, 0], tilted)

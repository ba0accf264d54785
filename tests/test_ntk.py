"""The per-logit empirical NTK: definition, tiling, symmetry and positive semi-definiteness."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ntk_evolution.kernels.ntk import (
    FALLBACK,
    IMPLEMENTATIONS,
    compile_tile_kernel,
    per_logit_ntk,
    per_logit_ntk_fn,
    per_logit_ntk_tiles,
    tiles,
)
from ntk_evolution.models.stax_models import ARCHITECTURES

NUM_CLASSES = 10  # conftest.NUM_CLASSES


def brute_force_ntk(apply, params, x, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """K[c, i, j] = sum_p J[i, c, p] J[j, c, p] from the full Jacobian, in float64."""
    jac = jax.jit(jax.jacrev(lambda p: apply(p, x)))(params)
    n = len(x)
    blocks = [
        np.asarray(leaf, np.float64).reshape(n, num_classes, -1) for leaf in jax.tree.leaves(jac)
    ]
    j = np.concatenate(blocks, axis=-1)
    assert j.shape[-1] == sum(np.size(leaf) for leaf in jax.tree.leaves(params))
    return np.einsum("icp,jcp->cij", j, j)


@pytest.fixture(scope="module")
def brute_force_of(model_and_params, images):
    """``brute_force_of(architecture)``: the reference kernel of the random-readout model."""
    cache = {}

    def get(architecture):
        if architecture not in cache:
            model, params = model_and_params(architecture, False)
            cache[architecture] = brute_force_ntk(model.apply, params, images)
        return cache[architecture]

    return get


@pytest.mark.parametrize("architecture", sorted(ARCHITECTURES))
def test_per_logit_ntk_matches_jacobian_product(
    model_and_params, images, brute_force_of, tol, architecture
):
    model, params = model_and_params(architecture, False)
    k = per_logit_ntk(model.apply, params, images)
    expected = brute_force_of(architecture)
    assert k.shape == (NUM_CLASSES, len(images), len(images))
    assert k.dtype == np.float32
    np.testing.assert_allclose(k, expected, **tol(np.float32, np.abs(expected).max()))


@pytest.mark.parametrize("implementation", sorted(IMPLEMENTATIONS))
@pytest.mark.parametrize("architecture", sorted(ARCHITECTURES))
def test_every_implementation_matches_jacobian_product(
    kernel, brute_force_of, tol, architecture, implementation
):
    k = kernel(architecture, False, implementation)
    expected = brute_force_of(architecture)
    np.testing.assert_allclose(k, expected, **tol(np.float32, np.abs(expected).max()))


def _linear_model(num_features: int, num_classes: int):
    """f(x) = flatten(x) W + b, whose per-logit NTK is X X^T + 1 for every logit."""
    key_w, key_b = jax.random.split(jax.random.PRNGKey(3))
    params = {
        "W": jax.random.normal(key_w, (num_features, num_classes)),
        "b": jax.random.normal(key_b, (num_classes,)),
    }

    def apply(p, x):
        return x.reshape(len(x), -1) @ p["W"] + p["b"]

    return apply, params


@pytest.mark.parametrize("tile_size", [1, 4, 5, 13, 20])
def test_tiles_cover_the_upper_triangle_once(tol, tile_size):
    n, num_classes = 13, 3
    x = jax.random.uniform(jax.random.PRNGKey(4), (n, 2, 2, 1))
    apply, params = _linear_model(4, num_classes)
    flat = np.asarray(x, np.float64).reshape(n, -1)
    expected = flat @ flat.T + 1.0  # the bias contributes 1 to every entry

    seen = {}
    kernel = compile_tile_kernel(
        apply, params, x.shape[1:], implementation="jacobian_contraction", tile_size=tile_size
    )
    for rows, cols, block in per_logit_ntk_tiles(kernel, params, x):
        key = (rows.start, rows.stop, cols.start, cols.stop)
        assert key not in seen
        assert rows.start <= cols.start
        assert 0 < rows.stop - rows.start <= tile_size
        assert 0 < cols.stop - cols.start <= tile_size
        assert block.shape == (num_classes, rows.stop - rows.start, cols.stop - cols.start)
        seen[key] = block
        for c in range(num_classes):
            np.testing.assert_allclose(
                block[c], expected[rows, cols], **tol(np.float32, expected.max())
            )
    spans = tiles(n, tile_size)
    assert set(seen) == {
        (a.start, a.stop, b.start, b.stop) for i, a in enumerate(spans) for b in spans[i:]
    }


@pytest.mark.parametrize("tile_size", [4, 5, 13])
def test_tiled_equals_untiled_linear_model(tol, tile_size):
    n = 13
    x = jax.random.uniform(jax.random.PRNGKey(5), (n, 2, 2, 1))
    apply, params = _linear_model(4, 3)
    flat = np.asarray(x, np.float64).reshape(n, -1)
    expected = np.broadcast_to(flat @ flat.T + 1.0, (3, n, n))
    untiled = per_logit_ntk(apply, params, x, implementation="jacobian_contraction")
    tiled = per_logit_ntk(
        apply, params, x, implementation="jacobian_contraction", tile_size=tile_size
    )
    np.testing.assert_allclose(untiled, expected, **tol(np.float32, expected.max()))
    np.testing.assert_allclose(tiled, untiled, **tol(np.float32, expected.max()))


@pytest.mark.parametrize("tile_size", [5])  # does not divide the 12 probes: the last tile is padded
def test_tiled_equals_untiled_network(model_and_params, images, kernel, tol, tile_size):
    model, params = model_and_params("cnn", False)
    untiled = kernel("cnn", False, "structured_derivatives")
    tiled = per_logit_ntk(model.apply, params, images, tile_size=tile_size)
    np.testing.assert_allclose(tiled, untiled, **tol(np.float32, np.abs(untiled).max()))


@pytest.mark.parametrize("implementation", sorted(IMPLEMENTATIONS))
@pytest.mark.parametrize("architecture", sorted(ARCHITECTURES))
def test_kernel_is_symmetric_positive_semidefinite(kernel, tol, architecture, implementation):
    k = kernel(architecture, False, implementation)
    np.testing.assert_allclose(k, np.swapaxes(k, 1, 2), **tol(np.float32, np.abs(k).max()))
    eig = np.linalg.eigvalsh(k.astype(np.float64))
    largest = eig[:, -1]
    assert np.all(largest > 0)
    assert np.all(eig[:, 0] >= -1e-5 * largest)


def test_assembled_kernel_is_exactly_symmetric(model_and_params, images):
    """Off-diagonal tiles are computed once and mirrored, so the assembled kernel is symmetric."""
    model, params = model_and_params("mlp", False)
    k = per_logit_ntk(model.apply, params, images, tile_size=4)
    for i, rows in enumerate(tiles(len(images), 4)):
        for cols in tiles(len(images), 4)[i + 1 :]:
            np.testing.assert_array_equal(k[:, rows, cols], np.swapaxes(k[:, cols, rows], 1, 2))


def test_unknown_implementation_names_the_choices():
    def apply(p, x):
        return x @ p

    with pytest.raises(ValueError, match="bogus") as info:
        per_logit_ntk_fn(apply, "bogus")
    for name in IMPLEMENTATIONS:
        assert name in str(info.value)
    with pytest.raises(ValueError, match="available"):
        per_logit_ntk(apply, jnp.ones((2, 2)), jnp.ones((3, 2)), implementation="bogus")


@pytest.mark.parametrize(
    ("n", "tile_size", "expected"),
    [
        (10, 4, [slice(0, 4), slice(4, 8), slice(8, 10)]),
        (8, 4, [slice(0, 4), slice(4, 8)]),
        (3, 5, [slice(0, 3)]),
        (5, 1, [slice(i, i + 1) for i in range(5)]),
        (0, 4, []),
    ],
)
def test_tiles(n, tile_size, expected):
    assert tiles(n, tile_size) == expected


@pytest.mark.parametrize("n", [1, 7, 12, 13])
@pytest.mark.parametrize("tile_size", [1, 3, 4, 13, 20])
def test_tiles_partition_the_range(n, tile_size):
    spans = tiles(n, tile_size)
    covered = [i for s in spans for i in range(n)[s]]
    assert covered == list(range(n))
    assert all(0 < s.stop - s.start <= tile_size for s in spans)
    assert len(spans) == -(-n // tile_size)


def _solver_model(num_features: int, num_classes: int):
    """f(x) = x W (I + A^T A)^{-1} V: a linear solve, which STRUCTURED_DERIVATIVES cannot handle."""
    keys = jax.random.split(jax.random.PRNGKey(6), 3)
    params = {
        "W": jax.random.normal(keys[0], (num_features, 3)),
        "A": jax.random.normal(keys[1], (3, 3)),
        "V": jax.random.normal(keys[2], (3, num_classes)),
    }

    def apply(p, x):
        hidden = x.reshape(len(x), -1) @ p["W"]
        gram = jnp.eye(3) + p["A"].T @ p["A"]
        return jnp.linalg.solve(gram, hidden.T).T @ p["V"]

    return apply, params


def test_structured_derivatives_falls_back_with_a_warning(tol, caplog):
    x = jax.random.uniform(jax.random.PRNGKey(7), (9, 2, 2, 1))
    apply, params = _solver_model(4, 3)
    with pytest.raises(TypeError):  # the network really defeats STRUCTURED_DERIVATIVES
        per_logit_ntk_fn(apply, "structured_derivatives")(x, x, params)

    with caplog.at_level("WARNING", logger="ntk_evolution.kernels.ntk"):
        kernel = compile_tile_kernel(
            apply, params, x.shape[1:], implementation="structured_derivatives", tile_size=4
        )
    assert kernel.implementation == FALLBACK
    assert "falling back to JACOBIAN_CONTRACTION" in caplog.text

    tiled = per_logit_ntk(apply, params, x, tile_size=4)  # the default implementation
    expected = brute_force_ntk(apply, params, x, num_classes=3)
    np.testing.assert_allclose(tiled, expected, **tol(np.float32, np.abs(expected).max()))


def test_no_fallback_when_structured_derivatives_works(model_and_params, images, caplog):
    model, params = model_and_params("mlp", False)
    with caplog.at_level("WARNING", logger="ntk_evolution.kernels.ntk"):
        kernel = compile_tile_kernel(
            model.apply,
            params,
            images.shape[1:],
            implementation="structured_derivatives",
            tile_size=4,
        )
    assert kernel.implementation == "structured_derivatives"
    assert "falling back" not in caplog.text


def test_other_implementations_do_not_fall_back():
    def apply(p, x):  # a shape error: no implementation can differentiate it
        return x.reshape(len(x), -1) @ p

    with pytest.raises(TypeError):
        compile_tile_kernel(
            apply, jnp.ones((3, 2)), (2, 2, 1), implementation="jacobian_contraction", tile_size=2
        )

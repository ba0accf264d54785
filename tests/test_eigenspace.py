"""Polar dynamics and eigenspace overlaps on hand-made kernel sequences."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from ntk_evolution.configuration.experiment import Run, RunPair
from ntk_evolution.kernels.eigenspace import (
    eigenspace,
    overlap,
    pair_overlaps,
    polar,
    projected,
    top_eigenvectors,
)


def series(kernels: np.ndarray) -> xr.DataArray:
    """A kernel series (epoch, logit, probe_i, probe_j) at epochs 0, 1, 2, ..."""
    return xr.DataArray(
        kernels,
        dims=("epoch", "logit", "probe_i", "probe_j"),
        coords={"epoch": np.arange(len(kernels), dtype=float), "logit": [0, 1]},
    )


def test_polar_radius_and_angle_of_a_straight_path():
    """K_t = K_0 + t D/T with D orthogonal to K_0: the radius grows as t/T, the angle is
    arctan(t ||D|| / (T ||K_0||))."""
    k0, d = np.diag([1.0, 1.0]), np.array([[0.0, 1.0], [1.0, 0.0]])  # <K_0, D>_F = 0
    kernels = np.stack([k0 + t / 4 * d for t in range(5)])[:, None]  # (epoch, logit=1, 2, 2)
    radius, angle = polar(kernels, (1, 2, 3))
    np.testing.assert_allclose(radius, np.arange(5) / 4)
    np.testing.assert_allclose(angle, np.arctan(np.arange(5) / 4))


def test_a_scaled_kernel_keeps_its_angle_and_a_still_one_has_no_radius():
    k0 = np.array([[2.0, 1.0], [1.0, 2.0]])
    scaled = np.stack([k0 * (1 + t) for t in range(3)])[:, None]
    radius, angle = polar(scaled, (1, 2, 3))
    np.testing.assert_allclose(angle, 0.0, atol=1e-7)
    np.testing.assert_allclose(radius, [0.0, 0.5, 1.0])
    still, _ = polar(np.stack([k0, k0])[:, None], (1, 2, 3))
    assert still[0] != still[0]  # NaN: a series that never moves has no radius


def test_overlap_is_one_for_the_same_space_and_zero_for_orthogonal_ones():
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    u, v = q[:, :3], q[:, 3:]
    assert overlap(u, u) == pytest.approx(1.0)
    assert overlap(u, v) == pytest.approx(0.0, abs=1e-12)
    rotated = u @ np.linalg.qr(rng.normal(size=(3, 3)))[0]  # another basis of the same space
    assert overlap(u, rotated) == pytest.approx(1.0)
    half = np.concatenate([u[:, :1], v[:, :2]], axis=1)  # shares one of three directions
    assert overlap(u, half) == pytest.approx(1 / 3)


def test_the_top_and_rest_spaces_split_the_final_kernel():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(2, 5, 5))
    kernels = np.stack([a @ np.swapaxes(a, -1, -2)] * 2)  # (epoch, logit, 5, 5), PSD
    basis = top_eigenvectors(kernels[-1], 2)
    spaces = projected(kernels, basis)
    np.testing.assert_allclose(spaces["top"] + spaces["rest"], kernels[-1:].repeat(2, 0))
    eigenvalues = np.linalg.eigvalsh(kernels[-1])[:, ::-1]
    np.testing.assert_allclose(
        np.trace(spaces["top"][-1], axis1=1, axis2=2), eigenvalues[:, :2].sum(1)
    )


def test_eigenspace_of_a_run():
    """A kernel that rotates its top eigenvector away: the overlap with the final top space
    falls from 1 back in time, the radius ends at 1, every space is reported."""
    angles = np.linspace(0, np.pi / 2, 4)
    kernels = []
    for theta in angles:
        u = np.array([np.cos(theta), np.sin(theta), 0.0])
        k = 5 * np.outer(u, u) + np.diag([0.1, 0.1, 1.0])
        kernels.append(np.stack([k, 2 * k]))
    ds = eigenspace(series(np.array(kernels)), top_k=1)
    assert ds.radius.dims == ("space", "epoch") and list(ds.space.values) == ["full", "top", "rest"]
    np.testing.assert_allclose(ds.radius.sel(epoch=3.0), 1.0)
    np.testing.assert_allclose(ds.angle.sel(epoch=0.0), 0.0, atol=1e-7)
    np.testing.assert_allclose(ds.overlap_to_final.sel(logit=0), np.sin(angles) ** 2, atol=1e-9)
    np.testing.assert_allclose(ds.mean_overlap_to_final, np.sin(angles) ** 2, atol=1e-9)
    # Logit 1 is logit 0 scaled by 2: the same angles and radii.
    np.testing.assert_allclose(ds.class_angle.sel(logit=1), ds.class_angle.sel(logit=0), atol=1e-7)


def test_pair_overlaps_compare_runs_epoch_by_epoch():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(3, 2, 4, 4))
    ka = series(a @ np.swapaxes(a, -1, -2))
    b = rng.normal(size=(3, 2, 4, 4))
    kb = series(b @ np.swapaxes(b, -1, -2))
    runs = {Run("benign", 0): ka, Run("adversarial", 0): kb, Run("benign", 1): ka}
    pairs = [
        RunPair(Run("benign", 0), Run("benign", 1)),
        RunPair(Run("benign", 0), Run("adversarial", 0)),
    ]
    result = pair_overlaps(runs, pairs, top_k=2)
    assert result.shape == (2, 3)
    np.testing.assert_allclose(result[0], 1.0)
    assert np.all(result[1] < 1.0) and np.all(result[1] >= 0.0)

"""Kernel-evolution statistics on kernels whose answers are known in closed form."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from ntk_evolution.configuration.experiment import Run, run_pairs
from ntk_evolution.kernels.statistics import (
    KERNEL_DIMS,
    alignment,
    double_center,
    evolution,
    kernel_distance,
    pair_distances,
    spectrum,
    stack_runs,
)

DTYPES = [np.float32, np.float64]


def as_kernel(values) -> xr.DataArray:
    """A (logit, probe_i, probe_j) DataArray."""
    return xr.DataArray(np.asarray(values), dims=KERNEL_DIMS)


def as_series(values, epochs) -> xr.DataArray:
    """An (epoch, logit, probe_i, probe_j) DataArray with epoch coordinates."""
    return xr.DataArray(
        np.asarray(values),
        dims=("epoch", *KERNEL_DIMS),
        coords={"epoch": np.asarray(epochs, float)},
    )


def random_psd(rng, num_logits=3, n=5, dtype=np.float64) -> np.ndarray:
    a = rng.normal(size=(num_logits, n, n + 2))
    return (a @ np.swapaxes(a, 1, 2)).astype(dtype)


def distance_np(k1: np.ndarray, k2: np.ndarray) -> float:
    """Fort et al.'s kernel distance, computed directly in float64."""
    a, b = np.asarray(k1, np.float64).ravel(), np.asarray(k2, np.float64).ravel()
    return 1.0 - a @ b / (np.linalg.norm(a) * np.linalg.norm(b))


def assert_described(ds: xr.Dataset) -> None:
    for name, var in ds.data_vars.items():
        assert var.attrs.get("long_name"), f"{name} has no long_name"
        assert "units" in var.attrs, f"{name} has no units"


# --- kernel_distance -----------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_distance_to_itself_is_zero(tol, dtype):
    k = as_kernel(random_psd(np.random.default_rng(0), dtype=dtype))
    d = kernel_distance(k, k)
    assert d.dims == ()
    assert d.dtype == np.float64
    np.testing.assert_allclose(float(d), 0.0, **tol(np.float64, 1.0))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("scale", [1e-3, 0.5, 7.0, 1e4])
def test_distance_is_scale_invariant(tol, dtype, scale):
    rng = np.random.default_rng(1)
    k1, k2 = random_psd(rng, dtype=dtype), random_psd(rng, dtype=dtype)
    np.testing.assert_allclose(
        float(kernel_distance(as_kernel(k1), as_kernel(k1 * dtype(scale)))), 0.0, **tol(dtype, 1.0)
    )
    reference = float(kernel_distance(as_kernel(k1), as_kernel(k2)))
    scaled = float(kernel_distance(as_kernel(k1 * dtype(scale)), as_kernel(k2 / dtype(scale))))
    np.testing.assert_allclose(scaled, reference, **tol(dtype, 1.0))
    np.testing.assert_allclose(reference, distance_np(k1, k2), **tol(dtype, 1.0))


def test_distance_is_symmetric():
    rng = np.random.default_rng(2)
    k1, k2 = as_kernel(random_psd(rng)), as_kernel(random_psd(rng))
    assert float(kernel_distance(k1, k2)) == pytest.approx(
        float(kernel_distance(k2, k1)), abs=1e-15
    )
    assert 0.0 < float(kernel_distance(k1, k2)) < 1.0


def test_orthogonal_kernels_are_at_distance_one():
    """Kernels on disjoint probes (disjoint diagonal supports) have Frobenius product 0."""
    k1 = np.zeros((2, 4, 4))
    k2 = np.zeros((2, 4, 4))
    k1[:, [0, 1], [0, 1]] = [[1.0, 2.0], [3.0, 4.0]]
    k2[:, [2, 3], [2, 3]] = [[5.0, 6.0], [7.0, 8.0]]
    assert float(kernel_distance(as_kernel(k1), as_kernel(k2))) == pytest.approx(1.0, abs=1e-15)


def test_logits_form_one_block_diagonal_kernel():
    """Different logits never pair up: one logit each is orthogonal, even with equal blocks."""
    eye = np.eye(3)
    k1 = np.stack([eye, np.zeros((3, 3))])
    k2 = np.stack([np.zeros((3, 3)), eye])
    assert float(kernel_distance(as_kernel(k1), as_kernel(k2))) == pytest.approx(1.0, abs=1e-15)


def test_distance_of_a_hand_computed_pair():
    # <I, 11^T>_F = 2, ||I||_F = sqrt(2), ||11^T||_F = 2  =>  S = 1 - 2 / (2 sqrt(2)) = 1 - 1/sqrt(2)
    k1 = as_kernel([[[1.0, 0.0], [0.0, 1.0]]])
    k2 = as_kernel([[[1.0, 1.0], [1.0, 1.0]]])
    assert float(kernel_distance(k1, k2)) == pytest.approx(1.0 - 1.0 / np.sqrt(2.0), abs=1e-15)
    # [[2, 1], [1, 0]] . [[0, 1], [1, 3]] = 2;  norms sqrt(6) and sqrt(11)
    k3 = as_kernel([[[2.0, 1.0], [1.0, 0.0]]])
    k4 = as_kernel([[[0.0, 1.0], [1.0, 3.0]]])
    assert float(kernel_distance(k3, k4)) == pytest.approx(1.0 - 2.0 / np.sqrt(66.0), abs=1e-15)


def test_distance_broadcasts_over_epochs(tol):
    rng = np.random.default_rng(3)
    a = np.stack([random_psd(rng) for _ in range(3)])
    b = np.stack([random_psd(rng) for _ in range(3)])
    d = kernel_distance(as_series(a, [0, 1, 2]), as_series(b, [0, 1, 2]))
    assert d.dims == ("epoch",)
    np.testing.assert_allclose(
        d.values, [distance_np(a[e], b[e]) for e in range(3)], **tol(np.float64, 1.0)
    )


# --- evolution -----------------------------------------------------------------------------

EPOCHS = [0.0, 0.5, 1.0, 2.0]


@pytest.fixture(params=DTYPES, ids=["float32", "float64"])
def series(request):
    rng = np.random.default_rng(4)
    base = random_psd(rng)
    drift = [base + t * random_psd(rng) for t in EPOCHS]  # ever more different kernels
    return as_series(np.stack(drift).astype(request.param), EPOCHS)


def test_evolution_distance_matrix(series, tol):
    ds = evolution(series)
    values = series.values
    n = len(EPOCHS)
    expected = np.array([[distance_np(values[i], values[j]) for j in range(n)] for i in range(n)])
    m = ds["distance_matrix"].values
    assert ds["distance_matrix"].dims == ("epoch", "other_epoch")
    np.testing.assert_allclose(m, expected, **tol(np.float64, 1.0))
    np.testing.assert_array_equal(m, m.T)
    np.testing.assert_allclose(np.diag(m), 0.0, **tol(np.float64, 1.0))
    assert np.all(m[~np.eye(n, dtype=bool)] > 0)
    np.testing.assert_array_equal(ds["epoch"].values, EPOCHS)
    np.testing.assert_array_equal(ds["other_epoch"].values, EPOCHS)


def test_evolution_distances_to_init_and_final(series):
    ds = evolution(series)
    m = ds["distance_matrix"].values
    np.testing.assert_array_equal(ds["distance_to_init"].values, m[:, 0])
    np.testing.assert_array_equal(ds["distance_to_final"].values, m[:, -1])
    assert ds["distance_to_init"].dims == ds["distance_to_final"].dims == ("epoch",)


def test_evolution_velocity(series, tol):
    ds = evolution(series)
    v = ds["velocity"].values
    values = series.values
    assert np.isnan(v[0])
    expected = [
        distance_np(values[k - 1], values[k]) / (EPOCHS[k] - EPOCHS[k - 1])
        for k in range(1, len(EPOCHS))
    ]
    np.testing.assert_allclose(v[1:], expected, **tol(np.float64, max(expected)))
    assert ds["velocity"].attrs["units"] == "1/epoch"


def test_evolution_matches_kernel_distance(series, tol):
    ds = evolution(series)
    for i, e in enumerate(EPOCHS):
        d = kernel_distance(series.sel(epoch=e), series)  # broadcasts over the other epochs
        np.testing.assert_allclose(
            ds["distance_matrix"].values[i], d.values, **tol(np.float64, 1.0)
        )


def test_evolution_of_a_scaled_series_is_zero(tol):
    k = random_psd(np.random.default_rng(5))
    ds = evolution(as_series(np.stack([k, 2 * k, 10 * k]), [0, 1, 3]))
    np.testing.assert_allclose(ds["distance_matrix"].values, 0.0, **tol(np.float64, 1.0))
    np.testing.assert_allclose(ds["velocity"].values[1:], 0.0, **tol(np.float64, 1.0))


# --- spectrum ------------------------------------------------------------------------------


def kernel_with_spectrum(lams, seed) -> np.ndarray:
    """U diag(lams) U^T with a random orthogonal U."""
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(len(lams), len(lams))))
    return (q * np.asarray(lams, float)) @ q.T


def entropy_rank(lams) -> float:
    p = np.asarray(lams, float) / np.sum(lams)
    p = p[p > 0]
    return float(np.exp(-np.sum(p * np.log(p))))


SPECTRA = [[5.0, 3.0, 1.0, 0.5, 0.1, 0.0], [2.0, 2.0, 2.0, 2.0, 2.0, 2.0]]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("top_k", [1, 3, 6])
def test_spectrum_of_known_eigenvalues(tol, dtype, top_k):
    ks = np.stack([kernel_with_spectrum(lams, seed) for seed, lams in enumerate(SPECTRA)])
    series = as_series(np.stack([ks, 3.0 * ks]).astype(dtype), [0, 1])  # (epoch=2, logit=2, 6, 6)
    ds = spectrum(series, top_k=top_k)
    assert_described(ds)
    assert ds["eigenvalues"].dims == ("epoch", "logit", "rank")
    np.testing.assert_array_equal(ds["rank"].values, np.arange(1, top_k + 1))
    for e, factor in enumerate([1.0, 3.0]):
        for c, lams in enumerate(SPECTRA):
            lams = factor * np.asarray(lams)
            at = {"epoch": e, "logit": c}
            close = tol(dtype, lams.max())
            np.testing.assert_allclose(ds["eigenvalues"][at].values, lams[:top_k], **close)
            np.testing.assert_allclose(float(ds["trace"][at]), lams.sum(), **tol(dtype, lams.sum()))
            np.testing.assert_allclose(
                float(ds["effective_rank"][at]), entropy_rank(lams), **tol(dtype, 10.0)
            )
            np.testing.assert_allclose(
                float(ds["top_k_share"][at]), lams[:top_k].sum() / lams.sum(), **tol(dtype, 1.0)
            )


def test_uniform_spectrum_has_full_effective_rank():
    ds = spectrum(as_series(np.eye(7)[None, None], [0]), top_k=3)
    assert float(ds["effective_rank"].squeeze()) == pytest.approx(7.0, rel=1e-12)
    assert float(ds["top_k_share"].squeeze()) == pytest.approx(3 / 7, rel=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
def test_rank_one_kernel_has_effective_rank_one(tol, dtype):
    v = np.random.default_rng(6).normal(size=8)
    k = np.outer(v, v).astype(dtype)
    ds = spectrum(as_series(k[None, None], [0]), top_k=2)
    np.testing.assert_allclose(float(ds["effective_rank"].squeeze()), 1.0, **tol(dtype, 1.0))
    np.testing.assert_allclose(float(ds["top_k_share"].squeeze()), 1.0, **tol(dtype, 1.0))
    np.testing.assert_allclose(
        ds["eigenvalues"].squeeze().values, [v @ v, 0.0], **tol(dtype, v @ v)
    )


def test_spectrum_top_k_larger_than_the_kernel():
    ds = spectrum(as_series(np.eye(4)[None, None], [0]), top_k=10)
    assert ds.sizes["rank"] == 4
    assert float(ds["top_k_share"].squeeze()) == pytest.approx(1.0)


# --- alignment -----------------------------------------------------------------------------

LABELS = np.array([0, 0, 1, 2, 1, 0, 2])  # 3 logits, 7 probes
NUM_LOGITS = 3


def one_hot(labels=LABELS) -> np.ndarray:
    return (labels[None, :] == np.arange(NUM_LOGITS)[:, None]).astype(float)  # (logit, n)


def centring(n: int) -> np.ndarray:
    return np.eye(n) - np.ones((n, n)) / n


@pytest.mark.parametrize("dtype", DTYPES)
def test_target_kernel_has_alignment_one(tol, dtype):
    y = one_hot()
    k = np.einsum("ci,cj->cij", y, y)
    ds = alignment(as_series(k[None].astype(dtype), [0]), LABELS, centered=False)
    assert_described(ds)
    assert ds["alignment"].dims == ("epoch", "logit")
    np.testing.assert_allclose(ds["alignment"].values, 1.0, **tol(dtype, 1.0))
    np.testing.assert_allclose(ds["mean_alignment"].values, 1.0, **tol(dtype, 1.0))
    assert ds.attrs["centered"] == 0


@pytest.mark.parametrize("dtype", DTYPES)
def test_centred_target_kernel_has_centred_alignment_one(tol, dtype):
    hy = one_hot() @ centring(len(LABELS))  # H is symmetric: rows are (H y_c)^T
    k = np.einsum("ci,cj->cij", hy, hy)
    ds = alignment(as_series(k[None].astype(dtype), [0]), LABELS, centered=True)
    assert_described(ds)
    np.testing.assert_allclose(ds["alignment"].values, 1.0, **tol(dtype, 1.0))
    assert ds.attrs["centered"] == 1


@pytest.mark.parametrize("scale", [1e-3, 1.0, 50.0])
def test_identity_kernel_alignment(tol, scale):
    n = len(LABELS)
    k = scale * np.broadcast_to(np.eye(n), (NUM_LOGITS, n, n))
    # Uncentred: y^T I y / (||I||_F ||y||^2) = ||y||^2 / (sqrt(n) ||y||^2) = 1 / sqrt(n).
    plain = alignment(as_series(k[None], [0]), LABELS, centered=False)
    np.testing.assert_allclose(plain["alignment"].values, 1 / np.sqrt(n), **tol(np.float64, 1.0))
    # Centred: H I H = H and (Hy)^T H (Hy) = ||Hy||^2, ||H||_F = sqrt(n - 1)  =>  1 / sqrt(n - 1).
    centred = alignment(as_series(k[None], [0]), LABELS, centered=True)
    np.testing.assert_allclose(
        centred["alignment"].values, 1 / np.sqrt(n - 1), **tol(np.float64, 1.0)
    )


def test_alignment_of_a_general_kernel(tol):
    """Against the definition written out with explicit matrices, for two epochs."""
    rng = np.random.default_rng(7)
    ks = np.stack([random_psd(rng, NUM_LOGITS, len(LABELS)) for _ in range(2)])
    y = one_hot()
    h = centring(len(LABELS))
    for centered in (False, True):
        ds = alignment(as_series(ks, [0, 1]), LABELS, centered=centered)
        for e in range(2):
            for c in range(NUM_LOGITS):
                k, t = ks[e, c], y[c]
                if centered:
                    k, t = h @ k @ h, h @ t
                expected = t @ k @ t / (np.linalg.norm(k) * (t @ t))
                np.testing.assert_allclose(
                    float(ds["alignment"][e, c]), expected, **tol(np.float64, 1.0)
                )
        np.testing.assert_allclose(
            ds["mean_alignment"].values, ds["alignment"].values.mean(-1), **tol(np.float64, 1.0)
        )


# --- pair_distances and stack_runs ----------------------------------------------------------


def test_pair_distances(tol):
    rng = np.random.default_rng(8)
    epochs = [0.0, 0.5, 1.0]
    shared = np.stack([random_psd(rng) for _ in epochs])
    other = np.stack([random_psd(rng) for _ in epochs])
    b0, b1, a0 = Run("benign", 0), Run("benign", 1), Run("adversarial", 0)
    kernels = {
        b0: as_series(shared, epochs),
        b1: as_series(shared, epochs),
        a0: as_series(other, epochs),
    }
    ds = pair_distances(kernels, run_pairs(kernels))
    assert_described(ds)
    assert ds["distance"].dims == ds["centered_distance"].dims == ("pair", "epoch")
    np.testing.assert_array_equal(ds["epoch"].values, epochs)
    assert list(ds["pair"].values) == [
        "benign-s1 vs adversarial-s0",
        "benign-s0 vs adversarial-s0",
        "benign-s0 vs benign-s1",
    ]
    assert list(ds["kind"].values) == [
        "benign vs adversarial (across seeds)",
        "benign vs adversarial (same seed)",
        "benign vs benign (yardstick)",
    ]
    assert list(ds["seeds"].values) == ["across", "same", "across"]
    assert list(ds["comparison"].values) == ["benign vs adversarial"] * 2 + ["benign vs benign"]
    assert list(ds["run_b"].values) == ["adversarial-s0", "adversarial-s0", "benign-s1"]
    for name in ("distance", "centered_distance"):
        np.testing.assert_allclose(ds[name].sel(pair="benign-s0 vs benign-s1"), 0.0, atol=1e-12)
    expected = [distance_np(shared[e], other[e]) for e in range(len(epochs))]
    for pair in ("benign-s0 vs adversarial-s0", "benign-s1 vs adversarial-s0"):
        np.testing.assert_allclose(ds["distance"].sel(pair=pair), expected, **tol(np.float64, 1.0))
    centred = [distance_np(center_np(shared[e]), center_np(other[e])) for e in range(3)]
    np.testing.assert_allclose(
        ds["centered_distance"].sel(pair="benign-s0 vs adversarial-s0"),
        centred,
        **tol(np.float64, 1.0),
    )


def center_np(k: np.ndarray) -> np.ndarray:
    """H K H per logit, with H = I - 11^T / n written out."""
    n = k.shape[-1]
    h = np.eye(n) - np.full((n, n), 1.0 / n)
    return h @ k @ h


def test_double_center_by_hand():
    k = np.array([[[2.0, 1.0], [1.0, 4.0]]])
    # Mean 2, row and column means 1.5 and 2.5: K_ij - r_i - c_j + 2 gives 2 - 3 + 2 = 1 at
    # (0, 0), 1 - 4 + 2 = -1 off the diagonal and 4 - 5 + 2 = 1 at (1, 1).
    np.testing.assert_allclose(double_center(as_kernel(k)).values, [[[1.0, -1.0], [-1.0, 1.0]]])


def test_centred_distance_ignores_a_constant_added_to_a_kernel(tol):
    rng = np.random.default_rng(10)
    a, b = random_psd(rng), random_psd(rng)
    shifted = a + 25.0 * a.mean()  # a constant c 11^T per logit, large enough to dominate
    runs = Run("benign", 0), Run("adversarial", 1)
    plain = pair_distances(
        {runs[0]: as_series(a[None], [1]), runs[1]: as_series(b[None], [1])}, run_pairs(runs)
    )
    moved = pair_distances(
        {runs[0]: as_series(shifted[None], [1]), runs[1]: as_series(b[None], [1])},
        run_pairs(runs),
    )
    np.testing.assert_allclose(
        moved.centered_distance.values, plain.centered_distance.values, **tol(np.float64, 10.0)
    )
    # The raw distance does change: the constant makes the kernels look less alike to it.
    assert not np.isclose(moved.distance.item(), plain.distance.item())
    # ... and a constant shared by both kernels makes them look alike to the raw distance only.
    both = pair_distances(
        {
            runs[0]: as_series(shifted[None], [1]),
            runs[1]: as_series((b + 25.0 * a.mean())[None], [1]),
        },
        run_pairs(runs),
    )
    assert both.distance.item() < 0.1 * plain.distance.item()
    np.testing.assert_allclose(
        both.centered_distance.values, plain.centered_distance.values, **tol(np.float64, 10.0)
    )


def test_pair_distances_reject_mismatched_epochs():
    rng = np.random.default_rng(9)
    a, b = Run("benign", 0), Run("flip", 0)
    kernels = {
        a: as_series(np.stack([random_psd(rng) for _ in range(3)]), [0.0, 1.0, 2.0]),
        b: as_series(np.stack([random_psd(rng) for _ in range(3)]), [0.0, 1.0, 3.0]),
    }
    with pytest.raises(ValueError):
        pair_distances(kernels, run_pairs(kernels))


def test_stack_runs():
    runs = [Run("benign", 0), Run("flip", 2)]
    parts = [
        evolution(
            as_series(np.stack([random_psd(np.random.default_rng(s)) for s in (i, i + 1)]), [0, 1])
        )
        for i in range(len(runs))
    ]
    stacked = stack_runs(parts, runs)
    assert list(stacked["run"].values) == ["benign-s0", "flip-s2"]
    assert list(stacked["regime"].values) == ["benign", "flip"]
    assert list(stacked["seed"].values) == [0, 2]
    for i, part in enumerate(parts):
        xr.testing.assert_identical(stacked.isel(run=i, drop=True), part)


def test_every_statistic_is_described():
    series = as_series(np.stack([np.eye(3)[None] * (t + 1) for t in range(2)]), [0, 1])
    labels = np.array([0, 0, 0])
    for ds in (
        evolution(series),
        spectrum(series, top_k=2),
        alignment(series, labels, centered=False),
        alignment(series, labels, centered=True),
        pair_distances(
            {Run("benign", 0): series, Run("benign", 1): series},
            run_pairs([Run("benign", 0), Run("benign", 1)]),
        ),
    ):
        assert ds.data_vars
        assert_described(ds)

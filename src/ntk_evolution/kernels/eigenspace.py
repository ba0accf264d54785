"""Where a kernel moves: polar dynamics and eigenspace overlaps (after Tsilivis & Kempe 2022).

For a run's kernels K_t (t the checkpoint epochs, 0 the first and T the last), taken per class
kernel K_{t,c} or over all logits at once (the block-diagonal kernel, as in
:mod:`ntk_evolution.kernels.statistics`):

- polar dynamics: the radius r_t = ||K_t - K_0||_F / ||K_T - K_0||_F (0 at the start, 1 at the
  end) against the angle phi_t = arccos cos(K_t, K_0), cos(A, B) = <A, B>_F / (||A||_F ||B||_F);
- the same inside the top-k eigenspace of the final kernel and outside it: with U_c the top-k
  eigenvectors of K_{T,c}, P_c = U_c U_c^T and Q_c = I - P_c, the kernels P_c K_{t,c} P_c
  (``space`` "top") and Q_c K_{t,c} Q_c ("rest") in place of K_{t,c} ("full");
- the overlap of two top-k eigenspaces U and V (n x k, orthonormal columns), the mean squared
  cosine of their principal angles, ||U^T V||_F^2 / k: 1 for the same space, 0 for orthogonal
  ones; between K_t and K_T of one run, and between two runs at the same epoch (per logit, then
  averaged over the logits).

All arithmetic is in float64.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import xarray as xr

from ntk_evolution.configuration.experiment import Run, RunPair
from ntk_evolution.kernels.statistics import kernel_values, variable_attrs

SPACES = ("full", "top", "rest")


def top_eigenvectors(kernels: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` leading eigenvectors of every kernel of ``kernels`` (..., n, n), as the columns
    of (..., n, k), largest eigenvalue first."""
    _, vectors = np.linalg.eigh(kernels)
    return vectors[..., ::-1][..., :k]


def overlap(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """||U^T V||_F^2 / k for orthonormal column blocks ``u`` and ``v`` (..., n, k)."""
    return np.sum(np.matmul(np.swapaxes(u, -1, -2), v) ** 2, axis=(-2, -1)) / u.shape[-1]


def projected(kernels: np.ndarray, basis: np.ndarray) -> dict[str, np.ndarray]:
    """``kernels`` (epoch, logit, n, n) in every space of :data:`SPACES`, with ``basis``
    (logit, n, k) the top-k eigenvectors of each logit's final kernel."""
    top = np.matmul(basis, np.swapaxes(basis, -1, -2))  # P_c
    rest = np.eye(kernels.shape[-1]) - top  # Q_c
    return {
        "full": kernels,
        "top": top @ kernels @ top,
        "rest": rest @ kernels @ rest,
    }


def polar(kernels: np.ndarray, axes: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(radius, angle) of a kernel series (epoch first), the Frobenius products over ``axes``
    (those of one kernel; the rest are kept): r_t = ||K_t - K_0|| / ||K_T - K_0||,
    phi_t = arccos cos(K_t, K_0). NaN radius for a series that never moves."""
    start = kernels[:1]
    moved = np.sqrt(np.sum((kernels - start) ** 2, axis=axes))
    with np.errstate(invalid="ignore", divide="ignore"):
        radius = moved / moved[-1]
        cosine = np.sum(kernels * start, axis=axes) / np.sqrt(
            np.sum(kernels**2, axis=axes) * np.sum(start**2, axis=axes)
        )
    return radius, np.arccos(np.clip(cosine, -1.0, 1.0))


def eigenspace(ntk: xr.DataArray, *, top_k: int) -> xr.Dataset:
    """Polar dynamics in every space and the overlap with the final top-k eigenspace, for one
    run's kernels ``ntk`` (epoch, logit, probe_i, probe_j).

    Returns ``radius`` and ``angle`` (space, epoch) over all logits, ``class_radius`` and
    ``class_angle`` (space, epoch, logit) per class kernel, ``overlap_to_final`` (epoch, logit)
    and its mean over logits ``mean_overlap_to_final`` (epoch).
    """
    values = kernel_values(ntk)
    k = min(top_k, values.shape[-1])
    vectors = top_eigenvectors(values, k)  # (epoch, logit, n, k)
    spaces = projected(values, vectors[-1])
    every = {name: polar(series, (1, 2, 3)) for name, series in spaces.items()}
    per_class = {name: polar(series, (2, 3)) for name, series in spaces.items()}
    to_final = overlap(vectors, vectors[-1:])
    dims, class_dims = ("space", "epoch"), ("space", "epoch", "logit")
    return xr.Dataset(
        {
            "radius": (dims, np.stack([every[s][0] for s in SPACES]), variable_attrs("radius")),
            "angle": (
                dims,
                np.stack([every[s][1] for s in SPACES]),
                variable_attrs("angle", "rad"),
            ),
            "class_radius": (
                class_dims,
                np.stack([per_class[s][0] for s in SPACES]),
                variable_attrs("radius, per class kernel"),
            ),
            "class_angle": (
                class_dims,
                np.stack([per_class[s][1] for s in SPACES]),
                variable_attrs("angle, per class kernel", "rad"),
            ),
            "overlap_to_final": (
                ("epoch", "logit"),
                to_final,
                variable_attrs(f"overlap of the top-{k} eigenspaces of K_t and K_T"),
            ),
            "mean_overlap_to_final": (
                "epoch",
                to_final.mean(-1),
                variable_attrs(
                    f"overlap of the top-{k} eigenspaces of K_t and K_T, mean over logits"
                ),
            ),
        },
        coords={"space": list(SPACES), "epoch": ntk.epoch.values, "logit": ntk.logit.values},
        attrs={"top_k": k},
    )


def pair_overlaps(
    kernels: Mapping[Run, xr.DataArray], pairs: Sequence[RunPair], *, top_k: int
) -> np.ndarray:
    """The overlap of the top-k eigenspaces of two runs' kernels at each shared epoch, averaged
    over the logits, (pair, epoch)."""
    k = min(top_k, next(iter(kernels.values())).sizes["probe_i"])
    vectors = {run: top_eigenvectors(kernel_values(ntk), k) for run, ntk in kernels.items()}
    return np.array([overlap(vectors[p.a], vectors[p.b]).mean(-1) for p in pairs])

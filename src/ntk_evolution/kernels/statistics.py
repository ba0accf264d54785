"""Kernel-evolution statistics as xarray datasets with named dims and ``long_name``/``units`` attrs.

Input kernels are DataArrays with dims ``(epoch, logit, probe_i, probe_j)`` (a gathered store's
``ntk``). A per-logit kernel is treated as one object, the block-diagonal kernel over logits, so
Frobenius products sum over ``logit, probe_i, probe_j``. All arithmetic is in float64.

- Kernel distance (Fort et al. 2020):  S(K1, K2) = 1 - <K1, K2>_F / (||K1||_F ||K2||_F),
  0 for kernels equal up to a positive scale, 1 for orthogonal ones.
- Kernel velocity between consecutive checkpoints:  v(t') = S(k_t, k_t') / (t' - t).
- Effective rank (Roy & Vetterli 2007):  exp(-sum_i p_i log p_i),  p_i = lambda_i / sum_j lambda_j.
- Kernel-target alignment (Cristianini et al. 2002) of logit c with its one-hot target
  y_c = 1[label = c]:  A = y_c^T K_c y_c / (||K_c||_F ||y_c||^2); the centred variant uses
  H K_c H and H y_c with H = I - 11^T / n (Cortes et al. 2012).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import xarray as xr

from ntk_evolution.configuration.experiment import Run, RunPair

KERNEL_DIMS = ("logit", "probe_i", "probe_j")


def variable_attrs(long_name: str, units: str = "1", **extra: str) -> dict[str, str]:
    """A statistic's ``long_name`` and ``units`` (and ``extra``) attributes."""
    return {"long_name": long_name, "units": units, **extra}


def kernel_distance(
    k1: xr.DataArray, k2: xr.DataArray, dims: Sequence[str] = KERNEL_DIMS
) -> xr.DataArray:
    """S(K1, K2) = 1 - <K1, K2>_F / (||K1||_F ||K2||_F) over ``dims``, broadcasting the others."""
    a, b = k1.astype(np.float64), k2.astype(np.float64)
    inner = xr.dot(a, b, dim=list(dims))
    norms = np.sqrt(xr.dot(a, a, dim=list(dims)) * xr.dot(b, b, dim=list(dims)))
    return (1.0 - inner / norms).clip(min=0.0)


def kernel_values(ntk: xr.DataArray) -> np.ndarray:
    """The values of a kernel series in float64, dims ``(epoch, logit, probe_i, probe_j)``."""
    return ntk.transpose("epoch", *KERNEL_DIMS).values.astype(np.float64)


def evolution(ntk: xr.DataArray) -> xr.Dataset:
    """Distances between the kernels of one run across epochs.

    Returns ``distance_matrix`` (epoch, other_epoch), ``distance_to_init`` and
    ``distance_to_final`` (epoch), and ``velocity`` (epoch): the distance from the previous
    checkpoint divided by the epochs elapsed, NaN at the first checkpoint.
    """
    flat = kernel_values(ntk).reshape(len(ntk.epoch), -1)
    gram = flat @ flat.T
    norms = np.sqrt(np.diag(gram))
    matrix = np.clip(1.0 - gram / np.outer(norms, norms), 0.0, None)
    epochs = ntk.epoch.values
    velocity = np.full(len(epochs), np.nan)
    velocity[1:] = np.diagonal(matrix, offset=1) / np.diff(epochs)
    coords = {
        "epoch": ("epoch", epochs, variable_attrs("epoch", "epochs")),
        "other_epoch": ("other_epoch", epochs, variable_attrs("epoch", "epochs")),
    }
    return xr.Dataset(
        {
            "distance_matrix": (
                ("epoch", "other_epoch"),
                matrix,
                variable_attrs("kernel distance S(k_t, k_t')"),
            ),
            "distance_to_init": (
                "epoch",
                matrix[:, 0],
                variable_attrs("kernel distance to epoch 0"),
            ),
            "distance_to_final": (
                "epoch",
                matrix[:, -1],
                variable_attrs("kernel distance to the final kernel"),
            ),
            "velocity": (
                "epoch",
                velocity,
                variable_attrs("kernel velocity S(k_prev, k_t) / dt", "1/epoch"),
            ),
        },
        coords=coords,
    )


def spectrum(ntk: xr.DataArray, *, top_k: int) -> xr.Dataset:
    """Eigen-spectrum of every (epoch, logit) kernel.

    Returns ``eigenvalues`` (epoch, logit, rank) - the ``top_k`` largest, descending -
    ``effective_rank``, ``top_k_share`` (share of the ``top_k`` largest in the trace) and
    ``trace`` (epoch, logit).
    """
    values = kernel_values(ntk)
    eig = np.linalg.eigvalsh(values)[..., ::-1]  # descending
    positive = np.clip(eig, 0.0, None)
    total = positive.sum(-1, keepdims=True)
    p = np.divide(positive, total, out=np.zeros_like(positive), where=total > 0)
    entropy = -np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0), axis=-1)
    k = min(top_k, eig.shape[-1])
    dims = ("epoch", "logit")
    return xr.Dataset(
        {
            "eigenvalues": (
                (*dims, "rank"),
                eig[..., :k],
                variable_attrs("NTK eigenvalue", "1", description="largest first"),
            ),
            "effective_rank": (dims, np.exp(entropy), variable_attrs("effective rank exp(H(p))")),
            "top_k_share": (
                dims,
                positive[..., :k].sum(-1) / total[..., 0],
                variable_attrs(f"share of the top {k} eigenvalues in the trace"),
            ),
            "trace": (dims, positive.sum(-1), variable_attrs("trace of the NTK")),
        },
        coords={"epoch": ntk.epoch.values, "logit": ntk.logit.values, "rank": np.arange(1, k + 1)},
    )


def alignment(ntk: xr.DataArray, labels: np.ndarray, *, centered: bool) -> xr.Dataset:
    """Kernel-target alignment of each logit's kernel with that logit's one-hot target.

    Returns ``alignment`` (epoch, logit) and its mean over logits ``mean_alignment`` (epoch).
    """
    values = kernel_values(ntk)
    logits = ntk.logit.values
    targets = (np.asarray(labels)[None, :] == logits[:, None]).astype(np.float64)  # (logit, n)
    if centered:
        values = values - values.mean(-1, keepdims=True)
        values = values - values.mean(-2, keepdims=True)
        targets = targets - targets.mean(-1, keepdims=True)
    quad = np.einsum("ci,ecij,cj->ec", targets, values, targets)
    norm_k = np.sqrt(np.einsum("ecij,ecij->ec", values, values))
    norm_y = np.einsum("ci,ci->c", targets, targets)
    score = quad / (norm_k * norm_y[None, :])
    name = "centred kernel-target alignment" if centered else "kernel-target alignment"
    return xr.Dataset(
        {
            "alignment": (("epoch", "logit"), score, variable_attrs(name)),
            "mean_alignment": (
                "epoch",
                score.mean(-1),
                variable_attrs(f"{name}, mean over logits"),
            ),
        },
        coords={"epoch": ntk.epoch.values, "logit": logits},
        attrs={"centered": int(centered)},
    )


def distance_to_reference(ntk: xr.DataArray, reference: xr.DataArray) -> xr.Dataset:
    """S between every snapshot of a run and a reference kernel ``reference`` (probe_i,
    probe_j), the same for every logit (the infinite-width NTK, :mod:`ntk_evolution.kernels.infinite`),
    over all logits: ``distance_to_infinite`` raw and ``centered_distance_to_infinite`` between
    the double-centred kernels (epoch)."""
    reference = reference.broadcast_like(ntk.isel(epoch=0, drop=True))
    raw = kernel_distance(ntk, reference)
    centered = kernel_distance(double_center(ntk), double_center(reference))
    return xr.Dataset(
        {
            "distance_to_infinite": (
                "epoch",
                raw.values,
                variable_attrs("kernel distance to the infinite-width NTK"),
            ),
            "centered_distance_to_infinite": (
                "epoch",
                centered.values,
                variable_attrs("distance to the infinite-width NTK, double-centred"),
            ),
        },
        coords={"epoch": ntk.epoch.values},
    )


def double_center(k: xr.DataArray) -> xr.DataArray:
    """H K H with H = I - 11^T / n, per logit: the kernel of the features minus their mean over
    the probes, K_ij - mean_i' K_i'j - mean_j' K_ij' + mean K."""
    k = k - k.mean("probe_i")
    return k - k.mean("probe_j")


def pair_distances(kernels: Mapping[Run, xr.DataArray], pairs: Sequence[RunPair]) -> xr.Dataset:
    """Distance between the kernels of two runs at each shared epoch, for every pair.

    Returns ``distance`` (pair, epoch), Fort et al.'s S between the raw kernels, and
    ``centered_distance`` (pair, epoch), S between the double-centred kernels H K_c H of every
    logit c. The centred distance is the fairer one for "how different are two kernels": the NTK
    of a network on non-negative inputs has a large constant part (every probe's gradient shares
    a common direction: the mean feature), which makes any two kernels look alike (cosines above
    0.9) and drowns the part that tells probes apart. Centring removes exactly that constant part:
    adding c 11^T to K leaves H K H unchanged. The pairs' ``kind``, ``comparison``, ``seeds``
    ("same" or "across"), ``run_a`` and ``run_b`` are coordinates on ``pair``; the runs must share
    their checkpoint epochs.
    """
    raw, centered = [], []
    for pair in pairs:
        ka, kb = xr.align(kernels[pair.a], kernels[pair.b], join="exact")
        ka, kb = ka.astype(np.float64), kb.astype(np.float64)
        raw.append(kernel_distance(ka, kb).values)
        centered.append(kernel_distance(double_center(ka), double_center(kb)).values)
    epochs = next(iter(kernels.values())).epoch.values
    shape = (len(pairs), len(epochs))
    return xr.Dataset(
        {
            "distance": (
                ("pair", "epoch"),
                np.array(raw).reshape(shape),
                variable_attrs("kernel distance between two runs at the same epoch"),
            ),
            "centered_distance": (
                ("pair", "epoch"),
                np.array(centered).reshape(shape),
                variable_attrs("distance between the double-centred kernels of two runs"),
            ),
        },
        coords={
            "pair": [pair.name for pair in pairs],
            "kind": ("pair", [pair.kind for pair in pairs]),
            "comparison": ("pair", [pair.comparison for pair in pairs]),
            "seeds": ("pair", [pair.seeds for pair in pairs]),
            "run_a": ("pair", [pair.a.name for pair in pairs]),
            "run_b": ("pair", [pair.b.name for pair in pairs]),
            "epoch": ("epoch", epochs, variable_attrs("epoch", "epochs")),
        },
    )


def stack_runs(datasets: Sequence[xr.Dataset], runs: Sequence[Run]) -> xr.Dataset:
    """Concatenate per-run datasets along a ``run`` dim with ``regime`` and ``seed`` coordinates."""
    stacked = xr.concat(list(datasets), dim="run", coords="minimal", compat="override")
    return stacked.assign_coords(
        run=[r.name for r in runs],
        regime=("run", [r.regime for r in runs]),
        seed=("run", [r.seed for r in runs]),
    )

"""Kernels on attacked inputs: how far a PGD attack moves a checkpoint's per-logit NTK features.

At a checkpoint with parameters theta, let phi_c(x) = grad_theta f_c(x) be the tangent feature
of logit c (so that K_c(x, x') = phi_c(x) . phi_c(x')), X = (x_1..x_n) the probes with labels
y_i, and x~_i = A_theta(x_i) the adversarial copy of probe i, crafted by PGD against the
checkpoint's own network (:func:`attacked_probes`). Three kernels are computed:

- the clean kernel           K_c = K_c(X, X),     (C, n, n);
- the attacked kernel        K~_c = K_c(X~, X~),  (C, n, n), by the same tiled engine
  (:mod:`ntk_evolution.kernels.ntk`), so with the same memory bound (:func:`attacked_kernel_tiles`);
- the cross diagonal         k_ic = K_c(x_i, x~_i) = phi_c(x_i) . phi_c(x~_i),  (C, n), only
  the n pairs (probe, its own attacked copy), never an n x n matrix
  (:func:`cross_kernel_diagonal`).

Statistics (:func:`attack_statistics`), all in float64:

- kernel distance (Fort et al. 2020) between clean and attacked kernels,
  S(K, K~) = 1 - <K, K~>_F / (||K||_F ||K~||_F), over all logits at once (the per-logit kernel
  as one block-diagonal kernel, as in :mod:`ntk_evolution.kernels.statistics`) and per logit; also
  between the double-centred kernels H K_c H (H = I - 11^T / n), which ignore the large
  constant part every NTK on non-negative images shares. S compares the two Gram matrices: it
  says whether the probes' *relations* change, and is blind to a rotation of all features.
- self-similarity of probe i under logit c, the cosine between a probe's tangent feature and
  its attacked copy's:
      s_ic = k_ic / sqrt(K_c[i, i] K~_c[i, i]),
  clipped to [-1, 1] (the Cauchy-Schwarz bound, which float32 rounding may overstep by an
  ulp), NaN where a gradient is zero. It says how far the attack moves each probe's own
  feature, which S cannot see. Per class k of the probes (I_k = {i : y_i = k}):
      logit_self_similarity[c, k] = mean_{i in I_k} s_ic,
      self_similarity[k]          = mean_c logit_self_similarity[c, k]   (the headline),
      label_self_similarity[k]    = mean_{i in I_k} s_{i, y_i}            (the attacked logit),
      joint_self_similarity[k]    = mean_{i in I_k} sum_c k_ic
                                     / sqrt(sum_c K_c[i, i] sum_c K~_c[i, i]).
  The headline weighs every logit equally, as the per-logit kernels are studied one by one: a
  logit whose gradient is small counts as much as the one the attack pushes down. The joint
  cosine is that of the concatenated features (phi_1..phi_C), the inner product the overall S
  uses, dominated by the logits with the largest gradients. Means skip NaN; a class without
  probes is NaN.

Cost. The attacked kernel costs what the clean one does (same tiles, same compiled program);
the attack and the cross diagonal come on top, the attack most of it, each compiled once per
job (measured in docs/kernel-geometry.md).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr
from numpy.typing import ArrayLike

from ntk_evolution._infra.compat import nt
from ntk_evolution._infra.type_aliases import ApplyFn, Params
from ntk_evolution.attacks.evaluation import craft
from ntk_evolution.configuration.settings import Attack
from ntk_evolution.kernels.ntk import (
    FALLBACK,
    IMPLEMENTATIONS,
    TileKernel,
    assemble,
    per_logit_ntk_tiles,
)
from ntk_evolution.kernels.statistics import (
    KERNEL_DIMS,
    double_center,
    kernel_distance,
    variable_attrs,
)
from ntk_evolution.models.classifier import as_pytree

log = logging.getLogger(__name__)


def attacked_probes(
    apply: ApplyFn,
    params: Params,
    probes: ArrayLike,
    labels: ArrayLike,
    attack: Attack,
    *,
    key: jax.Array,
    batch_size: int,
) -> np.ndarray:
    """X~ = PGD(X) against ``apply(params, .)`` (:func:`ntk_evolution.attacks.evaluation.craft`):
    float32 in [0, 1], inside the attack's ball around each probe, the shape of ``probes``."""
    adversarial = craft(
        apply, params, probes, labels, attacks={"attack": attack}, key=key, batch_size=batch_size
    )
    return adversarial["attack"]


def attacked_kernel_tiles(
    kernel: TileKernel, params: Params, attacked: ArrayLike, apply: ApplyFn | None = None
) -> Iterator[tuple[slice, slice, np.ndarray]]:
    """The upper-triangle tiles ``(rows, cols, block)`` of K~_c = K_c(X~, X~), each block
    (C, rows, cols), by :func:`ntk_evolution.kernels.ntk.per_logit_ntk_tiles`: the clean kernel's
    compiled tile kernel and memory bound, on the attacked probes, of the network ``apply``
    (by default the one the kernel was compiled for)."""
    return per_logit_ntk_tiles(kernel, params, jnp.asarray(attacked, jnp.float32), apply)


def attacked_kernel(
    kernel: TileKernel, params: Params, attacked: ArrayLike, apply: ApplyFn | None = None
) -> np.ndarray:
    """The whole attacked kernel K~ (C, n, n) from :func:`attacked_kernel_tiles`."""
    return assemble(attacked_kernel_tiles(kernel, params, attacked, apply), len(attacked))


@functools.cache
def _cross_fn(implementation: str) -> Callable[..., jax.Array]:
    """Jitted ``(model, params, x1, x2) -> k`` with k[c, i] = K_c(x1_i, x2_i), (C, batch).

    The network ``model`` is a pytree argument (:func:`ntk_evolution.models.classifier.as_pytree`),
    so one compiled program serves every checkpoint and every batch of one shape.
    """

    def cross(model, params, x1, x2):
        kernel = nt.empirical_ntk_fn(
            model,
            trace_axes=(),
            diagonal_axes=(0, -1),  # only the pairs (x1_i, x2_i), every logit with itself
            vmap_axes=0,
            implementation=IMPLEMENTATIONS[implementation],
        )
        with jax.default_matmul_precision("highest"):
            return kernel(x1, x2, params).T

    return jax.jit(cross)


def _padded_batches(
    x: np.ndarray, x_tilde: np.ndarray, batch_size: int
) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """``(size, x, x_tilde)`` per batch: ``size`` real pairs, both padded with blank images to
    ``min(batch_size, n)`` so that one compiled program serves every batch."""
    n = len(x)
    full = min(batch_size, n)
    for start in range(0, n, full):
        size = min(full, n - start)
        pad = ((0, full - size),) + ((0, 0),) * (x.ndim - 1)
        yield size, np.pad(x[start : start + size], pad), np.pad(x_tilde[start : start + size], pad)


def _working_implementation(implementation: str, *args: object) -> str:
    """``implementation``, or :data:`ntk_evolution.kernels.ntk.FALLBACK` (with a warning) where
    STRUCTURED_DERIVATIVES fails to trace the network, as in ``compile_tile_kernel``."""
    try:
        jax.eval_shape(_cross_fn(implementation), *args)
    except Exception as err:
        if implementation != "structured_derivatives":
            raise
        log.warning(
            "STRUCTURED_DERIVATIVES cannot compute the cross kernel of this network (%s); "
            "falling back to %s.",
            type(err).__name__,
            FALLBACK.upper(),
        )
        return FALLBACK
    return implementation


def cross_kernel_diagonal(
    apply: ApplyFn,
    params: Params,
    x: ArrayLike,
    x_tilde: ArrayLike,
    *,
    batch_size: int,
    implementation: str = "structured_derivatives",
) -> np.ndarray:
    """k[c, i] = K_c(x_i, x~_i) = phi_c(x_i) . phi_c(x~_i) for every logit and pair, (C, n).

    neural-tangents computes the batch-diagonal kernel (``diagonal_axes=(0, -1)``) of
    ``batch_size`` pairs at a time, so no n x n matrix is formed. STRUCTURED_DERIVATIVES is the
    cheapest correct form: it never materialises a P-dimensional gradient; for a dense layer
    the pair's term is (a(x_i) . a(x~_i)) (delta_c(x_i) . delta_c(x~_i)), from activations and
    back-propagated signals, and is faster than a vmapped vjp + jvp per logit or per-example
    Jacobians (docs/kernel-geometry.md has the measurements). It is also the engine of
    the clean kernel, so both agree to float32 rounding.
    """
    x, x_tilde = np.asarray(x, np.float32), np.asarray(x_tilde, np.float32)
    if x.shape != x_tilde.shape or len(x) == 0:
        raise ValueError(f"need non-empty pairs of one shape, not {x.shape} and {x_tilde.shape}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, not {batch_size}")
    model = as_pytree(apply)
    parts, fn = [], None
    for size, x1, x2 in _padded_batches(x, x_tilde, batch_size):
        if fn is None:
            fn = _cross_fn(_working_implementation(implementation, model, params, x1, x2))
        parts.append(np.asarray(fn(model, params, x1, x2))[:, :size])
    return np.concatenate(parts, axis=1)


@dataclass(frozen=True)
class AttackedKernels:
    """The kernels of one checkpoint on its probes and on their attacked copies."""

    attacked_probes: np.ndarray  # X~, the shape of the probes
    clean: np.ndarray  # K_c(X, X), (C, n, n)
    attacked: np.ndarray  # K_c(X~, X~), (C, n, n)
    cross: np.ndarray  # K_c(x_i, x~_i), (C, n)


def attacked_kernels(
    kernel: TileKernel,
    apply: ApplyFn,
    params: Params,
    probe_set: tuple[ArrayLike, ArrayLike],
    attack: Attack,
    *,
    key: jax.Array,
    batch_size: int,
    clean: np.ndarray | None = None,
) -> AttackedKernels:
    """Attack the probes against the checkpoint and compute its three kernels.

    ``kernel`` is the tile kernel of ``apply``'s network (:func:`ntk_evolution.kernels.ntk.compile_tile_kernel`),
    compiled once per job; the cross diagonal uses its implementation (after any fallback).
    ``probe_set`` is the probes and their labels; ``clean`` the stored clean kernel, computed
    here when not given.
    """
    probes, labels = probe_set
    probes = np.asarray(probes, np.float32)
    attacked = attacked_probes(
        apply, params, probes, labels, attack, key=key, batch_size=batch_size
    )
    if clean is None:
        tiled = per_logit_ntk_tiles(kernel, params, jnp.asarray(probes), apply)
        clean = assemble(tiled, len(probes))
    cross = cross_kernel_diagonal(
        apply, params, probes, attacked, batch_size=batch_size, implementation=kernel.implementation
    )
    return AttackedKernels(attacked, clean, attacked_kernel(kernel, params, attacked, apply), cross)


def _cosine(cross: np.ndarray, clean_diag: np.ndarray, attacked_diag: np.ndarray) -> np.ndarray:
    """cross / sqrt(clean_diag attacked_diag), clipped to [-1, 1]; NaN where the root is 0."""
    root = np.sqrt(np.clip(clean_diag, 0.0, None) * np.clip(attacked_diag, 0.0, None))
    cosine = np.divide(cross, root, out=np.full_like(root, np.nan), where=root > 0)
    return np.clip(cosine, -1.0, 1.0)


def self_similarity(clean: ArrayLike, attacked: ArrayLike, cross: ArrayLike) -> np.ndarray:
    """s[c, i] = k_ic / sqrt(K_c[i, i] K~_c[i, i]) in [-1, 1] (NaN for a zero gradient), (C, n)."""
    clean, attacked = np.asarray(clean, np.float64), np.asarray(attacked, np.float64)
    diag = functools.partial(np.diagonal, axis1=1, axis2=2)
    return _cosine(np.asarray(cross, np.float64), diag(clean), diag(attacked))


def class_means(values: np.ndarray, labels: np.ndarray, num_classes: int) -> np.ndarray:
    """mean_{i : y_i = k} values[..., i] for every class k, NaN entries skipped, (..., K);
    NaN where a class has no finite entry."""
    one_hot = (np.asarray(labels)[:, None] == np.arange(num_classes)).astype(np.float64)
    finite = np.isfinite(values)
    sums = np.where(finite, values, 0.0) @ one_hot
    counts = finite.astype(np.float64) @ one_hot
    return np.divide(sums, counts, out=np.full_like(sums, np.nan), where=counts > 0)


def _nan_mean(values: np.ndarray, axis: int) -> np.ndarray:
    """The mean of the finite entries along ``axis``; NaN where there is none."""
    finite = np.isfinite(values)
    sums, counts = np.where(finite, values, 0.0).sum(axis), finite.sum(axis)
    return np.divide(sums, counts, out=np.full(sums.shape, np.nan), where=counts > 0)


def _distances(clean: np.ndarray, attacked: np.ndarray) -> dict[str, tuple]:
    """S(K, K~) over all logits and per logit, of the raw and the double-centred kernels."""
    k, k_tilde = (xr.DataArray(a, dims=KERNEL_DIMS) for a in (clean, attacked))
    pairs = {"": (k, k_tilde), "centered_": (double_center(k), double_center(k_tilde))}
    out = {}
    for prefix, (a, b) in pairs.items():
        name = "distance of the double-centred kernels" if prefix else "kernel distance"
        out[f"{prefix}distance"] = (
            (),
            kernel_distance(a, b).values,
            variable_attrs(f"{name}, all logits"),
        )
        out[f"{prefix}logit_distance"] = (
            ("logit",),
            kernel_distance(a, b, dims=KERNEL_DIMS[1:]).values,
            variable_attrs(f"{name} per logit"),
        )
    return out


def _similarities(
    clean: np.ndarray, attacked: np.ndarray, cross: np.ndarray, labels: np.ndarray, classes: int
) -> dict[str, tuple]:
    """The self-similarities of the module docstring, per probe and per class."""
    s = self_similarity(clean, attacked, cross)  # (C, n)
    per_logit = class_means(s, labels, classes)  # (C, K)
    own = s[labels, np.arange(len(labels))]  # s_{i, y_i}
    diag = functools.partial(np.diagonal, axis1=1, axis2=2)
    joint = _cosine(cross.sum(0), diag(clean).sum(0), diag(attacked).sum(0))
    of_class = "mean over the class's probes"
    return {
        "self_similarity": (
            ("class",),
            _nan_mean(per_logit, axis=0),
            variable_attrs(f"feature self-similarity s_ic, {of_class} and over the logits"),
        ),
        "logit_self_similarity": (
            ("logit", "class"),
            per_logit,
            variable_attrs(f"feature self-similarity s_ic, {of_class}"),
        ),
        "label_self_similarity": (
            ("class",),
            class_means(own, labels, classes),
            variable_attrs(f"self-similarity of the label's logit s_(i,y_i), {of_class}"),
        ),
        "joint_self_similarity": (
            ("class",),
            class_means(joint, labels, classes),
            variable_attrs(f"cosine of the concatenated features of x_i and x~_i, {of_class}"),
        ),
        "probe_self_similarity": (
            ("logit", "probe"),
            s,
            variable_attrs("s_ic = k_c(x_i, x~_i) / sqrt(k_c(x_i, x_i) k_c(x~_i, x~_i))"),
        ),
    }


def attack_statistics(
    clean: ArrayLike,
    attacked: ArrayLike,
    cross: ArrayLike,
    labels: ArrayLike,
    num_classes: int,
) -> xr.Dataset:
    """How far the attack moves the kernel and the features (see the module docstring).

    Args:
        clean: K_c(X, X), (C, n, n).
        attacked: K_c(X~, X~), (C, n, n).
        cross: K_c(x_i, x~_i), (C, n).
        labels: the probes' classes y_i, integers in 0..C-1, (n,).
        num_classes: the classes averaged over, C (classes without probes give NaN).

    Returns:
        ``distance`` and ``centered_distance`` (scalars), ``logit_distance`` and
        ``centered_logit_distance`` (logit); ``self_similarity``, ``label_self_similarity`` and
        ``joint_self_similarity`` (class), ``logit_self_similarity`` (logit, class), and the
        cosines ``probe_self_similarity`` (logit, probe) with the probes' ``label``.
    """
    clean, attacked = np.asarray(clean, np.float64), np.asarray(attacked, np.float64)
    cross, labels = np.asarray(cross, np.float64), np.asarray(labels)
    num_logits, n = cross.shape
    if clean.shape != (num_logits, n, n) or attacked.shape != clean.shape or labels.shape != (n,):
        raise ValueError(
            f"shapes do not match: clean {clean.shape}, attacked {attacked.shape}, "
            f"cross {cross.shape}, labels {labels.shape}"
        )
    if num_classes != num_logits or not np.all((labels >= 0) & (labels < num_classes)):
        raise ValueError(
            f"need {num_logits} classes, one per logit, and labels in 0..{num_classes - 1}"
        )
    return xr.Dataset(
        {
            **_distances(clean, attacked),
            **_similarities(clean, attacked, cross, labels, num_classes),
        },
        coords={
            "logit": np.arange(num_logits),
            "class": np.arange(num_classes),
            "probe": np.arange(n),
            "label": ("probe", labels),
        },
    )

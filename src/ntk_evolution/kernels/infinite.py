"""The infinite-width reference: the NTK that the pipeline's epoch-0 kernel converges to.

Notation: ReLU phi, hidden layers l = 1..L of width n_l (n_0 = d, the input size), weight and bias
scales s_w (sqrt 2 in hidden layers, s_r = 1 in the readout) and s_b (= 0; see
:mod:`ntk_evolution.models.stax_models`), and (u, v) a centred Gaussian pair with the covariance of
Sigma^l at (x, x), (x, x'), (x', x'). For every parameterization the pre-activations' covariance
(the NNGP kernel) follows

    Sigma^1(x, x') = s_w^2 x.x' / d + s_b^2,    Sigma^{l+1} = s_w^2 E[phi(u) phi(v)] + s_b^2.

NTK parameterization (z^{l+1} = s_w / sqrt(n_l) W phi(z^l) + s_b b, W and b standard normal):

    Theta^1 = Sigma^1,    Theta^{l+1} = Sigma^{l+1} + s_w^2 E[phi'(u) phi'(v)] Theta^l,

independent of the widths. Standard parameterization (z^{l+1} = W phi(z^l) + b with
W ~ N(0, s_w^2 / n_l), b ~ N(0, s_b^2), both trained): the weight gradient of layer l + 1 is
phi(z^l), so its term is phi(z^l).phi(z'^l) = n_l E[phi(u) phi(v)] + O(sqrt n_l), not
s_w^2 / n_l times that, and the bias adds 1 whatever s_b is:

    Theta^1 = x.x' + 1,   Theta^{l+1} = n_l E[phi(u) phi(v)] + 1 + s_w^2 E[phi'(u) phi'(v)] Theta^l.

The convolutional network is the same with sums over 3x3 patches; it has no pooling, so only the
spatial diagonal of Sigma is needed, and ``Flatten`` makes the readout's n_L = H W width.
neural-tangents' ``stax`` computes all of this (:attr:`ntk_evolution.models.stax_models.Model.kernel_fn`);
its standard-parameterization NTK uses the layers' actual widths, as above.

The reference, what the empirical kernel K_c(x, x') = grad f_c(x).grad f_c(x') of a freshly
initialised network approaches as its width n grows. The relative Frobenius error
||K_emp - K_ref|| / ||K_ref|| (all logits) falls like 1/sqrt(n): for the depth-2 MLP on 8 random
8x8 images, root mean square over 8 seeds, it is 0.16-0.21 at n = 256, 0.09 at 1024 and
0.04-0.05 at 4096 (about 3 / sqrt(n)) in all four cases below.

- random readout: Theta^{L+1} (``stax``'s ``ntk``);
- zero readout (``zero_readout: true``): the readout weights that multiply every hidden gradient
  are 0, so only the readout's own parameters have a gradient, and K_c = s_r^2 / n_L
  phi(z^L).phi(z'^L) + s_b^2 -> Sigma^{L+1} (NTK parameterization: the logits' NNGP kernel) or
  K_c = phi(z^L).phi(z'^L) + 1 -> n_L E[phi(u) phi(v)] + 1 (standard). It is computed as the
  readout layer's ``stax`` kernel applied to the features' kernel with the features' NTK set to 0.
  ``stax``'s full ``ntk`` would be wrong here: it adds s_r^2 E[phi' phi'] Theta^L, the hidden
  layers' share, which a zero readout switches off at epoch 0.
- standard parameterization: the kernel of the configured widths, n A + B with A and B
  independent of the width (B: the input layer's and the biases' terms). Strictly, the standard
  NTK has no limit (it grows with n); the reference is the mean over initialisations, to leading
  order in 1/n, of the kernel of a network of *this* width, so K_emp / K_ref -> 1 and distances
  such as ||K_emp - K_ref|| / ||K_ref|| read the same in both parameterizations. Kernel machines
  (:mod:`ntk_evolution.kernels.machines`, ridge relative to tr(K) / n) do not depend on the kernel's
  scale, so the reference's machine tends to that of A as n grows.

One kernel for every logit. The readout's rows v_c are independent, identically distributed and
independent of the hidden layers. The hidden layers' share of the block NTK K_cc' is a sum over
the n_L last hidden units j of v_cj v_c'j times a term common to both logits, which the law of
large numbers sends to delta_cc' times its mean; the readout's own share is delta_cc' times the
same term for every c. So the C x C block NTK tends to K_ref times the identity over logits and
every per-logit kernel to the same K_ref (:func:`analytic_ntk` returns it once, (n1, n2);
:func:`per_logit_kernel` broadcasts it to (C, n1, n2)). With a zero readout this holds exactly at
every width: K_cc' = delta_cc' times the readout's share.

The kernel is computed in float64 (:func:`analytic_ntk`): ``stax``'s ReLU kernels in float32
are off by about 3e-5 relative (arc-cosines of correlations near 1).

Reach (:func:`ntk_evolution.configuration.infinite_reach.reference_reason`), measured on 2 CPU cores (float32, per pair of images; the
width does not matter):

- mlp: about 0.05 ms per pair on 32x32x3 images (mostly overhead): always within reach.
- cnn: 0.01 ms per pair on 8x8x1 and 0.1 ms on 32x32x3, since no pooling means only the spatial
  diagonal is kept: 500 probes (125,250 pairs) take about 13 s. Within reach. The infinite
  machine is dearer: a PGD step costs 6 us per (image, probe) on 8x8x1 and 78 us on 32x32x3, so
  one PGD-100 attack of 1000 test images against 500 probes takes about an hour there.
- resnet: out of reach. neural-tangents cannot compute this ResNet v1 at all: an identity
  shortcut adds a ReLU output (not Gaussian) to the Gaussian branch, and ``FanInSum`` raises
  NotImplementedError (the next ReLU would need four-dimensional Gaussian integrals). Even with
  every shortcut a 1x1 projection, which it can compute, global average pooling needs the whole
  (H W)^2 spatial covariance of every pair through every convolution: 6 ms per pair on 8x8x1,
  0.1 s on 16x16x3, 4 s on 32x32x3, i.e. about 22 hours for 200 probes and 6 days for 500, and
  2^20 entries (4 MiB in float32) per pair and layer on 32x32.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import enable_x64
from numpy.typing import ArrayLike

from ntk_evolution._infra.type_aliases import ApplyFn
from ntk_evolution.kernels.machines import dual_coefficients, targets
from ntk_evolution.kernels.ntk import tiles
from ntk_evolution.models.stax_models import Model

KernelFn = Callable[[jax.Array, jax.Array], jax.Array]


def _readout_only(model: Model, x1: jax.Array, x2: jax.Array) -> jax.Array:
    """The readout's own term: its ``stax`` kernel on the features' kernel with NTK set to 0."""
    features = model.features_kernel_fn(x1, x2, get=None)
    return model.readout_kernel_fn(features.replace(ntk=jnp.zeros_like(features.ntk))).ntk


def _reference(model: Model, x1: jax.Array, x2: jax.Array) -> jax.Array:
    if model.zero_readout:
        return _readout_only(model, x1, x2)
    return model.kernel_fn(x1, x2, get="ntk")


@functools.cache
def reference_kernel_fn(model: Model) -> KernelFn:
    """``kernel(x1, x2) -> K_ref(x1, x2)``, (n1, n2), in JAX: traceable, differentiable in the
    images, in the images' precision. One function object per model."""
    if model.kernel_fn is None or model.features_kernel_fn is None:
        raise ValueError("the model has no stax kernel functions; build it with build_model")
    return functools.partial(_reference, model)


@functools.cache
def _compiled(model: Model) -> KernelFn:
    return jax.jit(reference_kernel_fn(model))


def _pad(x: np.ndarray, size: int) -> np.ndarray:
    """``x`` with copies of its first image appended up to a multiple of ``size`` rows."""
    return np.concatenate([x, np.repeat(x[:1], -len(x) % size, axis=0)])


def analytic_ntk(
    model: Model, x1: ArrayLike, x2: ArrayLike | None = None, *, batch_size: int = 100
) -> np.ndarray:
    """K_ref(x1, x2), (n1, n2) in float64: the infinite-width NTK of every logit of ``model``
    (see the module docstring), for its parameterization and readout.

    Computed in blocks of ``batch_size`` x ``batch_size`` image pairs (ragged blocks padded, one
    compiled program for all), so memory is bounded by one block; with ``x2`` None, the
    symmetric K_ref(x1, x1) from its upper-triangle blocks. Raises NotImplementedError (from
    neural-tangents) for the ResNet; see :func:`reference_reason`.
    """
    symmetric = x2 is None
    a = np.asarray(x1, np.float64)
    b = a if symmetric else np.asarray(x2, np.float64)
    size1, size2 = min(batch_size, len(a)), min(batch_size, len(b))
    a_pad, b_pad, kernel = _pad(a, size1), _pad(b, size2), _compiled(model)
    out = np.empty((len(a), len(b)), np.float64)
    with enable_x64():
        for rows in tiles(len(a), size1):
            for cols in tiles(len(b), size2):
                if symmetric and cols.start < rows.start:
                    continue
                x = a_pad[rows.start : rows.start + size1]
                block = np.asarray(kernel(x, b_pad[cols.start : cols.start + size2]))
                out[rows, cols] = block[: rows.stop - rows.start, : cols.stop - cols.start]
                if symmetric:
                    out[cols, rows] = out[rows, cols].T
    return out


def per_logit_kernel(kernel: np.ndarray, num_classes: int) -> np.ndarray:
    """K_c = K_ref for every logit c: a read-only (C, n1, n2) view of ``kernel``, the form of
    :func:`ntk_evolution.kernels.ntk.per_logit_ntk` and :mod:`ntk_evolution.kernels.machines`."""
    return np.broadcast_to(kernel, (num_classes, *kernel.shape))


def infinite_coefficients(
    kernel: np.ndarray, labels: ArrayLike, num_classes: int, *, ridge: float, centered: bool
) -> np.ndarray:
    """alpha_c = (K_ref + lambda I)^-1 y_c, (C, n) in float64, for the probe kernel ``kernel``
    (n, n) and the probes' labels, as :func:`ntk_evolution.kernels.machines.dual_coefficients`."""
    y = targets(np.asarray(labels), num_classes, centered=centered)
    return dual_coefficients(per_logit_kernel(kernel, num_classes), y, ridge)


def _machine(kernel: KernelFn, probes: jax.Array, alpha: jax.Array, images: jax.Array) -> jax.Array:
    """f(x) = K_ref(x, X) alpha^T: logits (batch, C)."""
    return kernel(images, probes.astype(images.dtype)) @ alpha.T.astype(images.dtype)


@functools.cache
def _machine_of(model: Model) -> functools.partial:
    """One function object per model, so machines of one model share a treedef and a program."""
    return functools.partial(_machine, reference_kernel_fn(model))


def infinite_machine(model: Model, probes: ArrayLike) -> ApplyFn:
    """The kernel machine of K_ref on the probes X as ``apply(alpha, images) -> logits``,

        f_c(x) = K_ref(x, X) alpha_c,   alpha (C, n) from :func:`infinite_coefficients`,

    differentiable in the images, so :func:`ntk_evolution.attacks.evaluation.craft` can attack it and
    :func:`ntk_evolution.attacks.evaluation.evaluate` judge it. A ``jax.tree_util.Partial`` holding the
    probes (float32) as a leaf: one compiled program serves every probe set of the same size.
    A batch of m images costs an m x n kernel (see :func:`reference_reason` for the figures).
    """
    return jax.tree_util.Partial(_machine_of(model), jnp.asarray(probes, jnp.float32))

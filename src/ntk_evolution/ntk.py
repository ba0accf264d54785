"""Empirical per-logit neural tangent kernels with neural-tangents, computed tile by tile.

For a network f with parameters theta and logits c = 1..C, the per-logit kernel is

    K[c, i, j] = grad_theta f_c(x_i) . grad_theta f_c(x_j),

the NTK of one logit with itself (the diagonal of the full C x C block NTK). The probe set is cut
into tiles of ``tile_size`` probes; only tiles (a, b) with a <= b are computed, all logits in one
pass, and the lower triangle is filled by symmetry, K[c, j, i] = K[c, i, j]. Tiles are padded to
full size so that one compiled kernel function serves every tile.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ntk_evolution.compat import nt

Params = Any
IMPLEMENTATIONS = {
    "jacobian_contraction": nt.NtkImplementation.JACOBIAN_CONTRACTION,
    "ntk_vector_products": nt.NtkImplementation.NTK_VECTOR_PRODUCTS,
    "structured_derivatives": nt.NtkImplementation.STRUCTURED_DERIVATIVES,
}


def per_logit_ntk_fn(
    apply: Callable[[Params, jax.Array], jax.Array], implementation: str
) -> Callable[[jax.Array, jax.Array, Params], jax.Array]:
    """Jitted ``(x1, x2, params) -> K`` with ``K`` of shape (C, len(x1), len(x2))."""
    if implementation not in IMPLEMENTATIONS:
        raise ValueError(
            f"unknown NTK implementation {implementation!r}; available: {sorted(IMPLEMENTATIONS)}"
        )
    kernel = nt.empirical_ntk_fn(
        apply,
        trace_axes=(),
        diagonal_axes=(-1,),
        vmap_axes=0,
        implementation=IMPLEMENTATIONS[implementation],
    )
    return jax.jit(lambda x1, x2, params: jnp.moveaxis(kernel(x1, x2, params), -1, 0))


def tiles(n: int, tile_size: int) -> list[slice]:
    """Consecutive slices of at most ``tile_size`` covering ``range(n)``."""
    return [slice(start, min(start + tile_size, n)) for start in range(0, n, tile_size)]


def per_logit_ntk_tiles(
    apply: Callable[[Params, jax.Array], jax.Array],
    params: Params,
    images: jax.Array,
    *,
    implementation: str,
    tile_size: int,
) -> Iterator[tuple[slice, slice, np.ndarray]]:
    """Yield ``(rows, cols, block)`` for every upper-triangle tile, ``block`` of shape (C, rows, cols).

    Memory stays bounded by one tile pair: (C, tile_size, tile_size) floats plus the Jacobians
    of 2 x tile_size inputs.
    """
    kernel = per_logit_ntk_fn(apply, implementation)
    n = len(images)
    padded = -(-n // tile_size) * tile_size
    images = jnp.concatenate([images, jnp.zeros((padded - n, *images.shape[1:]), images.dtype)])
    spans = tiles(n, tile_size)
    for a, rows in enumerate(spans):
        x1 = images[rows.start : rows.start + tile_size]
        for cols in spans[a:]:
            x2 = images[cols.start : cols.start + tile_size]
            block = np.asarray(kernel(x1, x2, params))
            yield rows, cols, block[:, : rows.stop - rows.start, : cols.stop - cols.start]


def per_logit_ntk(
    apply: Callable[[Params, jax.Array], jax.Array],
    params: Params,
    images: jax.Array,
    *,
    implementation: str = "structured_derivatives",
    tile_size: int | None = None,
) -> np.ndarray:
    """The whole per-logit kernel (C, N, N) in memory; see :func:`per_logit_ntk_tiles`."""
    out = None
    for rows, cols, block in per_logit_ntk_tiles(
        apply, params, images, implementation=implementation, tile_size=tile_size or len(images)
    ):
        if out is None:
            out = np.empty((block.shape[0], len(images), len(images)), block.dtype)
        out[:, rows, cols] = block
        out[:, cols, rows] = np.swapaxes(block, 1, 2)
    return out

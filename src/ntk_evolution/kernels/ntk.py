"""Empirical per-logit neural tangent kernels with neural-tangents, computed tile by tile.

For a network f with parameters theta and logits c = 1..C, the per-logit kernel is

    K[c, i, j] = grad_theta f_c(x_i) . grad_theta f_c(x_j),

the NTK of one logit with itself (the diagonal of the full C x C block NTK). The probe set is cut
into tiles of ``tile_size`` probes; only tiles (a, b) with a <= b are computed, all logits in one
pass, and the lower triangle is filled by symmetry, K[c, j, i] = K[c, i, j]. Tiles are padded to
full size so that one compiled kernel function serves every tile.

STRUCTURED_DERIVATIVES (Novak et al., 2022) is the default implementation. It relies on a rule
per JAX primitive; a network it cannot differentiate (for example one containing a linear solve)
falls back to JACOBIAN_CONTRACTION with a logged warning, and the implementation actually used is
reported (:attr:`TileKernel.implementation`) and recorded in every kernel store.

The network is an argument of the compiled program, as a pytree
(:func:`ntk_evolution.models.classifier.as_pytree`): the evaluation-mode function of a network with state
(:meth:`ntk_evolution.models.networks.Network.evaluation`) holds its state as leaves, so one program
serves every checkpoint, parameters and state alike.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from ntk_evolution._infra.compat import nt
from ntk_evolution._infra.type_aliases import ApplyFn, Params
from ntk_evolution.models.classifier import as_pytree

log = logging.getLogger(__name__)
IMPLEMENTATIONS = {
    "jacobian_contraction": nt.NtkImplementation.JACOBIAN_CONTRACTION,
    "ntk_vector_products": nt.NtkImplementation.NTK_VECTOR_PRODUCTS,
    "structured_derivatives": nt.NtkImplementation.STRUCTURED_DERIVATIVES,
}
FALLBACK = "jacobian_contraction"  # works for any differentiable network


def _check(implementation: str) -> None:
    if implementation not in IMPLEMENTATIONS:
        raise ValueError(
            f"unknown NTK implementation {implementation!r}; available: {sorted(IMPLEMENTATIONS)}"
        )


def _per_logit(
    implementation: str, model: ApplyFn, x1: jax.Array, x2: jax.Array, params: Params
) -> jax.Array:
    """K of the network ``model`` (a pytree), at full float32 precision: matrix products would
    otherwise use TF32 on GPUs, and kernels from a GPU and a CPU then differ by more than
    float32 rounding."""
    kernel = nt.empirical_ntk_fn(
        model,
        trace_axes=(),
        diagonal_axes=(-1,),
        vmap_axes=0,
        implementation=IMPLEMENTATIONS[implementation],
    )
    with jax.default_matmul_precision("highest"):
        return jnp.moveaxis(kernel(x1, x2, params), -1, 0)


@functools.cache
def _per_logit_program(implementation: str) -> Callable[..., jax.Array]:
    """Jitted ``(model, x1, x2, params) -> K``, the network ``model`` a pytree argument."""
    _check(implementation)
    return jax.jit(functools.partial(_per_logit, implementation))


def per_logit_ntk_fn(
    apply: ApplyFn, implementation: str
) -> Callable[[jax.Array, jax.Array, Params], jax.Array]:
    """Jitted ``(x1, x2, params) -> K`` of the network ``apply``, with ``K`` of shape
    (C, len(x1), len(x2)), at full float32 precision."""
    _check(implementation)
    return jax.jit(functools.partial(_per_logit, implementation, as_pytree(apply)))


@dataclass(frozen=True)
class TileKernel:
    """The per-logit NTK of two tiles of ``size`` probes, compiled once for every tile pair,
    and the network (a pytree) it was compiled for."""

    compiled: Callable[[ApplyFn, jax.Array, jax.Array, Params], jax.Array]
    implementation: str  # the implementation in use, after any fallback
    size: int
    apply: ApplyFn

    def __call__(
        self, x1: jax.Array, x2: jax.Array, params: Params, apply: ApplyFn | None = None
    ) -> np.ndarray:
        """The kernel of ``x1`` and ``x2`` at ``params``, of ``apply`` (a function of the same
        structure as the compiled one, such as another checkpoint's evaluation-mode function)
        or by default of the network it was compiled for."""
        model = self.apply if apply is None else as_pytree(apply)
        return np.asarray(self.compiled(model, x1, x2, params))


def compile_tile_kernel(
    apply: ApplyFn,
    params: Params,
    image_shape: tuple[int, ...],
    *,
    implementation: str,
    tile_size: int,
) -> TileKernel:
    """Compile the tile-pair kernel, falling back from STRUCTURED_DERIVATIVES if it fails.

    STRUCTURED_DERIVATIVES fails while tracing when it meets a primitive whose rule it lacks or
    mishandles; the exception type depends on the primitive, so any exception at that point
    triggers the fallback. Other implementations' errors are raised as they are. ``params`` and
    the leaves of ``apply`` (a network's state) may be arrays or ``jax.ShapeDtypeStruct``.
    """
    tile = jax.ShapeDtypeStruct((tile_size, *image_shape), jnp.float32)
    model = as_pytree(apply)

    def compile_with(name: str) -> TileKernel:
        compiled = _per_logit_program(name).lower(model, tile, tile, params).compile()
        return TileKernel(compiled, name, tile_size, model)

    try:
        return compile_with(implementation)
    except Exception as err:
        if implementation != "structured_derivatives":
            raise
        log.warning(
            "STRUCTURED_DERIVATIVES cannot compute the NTK of this network (%s: %s); falling "
            "back to %s, which gives the same kernel but needs more time and memory. Set "
            "ntk.implementation to %s to choose it explicitly.",
            type(err).__name__,
            str(err).splitlines()[0] if str(err) else "",
            FALLBACK.upper(),
            FALLBACK,
        )
        return compile_with(FALLBACK)


def tiles(n: int, tile_size: int) -> list[slice]:
    """Consecutive slices of at most ``tile_size`` covering ``range(n)``."""
    return [slice(start, min(start + tile_size, n)) for start in range(0, n, tile_size)]


def per_logit_ntk_tiles(
    kernel: TileKernel, params: Params, images: jax.Array, apply: ApplyFn | None = None
) -> Iterator[tuple[slice, slice, np.ndarray]]:
    """Yield ``(rows, cols, block)`` for every upper-triangle tile, ``block`` of shape (C, rows, cols).

    ``apply`` is the network at this checkpoint (:meth:`TileKernel.__call__`; by default the
    one the kernel was compiled for). Memory stays bounded by one tile pair: (C, tile_size,
    tile_size) floats plus what the implementation needs for 2 x tile_size inputs, whatever the
    number of probes.
    """
    size, n = kernel.size, len(images)
    padded = -(-n // size) * size
    images = jnp.concatenate([images, jnp.zeros((padded - n, *images.shape[1:]), images.dtype)])
    spans = tiles(n, size)
    for a, rows in enumerate(spans):
        x1 = images[rows.start : rows.start + size]
        for cols in spans[a:]:
            block = kernel(x1, images[cols.start : cols.start + size], params, apply)
            yield rows, cols, block[:, : rows.stop - rows.start, : cols.stop - cols.start]


def per_logit_ntk(
    apply: ApplyFn,
    params: Params,
    images: jax.Array,
    *,
    implementation: str = "structured_derivatives",
    tile_size: int | None = None,
) -> np.ndarray:
    """The whole per-logit kernel (C, N, N) in memory; see :func:`per_logit_ntk_tiles`."""
    kernel = compile_tile_kernel(
        apply,
        params,
        images.shape[1:],
        implementation=implementation,
        tile_size=tile_size or len(images),
    )
    return assemble(per_logit_ntk_tiles(kernel, params, jnp.asarray(images)), len(images))


def assemble(blocks: Iterable[tuple[slice, slice, np.ndarray]], n: int) -> np.ndarray:
    """The whole (C, n, n) kernel from its upper-triangle tiles, each mirrored by symmetry."""
    out = None
    for rows, cols, block in blocks:
        if out is None:
            out = np.empty((block.shape[0], n, n), block.dtype)
        out[:, rows, cols] = block
        out[:, cols, rows] = np.swapaxes(block, 1, 2)
    return out

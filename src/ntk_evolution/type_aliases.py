"""Type aliases shared by the package's modules."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # jax is not imported at run time: the data and figure jobs never need it
    import jax

Params = Any  # a pytree of parameter arrays
ApplyFn = Callable[[Params, "jax.Array"], "jax.Array"]  # apply(params, images) -> logits

"""Type aliases shared by the package's modules."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:  # jax is not imported at run time: the data and figure jobs never need it
    import jax

Params = Any  # a pytree of parameter arrays
State = Any  # a pytree of a model's state arrays (batch-norm running statistics); {} for none
ApplyFn = Callable[[Params, "jax.Array"], "jax.Array"]  # apply(params, images) -> logits


class Variables(NamedTuple):
    """A network's parameters and state, as initialised or as a checkpoint holds them."""

    params: Params
    state: State

"""The ``stax`` model zoo: MLP, CNN and a ResNet without batch-norm.

Initialisation follows He et al. for the ReLU layers (weight variance 2 / fan-in), variance
1 / fan-in for the readout and zero biases. With ``parameterization="standard"`` (the default,
as in ordinary training) the scales live in the initial weights; ``"ntk"`` moves them into the
forward pass (Jacot et al.). ``zero_readout`` zero-initialises the final layer, as in the
paper's ResNet: the network then starts as the zero function and the epoch-0 NTK is the readout
layer's alone.

``stax`` also gives every network its infinite-width kernels: :attr:`Model.kernel_fn` is the
whole network's, and :attr:`Model.features_kernel_fn` and :attr:`Model.readout_kernel_fn` split it
at the readout, ``kernel_fn = readout_kernel_fn o features_kernel_fn``, so that the readout's own
contribution can be had (see :mod:`ntk_evolution.kernels.infinite`).

A ``stax`` network has no state: :class:`Model` is a model of the interface of
:mod:`ntk_evolution.models.networks` whose state is empty and whose two modes are the same function.
The paper's ResNet-18, with batch-norm, is written in Flax (:mod:`ntk_evolution.models.flax_models`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp

from ntk_evolution._infra.compat import stax
from ntk_evolution._infra.type_aliases import Params, State

HIDDEN_W_STD = math.sqrt(2.0)
READOUT_W_STD = 1.0
B_STD = 0.0


@dataclass(frozen=True)
class Model:
    """A ``stax`` network: its initialisation, ``apply(params, images) -> logits`` and its
    ``stax`` kernel functions (whole network; every layer but the readout; the readout alone)."""

    init_fn: Callable[..., Any]
    apply_fn: Callable[..., Any]
    zero_readout: bool
    kernel_fn: Callable | None = None
    features_kernel_fn: Callable | None = None
    readout_kernel_fn: Callable | None = None

    def _init(self, key: jax.Array, image_shape: tuple[int, ...]) -> Params:
        _, params = self.init_fn(key, (-1, *image_shape))
        if self.zero_readout:
            params = [*params[:-1], jax.tree_util.tree_map(jnp.zeros_like, params[-1])]
        return params

    def init(self, key: jax.Array, image_shape: tuple[int, ...]) -> Params:
        """Random parameters for images of shape ``image_shape`` (H, W, C), in one compiled call."""
        return jax.jit(partial(self._init, image_shape=tuple(image_shape)))(key)

    def param_shapes(self, image_shape: tuple[int, ...]) -> Params:
        """The parameter tree as ``jax.ShapeDtypeStruct`` leaves, without computing anything."""
        init = partial(self._init, image_shape=tuple(image_shape))
        return jax.eval_shape(init, jax.random.PRNGKey(0))

    def apply(self, params: Params, images: jax.Array) -> jax.Array:
        """Logits of a batch of NHWC images."""
        return self.apply_fn(params, images)

    # The model interface (ntk_evolution.models.networks.StatefulModel): no state, one mode.

    def initialize(self, key: jax.Array, image_shape: tuple[int, ...]) -> tuple[Params, State]:
        """:meth:`init`'s parameters and the empty state."""
        return self.init(key, image_shape), {}

    def apply_train(
        self, params: Params, state: State, images: jax.Array
    ) -> tuple[jax.Array, State]:
        """Logits of ``images`` and the state, unchanged."""
        return self.apply_fn(params, images), state

    def apply_eval(self, params: Params, state: State, images: jax.Array) -> jax.Array:
        """Logits of ``images``."""
        return self.apply_fn(params, images)


def _dense(width: int, w_std: float, parameterization: str):
    return stax.Dense(width, W_std=w_std, b_std=B_STD, parameterization=parameterization)


def mlp(*, width: int, depth: int, num_classes: int, parameterization: str) -> list:
    """``depth`` fully connected ReLU layers of ``width`` units on the flattened image."""
    layers = [stax.Flatten()]
    for _ in range(depth):
        layers += [_dense(width, HIDDEN_W_STD, parameterization), stax.Relu()]
    return [*layers, _dense(num_classes, READOUT_W_STD, parameterization)]


def cnn(*, width: int, depth: int, num_classes: int, parameterization: str) -> list:
    """``depth`` 3x3 'same' convolutions of ``width`` channels with ReLU, flattened into a readout."""
    layers = []
    for _ in range(depth):
        conv = stax.Conv(
            width,
            (3, 3),
            padding="SAME",
            W_std=HIDDEN_W_STD,
            b_std=B_STD,
            parameterization=parameterization,
        )
        layers += [conv, stax.Relu()]
    return [*layers, stax.Flatten(), _dense(num_classes, READOUT_W_STD, parameterization)]


def _conv(channels: int, size: int, stride: int, w_std: float, parameterization: str):
    return stax.Conv(
        channels,
        (size, size),
        strides=(stride, stride),
        padding="SAME",
        W_std=w_std,
        b_std=B_STD,
        parameterization=parameterization,
    )


def _basic_block(
    channels: int, stride: int, *, project: bool, branch_w_std: float, parameterization: str
):
    """relu(branch(x) + shortcut(x)): two 3x3 convolutions beside the identity, or beside a
    strided 1x1 projection where the shape changes."""
    branch = stax.serial(
        _conv(channels, 3, stride, HIDDEN_W_STD, parameterization),
        stax.Relu(),
        _conv(channels, 3, 1, branch_w_std, parameterization),
    )
    shortcut = (
        _conv(channels, 1, stride, HIDDEN_W_STD, parameterization) if project else stax.Identity()
    )
    return stax.serial(
        stax.FanOut(2), stax.parallel(branch, shortcut), stax.FanInSum(), stax.Relu()
    )


def resnet_no_bn(*, width: int, depth: int, num_classes: int, parameterization: str) -> list:
    """The paper's ResNet v1 for 32x32 images without its batch-norm; ``depth=2`` is the
    ResNet-18 layout. The paper's network itself is :func:`ntk_evolution.models.flax_models.resnet`.

    A 3x3 stride-1 stem of ``width`` channels (no max-pool), four stages of ``depth`` basic
    blocks with ``width`` x (1, 2, 4, 8) channels and strides (1, 2, 2, 2), a projection
    shortcut where the shape changes, global average pooling and a dense readout. There is no
    batch-norm (``stax`` has none); instead the last convolution of every residual branch starts
    with weights 1 / sqrt(number of blocks) of the He scale, so the activations' scale stays
    within a small factor through the blocks at initialisation instead of doubling per block.
    """
    blocks = 4 * depth
    branch_w_std = HIDDEN_W_STD / math.sqrt(blocks)
    layers = [_conv(width, 3, 1, HIDDEN_W_STD, parameterization), stax.Relu()]
    channels_in = width
    for stage, multiple in enumerate((1, 2, 4, 8)):
        channels = width * multiple
        for block in range(depth):
            stride = 2 if stage > 0 and block == 0 else 1
            layers.append(
                _basic_block(
                    channels,
                    stride,
                    project=stride != 1 or channels != channels_in,
                    branch_w_std=branch_w_std,
                    parameterization=parameterization,
                )
            )
            channels_in = channels
    return [*layers, stax.GlobalAvgPool(), _dense(num_classes, READOUT_W_STD, parameterization)]


ARCHITECTURES: dict[str, Callable[..., list]] = {
    "mlp": mlp,
    "cnn": cnn,
    "resnet_no_bn": resnet_no_bn,
}


def build_model(
    architecture: str,
    *,
    num_classes: int,
    width: int,
    depth: int,
    parameterization: str = "standard",
    zero_readout: bool = False,
) -> Model:
    """Build a ``stax`` model (:data:`ARCHITECTURES`); every architecture of the config is
    built by :func:`ntk_evolution.models.networks.build_network`."""
    if architecture not in ARCHITECTURES:
        raise ValueError(
            f"unknown stax architecture {architecture!r}; available: {sorted(ARCHITECTURES)}"
        )
    layers = ARCHITECTURES[architecture](
        width=width, depth=depth, num_classes=num_classes, parameterization=parameterization
    )
    init_fn, apply_fn, kernel_fn = stax.serial(*layers)
    _, _, features_kernel_fn = stax.serial(*layers[:-1])
    _, _, readout_kernel_fn = layers[-1]
    return Model(init_fn, apply_fn, zero_readout, kernel_fn, features_kernel_fn, readout_kernel_fn)

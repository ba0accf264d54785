"""Models written in Flax: any ``flax.linen`` module as a model of the pipeline's interface
(:class:`FlaxModel`), and the paper's ResNet-18 with batch-norm (:func:`resnet`).

A module is called as ``module(images, train=...)``: with ``train=True`` its batch-norm layers
normalise with the batch's statistics and update their running statistics, with
``train=False`` they use the running statistics. Its variables other than ``params`` (Flax's
``batch_stats`` collection, or any other) are the model's state
(:mod:`ntk_evolution.models.networks`).

The ResNet is the authors' network (haiku's ResNet v1, as their code configures it), for
32x32 images: a 3x3 stride-1 stem convolution followed by batch-norm and ReLU, no max-pool; four
stages of ``depth`` basic blocks with ``width`` x (1, 2, 4, 8) channels and strides 1, 2, 2, 2;
a basic block is relu(bn(conv3x3(relu(bn(conv3x3(x))))) + shortcut(x)), the shortcut the identity
or, where the shape changes, a strided 1x1 convolution followed by batch-norm; global average
pooling and a dense readout, zero-initialised with ``zero_readout``. Every convolution is
followed by batch-norm (decay 0.9, epsilon 1e-5, a learned scale and offset) and has no bias.
Weights start as haiku's do: a normal distribution truncated at two standard deviations (not
rescaled after truncation), standard deviation 1 / sqrt(fan-in). ``width=64, depth=2`` is
ResNet-18: 11,173,962 parameters and 9,600 running statistics for 10 classes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from ntk_evolution._infra.type_aliases import Params, State

BN_DECAY = 0.9
BN_EPSILON = 1e-5
STAGE_MULTIPLES = (1, 2, 4, 8)


def truncated_fan_in(key: jax.Array, shape: tuple[int, ...], dtype: Any = jnp.float32) -> jax.Array:
    """Weights of a convolution (H, W, C_in, C_out) or dense layer (C_in, C_out): a standard
    normal truncated to [-2, 2], times 1 / sqrt(fan-in)."""
    fan_in = int(np.prod(shape[:-1]))
    return jax.random.truncated_normal(key, -2.0, 2.0, shape, dtype) / np.sqrt(fan_in).astype(dtype)


@dataclass(frozen=True, eq=False)
class FlaxModel:
    """A ``flax.linen`` module called as ``module(images, train=...)``, as a model of the
    interface of :mod:`ntk_evolution.models.networks`: ``params`` are the module's ``params``
    collection, the state every other collection (``{}`` if there is none)."""

    module: nn.Module

    def initialize(self, key: jax.Array, image_shape: tuple[int, ...]) -> tuple[Params, State]:
        """The module's variables for images of ``image_shape``, in one compiled call."""
        images = jnp.zeros((1, *image_shape), jnp.float32)
        variables = jax.jit(lambda k: self.module.init(k, images, train=False))(key)
        params = variables["params"]
        return params, {name: value for name, value in variables.items() if name != "params"}

    def apply_train(
        self, params: Params, state: State, images: jax.Array
    ) -> tuple[jax.Array, State]:
        """Training-mode logits and the state the batch leaves (running statistics updated)."""
        if not state:
            return self.module.apply({"params": params}, images, train=True), state
        logits, updated = self.module.apply(
            {"params": params, **state}, images, train=True, mutable=list(state)
        )
        return logits, {**state, **updated}

    def apply_eval(self, params: Params, state: State, images: jax.Array) -> jax.Array:
        """Evaluation-mode logits (running statistics of ``state``)."""
        return self.module.apply({"params": params, **state}, images, train=False)


class BasicBlock(nn.Module):
    """relu(bn(conv(relu(bn(conv(x))))) + shortcut(x)), the shortcut projected where the shape
    changes."""

    channels: int
    stride: int

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        conv = partial(nn.Conv, use_bias=False, padding="SAME", kernel_init=truncated_fan_in)
        norm = partial(
            nn.BatchNorm, use_running_average=not train, momentum=BN_DECAY, epsilon=BN_EPSILON
        )
        strides = (self.stride, self.stride)
        shortcut = x
        if self.stride != 1 or x.shape[-1] != self.channels:
            shortcut = conv(self.channels, (1, 1), strides, name="shortcut_conv")(x)
            shortcut = norm(name="shortcut_norm")(shortcut)
        y = conv(self.channels, (3, 3), strides)(x)
        y = nn.relu(norm()(y))
        y = norm()(conv(self.channels, (3, 3))(y))
        return nn.relu(y + shortcut)


class ResNetV1(nn.Module):
    """The paper's ResNet v1 with batch-norm (see the module docstring)."""

    num_classes: int
    width: int = 64
    depth: int = 2
    zero_readout: bool = True

    @nn.compact
    def __call__(self, images: jax.Array, train: bool) -> jax.Array:
        x = nn.Conv(
            self.width, (3, 3), use_bias=False, padding="SAME", kernel_init=truncated_fan_in
        )(images)
        x = nn.BatchNorm(use_running_average=not train, momentum=BN_DECAY, epsilon=BN_EPSILON)(x)
        x = nn.relu(x)
        for stage, multiple in enumerate(STAGE_MULTIPLES):
            for block in range(self.depth):
                stride = 2 if stage > 0 and block == 0 else 1
                x = BasicBlock(self.width * multiple, stride)(x, train)
        x = jnp.mean(x, axis=(1, 2))
        readout_init = nn.initializers.zeros if self.zero_readout else truncated_fan_in
        return nn.Dense(self.num_classes, kernel_init=readout_init, name="readout")(x)


def resnet(*, num_classes: int, width: int, depth: int, zero_readout: bool) -> FlaxModel:
    """The paper's ResNet v1 with batch-norm; ``width=64, depth=2`` is its ResNet-18."""
    return FlaxModel(ResNetV1(num_classes, width, depth, zero_readout))

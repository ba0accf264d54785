"""The stax ResNet without batch-norm: the paper's ResNet-18 layout, counted and traced
independently."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ntk_evolution._infra.compat import stax
from ntk_evolution.models.stax_models import build_model, resnet_no_bn

CIFAR = (32, 32, 3)


def conv(size: int, channels_in: int, channels_out: int) -> int:
    """Weights and biases of a convolution."""
    return size * size * channels_in * channels_out + channels_out


def resnet18_parameters(width: int, num_classes: int) -> int:
    """ResNet-18 without batch-norm: 3x3 stem, 4 stages x 2 basic blocks, projection shortcuts
    where the channels change (stages 2-4), dense readout."""
    total = conv(3, 3, width)
    channels_in = width
    for multiple in (1, 2, 4, 8):
        channels = width * multiple
        for _ in range(2):
            total += conv(3, channels_in, channels) + conv(3, channels, channels)
            if channels != channels_in:
                total += conv(1, channels_in, channels)
            channels_in = channels
    return total + channels_in * num_classes + num_classes


@pytest.mark.parametrize("width", [2, 64])
def test_resnet18_parameter_count(width):
    model = build_model("resnet_no_bn", num_classes=10, width=width, depth=2)
    shapes = jax.tree_util.tree_leaves(model.param_shapes(CIFAR))
    assert sum(int(np.prod(s.shape)) for s in shapes) == resnet18_parameters(width, 10)


def test_stride_one_stem_no_max_pool_global_average_pooling():
    """32x32 inputs reach the pooling as 4x4 maps (strides 1, 2, 2, 2 only), 8 x width channels."""
    layers = resnet_no_bn(width=2, depth=2, num_classes=10, parameterization="standard")
    assert isinstance(layers[-2], tuple)  # GlobalAvgPool, then the readout
    init, apply, _ = stax.serial(*layers[:-2])
    _, params = init(jax.random.PRNGKey(0), (-1, *CIFAR))
    features = apply(params, jnp.ones((2, *CIFAR)))
    assert features.shape == (2, 4, 4, 16)


def test_zero_readout_starts_as_the_zero_function():
    model = build_model("resnet_no_bn", num_classes=100, width=2, depth=1, zero_readout=True)
    params = model.init(jax.random.PRNGKey(0), CIFAR)
    images = jax.random.uniform(jax.random.PRNGKey(1), (3, *CIFAR))
    logits = model.apply(params, images)
    assert logits.shape == (3, 100)
    assert not np.any(np.asarray(logits))

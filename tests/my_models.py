"""A small CNN with batch-norm, written in Flax, named in the config by its import path."""

import flax.linen as nn
import jax.numpy as jnp

from ntk_evolution.models.flax_models import FlaxModel


class SmallCNN(nn.Module):
    num_classes: int
    channels: int
    depth: int

    @nn.compact
    def __call__(self, images, train: bool):
        x = images
        for _ in range(self.depth):
            x = nn.Conv(self.channels, (3, 3), use_bias=False)(x)
            x = nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5)(x)
            x = nn.relu(x)
        x = jnp.mean(x, axis=(1, 2))  # global average pooling
        return nn.Dense(self.num_classes)(x)


def small_cnn(*, num_classes: int, channels: int = 16, depth: int = 2) -> FlaxModel:
    """The pipeline calls this with num_classes and the config's model.options."""
    return FlaxModel(SmallCNN(num_classes=num_classes, channels=channels, depth=depth))

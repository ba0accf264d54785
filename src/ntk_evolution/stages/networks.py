"""Loading a configured network with the parameters and state of a checkpoint (shared by the
stages)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ntk_evolution._infra.checkpoints import load_variables
from ntk_evolution._infra.type_aliases import Variables
from ntk_evolution.configuration.settings import ModelSettings
from ntk_evolution.datasets.data import Split
from ntk_evolution.models.networks import Network, build_network


def configured_network(split: Split, model: ModelSettings) -> tuple[Network, Variables]:
    """The configured network for this split's classes, and the shapes of its parameters and
    state for this split's images (the template a checkpoint is read into)."""
    net = build_network(model, split.num_classes)
    return net, net.shapes(split.image_shape)


def load_network(
    split: Split, model: ModelSettings, checkpoint_path: str | Path
) -> tuple[Network, Variables, dict[str, Any]]:
    """``(network, variables, metadata)`` of the configured model for this split's images:
    the checkpoint's parameters and state."""
    net, template = configured_network(split, model)
    variables, meta = load_variables(checkpoint_path, template)
    return net, variables, meta

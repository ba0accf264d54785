"""Loading a configured network with the parameters of a checkpoint (shared by the stages)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ntk_evolution.checkpoints import load_checkpoint
from ntk_evolution.data import Split
from ntk_evolution.models import Model, build_model
from ntk_evolution.settings import ModelSettings
from ntk_evolution.type_aliases import Params


def load_network(
    split: Split, model: ModelSettings, checkpoint_path: str | Path
) -> tuple[Model, Params, dict[str, Any]]:
    """``(network, params, metadata)`` of the configured model for this split's images."""
    net = build_model(**model.model_dump(), num_classes=split.num_classes)
    params, meta = load_checkpoint(checkpoint_path, net.param_shapes(split.image_shape))
    return net, params, meta

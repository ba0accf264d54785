"""Phase-1 training stage."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jax

from ntk_evolution import data
from ntk_evolution.checkpoints import save_checkpoint
from ntk_evolution.config import Run, epoch_label
from ntk_evolution.models import build_model
from ntk_evolution.provenance import provenance
from ntk_evolution.training import TrainSettings, train

log = logging.getLogger(__name__)
Settings = Mapping[str, Any]


def _keys(seed: int) -> tuple[jax.Array, jax.Array]:
    """(initialisation key, training key) of a run."""
    key = jax.random.PRNGKey(seed)
    return jax.random.fold_in(key, 0), jax.random.fold_in(key, 1)


def train_phase1(
    split_path: str | Path,
    checkpoint_paths: Sequence[str | Path],
    history_path: str | Path,
    *,
    run: Run,
    model: Settings,
    phase1: Settings,
    checkpoint_epochs: Sequence[float],
) -> None:
    """Train one phase-1 run from a random initialisation, writing checkpoints and history.

    ``checkpoint_paths[i]`` receives the checkpoint of ``checkpoint_epochs[i]``; the history CSV
    has one row per epoch (see :func:`ntk_evolution.training.train`).
    """
    split = data.load_split(split_path)
    net = build_model(**model, num_classes=split.num_classes)
    init_key, train_key = _keys(run.seed)
    params = net.init(init_key, split.image_shape)
    paths = {
        epoch_label(e): Path(p) for e, p in zip(checkpoint_epochs, checkpoint_paths, strict=True)
    }
    config = {"run": run.name, "model": dict(model), "phase1": dict(phase1)}

    def save(epoch: float, params: Any, meta: dict[str, Any]) -> None:
        save_checkpoint(paths[epoch_label(epoch)], params, {**meta, **provenance(config)})

    history = train(
        net.apply,
        params,
        (data.to_unit_interval(split.train_images, split.pixel_max), split.train_labels),
        (data.to_unit_interval(split.test_images, split.pixel_max), split.test_labels),
        settings=TrainSettings.from_config(phase1, run.regime),
        key=train_key,
        checkpoints=list(checkpoint_epochs),
        save=save,
        name=run.name,
    )
    history.insert(0, "seed", run.seed)
    history.insert(0, "regime", run.regime)
    history.to_csv(history_path, index=False)

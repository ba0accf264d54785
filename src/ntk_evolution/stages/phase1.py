"""Phase-1 training stage."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ntk_evolution._infra.atomic import write_table
from ntk_evolution._infra.checkpoints import save_checkpoint
from ntk_evolution._infra.provenance import provenance
from ntk_evolution._infra.seeding import run_keys
from ntk_evolution.configuration.experiment import Run, epoch_label
from ntk_evolution.configuration.settings import ModelSettings, Training
from ntk_evolution.datasets import data
from ntk_evolution.models.networks import build_network
from ntk_evolution.training.loop import train

log = logging.getLogger(__name__)


def train_phase1(
    split_path: str | Path,
    checkpoint_paths: Sequence[str | Path],
    history_path: str | Path,
    *,
    run: Run,
    model: ModelSettings,
    training: Training,
    checkpoint_epochs: Sequence[float],
) -> None:
    """Train one phase-1 run from a random initialisation, writing checkpoints and history.

    The network trains in its training mode; every checkpoint holds its parameters and its
    state (batch-norm running statistics; none for the ``stax`` models). ``checkpoint_paths[i]``
    receives the checkpoint of ``checkpoint_epochs[i]``; the history CSV
    has one row per epoch (see :func:`ntk_evolution.training.loop.train`).
    """
    split = data.load_split(split_path)
    net = build_network(model, split.num_classes)
    keys = run_keys(run.seed)
    params, state = net.init(keys.init, split.image_shape)
    paths = {
        epoch_label(e): Path(p) for e, p in zip(checkpoint_epochs, checkpoint_paths, strict=True)
    }
    config = {
        "run": run.name,
        "model": model.model_dump(),
        "phase1": training.model_dump(exclude_none=True),
    }

    def save(epoch: float, params: Any, state: Any, meta: dict[str, Any]) -> None:
        path = paths[epoch_label(epoch)]
        save_checkpoint(path, params, {**meta, **provenance(config)}, state=state)

    history = train(
        net.modes,
        params,
        split.train_set(),
        split.test_set(),
        settings=training,
        regime=run.regime,
        key=keys.phase1,
        checkpoints=list(checkpoint_epochs),
        save=save,
        name=run.name,
        state=state,
    )
    rows = [{"regime": run.regime, "seed": run.seed, **row} for row in history]
    write_table(rows, history_path, provenance=provenance(config))

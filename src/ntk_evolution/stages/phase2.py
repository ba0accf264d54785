"""Phase-2 stage: the children of a spawn checkpoint, trained with their kernel frozen."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ntk_evolution._infra.atomic import write_table
from ntk_evolution._infra.checkpoints import save_checkpoint
from ntk_evolution._infra.provenance import provenance
from ntk_evolution._infra.seeding import run_keys
from ntk_evolution.configuration.experiment import Child
from ntk_evolution.configuration.settings import ModelSettings, Training
from ntk_evolution.datasets import data
from ntk_evolution.models.dynamics import child_apply
from ntk_evolution.stages.networks import load_network
from ntk_evolution.training.loop import train

log = logging.getLogger(__name__)


def train_children(
    spawn_path: str | Path,
    split_path: str | Path,
    params_paths: Sequence[str | Path],
    history_paths: Sequence[str | Path],
    *,
    children: Sequence[Child],
    model: ModelSettings,
    training: Training,
) -> None:
    """Train the ``children`` of one spawn checkpoint, one after the other.

    ``params_paths[i]`` and ``history_paths[i]`` receive the final parameters and the per-epoch
    history of ``children[i]``. Every child's parameters start at the spawn parameters theta_s;
    every child is a function of the network's evaluation mode with the spawn state held fixed,
    and linearized and centered children keep the spawn kernel (see
    :mod:`ntk_evolution.models.dynamics`). A child's checkpoint holds its parameters; its state is the
    spawn checkpoint's.
    """
    split = data.load_split(split_path)
    net, spawn, _ = load_network(split, model, spawn_path)
    apply = net.evaluation(spawn.state)
    for child, params_path, history_path in zip(children, params_paths, history_paths, strict=True):
        _train_child(apply, spawn.params, split, child, params_path, history_path, model, training)


def _train_child(
    apply: Any,
    spawn_params: Any,
    split: data.Split,
    child: Child,
    params_path: str | Path,
    history_path: str | Path,
    model: ModelSettings,
    training: Training,
) -> None:
    config = {
        "child": child.path,
        "model": model.model_dump(),
        "phase2": training.model_dump(exclude_none=True),
    }

    def save(epoch: float, params: Any, state: Any, meta: dict[str, Any]) -> None:
        save_checkpoint(params_path, params, {**meta, **provenance(config)})  # no state of its own

    history = train(
        child_apply(apply, spawn_params, child.dynamics),
        spawn_params,
        split.train_set(),
        split.test_set(),
        settings=training,
        regime=child.phase2_regime,
        key=run_keys(child.run.seed).phase2,
        checkpoints=[float(training.epochs)],
        save=save,
        name=child.path,
    )
    identity = {
        "phase1_regime": child.run.regime,
        "seed": child.run.seed,
        "spawn_epoch": child.spawn,
        "dynamics": child.dynamics,
        "phase2_regime": child.phase2_regime,
    }
    rows = [{**identity, **row} for row in history]
    write_table(rows, history_path, provenance=provenance(config))

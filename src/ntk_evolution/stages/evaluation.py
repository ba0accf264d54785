"""Evaluation stages: clean, robust and transfer accuracy of phase-1 models and children.

Every evaluation job writes a tidy table, one row per (model, attack, epsilon, source) with the
columns :data:`ntk_evolution.experiment.MODEL_COLUMNS`, ``attack``, ``epsilon``, ``source`` and
``accuracy``; :func:`ntk_evolution.stages.gather.gather_evaluation` stacks them into one CSV and
one xarray dataset. A phase-1 model has ``spawn_epoch`` NaN, ``dynamics`` "standard" and
``phase2_regime`` "none".
Every attack of ``evaluation.attacks`` is measured at each radius of
:attr:`ntk_evolution.settings.EvaluationAttack.radii` (:func:`ntk_evolution.attacks.attack_grid`); the
clean row has ``attack`` "clean" and ``epsilon`` 0 (a ball of radius 0 holds the clean image
only). ``source`` says whom the adversarial examples were crafted against: ``self`` (white-box;
for ``attack`` "clean" no attack at all) or ``parent`` (the final phase-1 network of the child's
run, the transfer check against gradient masking).

The parent's adversarial test images are crafted once, by the phase-1 evaluation (they are its
white-box attack), and stored pickle-free (:func:`save_adversarial`), one array per attack and
radius named by :func:`adversarial_key` (e.g. ``pgd_linf@0.1``); every child of the run is judged
on the same stored images.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ntk_evolution import data
from ntk_evolution.atomic import atomic_file, write_table
from ntk_evolution.attacks import attack_grid
from ntk_evolution.checkpoints import load_checkpoint
from ntk_evolution.dynamics import child_apply
from ntk_evolution.evaluation import craft, hits, shares
from ntk_evolution.experiment import MODEL_COLUMNS, Child, Run
from ntk_evolution.provenance import provenance
from ntk_evolution.recovery import open_npz
from ntk_evolution.seeding import evaluation_key
from ntk_evolution.settings import Attack, EvaluationSettings, ModelSettings
from ntk_evolution.stages.networks import load_network
from ntk_evolution.type_aliases import ApplyFn, Params

log = logging.getLogger(__name__)


def adversarial_key(name: str, epsilon: float) -> str:
    """Name of attack ``name``'s images and results at radius ``epsilon``: ``name@epsilon``, the
    radius written exactly (Python's shortest round-trip text), e.g. ``pgd_linf@0.1``."""
    return f"{name}@{float(epsilon)!r}"


def _cell(key: str) -> tuple[str, float]:
    """``(attack, epsilon)`` of a result name of :func:`ntk_evolution.evaluation.evaluate`
    (``clean``: radius 0), the inverse of :func:`adversarial_key`."""
    if key == "clean":
        return "clean", 0.0
    name, epsilon = key.rsplit("@", 1)
    return name, float(epsilon)


def _rows(
    run: Run, spawn: float, dynamics: str, phase2_regime: str, results: Mapping[str, float]
) -> list[dict[str, Any]]:
    """Tidy rows of one model from :func:`ntk_evolution.evaluation.evaluate`'s results."""
    model = dict(
        zip(MODEL_COLUMNS, [run.regime, run.seed, spawn, dynamics, phase2_regime], strict=True)
    )
    rows = []
    for name, accuracy in results.items():
        source = "parent" if name.startswith("transfer_") else "self"
        attack, epsilon = _cell(name.removeprefix("transfer_"))
        rows.append(
            {**model, "attack": attack, "epsilon": epsilon, "source": source, "accuracy": accuracy}
        )
    return rows


def _attacks(evaluation: EvaluationSettings) -> dict[str, Attack]:
    """Every evaluation attack at every radius, by :func:`adversarial_key`."""
    grid = attack_grid(evaluation.attacks)
    return {adversarial_key(*cell): attack for cell, attack in grid.items()}


def attack_hits(
    apply: ApplyFn,
    params: Params,
    test: tuple[np.ndarray, np.ndarray],
    attacks: Mapping[str, Attack],
    evaluation: EvaluationSettings,
    transfer: Mapping[str, np.ndarray] | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """A model's adversarial test images under ``attacks`` (seeded by ``evaluation.seed``) and
    which test images it gets right, clean, under them and (with ``transfer``) under the
    source's adversarial images (:func:`ntk_evolution.evaluation.hits`)."""
    crafted = craft(
        apply,
        params,
        *test,
        attacks=attacks,
        key=evaluation_key(evaluation.seed),
        batch_size=evaluation.batch_size,
    )
    correct = hits(
        apply,
        params,
        *test,
        adversarial=crafted,
        batch_size=evaluation.batch_size,
        transfer=transfer,
    )
    return crafted, correct


def _judge(
    apply: ApplyFn,
    params: Params,
    test: tuple[np.ndarray, np.ndarray],
    evaluation: EvaluationSettings,
    transfer: Mapping[str, np.ndarray] | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """A model's white-box adversarial test images and its accuracies on the clean, those and
    (with ``transfer``) the source's adversarial images, at every radius of every attack."""
    crafted, correct = attack_hits(apply, params, test, _attacks(evaluation), evaluation, transfer)
    return crafted, shares(correct)


def save_adversarial(path: str | Path, crafted: Mapping[str, np.ndarray], made: dict) -> None:
    """Write adversarial test images, one array per name (:func:`adversarial_key`), and their
    provenance (JSON)."""
    with atomic_file(path) as f:
        np.savez(f, provenance=np.array(json.dumps(made, sort_keys=True)), **crafted)


def load_adversarial(path: str | Path, attacks: Sequence[str]) -> dict[str, np.ndarray]:
    """The adversarial test images named ``attacks`` (:func:`adversarial_key`) from
    :func:`save_adversarial`'s file."""
    with open_npz(path, "adversarial test images", attacks) as f:
        return {name: f[name] for name in attacks}


def evaluate_phase1(
    checkpoint_path: str | Path,
    split_path: str | Path,
    path: str | Path,
    adversarial_path: str | Path,
    *,
    run: Run,
    model: ModelSettings,
    evaluation: EvaluationSettings,
) -> None:
    """Clean and robust accuracy of a run's final phase-1 network; its adversarial test images
    go to ``adversarial_path``, the transfer attack on the run's children."""
    split = data.load_split(split_path)
    net, variables, _ = load_network(split, model, checkpoint_path)
    apply = net.evaluation(variables.state)
    crafted, results = _judge(apply, variables.params, split.test_set(), evaluation)
    log.info("%s: %s", run.name, {k: round(v, 4) for k, v in results.items()})
    config = {"run": run.name, "model": model.model_dump(), "evaluation": evaluation.model_dump()}
    made = provenance(config)
    save_adversarial(adversarial_path, crafted, made)
    write_table(_rows(run, np.nan, "standard", "none", results), path, provenance=made)


def evaluate_children(
    child_paths: Sequence[str | Path],
    spawn_path: str | Path,
    parent_adversarial_path: str | Path,
    split_path: str | Path,
    path: str | Path,
    *,
    children: Sequence[Child],
    model: ModelSettings,
    evaluation: EvaluationSettings,
) -> None:
    """Clean, robust and (with ``evaluation.transfer``) transfer accuracy of children of one spawn.

    ``child_paths[i]`` holds the trained parameters of ``children[i]``; all share the spawn
    checkpoint and the parent (the run's final phase-1 network), whose adversarial test images
    (``parent_adversarial_path``, from :func:`evaluate_phase1`) are the transfer attack.
    """
    split = data.load_split(split_path)
    net, spawn, _ = load_network(split, model, spawn_path)
    network = net.evaluation(spawn.state)
    test = split.test_set()
    transfer = None
    if evaluation.transfer:
        transfer = load_adversarial(parent_adversarial_path, list(_attacks(evaluation)))
    rows = []
    for child, child_path in zip(children, child_paths, strict=True):
        params, _ = load_checkpoint(child_path, spawn.params)
        apply = child_apply(network, spawn.params, child.dynamics)
        _, results = _judge(apply, params, test, evaluation, transfer)
        log.info("%s: %s", child.path, {k: round(v, 4) for k, v in results.items()})
        rows += _rows(child.run, child.spawn, child.dynamics, child.phase2_regime, results)
    config = {
        "children": [child.path for child in children],
        "model": model.model_dump(),
        "evaluation": evaluation.model_dump(),
    }
    write_table(rows, path, provenance=provenance(config))

"""Evaluation stages: clean, robust and transfer accuracy of phase-1 models and children.

Every evaluation job writes a tidy table, one row per (model, attack, epsilon, source) with the
columns :data:`ntk_evolution.configuration.experiment.MODEL_COLUMNS`, ``attack``, ``epsilon``, ``source``,
``accuracy``, ``correct`` and ``n`` (accuracy = correct / n test images; the intervals of
:mod:`ntk_evolution.analyses.intervals` follow from these two), and for an ensemble attack
``broken_first_by_<member>``: how many test images each member broke first, in the ensemble's
order. :func:`ntk_evolution.stages.gather.gather_evaluation` stacks them into one CSV and one
xarray dataset. A phase-1 model has ``spawn_epoch`` NaN, ``dynamics`` "standard" and
``phase2_regime`` "none".

Every attack of ``evaluation.attacks`` is measured at each of its radii
(:attr:`ntk_evolution.configuration.settings.PgdAttack.radii`); an ensemble counts an example as robust only
if no member breaks it (:func:`ntk_evolution.attacks.evaluation.worst_case`), white-box and transferred
alike. The clean row has ``attack`` "clean" and ``epsilon`` 0 (a ball of radius 0 holds the
clean image only). ``source`` says whom the adversarial examples were crafted against: ``self``
(white-box; for ``attack`` "clean" no attack at all) or ``parent`` (the final phase-1 network of
the child's run, the transfer check against gradient masking).

The parent's adversarial test images are crafted once, by the phase-1 evaluation (they are its
white-box attack), and stored pickle-free (:func:`save_adversarial`), one array per attack and
radius named by :func:`adversarial_key` (e.g. ``pgd_linf@0.1``); every child of the run is judged
on the same stored images.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from ntk_evolution._infra.atomic import atomic_file, write_table
from ntk_evolution._infra.checkpoints import load_checkpoint
from ntk_evolution._infra.provenance import provenance
from ntk_evolution._infra.recovery import open_npz
from ntk_evolution._infra.seeding import evaluation_key
from ntk_evolution._infra.type_aliases import ApplyFn, Params
from ntk_evolution.attacks.evaluation import craft, hits, worst_case
from ntk_evolution.configuration.experiment import MODEL_COLUMNS, Child, Run
from ntk_evolution.configuration.settings import EnsembleAttack, EvaluationSettings, ModelSettings
from ntk_evolution.datasets import data
from ntk_evolution.models.dynamics import child_apply
from ntk_evolution.stages.networks import load_network

if TYPE_CHECKING:  # annotations only
    from ntk_evolution.configuration.settings import SingleAttack

log = logging.getLogger(__name__)


def adversarial_key(name: str, epsilon: float) -> str:
    """Name of attack ``name``'s images and results at radius ``epsilon``: ``name@epsilon``, the
    radius written exactly (Python's shortest round-trip text), e.g. ``pgd_linf@0.1``."""
    return f"{name}@{float(epsilon)!r}"


def _cell(key: str) -> tuple[str, float]:
    """``(attack, epsilon)`` of a result name of :func:`ntk_evolution.attacks.evaluation.evaluate`
    (``clean``: radius 0), the inverse of :func:`adversarial_key`."""
    if key == "clean":
        return "clean", 0.0
    name, epsilon = key.rsplit("@", 1)
    return name, float(epsilon)


def _rows(
    run: Run, spawn: float, dynamics: str, phase2_regime: str, judged: Judgement
) -> list[dict[str, Any]]:
    """Tidy rows of one model from its :class:`Judgement`: accuracy, the ``correct`` count of
    ``n`` test images, and for an ensemble how many examples each member broke first
    (``broken_first_by_<member>``)."""
    model = dict(
        zip(MODEL_COLUMNS, [run.regime, run.seed, spawn, dynamics, phase2_regime], strict=True)
    )
    rows = []
    for name, hit in judged.hits.items():
        source = "parent" if name.startswith("transfer_") else "self"
        attack, epsilon = _cell(name.removeprefix("transfer_"))
        row = {**model, "attack": attack, "epsilon": epsilon, "source": source}
        row |= {"accuracy": float(hit.mean()), "correct": int(hit.sum()), "n": len(hit)}
        if name in judged.first:
            members = judged.members[attack]
            counts = np.bincount(judged.first[name] + 1, minlength=len(members) + 1)[1:]
            row |= {f"broken_first_by_{m}": int(c) for m, c in zip(members, counts, strict=True)}
        rows.append(row)
    columns = dict.fromkeys(column for row in rows for column in row)
    return [{column: row.get(column) for column in columns} for row in rows]


def crafted_attacks(
    evaluation: EvaluationSettings, *, headline: bool = False
) -> dict[str, SingleAttack]:
    """The attacks that craft images, by :func:`adversarial_key`: every attack but the
    ensembles at every radius (with ``headline``, at its own epsilon and at that of every
    ensemble it belongs to)."""
    attacks = evaluation.attacks
    cells = {(name, r) for name, attack in attacks.items() for r in _radii(attack, headline)}
    cells |= {
        (member, r)
        for name, attack in attacks.items()
        if isinstance(attack, EnsembleAttack)
        for member in attack.members
        for r in _radii(attack, headline)
    }
    return {
        adversarial_key(name, r): attacks[name].at(r)
        for name, r in sorted(cells)
        if not isinstance(attacks[name], EnsembleAttack)
    }


def _radii(attack: SingleAttack | EnsembleAttack, headline: bool) -> list[float]:
    return [float(attack.epsilon)] if headline else attack.radii


def _summary(judged: Judgement) -> dict[str, float]:
    """Accuracies of a judgement, for the log."""
    return {name: round(float(hit.mean()), 4) for name, hit in judged.hits.items()}


class Judgement(NamedTuple):
    """A model's white-box adversarial test images (by :func:`adversarial_key`, ensembles
    aside) and which test images it gets right: ``hits`` under ``clean``, every attack (an
    ensemble as :func:`~ntk_evolution.attacks.evaluation.worst_case` of its members) and every
    ``transfer_`` attack; ``first`` per ensemble result, the index into ``members[attack]`` of
    the member that broke each example first (-1: none)."""

    crafted: dict[str, np.ndarray]
    hits: dict[str, np.ndarray]
    first: dict[str, np.ndarray]
    members: dict[str, list[str]]


def judge(
    apply: ApplyFn,
    params: Params,
    test: tuple[np.ndarray, np.ndarray],
    evaluation: EvaluationSettings,
    transfer: Mapping[str, np.ndarray] | None = None,
    *,
    headline: bool = False,
) -> Judgement:
    """A model's :class:`Judgement` under every evaluation attack, at every radius (or, with
    ``headline``, at its own epsilon), white-box and (with ``transfer``, the source's images by
    :func:`adversarial_key`) transferred; attacks are seeded by ``evaluation.seed``."""
    attacks = crafted_attacks(evaluation, headline=headline)
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
        transfer=None if transfer is None else {k: transfer[k] for k in attacks},
    )
    judged: dict[str, np.ndarray] = {"clean": correct["clean"]}
    first, members = {}, {}
    for prefix, name in itertools.product(
        ("", "transfer_") if transfer is not None else ("",), evaluation.attacks
    ):
        attack = evaluation.attacks[name]
        members[name] = evaluation.ensemble_members(name)
        for r in _radii(attack, headline):
            key = prefix + adversarial_key(name, r)
            parts = [correct[prefix + adversarial_key(m, r)] for m in members[name]]
            judged[key], breaker = worst_case(correct["clean"], parts)
            if isinstance(attack, EnsembleAttack):
                first[key] = breaker
    return Judgement(crafted, judged, first, members)


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
    judged = judge(apply, variables.params, split.test_set(), evaluation)
    log.info("%s: %s", run.name, _summary(judged))
    config = {"run": run.name, "model": model.model_dump(), "evaluation": evaluation.model_dump()}
    made = provenance(config)
    save_adversarial(adversarial_path, judged.crafted, made)
    write_table(_rows(run, np.nan, "standard", "none", judged), path, provenance=made)


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
        transfer = load_adversarial(parent_adversarial_path, list(crafted_attacks(evaluation)))
    rows = []
    for child, child_path in zip(children, child_paths, strict=True):
        params, _ = load_checkpoint(child_path, spawn.params)
        apply = child_apply(network, spawn.params, child.dynamics)
        judged = judge(apply, params, test, evaluation, transfer)
        log.info("%s: %s", child.path, _summary(judged))
        rows += _rows(child.run, child.spawn, child.dynamics, child.phase2_regime, judged)
    config = {
        "children": [child.path for child in children],
        "model": model.model_dump(),
        "evaluation": evaluation.model_dump(),
    }
    write_table(rows, path, provenance=provenance(config))

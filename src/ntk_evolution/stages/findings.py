"""Findings stage: the paper's findings judged on this run's statistics and accuracies."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from ntk_evolution import findings, storage
from ntk_evolution.atomic import atomic_file, write_table
from ntk_evolution.experiment import Run
from ntk_evolution.provenance import provenance
from ntk_evolution.settings import (
    ApgdAttack,
    EnsembleAttack,
    FindingsSettings,
    ModelSettings,
    PgdAttack,
    Phase1Settings,
    SingleAttack,
    SquareAttack,
)

log = logging.getLogger(__name__)


def _describe(attack: SingleAttack | EnsembleAttack) -> str:
    """An evaluation attack in a few words."""
    if isinstance(attack, PgdAttack):
        return f"{attack.norm} PGD-{attack.steps}"
    if isinstance(attack, ApgdAttack):
        return f"{attack.norm} APGD-{attack.loss}, {attack.steps} steps"
    if isinstance(attack, SquareAttack):
        return f"{attack.norm} Square, {attack.queries} queries"
    return "the worst case of " + ", ".join(attack.members)


def _context(
    dataset: str,
    model: ModelSettings,
    phase1: Phase1Settings,
    attacks: Mapping[str, SingleAttack | EnsembleAttack],
    thresholds: FindingsSettings,
) -> list[str]:
    """One line saying which experiment the findings are of."""
    judged, black_box = attacks[thresholds.attack], attacks[thresholds.black_box]
    return [
        f"{dataset}, {model.architecture} (width {model.width}, depth {model.depth}), "
        f"{phase1.epochs} phase-1 epochs, adversarial training with {phase1.attack.norm} "
        f"PGD-{phase1.attack.steps} at epsilon {phase1.attack.epsilon:g}; judged under the "
        f"evaluation attack {thresholds.attack} ({_describe(judged)}) at epsilon "
        f"{judged.epsilon:g}, the black-box check under {thresholds.black_box} "
        f"({_describe(black_box)})."
    ]


def write_findings(
    pairs_path: str | Path | None,
    evolution_paths: Sequence[str | Path],
    evaluation_path: str | Path,
    table_path: str | Path,
    markdown_path: str | Path,
    *,
    runs: Sequence[Run],
    thresholds: FindingsSettings,
    dataset: str,
    model: ModelSettings,
    phase1: Phase1Settings,
    attacks: Mapping[str, SingleAttack | EnsembleAttack],
) -> None:
    """``findings.csv`` (:data:`ntk_evolution.findings.COLUMNS`) and ``findings.md``, judged
    with ``thresholds`` on the run of ``dataset``, ``model`` and ``phase1``; ``attack`` is the
    evaluation attacks, of which ``thresholds`` names the ones the verdicts use."""
    pairs = storage.open_store(pairs_path, load=True) if pairs_path else None
    evolutions = {
        run.name: storage.open_store(path, load=True)
        for run, path in zip(runs, evolution_paths, strict=True)
    }
    table = findings.findings_table(
        pairs,
        evolutions,
        pd.read_csv(evaluation_path),
        thresholds=thresholds,
        epochs=phase1.epochs,
        epsilon=attacks[thresholds.attack].epsilon,
    )
    settings = {
        "thresholds": thresholds.model_dump(),
        "dataset": dataset,
        "model": model.model_dump(),
        "phase1": phase1.model_dump(),
        "attacks": {name: attack.model_dump() for name, attack in attacks.items()},
    }
    made = provenance(settings)
    write_table(table.to_dict("records"), table_path, provenance=made)
    context = _context(dataset, model, phase1, attacks, thresholds)
    page = findings.markdown(table, thresholds=thresholds, context=context)
    with atomic_file(markdown_path) as f:
        f.write(page.encode())
    for finding, verdict in findings.verdicts(table).items():
        log.info("%s (%s): %s", finding, findings.CLAIMS[finding], verdict)

"""Findings stage: the paper's findings judged on this run's statistics and accuracies."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from ntk_evolution import findings, storage
from ntk_evolution.atomic import atomic_file, write_table
from ntk_evolution.experiment import Run
from ntk_evolution.provenance import provenance
from ntk_evolution.settings import Attack, FindingsSettings, ModelSettings, Phase1Settings

log = logging.getLogger(__name__)


def _context(
    dataset: str, model: ModelSettings, phase1: Phase1Settings, attack: Attack, name: str
) -> list[str]:
    """One line saying which experiment the findings are of."""
    return [
        f"{dataset}, {model.architecture} (width {model.width}, depth {model.depth}), "
        f"{phase1.epochs} phase-1 epochs, adversarial training with {phase1.attack.norm} "
        f"PGD-{phase1.attack.steps} at epsilon {phase1.attack.epsilon:g}; judged under the "
        f"evaluation attack {name} ({attack.norm} PGD-{attack.steps}) at epsilon "
        f"{attack.epsilon:g}."
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
    attack: Attack,
) -> None:
    """``findings.csv`` (:data:`ntk_evolution.findings.COLUMNS`) and ``findings.md``, judged
    with ``thresholds`` on the run of ``dataset``, ``model`` and ``phase1``; ``attack`` is the
    evaluation attack the verdicts use (``thresholds.attack`` names it)."""
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
        epsilon=attack.epsilon,
    )
    settings = {
        "thresholds": thresholds.model_dump(),
        "dataset": dataset,
        "model": model.model_dump(),
        "phase1": phase1.model_dump(),
        "attack": attack.model_dump(),
    }
    made = provenance(settings)
    write_table(table.to_dict("records"), table_path, provenance=made)
    context = _context(dataset, model, phase1, attack, thresholds.attack)
    page = findings.markdown(table, thresholds=thresholds, context=context)
    with atomic_file(markdown_path) as f:
        f.write(page.encode())
    for finding, verdict in findings.verdicts(table).items():
        log.info("%s (%s): %s", finding, findings.CLAIMS[finding], verdict)

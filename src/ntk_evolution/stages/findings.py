"""Findings stage: the paper's findings judged on this run's statistics and accuracies."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ntk_evolution import findings, storage
from ntk_evolution.atomic import atomic_file, write_table
from ntk_evolution.experiment import Run
from ntk_evolution.provenance import provenance

log = logging.getLogger(__name__)


def _context(settings: Mapping[str, Any]) -> list[str]:
    """One line saying which experiment the findings are of."""
    model, phase1, attack = settings["model"], settings["phase1"], settings["attack"]
    return [
        f"{settings['dataset']}, {model['architecture']} (width {model['width']}, depth "
        f"{model['depth']}), {phase1['epochs']} phase-1 epochs, adversarial training with "
        f"{phase1['attack']['norm']} PGD-{phase1['attack']['steps']} at epsilon "
        f"{phase1['attack']['epsilon']:g}; judged under the evaluation attack "
        f"{settings['thresholds']['attack']} ({attack['norm']} PGD-{attack['steps']}) at "
        f"epsilon {attack['epsilon']:g}."
    ]


def write_findings(
    pairs_path: str | Path | None,
    evolution_paths: Sequence[str | Path],
    evaluation_path: str | Path,
    table_path: str | Path,
    markdown_path: str | Path,
    *,
    runs: Sequence[Run],
    settings: Mapping[str, Any],
) -> None:
    """``findings.csv`` (:data:`ntk_evolution.findings.COLUMNS`) and ``findings.md``.

    ``settings``: ``thresholds`` (the config's ``findings`` section), ``dataset`` (its name),
    ``model``, ``phase1`` and ``attack`` (the evaluation attack the verdicts use).
    """
    thresholds = findings.Thresholds.from_config(settings["thresholds"])
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
        epochs=settings["phase1"]["epochs"],
        epsilon=settings["attack"]["epsilon"],
    )
    made = provenance(dict(settings))
    write_table(table.to_dict("records"), table_path, provenance=made)
    page = findings.markdown(table, thresholds=thresholds, context=_context(settings))
    with atomic_file(markdown_path) as f:
        f.write(page.encode())
    for finding, verdict in findings.verdicts(table).items():
        log.info("%s (%s): %s", finding, findings.CLAIMS[finding], verdict)

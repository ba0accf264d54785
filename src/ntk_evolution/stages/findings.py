"""Findings stage: the paper's findings judged on this run's statistics and accuracies."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from ntk_evolution._infra import storage
from ntk_evolution._infra.atomic import atomic_file, write_table
from ntk_evolution._infra.provenance import provenance
from ntk_evolution.analyses import findings, robustness
from ntk_evolution.configuration.experiment import Run
from ntk_evolution.configuration.settings import (
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
    robustness_path: str | Path,
    verdicts_path: str | Path,
    *,
    runs: Sequence[Run],
    thresholds: FindingsSettings,
    dataset: str,
    model: ModelSettings,
    phase1: Phase1Settings,
    attacks: Mapping[str, SingleAttack | EnsembleAttack],
) -> None:
    """``findings.csv`` (:data:`ntk_evolution.analyses.findings.COLUMNS`) and ``findings.md``, judged
    with ``thresholds`` on the run of ``dataset``, ``model`` and ``phase1``, and
    ``robustness.md`` (:func:`write_robustness`) and ``verdicts.csv``, one row per finding
    (:func:`ntk_evolution.analyses.findings.overview`), which the report opens on; ``attacks`` are the evaluation attacks, of
    which ``thresholds`` names the ones the verdicts use."""
    pairs = storage.open_store(pairs_path, load=True) if pairs_path else None
    evolutions = {
        run.name: storage.open_store(path, load=True)
        for run, path in zip(runs, evolution_paths, strict=True)
    }
    evaluation = pd.read_csv(evaluation_path)
    table = findings.findings_table(
        pairs,
        evolutions,
        evaluation,
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
    write_table(findings.overview(table).to_dict("records"), verdicts_path, provenance=made)
    context = _context(dataset, model, phase1, attacks, thresholds)
    page = findings.markdown(table, thresholds=thresholds, context=context)
    with atomic_file(markdown_path) as f:
        f.write(page.encode())
    write_robustness(evaluation, robustness_path, attacks, thresholds, context)
    for finding, verdict in findings.verdicts(table).items():
        log.info("%s (%s): %s", finding, findings.CLAIMS[finding], verdict)


def write_robustness(
    evaluation: pd.DataFrame,
    path: str | Path,
    attacks: Mapping[str, SingleAttack | EnsembleAttack],
    thresholds: FindingsSettings,
    context: Sequence[str],
) -> None:
    """``robustness.md``: every model's accuracy under each evaluation attack measured at the
    findings' epsilon, white-box, and under ``thresholds.attack`` transferred from the parent,
    with intervals (:func:`ntk_evolution.analyses.robustness.robustness_table`); and how many test
    images each member of an ensemble broke first."""
    epsilon = attacks[thresholds.attack].epsilon
    measured = [name for name, a in attacks.items() if epsilon in a.radii]
    columns = [("clean", "clean", "self")]
    columns += [(name, name, "self") for name in measured]
    columns.append((f"transfer {thresholds.attack}", thresholds.attack, "parent"))
    lines = [f"# Robust accuracy at epsilon {epsilon:g}", "", *context, ""]
    lines += [
        "Accuracy on the test images with its 95 % Wilson interval; every attack white-box "
        "(crafted against the model itself) but the transfer column (crafted against the "
        "child's parent, the final phase-1 network). Children of the last spawn epoch; cells "
        "name the phase-1 and phase-2 regimes (C benign, A adversarial, F flip).",
        "",
    ]
    lines += robustness.markdown(robustness.robustness_table(evaluation, columns, epsilon))
    for name, attack in attacks.items():
        if isinstance(attack, EnsembleAttack):
            counts = robustness.breakers(evaluation, name, epsilon).reset_index(names="member")
            counts["share"] = counts.share.map("{:.3f}".format)
            lines += ["", f"## The member of {name} that broke each test image first", ""]
            lines += robustness.markdown(counts)
    with atomic_file(path) as f:
        f.write(("\n".join(lines) + "\n").encode())

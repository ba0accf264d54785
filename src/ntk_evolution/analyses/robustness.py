"""Robust accuracy side by side: PGD, the ensemble, transfer from the parent and the black-box
attack, per model, with 95 % intervals over the test images (:mod:`ntk_evolution.analyses.intervals`).

A model whose robustness is real keeps about the same accuracy under every column; one whose
robustness came from masked gradients loses more under the ensemble, transfer or Square than
under PGD. :func:`robustness_table` reads the tidy evaluation table (one row per model, attack,
epsilon and source, with ``correct`` and ``n``) and gives one row per phase-1 network and child
of the last spawn epoch; :func:`markdown` writes it with the members' first-breaker counts.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ntk_evolution.analyses import intervals
from ntk_evolution.configuration.experiment import MODEL_COLUMNS

LETTER = {"benign": "C", "adversarial": "A", "flip": "F", "none": ""}


def _shares(rows: pd.DataFrame) -> pd.Series:
    """``accuracy [low, high]`` of each row, by model."""
    low, high = intervals.wilson(rows.correct.to_numpy(), rows.n.to_numpy())
    text = [
        f"{k / n:.3f} [{lo:.3f}, {hi:.3f}]"
        for k, n, lo, hi in zip(rows.correct, rows.n, low, high, strict=True)
    ]
    return pd.Series(text, index=pd.MultiIndex.from_frame(rows[MODEL_COLUMNS]))


def _last_spawn(evaluation: pd.DataFrame) -> pd.DataFrame:
    """The rows of the phase-1 networks and of the children of the last spawn epoch."""
    last = evaluation.spawn_epoch.max()
    return evaluation[evaluation.spawn_epoch.isna() | (evaluation.spawn_epoch == last)]


def robustness_table(
    evaluation: pd.DataFrame, columns: Sequence[tuple[str, str, str]], epsilon: float
) -> pd.DataFrame:
    """One row per phase-1 network and child of the last spawn epoch: its cell (phase-1 and
    phase-2 regime letters), dynamics and seed, then per ``(title, attack, source)`` of
    ``columns`` its accuracy at ``epsilon`` (``clean``: at radius 0) with the interval (empty
    where not measured)."""
    at = evaluation[np.isclose(evaluation.epsilon, epsilon) | (evaluation.attack == "clean")]
    chosen = _last_spawn(at)
    models = chosen[MODEL_COLUMNS].drop_duplicates()
    models = models.assign(
        network=models.spawn_epoch.isna(),
        cell=models.phase1_regime.map(LETTER) + models.phase2_regime.map(LETTER),
    ).sort_values(["network", "dynamics", "cell", "seed"], ascending=[False, True, True, True])
    table = pd.DataFrame(
        {
            "model": [
                "network" if np.isnan(s) else f"child, spawn {s:g}" for s in models.spawn_epoch
            ],
            "cell": models.cell.values,
            "dynamics": models.dynamics.values,
            "seed": models.seed.values,
        },
        index=pd.MultiIndex.from_frame(models[MODEL_COLUMNS]),
    )
    for title, attack, source in columns:
        rows = chosen[(chosen.attack == attack) & (chosen.source == source)]
        table[title] = _shares(rows).reindex(table.index).fillna("").values if len(rows) else ""
    return table.reset_index(drop=True)


def breakers(evaluation: pd.DataFrame, ensemble: str, epsilon: float) -> pd.DataFrame:
    """How many test images each member of ``ensemble`` broke first, summed over the white-box
    rows at ``epsilon`` of the models of :func:`robustness_table`, with the share of all broken
    images."""
    rows = _last_spawn(evaluation)
    rows = rows[
        (rows.attack == ensemble) & (rows.source == "self") & np.isclose(rows.epsilon, epsilon)
    ]
    counts = rows.filter(like="broken_first_by_").sum()
    counts.index = counts.index.str.removeprefix("broken_first_by_")
    total = counts.sum()
    return pd.DataFrame({"broken first": counts.astype(int), "share": counts / max(total, 1)})


def markdown(table: pd.DataFrame) -> list[str]:
    """``table`` as the lines of a Markdown table."""
    lines = ["| " + " | ".join(map(str, table.columns)) + " |", "|" + "---|" * table.shape[1]]
    return lines + ["| " + " | ".join(map(str, row)) + " |" for row in table.itertuples(False)]

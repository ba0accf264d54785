"""The paper's findings, judged on one run's own statistics and accuracies.

Each finding is a claim of Loo et al. (2022) and a set of measured rows. A row has a ``value``,
and, when it takes part in the verdict (``decisive``), a ``threshold`` and whether it ``holds``;
informative rows give context (velocities, the cells behind a difference). A finding is
``shown`` when it has decisive rows and all of them hold, ``not shown`` when one fails, and
``not measured`` when the run lacks what it needs (one seed, no adversarial runs, no children).
Every threshold comes from the ``findings`` section of the config (:class:`ntk_evolution.settings.FindingsSettings`).

- F1, adversarial training leads to a different kernel. At the final epoch, every benign-vs-
  adversarial kernel distance across seeds (runs that share no initial weights), divided by the
  larger seed-to-seed yardstick (benign vs benign, adversarial vs adversarial), is at least
  ``distance_ratio``, on the distance ``kernel_distance`` names (raw or double-centred; the
  other is reported beside it). Also reported: the first epoch from which the smallest
  cross-seed distance stays above the larger yardstick.
- F2, the kernel converges rapidly. For every run, the settling epoch, the first checkpoint from
  which the distance to the final kernel stays below ``settle_fraction`` of its epoch-0 value,
  is at most ``settle_by`` of the training epochs. The velocity at the last checkpoint and its
  ratio to the run's peak velocity are reported beside it.
- F3, the adversarial kernel gives robustness. For the fixed-kernel children (linearized and
  centered) of the last spawn epoch, under the evaluation attack ``attack`` at its own epsilon:
  the benign phase-1 networks and the CC children keep at most ``benign_robust_max`` robust
  accuracy, and the AC and AA children of each seed have at least ``robust_margin`` more robust
  accuracy than the CC child of the same seed and dynamics.
- F4, no gradient masking. For the AC and AA children of F3, transfer accuracy on the parent's
  adversarial images is at least their white-box robust accuracy minus ``masking_tolerance``: a
  model whose robustness came from masked gradients would fall further under transferred
  examples than under its own. CC and CA children are reported, not judged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ntk_evolution.settings import FindingsSettings

CLAIMS = {
    "F1": "adversarial training leads to a different kernel",
    "F2": "the kernel converges rapidly",
    "F3": "the adversarial kernel gives robustness",
    "F4": "no gradient masking",
}
COLUMNS = ["finding", "measure", "subject", "value", "threshold", "decisive", "holds"]
FIXED_KERNEL = ("linearized", "centered")
LETTER = {"benign": "C", "adversarial": "A"}
DISTANCES = {"raw": "distance", "centered": "centered_distance"}


def _row(finding, measure, subject, value, threshold=np.nan, holds=None) -> dict[str, Any]:
    """One table row; ``holds`` None marks an informative row."""
    return {
        "finding": finding,
        "measure": measure,
        "subject": subject,
        "value": float(value),
        "threshold": float(threshold),
        "decisive": holds is not None,
        "holds": bool(holds) if holds is not None else None,
    }


def first_epoch_from_which(epochs: np.ndarray, condition: np.ndarray) -> float:
    """The first epoch from which ``condition`` holds at every later epoch; NaN if it fails at
    the last one."""
    failing = np.flatnonzero(~np.asarray(condition, bool))
    if len(failing) == 0:
        return float(epochs[0])
    if failing[-1] == len(epochs) - 1:
        return np.nan
    return float(epochs[failing[-1] + 1])


def different_kernel(pairs: xr.Dataset, t: FindingsSettings) -> list[dict[str, Any]]:
    """F1 from :func:`ntk_evolution.statistics.pair_distances`' dataset."""
    benign_adversarial = pairs.comparison == "benign vs adversarial"
    across = pairs.where(benign_adversarial & (pairs.seeds == "across"), drop=True)
    yardsticks = pairs.where(
        pairs.comparison.isin(["benign vs benign", "adversarial vs adversarial"]), drop=True
    )
    if across.sizes.get("pair", 0) == 0 or yardsticks.sizes.get("pair", 0) == 0:
        return []
    rows = []
    epochs = pairs.epoch.values
    for name, variable in DISTANCES.items():
        decisive = name == t.kernel_distance
        yard = yardsticks[variable].max("pair")
        final_yard = float(yard.isel(epoch=-1))
        rows.append(_row("F1", f"larger yardstick ({name})", "final epoch", final_yard))
        for pair in across.pair.values:
            ratio = float(across[variable].sel(pair=pair).isel(epoch=-1)) / final_yard
            holds = ratio >= t.distance_ratio if decisive else None
            rows.append(
                _row(
                    "F1",
                    f"distance / yardstick ({name})",
                    str(pair),
                    ratio,
                    t.distance_ratio,
                    holds,
                )
            )
        above = (across[variable].min("pair") > yard).values
        rows.append(
            _row(
                "F1",
                f"stays above the yardsticks from epoch ({name})",
                "all pairs across seeds",
                first_epoch_from_which(epochs, above),
            )
        )
    return rows


def rapid_convergence(
    evolutions: Mapping[str, xr.Dataset], epochs: float, t: FindingsSettings
) -> list[dict[str, Any]]:
    """F2 from each run's :func:`ntk_evolution.statistics.evolution` dataset, by run name;
    ``epochs``: the length of phase-1 training."""
    rows = []
    for run, ev in evolutions.items():
        to_final = ev.distance_to_final.values
        settled = to_final <= t.settle_fraction * to_final[0]
        settle = first_epoch_from_which(ev.epoch.values, settled)
        limit = t.settle_by * epochs
        rows.append(_row("F2", "settling epoch", run, settle, limit, bool(settle <= limit)))
        velocity = ev.velocity.values
        rows.append(_row("F2", "velocity at the last checkpoint", run, velocity[-1]))
        rows.append(_row("F2", "last / peak velocity", run, velocity[-1] / np.nanmax(velocity)))
    return rows


def _cells(evaluation: pd.DataFrame, t: FindingsSettings, epsilon: float) -> pd.DataFrame:
    """Robust (``self``) and transfer (``parent``) accuracy of the fixed-kernel children of the
    last spawn epoch, one row per (dynamics, cell, seed)."""
    children = evaluation[
        evaluation.dynamics.isin(FIXED_KERNEL)
        & evaluation.spawn_epoch.notna()
        & (evaluation.attack == t.attack)
        & np.isclose(evaluation.epsilon, epsilon)
        & evaluation.phase1_regime.isin(LETTER)
    ]
    if children.empty:
        return children
    last = children[children.spawn_epoch == children.spawn_epoch.max()].copy()
    last["cell"] = last.phase1_regime.map(LETTER) + last.phase2_regime.map(LETTER)
    return last.pivot_table(
        index=["dynamics", "cell", "seed"], columns="source", values="accuracy"
    ).reset_index()


def adversarial_kernel_robustness(
    evaluation: pd.DataFrame, t: FindingsSettings, epsilon: float
) -> list[dict[str, Any]]:
    """F3 from the tidy evaluation table, under ``t.attack`` at ``epsilon``."""
    parents = evaluation[
        evaluation.spawn_epoch.isna()
        & (evaluation.phase1_regime == "benign")
        & (evaluation.attack == t.attack)
        & np.isclose(evaluation.epsilon, epsilon)
        & (evaluation.source == "self")
    ]
    cells = _cells(evaluation, t, epsilon)
    if cells.empty:
        return []
    rows = [
        _row(
            "F3",
            "robust accuracy, benign network",
            f"seed {r.seed}",
            r.accuracy,
            t.benign_robust_max,
            r.accuracy <= t.benign_robust_max,
        )
        for r in parents.itertuples()
    ]
    for (dynamics, seed), group in cells.groupby(["dynamics", "seed"], sort=False):
        robust = dict(zip(group.cell, group["self"], strict=True))
        subject = f"{dynamics}, seed {seed}"
        for cell in ("CC", "CA", "AC", "AA"):
            if cell in robust:
                holds = robust[cell] <= t.benign_robust_max if cell == "CC" else None
                threshold = t.benign_robust_max if cell == "CC" else np.nan
                rows.append(
                    _row("F3", f"robust accuracy {cell}", subject, robust[cell], threshold, holds)
                )
        if "CC" in robust:
            for cell in ("AC", "AA"):
                if cell in robust:
                    gain = robust[cell] - robust["CC"]
                    rows.append(
                        _row(
                            "F3",
                            f"{cell} - CC robust accuracy",
                            subject,
                            gain,
                            t.robust_margin,
                            gain >= t.robust_margin,
                        )
                    )
    return rows


def no_gradient_masking(
    evaluation: pd.DataFrame, t: FindingsSettings, epsilon: float
) -> list[dict[str, Any]]:
    """F4 from the tidy evaluation table, under ``t.attack`` at ``epsilon``."""
    cells = _cells(evaluation, t, epsilon)
    if cells.empty or "parent" not in cells:
        return []
    rows = []
    for r in cells.itertuples():
        gap = r.parent - r.self
        judged = r.cell in ("AC", "AA")
        holds = gap >= -t.masking_tolerance if judged else None
        threshold = -t.masking_tolerance if judged else np.nan
        subject = f"{r.dynamics} {r.cell}, seed {r.seed}"
        rows.append(
            _row("F4", "transfer - white-box robust accuracy", subject, gap, threshold, holds)
        )
    return rows


def findings_table(
    pairs: xr.Dataset | None,
    evolutions: Mapping[str, xr.Dataset],
    evaluation: pd.DataFrame,
    *,
    thresholds: FindingsSettings,
    epochs: float,
    epsilon: float,
) -> pd.DataFrame:
    """Every finding's rows (:data:`COLUMNS`); ``pairs`` is None without pairs of runs."""
    rows = [
        *(different_kernel(pairs, thresholds) if pairs is not None else []),
        *rapid_convergence(evolutions, epochs, thresholds),
        *adversarial_kernel_robustness(evaluation, thresholds, epsilon),
        *no_gradient_masking(evaluation, thresholds, epsilon),
    ]
    return pd.DataFrame(rows, columns=COLUMNS)


def verdicts(table: pd.DataFrame) -> dict[str, str]:
    """``shown``, ``not shown`` or ``not measured`` for every finding of :data:`CLAIMS`."""
    result = {}
    for finding in CLAIMS:
        decisive = table[(table.finding == finding) & table.decisive.astype(bool)]
        if decisive.empty:
            result[finding] = "not measured"
        else:
            result[finding] = "shown" if decisive.holds.astype(bool).all() else "not shown"
    return result


def _markdown_table(table: pd.DataFrame) -> list[str]:
    """``table`` as the lines of a Markdown table, numbers to 3 significant digits."""

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return "" if np.isnan(value) else f"{value:.3g}"
        return "" if value is None else str(value)

    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(False)]
    return lines


def markdown(table: pd.DataFrame, *, thresholds: FindingsSettings, context: Sequence[str]) -> str:
    """The findings as a Markdown page: per finding, the claim, the verdict and its rows."""
    result = verdicts(table)
    lines = ["# Findings of this run", "", *context, ""]
    lines += [f"- **{f}**, {claim}: **{result[f]}**" for f, claim in CLAIMS.items()]
    lines += ["", f"F1 is judged on the {thresholds.kernel_distance} kernel distance."]
    for finding, claim in CLAIMS.items():
        part = table[table.finding == finding].drop(columns="finding")
        lines += ["", f"## {finding}: {claim} ({result[finding]})", ""]
        if part.empty:
            lines.append("Not measured: this run lacks the runs, seeds or children it needs.")
        else:
            lines += _markdown_table(part)
    return "\n".join(lines) + "\n"

"""The paper's findings, judged on one run's own statistics and accuracies.

Each finding is a claim of Loo et al. (2022) and a set of measured rows. A row has a ``value``,
for an accuracy or a difference of accuracies its 95 % interval over the test images
(``low``, ``high``: :mod:`ntk_evolution.analyses.intervals`), and, when it takes part in the verdict
(``decisive``), a ``threshold`` and its ``outcome``: ``holds``, ``fails`` or ``inconclusive``
(the threshold lies inside the interval; a row without an interval is never inconclusive).
Informative rows give context (velocities, the cells behind a difference, the mean and spread
of a cell over seeds). A finding is ``not shown`` when a decisive row fails, ``inconclusive``
when none fails but one is inconclusive, ``shown`` when all hold, and ``not measured`` when the
run lacks what it needs (one seed, no adversarial runs, no children). Every threshold comes
from the ``findings`` section of the config (:class:`ntk_evolution.configuration.settings.FindingsSettings`).

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
  centered) of the last spawn epoch, under the evaluation attack ``attack`` (the ensemble, by
  default) at its own epsilon: the benign phase-1 networks and the CC children keep at most
  ``benign_robust_max`` robust accuracy, and the AC and AA children of each seed have at least
  ``robust_margin`` more robust accuracy than the CC child of the same seed and dynamics.
- F4, no gradient masking. For the AC and AA children of F3, the white-box robust accuracy
  under ``attack`` exceeds neither the transfer accuracy on the parent's adversarial images
  (the same attack crafted against the final phase-1 network) nor the black-box accuracy under
  ``black_box`` (Square, which uses no gradient) by more than ``masking_tolerance``: a model
  whose robustness came from masked gradients would fall further under attacks that do not use
  its own gradients. CC and CA children are reported, not judged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ntk_evolution.analyses import intervals
from ntk_evolution.configuration.settings import FindingsSettings

CLAIMS = {
    "F1": "adversarial training leads to a different kernel",
    "F2": "the kernel converges rapidly",
    "F3": "the adversarial kernel gives robustness",
    "F4": "no gradient masking",
}
COLUMNS = [
    "finding",
    "measure",
    "subject",
    "value",
    "low",
    "high",
    "threshold",
    "decisive",
    "outcome",
]
FIXED_KERNEL = ("linearized", "centered")
LETTER = {"benign": "C", "adversarial": "A"}
DISTANCES = {"raw": "distance", "centered": "centered_distance"}


def _row(
    finding: str,
    measure: str,
    subject: str,
    value: float,
    threshold: float = np.nan,
    *,
    interval: tuple[float, float] = (np.nan, np.nan),
    at_least: bool | None = None,
) -> dict[str, Any]:
    """One table row; ``at_least`` None marks an informative row, else the row is decisive and
    its value must be at least (True) or at most (False) ``threshold``: judged on its
    ``interval`` where it has one (:func:`ntk_evolution.analyses.intervals.verdict`), else on the value."""
    low, high = interval
    outcome = None
    if at_least is not None:
        bounds = (low, high) if not np.isnan(low) else (value, value)
        outcome = (
            "fails"  # a measure that never came about, such as a kernel that never settled
            if np.isnan(bounds[0])
            else intervals.verdict(*bounds, threshold, at_least=at_least)
        )
    return {
        "finding": finding,
        "measure": measure,
        "subject": subject,
        "value": float(value),
        "low": float(low),
        "high": float(high),
        "threshold": float(threshold),
        "decisive": at_least is not None,
        "outcome": outcome,
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
    """F1 from :func:`ntk_evolution.kernels.statistics.pair_distances`' dataset."""
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
            rows.append(
                _row(
                    "F1",
                    f"distance / yardstick ({name})",
                    str(pair),
                    ratio,
                    t.distance_ratio if decisive else np.nan,
                    at_least=True if decisive else None,
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
    """F2 from each run's :func:`ntk_evolution.kernels.statistics.evolution` dataset, by run name;
    ``epochs``: the length of phase-1 training."""
    rows = []
    for run, ev in evolutions.items():
        to_final = ev.distance_to_final.values
        settled = to_final <= t.settle_fraction * to_final[0]
        settle = first_epoch_from_which(ev.epoch.values, settled)
        limit = t.settle_by * epochs
        rows.append(_row("F2", "settling epoch", run, settle, limit, at_least=False))
        velocity = ev.velocity.values
        rows.append(_row("F2", "velocity at the last checkpoint", run, velocity[-1]))
        rows.append(_row("F2", "last / peak velocity", run, velocity[-1] / np.nanmax(velocity)))
    return rows


def _share(correct: float, n: float) -> tuple[float, tuple[float, float]]:
    """An accuracy ``correct / n`` and its Wilson interval."""
    return correct / n, intervals.wilson(int(correct), int(n))


def _gap(first: tuple[float, float], second: tuple[float, float]) -> dict[str, Any]:
    """The difference of two accuracies, each ``(correct, n)``, and its interval."""
    (k1, n1), (k2, n2) = first, second
    interval = intervals.difference((int(k1), int(n1)), (int(k2), int(n2)))
    return {"value": k1 / n1 - k2 / n2, "interval": interval}


def _selected(evaluation: pd.DataFrame, attack: str, epsilon: float) -> pd.DataFrame:
    """The rows of ``attack`` at ``epsilon``."""
    return evaluation[(evaluation.attack == attack) & np.isclose(evaluation.epsilon, epsilon)]


def _cells(evaluation: pd.DataFrame, t: FindingsSettings, epsilon: float) -> pd.DataFrame:
    """The fixed-kernel children of the last spawn epoch, one row per (dynamics, cell, seed),
    with ``n`` and the ``correct`` counts under ``t.attack``, white-box (``self``) and
    transferred (``parent``), and under ``t.black_box`` (``black_box``)."""
    children = evaluation[
        evaluation.dynamics.isin(FIXED_KERNEL)
        & evaluation.spawn_epoch.notna()
        & evaluation.phase1_regime.isin(LETTER)
    ]
    if children.empty:
        return children
    last = children[children.spawn_epoch == children.spawn_epoch.max()].copy()
    last["cell"] = last.phase1_regime.map(LETTER) + last.phase2_regime.map(LETTER)
    index = ["dynamics", "cell", "seed"]
    judged = _selected(last, t.attack, epsilon)
    cells = judged.pivot_table(index=index, columns="source", values="correct").reset_index()
    cells["n"] = judged.groupby(index).n.first().values
    black = _selected(last, t.black_box, epsilon)
    black = black[black.source == "self"].set_index(index).correct.rename("black_box")
    return cells.join(black, on=index)


def adversarial_kernel_robustness(
    evaluation: pd.DataFrame, t: FindingsSettings, epsilon: float
) -> list[dict[str, Any]]:
    """F3 from the tidy evaluation table, under ``t.attack`` at ``epsilon``."""
    parents = _selected(evaluation, t.attack, epsilon)
    parents = parents[
        parents.spawn_epoch.isna()
        & (parents.phase1_regime == "benign")
        & (parents.source == "self")
    ]
    cells = _cells(evaluation, t, epsilon)
    if cells.empty:
        return []
    benign = {"threshold": t.benign_robust_max, "at_least": False}
    rows = []
    for r in parents.itertuples():
        value, interval = _share(r.correct, r.n)
        measure = "robust accuracy, benign network"
        rows.append(_row("F3", measure, f"seed {r.seed}", value, interval=interval, **benign))
    for (dynamics, seed), group in cells.groupby(["dynamics", "seed"], sort=False):
        robust = {r.cell: (r.self, r.n) for r in group.itertuples()}
        subject = f"{dynamics}, seed {seed}"
        for cell in ("CC", "CA", "AC", "AA"):
            if cell in robust:
                value, interval = _share(*robust[cell])
                judged = benign if cell == "CC" else {}
                measure = f"robust accuracy {cell}"
                rows.append(_row("F3", measure, subject, value, interval=interval, **judged))
        for cell in ("AC", "AA"):
            if cell in robust and "CC" in robust:
                gain = _gap(robust[cell], robust["CC"])
                margin = {"threshold": t.robust_margin, "at_least": True}
                rows.append(_row("F3", f"{cell} - CC robust accuracy", subject, **gain, **margin))
    return rows + _seed_spread(cells)


def _seed_spread(cells: pd.DataFrame) -> list[dict[str, Any]]:
    """Informative F3 rows: per dynamics and cell, the mean robust accuracy over seeds and its
    standard deviation (n - 1 in the denominator; none for one seed)."""
    rows = []
    for (dynamics, cell), group in cells.groupby(["dynamics", "cell"], sort=False):
        accuracy = group["self"] / group.n
        seeds = f"{dynamics}, {len(group)} seeds"
        rows.append(_row("F3", f"robust accuracy {cell}, mean over seeds", seeds, accuracy.mean()))
        if len(group) > 1:
            spread = accuracy.std(ddof=1)
            rows.append(_row("F3", f"robust accuracy {cell}, sd over seeds", seeds, spread))
    return rows


def no_gradient_masking(
    evaluation: pd.DataFrame, t: FindingsSettings, epsilon: float
) -> list[dict[str, Any]]:
    """F4 from the tidy evaluation table, under ``t.attack`` and ``t.black_box`` at
    ``epsilon``."""
    cells = _cells(evaluation, t, epsilon)
    if cells.empty or "parent" not in cells:
        return []
    rows = []
    for r in cells.itertuples():
        judged = r.cell in ("AC", "AA")
        subject = f"{r.dynamics} {r.cell}, seed {r.seed}"
        for name, other in (("transfer", r.parent), ("black-box", r.black_box)):
            if np.isnan(other):
                continue
            gap = _gap((other, r.n), (r.self, r.n))
            check = {"threshold": -t.masking_tolerance, "at_least": True} if judged else {}
            rows.append(_row("F4", f"{name} - white-box robust accuracy", subject, **gap, **check))
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
    """``shown``, ``not shown``, ``inconclusive`` or ``not measured`` for every finding of
    :data:`CLAIMS` (module docstring)."""
    result = {}
    for finding in CLAIMS:
        outcomes = set(table[(table.finding == finding) & table.decisive.astype(bool)].outcome)
        if not outcomes:
            result[finding] = "not measured"
        elif "fails" in outcomes:
            result[finding] = "not shown"
        else:
            result[finding] = "inconclusive" if "inconclusive" in outcomes else "shown"
    return result


def _evidence(measure: str, rows: pd.DataFrame) -> str:
    """One decisive measure in words: its value and interval, or its range over the subjects
    and how many hold, are inconclusive or fail, against the threshold."""
    threshold = f"threshold {rows.threshold.iloc[0]:.3g}"
    if len(rows) == 1:
        r = rows.iloc[0]
        return f"{measure}: {_with_interval(r.value, r.low, r.high)} ({threshold}, {r.outcome})"
    plural = {"holds": "hold", "fails": "fail", "inconclusive": "inconclusive"}
    counts = ", ".join(f"{n} {plural[o]}" for o, n in rows.outcome.value_counts().items())
    span = f"{rows.value.min():.3g} to {rows.value.max():.3g}"
    return f"{measure}: {span} over {len(rows)} ({threshold}; {counts})"


def overview(table: pd.DataFrame) -> pd.DataFrame:
    """One row per finding: its claim, verdict and decisive measures in words (``evidence``)."""
    result = verdicts(table)
    rows = []
    for finding, claim in CLAIMS.items():
        decisive = table[(table.finding == finding) & table.decisive.astype(bool)]
        measures = decisive.groupby("measure", sort=False)
        evidence = "; ".join(_evidence(m, group) for m, group in measures)
        rows.append({"finding": finding, "claim": claim, "verdict": result[finding]})
        rows[-1]["evidence"] = evidence or "the run lacks the runs, seeds or children it needs"
    return pd.DataFrame(rows)


def _markdown_table(table: pd.DataFrame) -> list[str]:
    """``table`` as the lines of a Markdown table, numbers to 3 significant digits."""

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return "" if np.isnan(value) else f"{value:.3g}"
        return "" if value is None else str(value)

    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(False)]
    return lines


def _with_interval(value: float, low: float, high: float) -> str:
    """``value [low, high]`` to 3 significant digits, or the value alone without an interval."""
    if np.isnan(value):
        return ""
    return f"{value:.3g}" if np.isnan(low) else f"{value:.3g} [{low:.3g}, {high:.3g}]"


def markdown(table: pd.DataFrame, *, thresholds: FindingsSettings, context: Sequence[str]) -> str:
    """The findings as a Markdown page: per finding, the claim, the verdict and its rows."""
    result = verdicts(table)
    lines = ["# Findings of this run", "", *context, ""]
    lines += [f"- **{f}**, {claim}: **{result[f]}**" for f, claim in CLAIMS.items()]
    lines += [
        "",
        f"F1 is judged on the {thresholds.kernel_distance} kernel distance. Accuracies and their "
        "differences carry a 95 % interval over the test images in brackets (Wilson's score "
        "interval; Newcombe's for a difference); a decisive row whose threshold lies inside its "
        "interval is inconclusive.",
    ]
    for finding, claim in CLAIMS.items():
        part = table[table.finding == finding].drop(columns="finding")
        part = part.assign(
            value=[_with_interval(*v) for v in zip(part.value, part.low, part.high, strict=True)]
        )
        part = part.drop(columns=["low", "high"])
        lines += ["", f"## {finding}: {claim} ({result[finding]})", ""]
        if part.empty:
            lines.append("Not measured: this run lacks the runs, seeds or children it needs.")
        else:
            lines += _markdown_table(part)
    return "\n".join(lines) + "\n"

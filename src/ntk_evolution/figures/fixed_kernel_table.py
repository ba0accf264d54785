"""The fixed-kernel grid: phase-1 regime (the kernel) x phase-2 regime (the data), as in the paper.

Rows are the two-letter codes of the authors' scripts, phase 1 then phase 2, C for benign
("clean") and A for adversarial: CC, CA, AC, AA. Columns are clean, robust and transfer accuracy
(each attack at its headline epsilon), the mean over seeds, for the linearized and centered
children of the last spawn epoch.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd
import seaborn as sns

from ntk_evolution.figures import style

FIXED_KERNEL = ("linearized", "centered")


def table(evaluation: pd.DataFrame, headline: Mapping[str, float]) -> pd.DataFrame:
    """Mean, min and max over seeds per (dynamics, code, measure), at the last spawn epoch and
    each attack's ``headline`` epsilon (attack name -> epsilon)."""
    evaluation = style.at_headline(evaluation, headline)
    children = evaluation[evaluation.dynamics.isin(FIXED_KERNEL) & evaluation.spawn_epoch.notna()]
    last = children[children.spawn_epoch == children.spawn_epoch.max()].copy()
    last["code"] = last.phase1_regime.map(style.LETTER) + last.phase2_regime.map(style.LETTER)
    last["measure"] = [
        "clean" if attack == "clean" else f"{'robust' if source == 'self' else 'transfer'} {attack}"
        for attack, source in zip(last.attack, last.source, strict=True)
    ]
    summary = (
        last.groupby(["dynamics", "spawn_epoch", "code", "measure"], sort=False)
        .accuracy.agg(["mean", "min", "max", "count"])
        .rename(columns={"count": "seeds"})
        .reset_index()
    )
    return summary


def plot(summary: pd.DataFrame, path: str | Path) -> None:
    """Annotated heat map of the mean accuracies, one panel per dynamics: a column per grid
    code, a row per measure (clean, then robust and transfer, each attack in the table's
    order), so that any number of attacks fits; one colour scale, 0 to 1."""
    style.setup()
    dynamics = list(dict.fromkeys(summary.dynamics))
    measures = sorted(
        dict.fromkeys(summary.measure),
        key=lambda m: ["clean", "robust", "transfer"].index(m.split()[0]),
    )
    fig, axes = style.subplots(
        1,
        len(dynamics),
        figsize=(3.2 * len(dynamics) + 2, 0.32 * len(measures) + 1.3),
        squeeze=False,
        sharey=True,
    )
    for ax, name in zip(axes[0], dynamics, strict=True):
        part = summary[summary.dynamics == name]
        grid = part.pivot(index="measure", columns="code", values="mean")
        codes = [c for c in style.CODES if c in grid.columns]
        grid = grid.reindex(index=measures, columns=codes + [c for c in grid if c not in codes])
        sns.heatmap(
            grid,
            vmin=0,
            vmax=1,
            annot=True,
            fmt=".3f",
            annot_kws={"fontsize": 8},
            cmap="magma",
            cbar=False,
            ax=ax,
        )
        ax.set_title(f"{name} children,\nspawn epoch {part.spawn_epoch.iloc[0]:g}")
        ax.set_xlabel("phase 1, phase 2")
        ax.set_ylabel("")
        ax.tick_params(axis="y", labelrotation=0)
    style.save(fig, path)

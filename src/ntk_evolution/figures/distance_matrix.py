"""Heat maps of the epoch x epoch kernel distance matrix: a row per regime, a panel per seed,
on one colour scale, so that the regimes compare at a glance."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import seaborn as sns
import xarray as xr
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize

from ntk_evolution.configuration.experiment import Run, epoch_label
from ntk_evolution.figures import style

CMAP = "viridis"


def plot(evolutions: Sequence[xr.Dataset], runs: Sequence[Run], path: str | Path) -> None:
    """``evolutions[i]`` is the evolution dataset of ``runs[i]``; one colour bar for every
    panel."""
    style.setup()
    regimes = style.regimes_present({run.regime for run in runs})
    seeds = sorted({run.seed for run in runs})
    fig, axes = style.subplots(
        len(regimes), len(seeds), figsize=(3.6 * len(seeds) + 1, 3.5 * len(regimes)), squeeze=False
    )
    norm = Normalize(0.0, max(float(ds.distance_matrix.max()) for ds in evolutions) or 1.0)
    for ax in axes.flat:
        ax.set_visible(False)
    for ds, run in zip(evolutions, runs, strict=True):
        ax = axes[regimes.index(run.regime), seeds.index(run.seed)]
        ax.set_visible(True)
        labels = [epoch_label(e) for e in ds.epoch.values]
        sns.heatmap(
            ds.distance_matrix.values,
            ax=ax,
            norm=norm,
            cmap=CMAP,
            square=True,
            xticklabels=labels,
            yticklabels=labels,
            cbar=False,
        )
        ax.set_title(f"{run.regime}, seed {run.seed}")
        ax.set_xlabel("epoch")
        ax.set_ylabel("epoch")
        ax.tick_params(labelsize=7)
        ax.tick_params(axis="y", labelrotation=0)
    fig.colorbar(ScalarMappable(norm, CMAP), ax=axes, label="kernel distance S", shrink=0.8)
    style.save(fig, path)

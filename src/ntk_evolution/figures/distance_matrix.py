"""Heat map of the epoch x epoch kernel distance matrix, one panel per seed of one regime."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import seaborn as sns
import xarray as xr

from ntk_evolution.experiment import Run, epoch_label
from ntk_evolution.figures import style


def plot(evolutions: Sequence[xr.Dataset], runs: Sequence[Run], path: str | Path) -> None:
    """``evolutions[i]`` is the evolution dataset of ``runs[i]``, all of the same regime."""
    style.setup()
    fig, axes = plt.subplots(1, len(runs), figsize=(4.2 * len(runs), 3.8), squeeze=False)
    vmax = max(float(ds.distance_matrix.max()) for ds in evolutions) or 1.0
    for ax, ds, run in zip(axes[0], evolutions, runs, strict=True):
        labels = [epoch_label(e) for e in ds.epoch.values]
        sns.heatmap(
            ds.distance_matrix.values,
            ax=ax,
            vmin=0.0,
            vmax=vmax,
            cmap="viridis",
            square=True,
            xticklabels=labels,
            yticklabels=labels,
            cbar_kws={"label": "kernel distance S"},
        )
        ax.set_title(f"{run.regime}, seed {run.seed}")
        ax.set_xlabel("epoch")
        ax.set_ylabel("epoch")
        ax.tick_params(labelsize=6)
    style.save(fig, path)

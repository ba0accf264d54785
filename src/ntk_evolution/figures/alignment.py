"""Kernel-target alignment against epoch, by regime."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import seaborn as sns
import xarray as xr

from ntk_evolution.figures import style


def plot(alignments: xr.Dataset, path: str | Path) -> None:
    """``alignments``: per-run alignment datasets stacked along ``run``."""
    style.setup()
    table = alignments.mean_alignment.to_dataframe().reset_index()
    fig, ax = plt.subplots(figsize=(6, 4))
    sns.lineplot(
        table,
        x="epoch",
        y="mean_alignment",
        hue="regime",
        hue_order=style.regimes_present(table["regime"]),
        errorbar=style.SEED_BAND,
        marker="o",
        markersize=3,
        ax=ax,
    )
    ax.set_ylabel(alignments.mean_alignment.attrs["long_name"])
    style.epoch_axis(ax)
    style.save(fig, path)

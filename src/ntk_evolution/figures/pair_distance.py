"""Distance between two runs' kernels at the same epoch: benign vs adversarial against benign vs benign."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import seaborn as sns
import xarray as xr

from ntk_evolution.figures import style


def plot(pairs: xr.Dataset, path: str | Path) -> None:
    """``pairs``: the dataset of :func:`ntk_evolution.statistics.pair_distances`."""
    style.setup()
    table = pairs.distance.to_dataframe().reset_index()
    fig, ax = plt.subplots(figsize=(6, 4))
    sns.lineplot(
        table,
        x="epoch",
        y="distance",
        hue="kind",
        errorbar=style.SEED_BAND,
        marker="o",
        markersize=3,
        ax=ax,
    )
    ax.set_ylabel(pairs.distance.attrs["long_name"])
    ax.set_title("band: range over seeds (or seed pairs)")
    style.epoch_axis(ax)
    style.save(fig, path)

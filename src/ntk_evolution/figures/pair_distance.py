"""Distance between two runs' kernels at the same epoch, raw and centred, for every comparison:
regime against regime (same seed, across seeds) and seed against seed (the yardsticks)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import seaborn as sns
import xarray as xr

from ntk_evolution.figures import style

PANELS = {"distance": "raw kernels", "centered_distance": "double-centred kernels"}


def plot(pairs: xr.Dataset | None, path: str | Path) -> None:
    """``pairs``: the dataset of :func:`ntk_evolution.statistics.pair_distances`; None for a
    single run, which has no pair: the figure says so.

    One panel per distance; colour is the comparison, dashed lines are the yardsticks, solid
    ones the comparisons across regimes; bands are the range over the pairs of a kind.
    """
    style.setup()
    if pairs is None:
        fig, ax = plt.subplots(figsize=(6, 1.5))
        ax.axis("off")
        ax.text(0.5, 0.5, "a single run: no pair of kernels to compare", ha="center")
        style.save(fig, path)
        return
    table = pairs[list(PANELS)].to_dataframe().reset_index()
    kinds = list(dict.fromkeys(pairs.kind.values))
    dashes = {kind: (4, 2) if "yardstick" in kind else "" for kind in kinds}
    fig, axes = plt.subplots(1, len(PANELS), figsize=(11, 4), sharex=True)
    for ax, (name, title) in zip(axes, PANELS.items(), strict=True):
        style.lines(
            ax,
            table,
            name,
            "kernel distance S",
            hue="kind",
            hue_order=kinds,
            style="kind",
            dashes=dashes,
            legend=ax is axes[-1],
        )
        ax.set_title(title)
        style.epoch_axis(ax)
    sns.move_legend(axes[-1], "upper left", bbox_to_anchor=(1.02, 1), title="comparison")
    style.save(fig, path)

"""Distance between two runs' kernels at the same epoch, raw and centred, for every comparison:
regime against regime (same seed, across seeds) and seed against seed (the yardsticks)."""

from __future__ import annotations

from pathlib import Path

import xarray as xr

from ntk_evolution.figures import style

PANELS = {"distance": "raw kernels", "centered_distance": "double-centred kernels"}


def plot(pairs: xr.Dataset | None, path: str | Path) -> None:
    """``pairs``: the dataset of :func:`ntk_evolution.kernels.statistics.pair_distances`; None for a
    single run, which has no pair: the figure says so.

    One panel per distance; colour is the comparison, dashed lines are the yardsticks, solid
    ones the comparisons across regimes; bands are the range over the pairs of a kind.
    """
    style.setup()
    if pairs is None:
        fig, ax = style.subplots(figsize=(6, 1.5))
        ax.axis("off")
        ax.text(0.5, 0.5, "a single run: no pair of kernels to compare", ha="center")
        style.save(fig, path)
        return
    table = pairs[list(PANELS)].to_dataframe().reset_index()
    kinds = list(dict.fromkeys(pairs.kind.values))
    dashes = {kind: (4, 2) if "yardstick" in kind else "" for kind in kinds}
    fig, axes = style.subplots(1, len(PANELS), figsize=(11, 3.6), sharex=True)
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
        )
        ax.set_title(title)
        style.epoch_axis(ax)
    style.legend_outside(fig, title="comparison")
    style.save(fig, path)

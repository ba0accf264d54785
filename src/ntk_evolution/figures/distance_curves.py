"""Distance to the initial and to the final kernel, and kernel velocity, against epoch."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import xarray as xr

from ntk_evolution.figures import style

PANELS = ("distance_to_init", "distance_to_final", "velocity")


def plot(evolution: xr.Dataset, path: str | Path) -> None:
    """``evolution``: per-run evolution datasets stacked along ``run`` (with ``regime``, ``seed``)."""
    style.setup()
    table = evolution[list(PANELS)].to_dataframe().reset_index()
    order = style.regimes_present(table["regime"])
    fig, axes = plt.subplots(1, len(PANELS), figsize=(12, 3.6))
    for ax, name in zip(axes, PANELS, strict=True):
        style.lines(ax, table, name, evolution[name].attrs["long_name"], hue_order=order)
        style.epoch_axis(ax)
        if name == "velocity":
            ax.set_yscale("log")
    style.save(fig, path)

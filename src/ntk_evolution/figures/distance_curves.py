"""Distance to the initial and to the final kernel, and kernel velocity, against epoch."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import xarray as xr

from ntk_evolution.figures import style

PANELS = ("distance_to_init", "distance_to_final", "velocity")
REFERENCE = ("distance_to_infinite", "centered_distance_to_infinite")


def plot(evolution: xr.Dataset, path: str | Path) -> None:
    """``evolution``: per-run evolution datasets stacked along ``run`` (with ``regime``, ``seed``);
    with the distances to the infinite-width NTK where the runs have them."""
    style.setup()
    panels = [*PANELS, *(name for name in REFERENCE if name in evolution)]
    table = evolution[panels].to_dataframe().reset_index()
    order = style.regimes_present(table["regime"])
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.6))
    for ax, name in zip(axes, panels, strict=True):
        style.lines(ax, table, name, evolution[name].attrs["long_name"], hue_order=order)
        style.epoch_axis(ax)
        if name == "velocity":
            ax.set_yscale("log")
    style.save(fig, path)

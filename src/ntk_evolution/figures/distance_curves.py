"""Distance to the initial and to the final kernel, and kernel velocity, against epoch."""

from __future__ import annotations

from pathlib import Path

import xarray as xr

from ntk_evolution.figures import style

PANELS = {
    "distance_to_init": ("distance to the initial kernel", "kernel distance S(K_0, K_t)"),
    "distance_to_final": ("distance to the final kernel", "kernel distance S(K_t, K_T)"),
    "velocity": ("kernel velocity", "S(K_prev, K_t) / Δt (per epoch)"),
}
REFERENCE = {
    "distance_to_infinite": ("distance to the infinite-width NTK", "kernel distance S"),
    "centered_distance_to_infinite": ("the same, double-centred", "kernel distance S"),
}
SAME_SCALE = ("distance_to_init", "distance_to_final", "distance_to_infinite")  # one y axis
COLUMNS = 3


def plot(evolution: xr.Dataset, path: str | Path) -> None:
    """``evolution``: per-run evolution datasets stacked along ``run`` (with ``regime``, ``seed``);
    with the distances to the infinite-width NTK where the runs have them. Panels of the raw
    kernel distance share their y axis; the velocity is on a log axis."""
    style.setup()
    panels = PANELS | {name: titles for name, titles in REFERENCE.items() if name in evolution}
    table = evolution[list(panels)].to_dataframe().reset_index()
    order = style.regimes_present(table["regime"])
    rows = -(-len(panels) // COLUMNS)
    fig, axes = style.subplots(rows, COLUMNS, figsize=(11, 3.2 * rows), squeeze=False)
    for ax in axes.flat[len(panels) :]:
        ax.set_visible(False)
    same = [ax for ax, name in zip(axes.flat, panels, strict=False) if name in SAME_SCALE]
    for ax in same[1:]:
        ax.sharey(same[0])
    for ax, (name, (title, ylabel)) in zip(axes.flat, panels.items(), strict=False):
        style.lines(ax, table, name, ylabel, hue_order=order)
        style.epoch_axis(ax)
        ax.set_title(title)
        if name == "velocity":
            ax.set_yscale("log")
    style.legend_outside(fig, title="regime")
    style.save(fig, path)

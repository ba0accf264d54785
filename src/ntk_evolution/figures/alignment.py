"""Kernel-target alignment against epoch, by regime."""

from __future__ import annotations

from pathlib import Path

import xarray as xr

from ntk_evolution.figures import style


def plot(alignments: xr.Dataset, path: str | Path) -> None:
    """``alignments``: per-run alignment datasets stacked along ``run``."""
    style.setup()
    table = alignments.mean_alignment.to_dataframe().reset_index()
    fig, ax = style.subplots(figsize=(6, 3.6))
    ylabel = alignments.mean_alignment.attrs["long_name"]
    order = style.regimes_present(table["regime"])
    style.lines(ax, table, "mean_alignment", ylabel, hue_order=order)
    style.epoch_axis(ax)
    style.legend_outside(fig, title="regime")
    style.save(fig, path)

"""Spectra: effective rank and top-k share against epoch, and the final eigenvalue decay."""

from __future__ import annotations

from pathlib import Path

import xarray as xr

from ntk_evolution.figures import style

TITLES = {"effective_rank": "effective rank", "top_k_share": "top-k share of the trace"}


def plot(spectra: xr.Dataset, path: str | Path) -> None:
    """``spectra``: per-run spectrum datasets stacked along ``run``; curves average the logits."""
    style.setup()
    per_epoch = spectra[list(TITLES)].mean("logit").to_dataframe().reset_index()
    final = spectra.eigenvalues.isel(epoch=-1).mean("logit").to_dataframe().reset_index()
    order = style.regimes_present(per_epoch["regime"])
    fig, axes = style.subplots(1, 3, figsize=(11, 3.4))
    for ax, (name, title) in zip(axes[:2], TITLES.items(), strict=True):
        ylabel = f"{spectra[name].attrs['long_name']}, mean over logits"
        style.lines(ax, per_epoch, name, ylabel, hue_order=order)
        style.epoch_axis(ax)
        ax.set_title(title)
    ylabel = f"NTK eigenvalue at epoch {float(spectra.epoch[-1]):g}, mean over logits"
    style.lines(axes[2], final, "eigenvalues", ylabel, hue_order=order, x="rank", dots=False)
    axes[2].set_yscale("log")
    axes[2].set_title("final eigenvalues, largest first")
    style.legend_outside(fig, title="regime")
    style.save(fig, path)

"""Spectra: effective rank and top-k share against epoch, and the final eigenvalue decay."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import xarray as xr

from ntk_evolution.figures import style


def plot(spectra: xr.Dataset, path: str | Path) -> None:
    """``spectra``: per-run spectrum datasets stacked along ``run``; curves average the logits."""
    style.setup()
    per_epoch = spectra[["effective_rank", "top_k_share"]].mean("logit").to_dataframe()
    per_epoch = per_epoch.reset_index()
    final = spectra.eigenvalues.isel(epoch=-1).mean("logit").to_dataframe().reset_index()
    order = style.regimes_present(per_epoch["regime"])
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
    for ax, name in zip(axes[:2], ("effective_rank", "top_k_share"), strict=True):
        ylabel = f"{spectra[name].attrs['long_name']} (mean over logits)"
        style.lines(ax, per_epoch, name, ylabel, hue_order=order)
        style.epoch_axis(ax)
    final_label = "eigenvalue at the final epoch (mean over logits)"
    style.lines(axes[2], final, "eigenvalues", final_label, hue_order=order, x="rank", dots=False)
    axes[2].set_yscale("log")
    style.save(fig, path)

"""Spectra: effective rank and top-k share against epoch, and the final eigenvalue decay."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import seaborn as sns
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
        sns.lineplot(
            per_epoch,
            x="epoch",
            y=name,
            hue="regime",
            hue_order=order,
            errorbar=style.SEED_BAND,
            marker="o",
            markersize=3,
            ax=ax,
        )
        ax.set_ylabel(f"{spectra[name].attrs['long_name']} (mean over logits)")
        style.epoch_axis(ax)
    sns.lineplot(
        final,
        x="rank",
        y="eigenvalues",
        hue="regime",
        hue_order=order,
        errorbar=style.SEED_BAND,
        ax=axes[2],
    )
    axes[2].set_yscale("log")
    axes[2].set_ylabel("eigenvalue at the final epoch (mean over logits)")
    style.save(fig, path)

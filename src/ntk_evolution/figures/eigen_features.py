"""Eigen-features: accuracy against eigen index at the final epoch, and the robust share of
the leading features against epoch."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import xarray as xr

from ntk_evolution.figures import style


def plot_accuracy(features: xr.Dataset, path: str | Path) -> None:
    """``features``: per-run eigen-feature stores stacked along ``run``. Clean and robust
    accuracy of each judged feature's classifier at the final epoch, against its eigen index
    (1: the largest eigenvalue; the trailing features follow a gap); colour is the regime and
    bands the range over seeds."""
    style.setup()
    final = features.accuracy.isel(epoch=-1)
    table = final.to_dataframe().reset_index()
    indices = features.eigen.values.tolist()
    table["position"] = table.eigen.map({k: i for i, k in enumerate(indices)})
    order = style.regimes_present(table.regime)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
    for ax, measure in zip(axes, ("clean", "robust"), strict=True):
        style.lines(
            ax,
            table[table.measure == measure],
            "accuracy",
            "test accuracy",
            hue_order=order,
            x="position",
        )
        ax.set_xticks(range(len(indices)), [str(k) for k in indices])
        ax.set_xlabel("eigen-feature k (1: largest eigenvalue)")
        ax.set_title(f"{measure} accuracy, epoch {float(final.epoch):g}")
        ax.set_ylim(-0.02, 1.02)
    style.save(fig, path)


def plot_robust_share(features: xr.Dataset, path: str | Path) -> None:
    """``features``: per-run eigen-feature stores stacked along ``run``. The robust share of the
    leading features, sum_k robust_k / sum_k clean_k, against epoch; colour is the regime and
    bands the range over seeds."""
    style.setup()
    table = features.robust_share.to_dataframe().reset_index()
    fig, ax = plt.subplots(figsize=(6, 4))
    order = style.regimes_present(table.regime)
    style.lines(ax, table, "robust_share", "robust share of the leading features", hue_order=order)
    style.epoch_axis(ax)
    ax.set_ylim(-0.02, 1.02)
    style.save(fig, path)

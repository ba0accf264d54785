"""Eigen-features: accuracy against eigen index at the final epoch, and the robust share of
the leading features against epoch."""

from __future__ import annotations

from pathlib import Path

import xarray as xr
from matplotlib.ticker import MaxNLocator

from ntk_evolution.figures import style


def plot_accuracy(features: xr.Dataset, path: str | Path) -> None:
    """``features``: per-run eigen-feature stores stacked along ``run``. Clean and robust
    accuracy (a row each) of each judged feature's classifier at the final epoch, against its
    eigen index (1: the largest eigenvalue): the leading features and the trailing ones in
    panels of their own, on one accuracy scale, with chance (one over the classes) dashed;
    colour is the regime and bands the range over seeds."""
    style.setup()
    final = features.accuracy.isel(epoch=-1)
    table = final.to_dataframe().reset_index()
    groups = _consecutive(features.eigen.values.tolist())
    measures = list(features.measure.values)
    fig, axes = style.subplots(
        len(measures),
        len(groups),
        figsize=(9, 2.9 * len(measures)),
        sharey=True,
        squeeze=False,
        gridspec_kw={"width_ratios": [max(len(g), 3) for g in groups]},
    )
    order = style.regimes_present(table.regime)
    chance = 1 / features.sizes["class"]
    for row, measure in zip(axes, measures, strict=True):
        for ax, group in zip(row, groups, strict=True):
            rows = table[(table.measure == measure) & table.eigen.isin(group)]
            style.lines(ax, rows, "accuracy", "", hue_order=order, x="eigen")
            ax.axhline(chance, color="grey", ls="--", lw=1, label=f"chance (1/{1 / chance:g})")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
            ax.set_xlabel("eigen-feature k (1: largest eigenvalue)" if len(group) > 3 else "k")
            which = "leading" if group is groups[0] else "trailing"
            ax.set_title(f"{measure}, {which} features")
            ax.set_ylim(-0.02, 1.02)
        row[0].set_ylabel(f"{measure} test accuracy")
    fig.suptitle(f"eigen-features at epoch {float(final.epoch):g}")
    style.legend_outside(fig, title="regime")
    style.save(fig, path)


def _consecutive(indices: list[int]) -> list[list[int]]:
    """``indices`` (ascending) in runs of consecutive ones: the leading features, then the
    trailing ones."""
    groups = [[indices[0]]]
    for k in indices[1:]:
        if k == groups[-1][-1] + 1:
            groups[-1].append(k)
        else:
            groups.append([k])
    return groups


def plot_robust_share(features: xr.Dataset, path: str | Path) -> None:
    """``features``: per-run eigen-feature stores stacked along ``run``. The robust share of the
    leading features, sum_k robust_k / sum_k clean_k, against epoch; colour is the regime and
    bands the range over seeds."""
    style.setup()
    table = features.robust_share.to_dataframe().reset_index()
    fig, ax = style.subplots(figsize=(6, 3.6))
    order = style.regimes_present(table.regime)
    style.lines(ax, table, "robust_share", "robust share of the leading features", hue_order=order)
    style.epoch_axis(ax)
    ax.set_ylim(-0.02, 1.02)
    style.legend_outside(fig, title="regime")
    style.save(fig, path)

"""Where the kernel moves: polar dynamics in and out of the final top-k eigenspace, and the
overlap of top-k eigenspaces across epochs and runs."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
import xarray as xr

from ntk_evolution.figures import style

TITLES = {"full": "whole kernel", "top": "top-k eigenspace of K_T", "rest": "its complement"}


def plot_polar(eigenspaces: xr.Dataset, path: str | Path) -> None:
    """``eigenspaces``: per-run eigenspace stores stacked along ``run``. Top row: the radius
    r_t against the angle phi_t (polar axes; one line per run, colour the regime), for the whole
    kernel and inside and outside the final top-k eigenspace. Bottom row: the angle against
    epoch, with bands over seeds."""
    style.setup()
    regimes = style.regimes_present(eigenspaces.regime.values)
    colours = dict(zip(regimes, sns.color_palette("colorblind"), strict=False))
    fig = plt.figure(figsize=(12, 7.5))
    table = eigenspaces.angle.to_dataframe().reset_index()
    for column, space in enumerate(eigenspaces.space.values):
        polar = fig.add_subplot(2, 3, column + 1, projection="polar")
        for run in eigenspaces.run.values:
            one = eigenspaces.sel(run=run, space=space)
            colour = colours[str(one.regime.values)]
            polar.plot(one.angle, one.radius, marker="o", markersize=2, color=colour, lw=1)
        polar.set_thetamin(0)
        polar.set_thetamax(90)
        polar.set_title(f"{TITLES[str(space)]}: r against φ", fontsize=9)
        ax = fig.add_subplot(2, 3, column + 4)
        style.lines(
            ax, table[table.space == space], "angle", "angle φ to K_0 (rad)", hue_order=regimes
        )
        style.epoch_axis(ax)
        ax.set_ylim(bottom=0)
    style.save(fig, path)


def plot_overlap(eigenspaces: xr.Dataset, pairs: xr.Dataset | None, path: str | Path) -> None:
    """Left: the overlap of each epoch's top-k eigenspace with the final one (mean over
    logits), by regime with bands over seeds. Right (with ``pairs``): the overlap between two
    runs' top-k eigenspaces at the same epoch, by comparison, the seed pairs (dashed) the
    yardsticks."""
    style.setup()
    regimes = style.regimes_present(eigenspaces.regime.values)
    fig, axes = plt.subplots(1, 2 if pairs is not None else 1, figsize=(11, 4), squeeze=False)
    table = eigenspaces.mean_overlap_to_final.to_dataframe().reset_index()
    k = int(np.atleast_1d(eigenspaces.attrs.get("top_k", 0))[0]) or ""
    style.lines(
        axes[0, 0], table, "mean_overlap_to_final", f"top-{k} overlap with K_T", hue_order=regimes
    )
    style.epoch_axis(axes[0, 0])
    axes[0, 0].set_ylim(-0.02, 1.02)
    if pairs is not None:
        ax = axes[0, 1]
        kinds = list(dict.fromkeys(pairs.kind.values))
        dashes = {kind: (4, 2) if "yardstick" in kind else "" for kind in kinds}
        rows = pairs.top_k_overlap.to_dataframe().reset_index()
        style.lines(
            ax,
            rows,
            "top_k_overlap",
            f"top-{k} overlap between runs",
            hue="kind",
            hue_order=kinds,
            style="kind",
            dashes=dashes,
        )
        style.epoch_axis(ax)
        ax.set_ylim(-0.02, 1.02)
        sns.move_legend(ax, "upper left", bbox_to_anchor=(1.02, 1), title="comparison")
    style.save(fig, path)

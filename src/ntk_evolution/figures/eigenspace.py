"""Where the kernel moves: polar dynamics in and out of the final top-k eigenspace, and the
overlap of top-k eigenspaces across epochs and runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr
from matplotlib.lines import Line2D
from matplotlib.projections.polar import PolarAxes

from ntk_evolution.figures import style

TITLES = {"full": "whole kernel", "top": "top-{k} eigenspace of K_T", "rest": "its complement"}
SIZES = (3.0, 40.0)  # the markers' area (points²) at the first and at the last epoch


def top_k(eigenspaces: xr.Dataset) -> str:
    """The size k of the top-k eigenspaces (the stores' ``top_k``), "k" where not recorded."""
    k = eigenspaces.attrs.get("top_k")
    return "k" if k is None else str(int(np.atleast_1d(k)[0]))


def plot_polar(eigenspaces: xr.Dataset, path: str | Path) -> None:
    """``eigenspaces``: per-run eigenspace stores stacked along ``run``. Top row: the radius
    r_t against the angle phi_t (polar axes; one line per run, colour the regime, markers
    growing with epoch and an arrow on the last step), for the whole kernel and inside and
    outside the final top-k eigenspace. Bottom row: the angle against epoch, on one scale, with
    bands over seeds."""
    style.setup()
    regimes = style.regimes_present(eigenspaces.regime.values)
    epochs = eigenspaces.epoch.values
    fig = style.figure(figsize=(12, 7.2))
    table = eigenspaces.angle.to_dataframe().reset_index()
    rmax = 1.05 * float(eigenspaces.radius.max())
    angles = None
    k = top_k(eigenspaces)
    for column, space in enumerate(eigenspaces.space.values):
        polar = fig.add_subplot(2, 3, column + 1, projection="polar")
        _polar_panel(polar, eigenspaces.sel(space=space), rmax)
        polar.set_title(f"{TITLES[str(space)].format(k=k)}: r against φ")
        ax = fig.add_subplot(2, 3, column + 4, sharey=angles)
        angles = angles or ax
        style.lines(
            ax, table[table.space == space], "angle", "angle φ to K_0 (rad)", hue_order=regimes
        )
        ax.get_legend().remove()
        style.epoch_axis(ax)
    angles.set_ylim(0, 1.05 * float(eigenspaces.angle.max()))
    fig.suptitle(
        f"Polar dynamics, top-k = {k}: markers grow with epoch, {epochs[0]:g} → {epochs[-1]:g};"
        " an arrow marks the last step"
    )
    style.legend_outside(fig, *_polar_legend(regimes, epochs), title="regime, epoch")
    style.save(fig, path)


def _polar_panel(polar: PolarAxes, space: xr.Dataset, rmax: float) -> None:
    """Every run's path of (angle, radius) in one space on ``polar``: a line, markers growing
    with epoch and an arrow on the last step."""
    sizes = np.linspace(*SIZES, space.sizes["epoch"])
    for run in space.run.values:
        one = space.sel(run=run)
        colour = style.COLOURS[str(one.regime.values)]
        angle, radius = one.angle.values, one.radius.values
        polar.plot(angle, radius, color=colour, lw=1, alpha=0.7)
        polar.scatter(angle, radius, s=sizes, color=colour, edgecolor="white", lw=0.3, zorder=3)
        polar.annotate(
            "",
            xy=(angle[-1], radius[-1]),
            xytext=(angle[-2], radius[-2]),
            arrowprops={"arrowstyle": "-|>", "color": colour, "lw": 1},
        )
    polar.set_thetamin(0)
    polar.set_thetamax(90)
    polar.set_rmax(rmax)


def _polar_legend(regimes: list[str], epochs: np.ndarray) -> tuple[list[Line2D], list[str]]:
    """Handles and labels of the polar panels: a line per regime, the first and the last
    epoch's marker size."""
    lines = [Line2D([], [], color=style.COLOURS[r], marker="o", markersize=4) for r in regimes]
    marks = [
        Line2D([], [], ls="", marker="o", color="grey", markersize=np.sqrt(size)) for size in SIZES
    ]
    labels = [*regimes, f"epoch {epochs[0]:g}", f"epoch {epochs[-1]:g}"]
    return [*lines, *marks], labels


def plot_overlap(eigenspaces: xr.Dataset, pairs: xr.Dataset | None, path: str | Path) -> None:
    """Left: the overlap of each epoch's top-k eigenspace with the final one (mean over
    logits), by regime with bands over seeds. Right (with ``pairs``): the overlap between two
    runs' top-k eigenspaces at the same epoch, by comparison, the seed pairs (dashed) the
    yardsticks. Both on one scale, 0 to 1."""
    style.setup()
    regimes = style.regimes_present(eigenspaces.regime.values)
    panels = 2 if pairs is not None else 1
    fig, axes = style.subplots(1, panels, figsize=(4.5 * panels + 2.5, 3.6), squeeze=False)
    table = eigenspaces.mean_overlap_to_final.to_dataframe().reset_index()
    k = top_k(eigenspaces)
    ax = axes[0, 0]
    style.lines(ax, table, "mean_overlap_to_final", f"top-{k} overlap", hue_order=regimes)
    ax.set_title(f"with the final top-{k} eigenspace (mean over logits)")
    if pairs is not None:
        ax = axes[0, 1]
        kinds = list(dict.fromkeys(pairs.kind.values))
        dashes = {kind: (4, 2) if "yardstick" in kind else "" for kind in kinds}
        rows = pairs.top_k_overlap.to_dataframe().reset_index()
        style.lines(
            ax,
            rows,
            "top_k_overlap",
            f"top-{k} overlap",
            hue="kind",
            hue_order=kinds,
            style="kind",
            dashes=dashes,
        )
        ax.set_title("between two runs at the same epoch")
    for ax in axes.flat:
        style.epoch_axis(ax)
        ax.set_ylim(-0.02, 1.02)
    style.legend_outside(fig, title="regime; comparison")
    style.save(fig, path)

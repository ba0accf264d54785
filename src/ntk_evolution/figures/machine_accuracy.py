"""The kernel machine's accuracy against the checkpoint epoch, with the children marked."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import seaborn as sns
import xarray as xr
from matplotlib.lines import Line2D

from ntk_evolution.figures import style

# The children marked: centred dynamics trained on clean data, the closest child to a machine
# (both are linear in the frozen kernel's features and start from the zero function).
MARKED = {"dynamics": "centered", "phase2_regime": "benign"}
CHILDREN = "centred children, clean data"
COLUMNS = 3


def _panels(cells: list[tuple[str, float]]) -> list[tuple[str, float, str, str]]:
    """``(attack, epsilon, source, title)`` of every panel: clean, then each attack of
    ``cells`` (``(attack, epsilon)``) white-box and on the parent's images."""
    panels = [("clean", 0.0, "self", "clean")]
    for attack, epsilon in cells:
        panels.append(
            (attack, epsilon, "self", f"robust: {attack}, ε = {epsilon:g}\nagainst the machine")
        )
        panels.append(
            (attack, epsilon, "parent", f"transfer: {attack}, ε = {epsilon:g}\nfrom the parent")
        )
    return panels


def _cell(table: pd.DataFrame, attack: str, epsilon: float, source: str) -> pd.Series:
    """Which rows of a tidy table are of one panel."""
    return (table.attack == attack) & (table.epsilon == epsilon) & (table.source == source)


def _children(table: pd.DataFrame, attack: str, epsilon: float, source: str) -> pd.DataFrame:
    """The marked children's rows of one panel of the tidy evaluation table."""
    chosen = table.spawn_epoch.notna() & _cell(table, attack, epsilon, source)
    for column, value in MARKED.items():
        chosen &= table[column] == value
    return table[chosen]


def plot(
    machines: xr.Dataset,
    evaluation: pd.DataFrame,
    path: str | Path,
    infinite: xr.Dataset | None = None,
) -> None:
    """``machines``: per-run machine stores stacked along ``run``; ``evaluation``: the tidy
    evaluation table, whose centred children trained on clean data are marked (crosses) at
    their spawn epochs; ``infinite``: the infinite-width NTK's machine, a dashed baseline in
    the clean and white-box panels. Colour is the phase-1 regime; bands are the range over
    seeds. Panels in rows of :data:`COLUMNS`."""
    style.setup()
    table = machines.accuracy.to_dataframe().reset_index().dropna(subset="accuracy")
    evaluation = evaluation.dropna(subset="accuracy")
    order = style.regimes_present(table.regime)
    attacked = table[table.attack != "clean"]
    panels = _panels(list(dict.fromkeys(zip(attacked.attack, attacked.epsilon, strict=True))))
    height = -(-len(panels) // COLUMNS)
    fig, axes = style.subplots(
        height, min(len(panels), COLUMNS), figsize=(11, 3.2 * height), squeeze=False, sharey=True
    )
    for ax in axes.flat[len(panels) :]:
        ax.set_visible(False)
    for ax, (attack, epsilon, source, title) in zip(axes.flat, panels, strict=False):
        machine = table[_cell(table, attack, epsilon, source)]
        style.lines(ax, machine, "accuracy", "test accuracy", hue_order=order)
        sns.scatterplot(
            _children(evaluation, attack, epsilon, source),
            x="spawn_epoch",
            y="accuracy",
            hue="phase1_regime",
            hue_order=order,
            palette=style.palette(order),
            marker="X",
            s=60,
            legend=False,
            ax=ax,
        )
        if infinite is not None and source == "self":
            baseline = float(infinite.accuracy.sel(attack=attack, epsilon=epsilon))
            ax.axhline(baseline, color="grey", ls="--", lw=1, label="infinite-width NTK")
        style.epoch_axis(ax)
        ax.set_ylim(-0.02, 1.02)
        ax.set_title(title)
    child = Line2D([], [], ls="", marker="X", color="grey", markersize=7)
    style.legend_outside(fig, title="regime", extra={CHILDREN: child})
    style.save(fig, path)

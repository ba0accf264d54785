"""The decisive findings across scenarios: one panel per measure group, one row per scenario.

Panels: F1's distance ratios (every benign-vs-adversarial pair across seeds over the larger
seed-to-seed yardstick, against ``distance_ratio``), F3's margins (AC - CC and AA - CC robust
accuracy of each child, against ``robust_margin``) and F3's robust accuracy of the benign
networks and the CC children (against ``benign_robust_max``). Each subject is a point, with
its 95 % interval over the test images as a bar where it has one; each
scenario's threshold a dashed line in its row; the row is tinted by the verdict of the panel's
finding in that scenario, which is written on the right.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.transforms import offset_copy

from ntk_evolution.figures import style


class Panel(NamedTuple):
    """A panel: the ``finding`` whose verdict it shows and the decisive measures it draws
    (those that ``measures``, a regular expression, matches in full)."""

    finding: str
    title: str
    xlabel: str
    measures: str


PANELS = (
    Panel(
        "F1",
        "F1: adversarial training, a different kernel",
        "final kernel distance across regimes / larger seed yardstick",
        r"distance / yardstick \(.*\)",
    ),
    Panel(
        "F3",
        "F3: robustness from the adversarial kernel",
        "robust accuracy gain over the CC child",
        r"A[CA] - CC robust accuracy",
    ),
    Panel(
        "F3",
        "F3: no robustness from the benign kernel",
        "robust accuracy",
        r"robust accuracy(, benign network| CC)",
    ),
)
# Colours, as indices into the theme's colorblind palette: the rows' tint by verdict, and the
# points of a panel's measures (apart from the tints).
VERDICT_COLOUR = {"shown": 2, "not shown": 3, "inconclusive": 8, "not measured": 7}
MEASURE_COLOURS = (0, 4, 5, 9)
MARKERS = "osD^"
ROW = 0.42  # inches per scenario
LEGEND_DROP = 34  # points from a panel's bottom to its legend's, below the axis labels


def _rows(ax: Axes, scenarios: list[str], verdicts: list[str]) -> None:
    """One row per scenario on ``ax``, top to bottom, named on the left, tinted by its verdict
    and with the verdict written on the right."""
    palette = sns.color_palette()
    for i, verdict in enumerate(verdicts):
        ax.axhspan(
            i - 0.5, i + 0.5, color=palette[VERDICT_COLOUR[verdict]], alpha=0.12, lw=0, zorder=0
        )
    right = ax.twinx()
    for axis, labels in ((ax, scenarios), (right, verdicts)):
        axis.set_yticks(range(len(scenarios)), labels)
        axis.set_ylim(len(scenarios) - 0.5, -0.5)
        axis.tick_params(axis="y", length=0)
        axis.grid(axis="y", visible=False)
    for label, verdict in zip(right.get_yticklabels(), verdicts, strict=True):
        label.set_color(palette[VERDICT_COLOUR[verdict]])


def _draw(ax: Axes, panel: Panel, table: pd.DataFrame, scenarios: list[str]) -> None:
    """One panel of :func:`plot` on ``ax``, scenarios top to bottom."""
    palette = sns.color_palette()
    row = {scenario: i for i, scenario in enumerate(scenarios)}
    part = table[table.finding == panel.finding]
    verdicts = part.drop_duplicates("scenario").set_index("scenario").verdict[scenarios]
    drawn = part[part.decisive.astype(bool) & part.measure.str.fullmatch(panel.measures, na=False)]
    measures = list(dict.fromkeys(drawn.measure))
    for j, measure in enumerate(measures):
        rows = drawn[drawn.measure == measure]
        offset = 0.3 * (j - (len(measures) - 1) / 2) / max(len(measures) - 1, 1)
        y = rows.scenario.map(row) + offset
        bounded = rows.low.notna()
        ax.hlines(  # the 95 % intervals over the test images
            y[bounded],
            rows.low[bounded],
            rows.high[bounded],
            color=palette[MEASURE_COLOURS[j]],
            lw=1,
            alpha=0.6,
        )
        ax.scatter(
            rows.value,
            y,
            color=palette[MEASURE_COLOURS[j]],
            marker=MARKERS[j],
            s=28,
            alpha=0.8,
            label=measure,
        )
    thresholds = drawn.drop_duplicates("scenario")
    ax.vlines(
        thresholds.threshold,
        thresholds.scenario.map(row) - 0.45,
        thresholds.scenario.map(row) + 0.45,
        colors="black",
        linestyles="--",
        lw=1,
        label="threshold",
    )
    _rows(ax, scenarios, verdicts.tolist())
    ax.set_title(panel.title)
    ax.set_xlabel(panel.xlabel)
    below = offset_copy(ax.transAxes, ax.figure, y=-LEGEND_DROP, units="points")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, 0), bbox_transform=below, fontsize=7)


def plot(table: pd.DataFrame, path: str | Path) -> None:
    """``table``: :func:`ntk_evolution.analyses.comparison.comparison_table`; the scenarios in its
    order, top to bottom, one panel per entry of :data:`PANELS`."""
    style.setup()
    scenarios = list(dict.fromkeys(table.scenario))
    height = 1.6 + ROW * len(scenarios)
    fig, axes = plt.subplots(1, len(PANELS), figsize=(5 * len(PANELS), height), sharey=True)
    for ax, panel in zip(axes, PANELS, strict=True):
        _draw(ax, panel, table, scenarios)
    style.save(fig, path)

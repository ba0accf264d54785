"""Shared look of all figures: theme, one palette, line plots, epoch axis, grid codes, headline
rows, one legend outside the axes, saving."""

from __future__ import annotations

import itertools
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

DPI = 130
REGIME_ORDER = ["benign", "adversarial", "flip"]
SEED_BAND = ("pi", 100)  # shaded band: the full range over seeds
# A regime's letter in the paper's grid codes, phase 1 then phase 2: CC, CA, AC, AA (C benign,
# "clean"; A adversarial); a phase-1 network alone is C, A or F.
LETTER = {"benign": "C", "adversarial": "A", "flip": "F"}
CODES = [LETTER[r] for r in REGIME_ORDER] + [
    LETTER[r] + LETTER[data] for r in REGIME_ORDER for data in ("benign", "adversarial")
]
# The one palette: a colour per regime (shared by its letter) and per grid code, the same in
# every figure and no two alike; any other value that colours lines (a comparison of two runs)
# takes the next colour of EXTRA, none of them a regime's.
REGIME_COLOURS = {"benign": "#0072B2", "adversarial": "#E69F00", "flip": "#009E73"}
COLOURS = {
    **REGIME_COLOURS,
    **{LETTER[regime]: colour for regime, colour in REGIME_COLOURS.items()},
    "CC": "#56B4E9",
    "CA": "#CC79A7",
    "AC": "#5E3C99",
    "AA": "#C0392B",
    "FC": "#8C564B",
    "FA": "#9A9A3A",
}
EXTRA = ["#332288", "#882255", "#999933", "#AA4499", "#555555", "#DDCC77", "#44AA99"]
LegendPlace = Literal["right", "below"]


def setup() -> None:
    """Apply the project's seaborn theme."""
    sns.set_theme(style="whitegrid", context="paper", palette="colorblind")


def palette(names: Iterable[str]) -> dict[str, str]:
    """A colour for each of ``names``: its own (:data:`COLOURS`), else the next of
    :data:`EXTRA`."""
    names = list(names)
    others = itertools.cycle(EXTRA)
    return {name: COLOURS.get(name) or next(others) for name in names}


def subplots(*args: Any, **options: Any) -> tuple[Figure, Any]:
    """``plt.subplots`` with the constrained layout every figure uses: panels, their labels,
    colour bars, titles and figure legends laid out without overlap, inside the figure."""
    return plt.subplots(*args, layout="constrained", **options)


def figure(**options: Any) -> Figure:
    """``plt.figure`` in the constrained layout of :func:`subplots`."""
    return plt.figure(layout="constrained", **options)


def over_seeds(
    plot: Any,
    ax: Axes,
    table: pd.DataFrame,
    x: str,
    y: str,
    *,
    hue: str,
    hue_order: Sequence[str],
    **options: Any,
) -> None:
    """``plot``, a seaborn function (``sns.lineplot``, ``sns.pointplot``), of ``y`` against
    ``x`` on ``ax``: a colour of :func:`palette` per ``hue`` value, the mean over the rows of
    that value (the seeds) and their range (:data:`SEED_BAND`). ``options`` go to ``plot``."""
    plot(
        table,
        x=x,
        y=y,
        hue=hue,
        hue_order=hue_order,
        palette=palette(hue_order),
        errorbar=SEED_BAND,
        ax=ax,
        **options,
    )


def lines(
    ax: Axes,
    table: pd.DataFrame,
    y: str,
    ylabel: str,
    *,
    hue_order: Sequence[str],
    x: str = "epoch",
    hue: str = "regime",
    dots: bool = True,
    **options: Any,
) -> None:
    """``y`` against ``x`` on ``ax``, one line per ``hue`` value in its colour of
    :func:`palette`: the mean over the rows of that value (the seeds), in a band of their range
    (:data:`SEED_BAND`); ``dots`` marks each point; ``ylabel`` is wrapped to fit. ``options``
    go to ``sns.lineplot``."""
    if dots:
        options = {"marker": "o", "markersize": 3, **options}
    over_seeds(sns.lineplot, ax, table, x, y, hue=hue, hue_order=hue_order, **options)
    ax.set_ylabel(wrap(ylabel))


def points(ax: Axes, table: pd.DataFrame, x: str, y: str, *, dodge: float, **options: Any) -> None:
    """Points of :func:`over_seeds`, no line between them, the hues ``dodge`` apart (not for a
    single hue: seaborn divides the width by the number of hues less one)."""
    dodged = dodge if len(options["hue_order"]) > 1 else False
    over_seeds(sns.pointplot, ax, table, x, y, linestyle="none", dodge=dodged, **options)


def line_grid(table: pd.DataFrame, *, hue_order: Sequence[str], **options: Any) -> sns.FacetGrid:
    """A grid of line panels (``sns.relplot``) drawn as :func:`lines` draws one, with dotted
    points, in the constrained layout; ``options`` name the columns and the panels."""
    grid = sns.relplot(
        table,
        kind="line",
        errorbar=SEED_BAND,
        marker="o",
        markersize=4,
        height=2.8,
        aspect=1.2,
        hue_order=hue_order,
        palette=palette(hue_order),
        **options,
    )
    grid.figure.set_layout_engine("constrained")
    return grid


def legend_outside(
    fig: Figure,
    handles: Sequence[Artist] | None = None,
    labels: Sequence[str] | None = None,
    *,
    title: str | None = None,
    where: LegendPlace = "right",
    extra: Mapping[str, Artist] | None = None,
) -> None:
    """One legend for the whole of ``fig``, outside its panels (right of them or below): of
    ``handles`` and ``labels``, or else of the entries of every panel's legend (each label
    once, the first title), those legends removed; ``extra`` entries (label -> handle) last."""
    if handles is None or labels is None:
        handles, labels, found = _panel_legends(fig)
        title = title if title is not None else found
    handles = [*handles, *(extra or {}).values()]
    labels = [*labels, *(extra or {})]
    if not handles:
        return
    if where == "right":
        fig.legend(handles, labels, title=title, loc="outside right upper")
    else:
        fig.legend(handles, labels, title=title, loc="outside lower center", ncols=6)


def _panel_legends(fig: Figure) -> tuple[list[Artist], list[str], str | None]:
    """The entries of every panel's legend of ``fig`` and then its other labelled artists
    (a reference line drawn after the legend), each label once, and the first legend's title;
    the legends removed."""
    entries: dict[str, Artist] = {}
    title = None
    for ax in fig.axes:
        legend = ax.get_legend()
        if legend is not None:
            title = title or legend.get_title().get_text() or None
            for handle, text in zip(legend.legend_handles, legend.texts, strict=True):
                entries.setdefault(text.get_text(), handle)
            legend.remove()
    for ax in fig.axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            entries.setdefault(label, handle)
    return list(entries.values()), list(entries), title


def wrap(label: str, width: int = 34) -> str:
    """Each line of ``label`` on lines of at most ``width`` characters, so an axis label or a
    title fits its panel."""
    return "\n".join(textwrap.fill(line, width) for line in label.splitlines())


EPOCH_TICKS = [0, 0.25, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]


def epoch_axis(ax: Axes) -> None:
    """Symmetric-log epoch axis: linear below 1 so fractional epochs stay readable, ticks at
    plain numbers (0, 0.25, 0.5, 1, 2, 5, 10, ...)."""
    ax.set_xscale("symlog", linthresh=1.0, linscale=1.0)
    ax.set_xlim(left=0)
    ax.xaxis.set_major_locator(FixedLocator(EPOCH_TICKS))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlabel("epoch")


def at_headline(table: pd.DataFrame, headline: Mapping[str, float]) -> pd.DataFrame:
    """Rows of the tidy evaluation table at each attack's headline epsilon (``headline``: attack
    name -> its own ``epsilon`` in the config), and the clean rows (epsilon 0)."""
    wanted = table.attack.map(dict(headline)).fillna(0.0).to_numpy(float)
    return table[np.isclose(table.epsilon.to_numpy(float), wanted, rtol=1e-9, atol=0.0)]


def regimes_present(regimes) -> list[str]:
    """Regimes in canonical order, restricted to those present."""
    present = set(regimes)
    return [r for r in REGIME_ORDER if r in present]


def save(fig: Figure, path: str | Path) -> None:
    """Write ``fig`` to ``path`` and close it; a figure without a layout engine (not made by
    :func:`subplots` or :func:`line_grid`) is laid out tightly first."""
    if fig.get_layout_engine() is None:
        fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)

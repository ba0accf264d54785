"""Shared look of all figures: theme, line plots, epoch axis, grid codes, headline rows, saving."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

REGIME_ORDER = ["benign", "adversarial", "flip"]
SEED_BAND = ("pi", 100)  # shaded band: the full range over seeds
# A regime's letter in the paper's grid codes, phase 1 then phase 2: CC, CA, AC, AA (C benign,
# "clean"; A adversarial); a phase-1 network alone is C, A or F.
LETTER = {"benign": "C", "adversarial": "A", "flip": "F"}
CODES = [LETTER[r] for r in REGIME_ORDER] + [
    LETTER[r] + LETTER[data] for r in REGIME_ORDER for data in ("benign", "adversarial")
]


def setup() -> None:
    """Apply the project's seaborn theme."""
    sns.set_theme(style="whitegrid", context="paper", palette="colorblind")


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
    """``y`` against ``x`` on ``ax``, one line per ``hue`` value: the mean over the rows of
    that value (the seeds), in a band of their range (:data:`SEED_BAND`); ``dots`` marks each
    point. ``options`` go to ``sns.lineplot``."""
    if dots:
        options = {"marker": "o", "markersize": 3, **options}
    sns.lineplot(
        table, x=x, y=y, hue=hue, hue_order=hue_order, errorbar=SEED_BAND, ax=ax, **options
    )
    ax.set_ylabel(ylabel)


def line_grid(table: pd.DataFrame, **options: Any) -> sns.FacetGrid:
    """A grid of line panels (``sns.relplot``) drawn as :func:`lines` draws one, with dotted
    points; ``options`` name the columns and the panels."""
    return sns.relplot(
        table,
        kind="line",
        errorbar=SEED_BAND,
        marker="o",
        markersize=4,
        height=2.8,
        aspect=1.2,
        **options,
    )


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
    """Write ``fig`` to ``path`` and close it."""
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)

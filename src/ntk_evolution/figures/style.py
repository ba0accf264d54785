"""Shared look of all figures: theme, epoch axis, saving."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure

REGIME_ORDER = ["benign", "adversarial", "flip"]
SEED_BAND = ("pi", 100)  # shaded band: the full range over seeds


def setup() -> None:
    """Apply the project's seaborn theme."""
    sns.set_theme(style="whitegrid", context="paper", palette="colorblind")


def epoch_axis(ax: Axes) -> None:
    """Symmetric-log epoch axis: linear below 1 so fractional epochs stay readable."""
    ax.set_xscale("symlog", linthresh=1.0, linscale=1.0)
    ax.set_xlim(left=0)
    ax.set_xlabel("epoch")


def regimes_present(regimes) -> list[str]:
    """Regimes in canonical order, restricted to those present."""
    present = set(regimes)
    return [r for r in REGIME_ORDER if r in present]


def save(fig: Figure, path: str | Path) -> None:
    """Write ``fig`` to ``path`` and close it."""
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)

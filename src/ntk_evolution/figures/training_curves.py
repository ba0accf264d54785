"""Phase-1 training curves: loss, training and test accuracy per epoch, by regime."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ntk_evolution.figures import style

PANELS = {
    "train_loss": "training loss (as trained)",
    "train_accuracy": "training accuracy (as trained)",
    "test_accuracy": "clean test accuracy",
}


def plot(history: pd.DataFrame, path: str | Path) -> None:
    """``history``: the training histories of all runs with ``regime`` and ``seed`` columns;
    the accuracies on one scale, 0 to 1."""
    style.setup()
    order = style.regimes_present(history["regime"])
    fig, axes = style.subplots(1, len(PANELS), figsize=(11, 3.4))
    for ax, (name, label) in zip(axes, PANELS.items(), strict=True):
        style.lines(ax, history, name, label, hue_order=order, dots=False)
        if "accuracy" in name:
            ax.set_ylim(-0.02, 1.02)
    style.legend_outside(fig, title="regime")
    style.save(fig, path)

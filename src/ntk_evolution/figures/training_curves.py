"""Phase-1 training curves: loss, training and test accuracy per epoch, by regime."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from ntk_evolution.figures import style

PANELS = {
    "train_loss": "training loss (as trained)",
    "train_accuracy": "training accuracy (as trained)",
    "test_accuracy": "clean test accuracy",
}


def plot(history: pd.DataFrame, path: str | Path) -> None:
    """``history``: the training histories of all runs with ``regime`` and ``seed`` columns."""
    style.setup()
    order = style.regimes_present(history["regime"])
    fig, axes = plt.subplots(1, len(PANELS), figsize=(12, 3.6))
    for ax, (name, label) in zip(axes, PANELS.items(), strict=True):
        style.lines(ax, history, name, label, hue_order=order, dots=False)
    style.save(fig, path)

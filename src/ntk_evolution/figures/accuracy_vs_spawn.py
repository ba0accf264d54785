"""Clean and robust accuracy of the children against their spawn epoch."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from ntk_evolution.figures import style

DYNAMICS_ORDER = ["linearized", "centered", "standard"]


def plot(table: pd.DataFrame, path: str | Path, headline: Mapping[str, float]) -> None:
    """``table``: the tidy evaluation table; one panel per (attack, dynamics), each attack at its
    ``headline`` epsilon (attack name -> epsilon).

    Colour is the phase-1 regime (the kernel), line style the phase-2 regime (the data); bands
    are the range over seeds. Only white-box results are drawn (transfer is in the table).
    """
    style.setup()
    table = style.at_headline(table, headline)
    children = table[table.spawn_epoch.notna() & (table.source == "self")].copy()
    attacks = list(dict.fromkeys(children.attack))

    def label(attack: str) -> str:
        return "clean" if attack == "clean" else f"robust ({attack}, ε = {headline[attack]:g})"

    children["attack"] = children.attack.map(label)
    grid = style.line_grid(
        children,
        x="spawn_epoch",
        y="accuracy",
        hue="phase1_regime",
        hue_order=style.regimes_present(children.phase1_regime),
        style="phase2_regime",
        style_order=["benign", "adversarial"],
        row="attack",
        row_order=[label(a) for a in attacks],
        col="dynamics",
        col_order=[d for d in DYNAMICS_ORDER if d in set(children.dynamics)],
        facet_kws={"margin_titles": True},
    )
    for ax in grid.axes.flat:
        style.epoch_axis(ax)
        ax.set_xlabel("spawn epoch")
        ax.set_ylim(-0.02, 1.02)
    grid.set_ylabels("test accuracy")
    style.save(grid.figure, path)

"""Clean and robust accuracy of the children against their spawn epoch."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from ntk_evolution.figures import style

DYNAMICS_ORDER = ["linearized", "centered", "standard"]
KERNEL, DATA = "phase 1 (kernel)", "phase 2 (data)"


def plot(table: pd.DataFrame, path: str | Path, headline: Mapping[str, float]) -> None:
    """``table``: the tidy evaluation table; one panel per (attack, dynamics), each attack at its
    ``headline`` epsilon (attack name -> epsilon).

    Colour is the phase-1 regime (the kernel), line style the phase-2 regime (the data); bands
    are the range over seeds. Only white-box results are drawn (transfer is in the table).
    """
    style.setup()
    table = style.at_headline(table, headline).dropna(subset="accuracy")
    children = table[table.spawn_epoch.notna() & (table.source == "self")]
    children = children.rename(columns={"phase1_regime": KERNEL, "phase2_regime": DATA})
    attacks = list(dict.fromkeys(children.attack))

    def label(attack: str) -> str:
        return "clean" if attack == "clean" else f"robust: {attack}, ε = {headline[attack]:g}"

    children["attack"] = children.attack.map(label)
    grid = style.line_grid(
        children,
        x="spawn_epoch",
        y="accuracy",
        hue=KERNEL,
        hue_order=style.regimes_present(children[KERNEL]),
        style=DATA,
        style_order=["benign", "adversarial"],
        row="attack",
        row_order=[label(a) for a in attacks],
        col="dynamics",
        col_order=[d for d in DYNAMICS_ORDER if d in set(children.dynamics)],
        facet_kws={"margin_titles": True},
    )
    grid.set_titles(row_template="{row_name}", col_template="{col_name} children")
    for ax in grid.axes.flat:
        style.epoch_axis(ax)
        ax.set_xlabel("spawn epoch")
        ax.set_ylim(-0.02, 1.02)
    grid.set_ylabels("test accuracy")
    handles, labels = grid.legend.legend_handles, [t.get_text() for t in grid.legend.texts]
    grid.legend.remove()
    style.legend_outside(grid.figure, handles, labels, where="below")
    style.save(grid.figure, path)

"""The kernel machine's accuracy against the checkpoint epoch, with the children marked."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
import xarray as xr

from ntk_evolution.figures import style

# The children marked: centred dynamics trained on clean data, the closest child to a machine
# (both are linear in the frozen kernel's features and start from the zero function).
MARKED = {"dynamics": "centered", "phase2_regime": "benign"}


def _panels(attacks: list[str]) -> list[tuple[str, str, str]]:
    """``(attack, source, title)`` of every panel: clean, then each attack white-box and on the
    parent's images."""
    panels = [("clean", "self", "clean")]
    for attack in attacks:
        panels.append((attack, "self", f"robust: {attack} against the machine"))
        panels.append((attack, "parent", f"transfer: {attack} from the parent"))
    return panels


def _children(table: pd.DataFrame, attack: str, source: str) -> pd.DataFrame:
    """The marked children's rows of one panel of the tidy evaluation table."""
    name, _, epsilon = attack.partition("@")
    chosen = table.spawn_epoch.notna() & (table.source == source)
    for column, value in MARKED.items():
        chosen &= table[column] == value
    if name == "clean":
        return table[chosen & (table.attack == "clean")]
    return table[chosen & (table.attack == name) & (table.epsilon == float(epsilon))]


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
    seeds."""
    style.setup()
    table = machines.accuracy.to_dataframe().reset_index()
    order = style.regimes_present(table.regime)
    attacks = [a for a in machines.attack.values.tolist() if a != "clean"]
    panels = _panels(attacks)
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.4), squeeze=False)
    for ax, (attack, source, title) in zip(axes[0], panels, strict=True):
        rows = table[(table.attack == attack) & (table.source == source)]
        style.lines(ax, rows, "accuracy", "test accuracy", hue_order=order)
        children = _children(evaluation, attack, source)
        sns.scatterplot(
            children,
            x="spawn_epoch",
            y="accuracy",
            hue="phase1_regime",
            hue_order=order,
            marker="X",
            s=60,
            legend=False,
            ax=ax,
        )
        if infinite is not None and source == "self":
            baseline = float(infinite.accuracy.sel(attack=attack))
            ax.axhline(baseline, color="grey", ls="--", lw=1, label="infinite-width NTK")
            ax.legend(fontsize=7)
        style.epoch_axis(ax)
        ax.set_ylim(-0.02, 1.02)
        ax.set_title(title)
    style.save(fig, path)

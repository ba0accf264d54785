"""White-box accuracy against the radius epsilon of each attack, for every model.

Every final phase-1 network and every child is attacked at each radius of its attack (its own
``epsilon`` and its ``epsilons``); radius 0 is the clean accuracy, the start of every curve. The
figure shows, per attack, the phase-1 networks and the children of each dynamics at the last
spawn epoch, one line per grid code (phase 1 then phase 2, C benign, A adversarial: CC, CA, AC,
AA; a phase-1 network alone: C, A), the band the range over seeds.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from matplotlib.axes import Axes

from ntk_evolution.figures import style

DYNAMICS_ORDER = ["linearized", "centered", "standard"]
PHASE1_PANEL = "phase-1 networks"


def table(evaluation: pd.DataFrame) -> pd.DataFrame:
    """One row per model, attack and epsilon from the tidy evaluation table: the white-box
    (``source`` self) accuracy, and at epsilon 0 the clean accuracy, repeated for every attack.

    Columns: phase1_regime, seed, spawn_epoch, dynamics, phase2_regime, code (the grid code,
    :data:`ntk_evolution.figures.style.LETTER`), attack, epsilon, accuracy.
    """
    own = evaluation[evaluation.source == "self"].drop(columns="source")
    attacked = own[own.attack != "clean"]
    clean = own[own.attack == "clean"]
    attacks = list(dict.fromkeys(attacked.attack))  # in the order of the config
    rows = pd.concat([attacked, *(clean.assign(attack=a) for a in attacks)], ignore_index=True)
    code = rows.phase1_regime.map(style.LETTER) + rows.phase2_regime.map(style.LETTER).fillna("")
    rows.insert(rows.columns.get_loc("phase2_regime") + 1, "code", code)
    order = ["attack", "phase1_regime", "seed", "spawn_epoch", "dynamics", "phase2_regime"]
    return rows.sort_values(
        [*order, "epsilon"],
        key=lambda column: column.map(attacks.index) if column.name == "attack" else column,
        kind="stable",
        ignore_index=True,
    )


def plot(robustness: pd.DataFrame, path: str | Path) -> None:
    """``robustness``: :func:`table`; a panel for the phase-1 networks and one per dynamics of
    the children of the last spawn epoch. An attack measured at two radii or more has a row of
    its own, accuracy against epsilon as lines; those measured at a single radius share one
    row of points, one column per attack beside the clean accuracy."""
    style.setup()
    robustness = robustness.dropna(subset="accuracy")
    spawn = robustness.spawn_epoch.max()
    last = robustness[robustness.spawn_epoch.isna() | (robustness.spawn_epoch == spawn)].copy()

    def title(dynamics: str) -> str:
        return f"{dynamics} children, spawn epoch {spawn:g}"

    last["panel"] = last.dynamics.map(title).where(last.spawn_epoch.notna(), PHASE1_PANEL)
    panels = [p for p in [PHASE1_PANEL, *map(title, DYNAMICS_ORDER)] if p in set(last.panel)]
    radii = last[last.epsilon > 0].groupby("attack", sort=False).epsilon.nunique()
    curves = [a for a in dict.fromkeys(last.attack) if radii.get(a, 0) > 1]
    single = _single_radius(last, [a for a in dict.fromkeys(last.attack) if a not in curves])
    rows = [(a, last[last.attack == a]) for a in curves]
    if not single.empty:
        rows.append(("at one radius", single))
    codes = [c for c in style.CODES if c in set(last.code)]
    fig, axes = style.subplots(
        len(rows),
        len(panels),
        figsize=(3.3 * len(panels) + 1.2, 2.9 * len(rows) + 1.2 * (not single.empty)),
        sharey=True,
        squeeze=False,
    )
    for axes_row, (name, part) in zip(axes, rows, strict=True):
        for ax, panel in zip(axes_row, panels, strict=True):
            drawn = part[part.panel == panel]
            order = [c for c in codes if c in set(drawn.code)]
            draw = _points if part is single else _curves
            draw(ax, drawn, order)
            ax.set_title(f"{panel}\n{name}")
            ax.set_ylim(-0.02, 1.02)
        axes_row[0].set_ylabel("test accuracy")
    style.legend_outside(fig, title="phase 1, phase 2")
    style.save(fig, path)


def _single_radius(rows: pd.DataFrame, attacks: list[str]) -> pd.DataFrame:
    """The rows of ``attacks`` (each measured at one radius) at that radius, and the clean
    rows once, with a ``measure`` column naming each: clean, or the attack and its radius."""
    if not attacks:
        return rows.iloc[:0]
    chosen = rows[rows.attack.isin(attacks)]
    clean = chosen[(chosen.epsilon == 0) & (chosen.attack == attacks[0])]
    attacked = chosen[chosen.epsilon > 0]
    measure = attacked.attack + ", ε = " + attacked.epsilon.map("{:g}".format)
    return pd.concat([clean.assign(measure="clean"), attacked.assign(measure=measure)])


def _curves(ax: Axes, rows: pd.DataFrame, order: list[str]) -> None:
    """Accuracy against epsilon, a line per code of ``order``."""
    style.lines(ax, rows, "accuracy", "", hue="code", hue_order=order, x="epsilon")
    ax.set_xlabel("epsilon (radius of the attack's ball)")


def _points(ax: Axes, rows: pd.DataFrame, order: list[str]) -> None:
    """Accuracy of each measure of :func:`_single_radius`, dodged points per code."""
    measures = list(dict.fromkeys(rows.measure))
    dodged = {"order": measures, "dodge": 0.4}
    style.points(ax, rows, "measure", "accuracy", hue="code", hue_order=order, **dodged)
    ax.set_xlabel("")
    for label in ax.get_xticklabels():
        label.set(rotation=90)

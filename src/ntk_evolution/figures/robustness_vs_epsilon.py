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
    """``robustness``: :func:`table`; one panel per (attack, phase-1 networks or dynamics)."""
    style.setup()
    spawn = robustness.spawn_epoch.max()
    last = robustness[robustness.spawn_epoch.isna() | (robustness.spawn_epoch == spawn)].copy()

    def title(dynamics: str) -> str:
        return f"{dynamics} children, spawn epoch {spawn:g}"

    last["panel"] = last.dynamics.map(title).where(last.spawn_epoch.notna(), PHASE1_PANEL)
    panels = [PHASE1_PANEL, *map(title, DYNAMICS_ORDER)]
    grid = style.line_grid(
        last,
        x="epsilon",
        y="accuracy",
        hue="code",
        hue_order=[c for c in style.CODES if c in set(last.code)],
        row="attack",
        row_order=list(dict.fromkeys(last.attack)),
        col="panel",
        col_order=[p for p in panels if p in set(last.panel)],
        facet_kws={"margin_titles": True, "sharex": "row"},
    )
    grid.set_titles(row_template="{row_name}", col_template="{col_name}")
    for ax in grid.axes.flat:
        ax.set_ylim(-0.02, 1.02)
    grid.set_axis_labels("epsilon (radius of the attack's ball)", "test accuracy")
    # The legend moves into the top right panel: tight_layout would put panels over a figure's.
    handles, labels = grid.legend.legend_handles, [t.get_text() for t in grid.legend.texts]
    grid.legend.remove()
    grid.axes[0, -1].legend(handles, labels, title="phase 1, phase 2", loc="best")
    style.save(grid.figure, path)

"""How far an attack moves the kernel and the features, against epoch, by regime."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import xarray as xr

from ntk_evolution.figures import style

PANELS = {
    "distance": "S(K, K~), raw kernels",
    "centered_distance": "S(H K H, H K~ H), double-centred",
    "mean_self_similarity": "feature self-similarity s, mean over classes",
}


def plot(statistics: xr.Dataset, path: str | Path) -> None:
    """``statistics``: per-run attacked-kernel statistics stacked along ``run``. One panel per
    measure of :data:`PANELS` against the checkpoint epoch; colour is the regime and bands the
    range over seeds."""
    style.setup()
    stats = statistics.assign(mean_self_similarity=statistics.self_similarity.mean("class"))
    table = stats[list(PANELS)].to_dataframe().reset_index()
    order = style.regimes_present(table.regime)
    fig, axes = plt.subplots(1, len(PANELS), figsize=(13, 3.8))
    for ax, (name, label) in zip(axes, PANELS.items(), strict=True):
        style.lines(ax, table, name, label, hue_order=order)
        style.epoch_axis(ax)
        ax.set_title(label, fontsize=9)
    style.save(fig, path)

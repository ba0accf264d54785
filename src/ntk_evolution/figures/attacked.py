"""How far an attack moves the kernel and the features at the attacked checkpoints, by regime."""

from __future__ import annotations

from pathlib import Path

import xarray as xr

from ntk_evolution.configuration.experiment import epoch_label
from ntk_evolution.figures import style

PANELS = {
    "distance": ("raw kernels", "S(K, K~)"),
    "centered_distance": ("double-centred kernels", "S(H K H, H K~ H)"),
    "mean_self_similarity": ("features", "self-similarity s, mean over classes"),
}


def plot(statistics: xr.Dataset, path: str | Path) -> None:
    """``statistics``: per-run attacked-kernel statistics stacked along ``run``. One panel per
    measure of :data:`PANELS` at each attacked checkpoint epoch (a few, so points, not lines):
    colour is the regime, the marker the mean over seeds and the bar their range."""
    style.setup()
    stats = statistics.assign(mean_self_similarity=statistics.self_similarity.mean("class"))
    table = stats[list(PANELS)].to_dataframe().reset_index()
    epochs = [epoch_label(e) for e in stats.epoch.values]
    table["epoch"] = table.epoch.map(epoch_label)
    order = style.regimes_present(table.regime)
    fig, axes = style.subplots(1, len(PANELS), figsize=(11, 3.4))
    for ax, (name, (title, ylabel)) in zip(axes, PANELS.items(), strict=True):
        dodged = {"order": epochs, "dodge": 0.3, "capsize": 0.1}
        style.points(ax, table, "epoch", name, hue="regime", hue_order=order, **dodged)
        ax.set_title(title)
        ax.set_xlabel("checkpoint epoch")
        ax.set_ylabel(ylabel)
    style.legend_outside(fig, title="regime\n(bar: range\nover seeds)")
    style.save(fig, path)

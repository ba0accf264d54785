"""Feature pictures: one row per regime and epoch, one column per class and eigenvector."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr

from ntk_evolution.figures import style


def plot(pictures: xr.Dataset, path: str | Path) -> None:
    """``pictures``: the feature-picture store. Grey-scale images (one channel) and colour
    images (three) alike, each titled with its cosine."""
    style.setup()
    rows = [(r, e) for r in pictures.regime.values for e in pictures.epoch.values]
    columns = [(c, k) for c in pictures["class"].values for k in pictures.eigen.values]
    fig, axes = plt.subplots(
        len(rows),
        len(columns),
        figsize=(1.3 * len(columns), 1.5 * len(rows)),
        squeeze=False,
    )
    for i, (regime, epoch) in enumerate(rows):
        for j, (c, k) in enumerate(columns):
            cell = pictures.sel(regime=regime, epoch=epoch, **{"class": c, "eigen": k})
            image = np.asarray(cell.picture.values)
            ax = axes[i, j]
            if image.shape[-1] == 1:
                ax.imshow(image[..., 0], cmap="gray", vmin=0, vmax=1)
            else:
                ax.imshow(np.clip(image, 0, 1))
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            ax.set_title(f"cos {float(cell.cosine):.2f}", fontsize=6)
            if i == 0:
                ax.set_xlabel(f"class {c}, k = {k}", fontsize=7)
                ax.xaxis.set_label_position("top")
                ax.xaxis.labelpad = 12
            if j == 0:
                ax.set_ylabel(f"{regime}\nepoch {float(epoch):g}", fontsize=7)
    style.save(fig, path)

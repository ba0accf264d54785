"""Feature pictures: one row per regime and epoch, one column per class and eigenvector."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr
from matplotlib.axes import Axes

from ntk_evolution.figures import style

FONT = 8  # points: the cosines and the row and column labels
NOTE = (
    "Feature pictures of the class kernels' eigenvectors. cos: the cosine between a picture's "
    "tangent feature ∇f_c(x) and the parameter direction v_k = Σ_j u_kj ∇f_c(x_j) of "
    "eigenvector u_k of class c's kernel, the highest met by ascent from mid-grey (1: the "
    "picture's feature points along v_k). An eigenvector's sign is arbitrary; each is turned "
    "towards its class here (u_k · y_c > 0), so a negative cosine means that even the best "
    "picture found is anti-aligned with v_k."
)


def plot(pictures: xr.Dataset, path: str | Path) -> None:
    """``pictures``: the feature-picture store. Grey-scale images (one channel) and colour
    images (three) alike, each titled with its cosine; the figure's title says what that is."""
    style.setup()
    rows = [(r, e) for r in pictures.regime.values for e in pictures.epoch.values]
    columns = [(c, k) for c in pictures["class"].values for k in pictures.eigen.values]
    width = max(1.2 * len(columns), 6.0)
    fig, axes = style.subplots(
        len(rows), len(columns), figsize=(width, 1.35 * len(rows) + 0.9), squeeze=False
    )
    for i, (regime, epoch) in enumerate(rows):
        for j, (c, k) in enumerate(columns):
            cell = pictures.sel(regime=regime, epoch=epoch, **{"class": c, "eigen": k})
            title = f"cos {float(cell.cosine):.2f}"
            if i == 0:
                title = f"class {c}, k = {k}\n{title}"
            _picture(axes[i, j], np.asarray(cell.picture.values), title)
            if j == 0:
                axes[i, j].set_ylabel(f"{regime}\nepoch {float(epoch):g}", fontsize=FONT)
    fig.suptitle(style.wrap(NOTE, int(width * 12)), fontsize=FONT)
    style.save(fig, path)


def _picture(ax: Axes, image: np.ndarray, title: str) -> None:
    """One picture on ``ax`` (grey-scale or colour) with its ``title``."""
    if image.shape[-1] == 1:
        ax.imshow(image[..., 0], cmap="gray", vmin=0, vmax=1)
    else:
        ax.imshow(np.clip(image, 0, 1))
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    ax.set_title(title, fontsize=FONT, pad=2)

"""Every result store of a run as one tree, for notebooks."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where used: ``import ntk_evolution`` stays light
    import xarray as xr


def _stores(results: Path) -> list[Path]:
    """The zarr stores under ``results``, sorted, but what lies in hidden folders (an attempt's
    partial) and what lies inside a store."""
    stores = []
    for folder, names, _ in os.walk(results):
        stores += [
            Path(folder, name)
            for name in names
            if name.endswith(".zarr") and not name.startswith(".")
        ]
        names[:] = [
            name for name in names if not name.startswith(".") and not name.endswith(".zarr")
        ]
    return sorted(stores)


def open_results(results: str | Path = "results") -> xr.DataTree:
    """Every store under ``results`` as one :class:`xarray.DataTree`, read lazily.

    Stores are found by walking the folder, so those of a new analysis appear too. A node's
    path is its store's, relative to ``results`` and without ``.zarr``:
    ``results/kernels/benign/seed0/ntk.zarr`` is ``/kernels/benign/seed0/ntk``,
    ``results/evaluation/accuracy.zarr`` is ``/evaluation/accuracy``. Its attributes are the
    store's, its provenance among them.

    Each store is opened by :func:`~ntk_evolution.storage.open_store`: a store that is
    unfinished, lacks chunk files or is unreadable raises
    :class:`~ntk_evolution.recovery.DamagedInput` naming it and the command that regenerates it.
    Its NaN counts are not checked, as that would read every value: only the metadata and the
    index coordinates are read, the rest stays on disk until asked (``.load()``, a plot).
    """
    import xarray as xr

    from ntk_evolution.storage import open_store

    results = Path(results)
    if not results.is_dir():
        raise FileNotFoundError(f"no results folder {results.resolve()}")
    nodes = {
        "/" + path.relative_to(results).with_suffix("").as_posix(): open_store(
            path, verify_values=False
        )
        for path in _stores(results)
    }
    return xr.DataTree.from_dict(nodes)

"""Gathering stage: every evaluation table into one table and one dataset. It stacks files
(pandas, xarray, zarr), computing nothing, so it imports no JAX. :func:`accuracy_array` gives
every store of accuracies (this one, the kernel machines') its one encoding of attacks and
sources."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ntk_evolution._infra import storage
from ntk_evolution._infra.atomic import write_table
from ntk_evolution._infra.provenance import provenance
from ntk_evolution.analyses import intervals
from ntk_evolution.configuration.experiment import MODEL_COLUMNS, SOURCES, attack_order

if TYPE_CHECKING:
    import pandas as pd
    import xarray as xr

log = logging.getLogger(__name__)


def accuracy_array(
    table: pd.DataFrame, dims: Sequence[str], column: str = "accuracy"
) -> xr.DataArray:
    """The ``column`` of the tidy ``table`` as an array over its columns ``dims``, in
    the encoding of every store: ``attack`` the attack's name (in
    :func:`~ntk_evolution.configuration.experiment.attack_order`), ``epsilon`` its radius (ascending, 0 for
    ``clean``), ``source`` in the order of :data:`~ntk_evolution.configuration.experiment.SOURCES`; a
    combination the table lacks is NaN."""
    array = table.set_index(list(dims))[column].to_xarray()
    order = {}
    if "attack" in array.dims:
        order["attack"] = attack_order(array.attack.values.tolist())
    if "source" in array.dims:
        order["source"] = sorted(array.source.values.tolist(), key=SOURCES.index)
    return array.reindex(order)


def with_intervals(ds: xr.Dataset, n: int) -> xr.Dataset:
    """``ds`` with ``accuracy_low`` and ``accuracy_high``, the ends of each of its accuracies'
    95 % Wilson interval (:func:`ntk_evolution.analyses.intervals.wilson`) over ``n`` test images."""
    low, high = intervals.wilson(np.rint(ds.accuracy.values * n), n)
    for bound, values in (("low", low), ("high", high)):
        ds[f"accuracy_{bound}"] = ds.accuracy.copy(data=values)
        ds[f"accuracy_{bound}"].attrs = {
            "long_name": f"{bound} end of the accuracy's 95 % Wilson interval over {n} test images",
            "units": "1",
        }
    return ds


def gather_evaluation(
    paths: Sequence[str | Path],
    csv_path: str | Path,
    store_path: str | Path,
    *,
    config: Mapping[str, Any],
) -> None:
    """One tidy CSV of every evaluation, and the same as an xarray dataset.

    The dataset holds ``accuracy`` of the children with dims (phase1_regime, seed, spawn_epoch,
    dynamics, phase2_regime, attack, epsilon, source) and ``parent_accuracy`` of the phase-1
    models with dims (phase1_regime, seed, attack, epsilon), encoded by :func:`accuracy_array`;
    an attack not measured at a radius is NaN there (``clean`` is measured at radius 0 only).
    ``accuracy_low``/``_high`` and ``parent_accuracy_low``/``_high`` are the ends of each
    accuracy's 95 % Wilson interval (:func:`ntk_evolution.analyses.intervals.wilson`) over its ``n``
    test images.
    """
    import pandas as pd  # here, not above: gathering kernels needs no pandas

    table = pd.concat([pd.read_csv(p) for p in paths], ignore_index=True)
    made = provenance(dict(config))
    write_table(table.to_dict("records"), csv_path, provenance=made)
    parents = table[table.spawn_epoch.isna()]
    children = table[table.spawn_epoch.notna()]
    ds = accuracy_array(children, [*MODEL_COLUMNS, "attack", "epsilon", "source"]).to_dataset(
        name="accuracy"
    )
    ds["parent_accuracy"] = accuracy_array(
        parents[parents.source == "self"], ["phase1_regime", "seed", "attack", "epsilon"]
    )
    low, high = intervals.wilson(table.correct, table.n)
    table = table.assign(low=low, high=high)
    for bound in ("low", "high"):
        ds[f"accuracy_{bound}"] = accuracy_array(
            table[table.spawn_epoch.notna()], [*MODEL_COLUMNS, "attack", "epsilon", "source"], bound
        )
        ds[f"parent_accuracy_{bound}"] = accuracy_array(
            table[table.spawn_epoch.isna() & (table.source == "self")],
            ["phase1_regime", "seed", "attack", "epsilon"],
            bound,
        )
        ds[f"accuracy_{bound}"].attrs = ds[f"parent_accuracy_{bound}"].attrs = {
            "long_name": f"{bound} end of the accuracy's 95 % Wilson interval over the test images",
            "units": "1",
        }
    _describe(ds)
    ds.attrs = made
    storage.write_dataset(ds, store_path)


def _describe(ds: xr.Dataset) -> None:
    """The long names, units and descriptions of the gathered accuracies and their coords."""
    ds.accuracy.attrs = {
        "long_name": "test accuracy of the child",
        "units": "1",
        "description": "attack 'clean': no attack; source 'self': white-box PGD against the "
        "child; source 'parent': the attack's examples crafted against the final phase-1 "
        "network; an ensemble counts an example as robust only if no member breaks it",
    }
    ds.parent_accuracy.attrs = {
        "long_name": "test accuracy of the final phase-1 network",
        "units": "1",
    }
    ds.spawn_epoch.attrs = {"long_name": "spawn epoch", "units": "epochs"}
    ds.epsilon.attrs = {
        "long_name": "radius of the attack's ball",
        "units": "1",
        "description": "pixels lie in [0, 1]; 0 for attack 'clean'",
    }

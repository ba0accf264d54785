"""Zarr stores of kernels and statistics, written atomically, with named dimensions.

A run's kernels are one store, the variable ``ntk`` with dims
``(epoch, logit, probe_i, probe_j)``: the per-logit kernel at every checkpoint. The coordinates
are the probes' indices into the training set (``probe_i``, ``probe_j``), their labels
(``label_i``, ``label_j``), the logit and the epoch. One zarr chunk is one tile of the NTK engine
at one checkpoint: all logits of a ``tile_size`` x ``tile_size`` probe block.

Every store is written atomically (see :mod:`ntk_evolution._infra.atomic`), so an interrupted job never
leaves a store that looks finished. A store is complete only when its completion record says so:
the root attribute ``complete``, written last, holds for every array the number of chunk files
written and of NaN values it holds. :func:`open_store` checks the record, the chunk files, the
variables its caller expects and the NaN counts, so a lost chunk, a NaN written into a store or
a folder left by a killed job is refused with the file named and the command that regenerates
it (:mod:`ntk_evolution._infra.recovery`).

Text is stored in one encoding: :func:`write_dataset` writes every string variable, whatever
its numpy dtype (``<U``, ``StringDType``, object), as zarr 3's variable-length UTF-8 ``string``
data type (codec ``vlen-utf8``), the one zarr-python 3.1 writes without an
``UnstableSpecificationWarning`` (``<U`` becomes ``fixed_length_utf32`` and ``S`` becomes
``null_terminated_bytes``, which warn). :func:`open_store` gives every string variable back as
an object array of Python ``str``, as xarray reads variable-length strings elsewhere.
"""

from __future__ import annotations

import json
import os
import re
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import zarr

from ntk_evolution._infra.atomic import atomic_directory
from ntk_evolution._infra.recovery import damaged

if TYPE_CHECKING:  # xarray is imported where used: kernel jobs only write with zarr
    import xarray as xr

KERNEL = "ntk"
KERNEL_DIMS = ("logit", "probe_i", "probe_j")  # of one checkpoint's kernel
COMPLETE = "complete"  # the root attribute that records a finished store

# Consolidated metadata is not yet part of the zarr v3 specification; zarr-python and xarray
# support it and it saves one read per array when a store is opened.
warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
# Snakemake marks a finished folder output with this file; it is not part of the store.
warnings.filterwarnings("ignore", message=r"Object at \.snakemake_timestamp is not recognized")


def _jsonable(attrs: dict[str, Any]) -> dict[str, Any]:
    """Round-trip through JSON so nested dicts, tuples and numpy scalars become plain types."""
    return json.loads(
        json.dumps(attrs, default=lambda o: o.item() if hasattr(o, "item") else str(o))
    )


class Snapshot(NamedTuple):
    """The kernel at one checkpoint, as :func:`write_kernels` takes it: its epoch, upper-triangle
    tiles ``(rows, cols, block)`` with ``block`` of shape (num_classes, rows, cols), and its
    attributes (which may be completed while ``blocks`` is consumed, e.g. with the seconds)."""

    epoch: float
    blocks: Iterable[tuple[slice, slice, np.ndarray]]
    attrs: dict[str, Any]


def write_kernels(
    path: str | Path,
    snapshots: Sequence[Snapshot],
    *,
    probes: np.ndarray,
    labels: np.ndarray,
    num_classes: int,
    tile_size: int,
    attrs: dict[str, Any],
) -> None:
    """Write a run's per-logit kernels, checkpoint by checkpoint and tile by tile, into a new
    zarr store at ``path``: ``ntk`` with dims (epoch, logit, probe_i, probe_j).

    Each tile is written into its chunk and mirrored into the transposed chunk, so only one tile
    is ever in memory. The store's attributes are ``attrs`` and, under ``snapshots``, every
    snapshot's own, in epoch order; they are written last.

    The store is written with zarr alone (a kernel job then need not import xarray), following
    xarray's zarr v3 conventions: ``dimension_names`` on every array and the non-index
    coordinates listed in the kernel's ``coordinates`` attribute; :func:`open_store` reads it.
    """
    n = len(probes)
    epochs = [snapshot.epoch for snapshot in snapshots]
    if epochs != sorted(set(epochs)):
        raise ValueError(f"snapshot epochs {epochs} are not increasing")
    with atomic_directory(path) as tmp:
        group = zarr.open_group(tmp, mode="w", zarr_format=3)
        _write_coordinates(group, probes, labels, num_classes, epochs)
        tile = min(tile_size, n)
        kernel = group.create_array(
            KERNEL,
            shape=(len(epochs), num_classes, n, n),
            chunks=(1, num_classes, tile, tile),
            dtype=np.float32,
            fill_value=np.nan,
            dimension_names=("epoch", *KERNEL_DIMS),
            attributes={**_kernel_attrs(), "coordinates": "label_i label_j"},
        )
        nan = 0
        for e, snapshot in enumerate(snapshots):
            for rows, cols, block in snapshot.blocks:
                kernel[e, :, rows, cols] = block
                if rows != cols:
                    kernel[e, :, cols, rows] = np.swapaxes(block, 1, 2)
                nan += int(np.isnan(block).sum()) * (1 if rows == cols else 2)
        snapshot_attrs = [snapshot.attrs for snapshot in snapshots]
        group.attrs.update(_jsonable({**attrs, "snapshots": snapshot_attrs}))
        _complete(tmp, {KERNEL: nan})


def _write_coordinates(
    group: zarr.Group,
    probes: np.ndarray,
    labels: np.ndarray,
    num_classes: int,
    epochs: Sequence[float],
) -> None:
    """The coordinates of a run's kernel store: probes, their labels, logits and epochs."""

    def array(name, data, dims, attrs):
        data = np.asarray(data)
        out = group.create_array(
            name, shape=data.shape, dtype=data.dtype, dimension_names=dims, attributes=attrs
        )
        out[...] = data

    for dim in ("probe_i", "probe_j"):
        array(dim, probes, (dim,), {"long_name": "probe (training-set index)"})
    array("label_i", labels, ("probe_i",), {"long_name": "class of probe i"})
    array("label_j", labels, ("probe_j",), {"long_name": "class of probe j"})
    array("logit", np.arange(num_classes), ("logit",), {"long_name": "logit (class)"})
    epochs = np.array(epochs, np.float64)
    array("epoch", epochs, ("epoch",), {"long_name": "epoch", "units": "epochs"})


def _kernel_attrs() -> dict[str, str]:
    return {
        "long_name": "per-logit empirical NTK  grad f_c(x_i) . grad f_c(x_j)",
        "units": "1",
    }


# Where zarr 3 keeps a chunk, below its array's folder (the default chunk key encoding).
CHUNK_KEY = re.compile(r"c(/\d+)*")


def _array_files(store: Path, array: str) -> tuple[list[str], list[str]]:
    """The files below ``array``'s folder but its metadata, relative to it: those named as
    zarr names chunks, and any other."""
    chunks: list[str] = []
    others: list[str] = []
    folder = store / array
    for dirpath, _, names in os.walk(folder):
        for name in names:
            relative = (Path(dirpath) / name).relative_to(folder).as_posix()
            if relative != "zarr.json":
                (chunks if CHUNK_KEY.fullmatch(relative) else others).append(relative)
    return sorted(chunks), sorted(others)


def _chunk_files(store: Path, array: str) -> int:
    """How many chunk files of ``array`` are on disk."""
    return len(_array_files(store, array)[0])


def _complete(store: Path, nan: dict[str, int]) -> None:
    """Write the completion record of the finished store at ``store`` and consolidate its
    metadata (both in the root ``zarr.json``, written last). ``nan``: NaN count by array
    (arrays not named hold none)."""
    group = zarr.open_group(store, mode="r+", zarr_format=3)
    record = {
        name: {"chunks": _chunk_files(store, name), "nan": nan.get(name, 0)}
        for name in sorted(group.array_keys())
    }
    group.attrs[COMPLETE] = record
    zarr.consolidate_metadata(store)


def open_store(
    path: str | Path,
    variables: Sequence[str] = (),
    *,
    load: bool = False,
    verify_values: bool = True,
    command: str | None = None,
) -> xr.Dataset:
    """Open a store written by this module, checked (see the module docstring); with ``load``
    its arrays are read into memory first (checked once they are, so read once). Without
    ``verify_values`` the NaN counts are not checked, so no array is read until asked: only the
    completion record, the chunk files and the metadata are. String variables come back as
    object arrays of Python ``str``.

    A missing, unfinished, damaged store, or one without the ``variables`` its caller needs,
    raises :class:`~ntk_evolution._infra.recovery.DamagedInput`, with ``command`` as the one that
    regenerates it (by default the job's, :func:`ntk_evolution._infra.recovery.regenerate_command`);
    files in an array's folder that zarr did not write (neither metadata nor chunks) are
    named as such.
    """
    import xarray as xr

    path = Path(path)
    if not path.exists():
        raise damaged("store", path, "does not exist", command=command)
    try:
        record = zarr.open_group(path, mode="r", use_consolidated=True).attrs.get(COMPLETE)
    except Exception as err:
        problem = f"is unreadable ({type(err).__name__}: {err})"
        raise damaged("store", path, problem, command=command) from err
    if not isinstance(record, dict):
        problem = "is unfinished (it has no completion record)"
        raise damaged("store", path, problem, command=command)
    _check_files(path, record, command)
    missing = sorted(set(variables) - set(record))
    if missing:
        raise damaged("store", path, f"lacks the variable(s) {missing}", command=command)
    try:  # each array from its own metadata, so a damaged one is noticed
        ds = xr.open_zarr(path, consolidated=False)
        unreadable = sorted(set(record) - set(ds.variables))
        if unreadable:
            raise ValueError(f"arrays {unreadable} are missing or unreadable")
        if load:
            ds = ds.load()
    except Exception as err:
        problem = f"is unreadable ({type(err).__name__}: {err})"
        raise damaged("store", path, problem, command=command) from err
    if verify_values:
        _check_values(ds, path, record, command)
    ds.attrs.pop(COMPLETE)
    return _plain_strings(ds)


def _check_files(path: Path, record: dict[str, Any], command: str | None) -> None:
    """Every chunk file the completion record counts is there, and no other file."""
    files = {name: _array_files(path, name) for name in record}
    lost = {
        name: entry["chunks"] - len(files[name][0])
        for name, entry in record.items()
        if len(files[name][0]) < entry["chunks"]
    }
    if lost:
        problem = f"is damaged (chunk files missing, by array: {lost})"
        raise damaged("store", path, problem, command=command)
    surplus = {
        name: len(files[name][0]) - entry["chunks"]
        for name, entry in record.items()
        if len(files[name][0]) > entry["chunks"]
    }
    if surplus:  # which of them are not the store's cannot be told
        problem = f"holds more chunk files than it wrote (by array: {surplus} more)"
        raise damaged("store", path, problem, command=command)
    strays = {name: others for name, (_, others) in files.items() if others}
    if strays:
        raise damaged(
            "store",
            path,
            f"holds files that are not its own (by array: {strays})",
            fix="Its own files are all there: delete these, which leaves the store as written.",
            command=command,
        )


def _check_values(ds: xr.Dataset, path: Path, record: dict[str, Any], command: str | None) -> None:
    """Every array decodes and holds the NaN count its completion record says."""
    try:  # reads every chunk: one that cannot be decoded is damage too
        nan = {name: int(ds[name].isnull().sum()) for name in record}
    except Exception as err:
        problem = f"is unreadable ({type(err).__name__}: {err})"
        raise damaged("store", path, problem, command=command) from err
    changed = {name: nan[name] for name in record if nan[name] != record[name]["nan"]}
    if changed:
        problem = f"is damaged (NaN values, by array: {changed})"
        raise damaged("store", path, problem, command=command)


def _plain_strings(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` with every variable of numpy strings (``<U``, ``StringDType``) as an object array
    of Python ``str``, which zarr 3 stores as its ``string`` data type."""
    strings = {
        name: var.astype(object) for name, var in ds.variables.items() if var.dtype.kind in "UT"
    }
    coords = {name: var for name, var in strings.items() if name in ds.coords}
    return ds.assign_coords(coords).assign(
        {name: var for name, var in strings.items() if name not in coords}
    )


def write_dataset(
    ds: xr.Dataset, path: str | Path, *, chunks: dict[str, int] | None = None
) -> None:
    """Write ``ds`` as a consolidated zarr v3 store at ``path`` atomically, its strings as
    zarr's ``string`` data type (see the module docstring).

    ``chunks`` sets the chunking of every data variable (by dim name, -1 for the whole dim);
    coordinates are stored as one chunk each.
    """
    ds = _plain_strings(ds).copy()
    for name, var in ds.variables.items():
        var.encoding = {}
        if chunks and name in ds.data_vars:
            var.encoding["chunks"] = tuple(
                var.sizes[d] if chunks.get(d, -1) == -1 else min(chunks[d], var.sizes[d])
                for d in var.dims
            )
    ds.attrs = _jsonable(dict(ds.attrs))
    nan = {name: int(ds[name].isnull().sum()) for name in ds.variables}
    with atomic_directory(path) as tmp:
        ds.to_zarr(tmp, mode="w", consolidated=False, zarr_format=3)
        _complete(tmp, nan)

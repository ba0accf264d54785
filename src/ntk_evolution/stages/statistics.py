"""Statistics stages: per-run kernel evolution, spectra, alignment; distances between runs."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import xarray as xr

from ntk_evolution._infra import storage
from ntk_evolution._infra.provenance import provenance
from ntk_evolution.configuration.experiment import Run, RunPair
from ntk_evolution.kernels import eigenspace, statistics

log = logging.getLogger(__name__)


def _kernels(path: str | Path) -> xr.DataArray:
    """A run's kernels, loaded into memory: chunk-wise (lazy) reductions may sum in another
    order from one run to the next, and the statistics must be bitwise reproducible."""
    return storage.open_store(path, [storage.KERNEL], load=True)[storage.KERNEL]


def kernel_evolution(
    kernels_path: str | Path,
    path: str | Path,
    *,
    run: Run,
    infinite_path: str | Path | None = None,
) -> None:
    """Distances across epochs of one run: matrix, to init, to final, velocity; and (with
    ``infinite_path``, the infinite-width NTK's store) to the infinite-width NTK."""
    kernels = _kernels(kernels_path)
    ds = statistics.evolution(kernels)
    if infinite_path is not None:
        reference = storage.open_store(infinite_path, [storage.KERNEL], load=True)[storage.KERNEL]
        ds = ds.merge(statistics.distance_to_reference(kernels, reference))
    ds.attrs = provenance({"run": run.name, "statistic": "evolution"})
    storage.write_dataset(ds, path)


def kernel_spectrum(kernels_path: str | Path, path: str | Path, *, run: Run, top_k: int) -> None:
    """Eigen-spectra of one run's kernels."""
    ds = statistics.spectrum(_kernels(kernels_path), top_k=top_k)
    ds.attrs = provenance({"run": run.name, "statistic": "spectrum", "top_k": top_k})
    storage.write_dataset(ds, path)


def kernel_alignment(
    kernels_path: str | Path, path: str | Path, *, run: Run, centered: bool
) -> None:
    """Kernel-target alignment of one run's kernels with the probes' one-hot labels."""
    kernels = _kernels(kernels_path)
    ds = statistics.alignment(kernels, kernels.label_i.values, centered=centered)
    ds.attrs = provenance({"run": run.name, "statistic": "alignment", "centered": centered})
    storage.write_dataset(ds, path)


def kernel_eigenspace(kernels_path: str | Path, path: str | Path, *, run: Run, top_k: int) -> None:
    """Polar dynamics inside and outside the final top-k eigenspace, and the overlap of each
    epoch's top-k eigenspace with the final one, of one run's kernels."""
    ds = eigenspace.eigenspace(_kernels(kernels_path), top_k=top_k)
    ds.attrs |= provenance({"run": run.name, "statistic": "eigenspace", "top_k": top_k})
    storage.write_dataset(ds, path)


def kernel_pair_distances(
    kernels_paths: Mapping[Run, str | Path],
    path: str | Path,
    *,
    pairs: Sequence[RunPair],
    top_k: int,
) -> None:
    """Distances, raw and centred, between the kernels of paired runs (regime against regime,
    same seed and across seeds; seed against seed within a regime, the yardsticks), and the
    overlap of their top-k eigenspaces (:func:`ntk_evolution.kernels.eigenspace.pair_overlaps`)."""
    kernels = {run: _kernels(p) for run, p in kernels_paths.items()}
    ds = statistics.pair_distances(kernels, pairs)
    ds["top_k_overlap"] = (
        ("pair", "epoch"),
        eigenspace.pair_overlaps(kernels, pairs, top_k=top_k),
        {"long_name": f"overlap of the top-{top_k} eigenspaces of two runs", "units": "1"},
    )
    ds.attrs = provenance(
        {"statistic": "pair_distances", "pairs": list(ds.pair.values), "top_k": top_k}
    )
    storage.write_dataset(ds, path)
    for kind in dict.fromkeys(ds.kind.values):
        final = ds.where(ds.kind == kind, drop=True).isel(epoch=-1)
        log.info(
            "%s: final-epoch distance %s, centred %s",
            kind,
            final.distance.values.round(4).tolist(),
            final.centered_distance.values.round(4).tolist(),
        )

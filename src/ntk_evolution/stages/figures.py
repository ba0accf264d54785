"""The figures stage: one function per figure loads its inputs, draws it (with its table, where
it has one) and writes it; :func:`draw_figures` draws them all, in the one job of the
``figures`` rule. A figure takes about a second to draw and several to import matplotlib,
seaborn and xarray for, so one job pays that once for every figure."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import xarray as xr

from ntk_evolution._infra import storage
from ntk_evolution._infra.atomic import write_table
from ntk_evolution._infra.provenance import provenance
from ntk_evolution.configuration.experiment import Run
from ntk_evolution.figures import (
    accuracy_vs_spawn,
    alignment,
    attacked,
    distance_curves,
    distance_matrix,
    eigen_features,
    eigenspace,
    feature_pictures,
    machine_accuracy,
    pair_distance,
    robustness_vs_epsilon,
    spectrum,
    training_curves,
)
from ntk_evolution.figures import fixed_kernel_table as grid
from ntk_evolution.kernels import statistics

log = logging.getLogger(__name__)


def _stacked(paths: Sequence[str | Path], runs: Sequence[Run]) -> xr.Dataset:
    """Per-run statistics stores stacked along a ``run`` dim."""
    return statistics.stack_runs([storage.open_store(p, load=True) for p in paths], runs)


def plot_distance_matrix(
    evolution_paths: Sequence[str | Path], png_path: str | Path, *, runs: Sequence[Run]
) -> None:
    """Heat maps of the epoch x epoch kernel distances of ``runs``, one panel per run, a row
    per regime."""
    evolutions = [storage.open_store(path, load=True) for path in evolution_paths]
    distance_matrix.plot(evolutions, runs, png_path)


def plot_distance_curves(
    evolution_paths: Sequence[str | Path], png_path: str | Path, *, runs: Sequence[Run]
) -> None:
    """Distance to the initial and final kernel and kernel velocity against epoch."""
    distance_curves.plot(_stacked(evolution_paths, runs), png_path)


def plot_pair_distance(pairs_path: str | Path | None, png_path: str | Path) -> None:
    """Distances between paired runs' kernels against epoch, with the yardsticks; for a single
    run (``pairs_path`` None), a figure that says there is no pair."""
    pairs = None if pairs_path is None else storage.open_store(pairs_path, load=True)
    pair_distance.plot(pairs, png_path)


def plot_spectrum(
    spectrum_paths: Sequence[str | Path], png_path: str | Path, *, runs: Sequence[Run]
) -> None:
    """Effective rank, top-k share and final eigenvalue decay."""
    spectrum.plot(_stacked(spectrum_paths, runs), png_path)


def plot_alignment(
    alignment_paths: Sequence[str | Path], png_path: str | Path, *, runs: Sequence[Run]
) -> None:
    """Kernel-target alignment against epoch."""
    alignment.plot(_stacked(alignment_paths, runs), png_path)


def plot_training_curves(history_paths: Sequence[str | Path], png_path: str | Path) -> None:
    """Phase-1 loss and accuracy per epoch of every run."""
    histories = pd.concat([pd.read_csv(p) for p in history_paths], ignore_index=True)
    training_curves.plot(histories, png_path)


def plot_accuracy_vs_spawn(
    evaluation_path: str | Path, png_path: str | Path, *, headline: Mapping[str, float]
) -> None:
    """Children's clean and robust accuracy against spawn epoch, each attack at its
    ``headline`` epsilon (attack name -> epsilon)."""
    accuracy_vs_spawn.plot(pd.read_csv(evaluation_path), png_path, headline=headline)


def fixed_kernel_table(
    evaluation_path: str | Path,
    table_path: str | Path,
    png_path: str | Path,
    *,
    headline: Mapping[str, float],
) -> None:
    """The CC / CA / AC / AA grid as a CSV table and a figure, each attack at its ``headline``
    epsilon (attack name -> epsilon)."""
    summary = grid.table(pd.read_csv(evaluation_path), headline)
    made_from = {"table": "fixed-kernel grid", "evaluation": str(evaluation_path)}
    write_table(summary.to_dict("records"), table_path, provenance=provenance(made_from))
    grid.plot(summary, png_path)
    log.info("fixed-kernel grid:\n%s", summary.to_string(index=False))


def plot_robustness_vs_epsilon(
    evaluation_path: str | Path, table_path: str | Path, png_path: str | Path
) -> None:
    """White-box accuracy against epsilon of every model as a CSV table, and its figure."""
    robustness = robustness_vs_epsilon.table(pd.read_csv(evaluation_path))
    made_from = {"table": "robustness vs epsilon", "evaluation": str(evaluation_path)}
    write_table(robustness.to_dict("records"), table_path, provenance=provenance(made_from))
    robustness_vs_epsilon.plot(robustness, png_path)


def plot_eigenspace(
    eigenspace_paths: Sequence[str | Path],
    pairs_path: str | Path | None,
    out: Mapping[str, Any],
    *,
    runs: Sequence[Run],
) -> None:
    """Polar dynamics of every run, and the overlaps of top-k eigenspaces across epochs and
    (with ``pairs_path``) across runs."""
    eigenspaces = _stacked(eigenspace_paths, runs)
    eigenspace.plot_polar(eigenspaces, out["polar_dynamics"])
    pairs = storage.open_store(pairs_path, load=True) if pairs_path is not None else None
    eigenspace.plot_overlap(eigenspaces, pairs, out["eigenspace_overlap"])


def plot_attacked(
    statistics_paths: Sequence[str | Path], png_path: str | Path, *, runs: Sequence[Run]
) -> None:
    """How far an attack moves the kernel and the features, against epoch."""
    attacked.plot(_stacked(statistics_paths, runs), png_path)


def plot_machines(
    machine_paths: Sequence[str | Path],
    feature_paths: Sequence[str | Path],
    pictures_path: str | Path,
    evaluation_path: str | Path,
    infinite_path: str | Path | None,
    out: Mapping[str, Any],
    *,
    runs: Sequence[Run],
) -> None:
    """The kernel machines' accuracy against epoch (children marked, the infinite-width NTK's
    machine as a baseline where ``infinite_path`` has it), the eigen-features' accuracy at the
    final epoch and robust share against epoch, and the feature pictures."""
    machines = _stacked(machine_paths, runs)
    infinite = storage.open_store(infinite_path, load=True) if infinite_path else None
    table = pd.read_csv(evaluation_path)
    machine_accuracy.plot(machines, table, out["machine_accuracy"], infinite)
    features = _stacked(feature_paths, runs)
    eigen_features.plot_accuracy(features, out["feature_accuracy"])
    eigen_features.plot_robust_share(features, out["feature_robust_share"])
    pictures = storage.open_store(pictures_path, load=True)
    feature_pictures.plot(pictures, out["feature_pictures"])
    final = machines.accuracy.isel(epoch=-1).sel(source="self").to_series().dropna()
    by_run = final.unstack(["attack", "epsilon"]).round(3)
    log.info("final machines' accuracy by run, attack and epsilon:\n%s", by_run)


def draw_figures(
    *,
    runs: Sequence[Run],
    evolution: Sequence[str | Path],
    spectra: Sequence[str | Path],
    alignments: Sequence[str | Path],
    eigenspaces: Sequence[str | Path],
    attacked_statistics: Sequence[str | Path],
    histories: Sequence[str | Path],
    pairs: str | Path | None,
    evaluation: str | Path,
    machines: Sequence[str | Path],
    features: Sequence[str | Path],
    pictures: str | Path,
    infinite_machine: str | Path | None,
    out: Mapping[str, Any],
    headline: Mapping[str, float],
) -> None:
    """Every figure and table of the report. ``evolution``, ``spectra``, ``alignments``,
    ``eigenspaces``, ``attacked_statistics``, ``histories``, ``machines`` and ``features`` hold
    one file per run of ``runs``, in its order; ``pairs`` is None for a single run and
    ``infinite_machine`` where the infinite-width NTK's machine is not judged. ``out`` names
    the files: ``distance_matrix``, ``distance_curves``, ``spectrum``,
    ``alignment``, ``polar_dynamics``, ``eigenspace_overlap``, ``attacked_kernels``,
    ``training_curves``, ``pair_distance``, ``accuracy_vs_spawn``, ``fixed_kernel_table`` and
    ``fixed_kernel``, ``robustness_table`` and ``robustness_vs_epsilon``,
    ``machine_accuracy``, ``feature_accuracy``, ``feature_robust_share`` and
    ``feature_pictures``."""
    plot_distance_matrix(evolution, out["distance_matrix"], runs=runs)
    plot_distance_curves(evolution, out["distance_curves"], runs=runs)
    plot_spectrum(spectra, out["spectrum"], runs=runs)
    plot_alignment(alignments, out["alignment"], runs=runs)
    plot_eigenspace(eigenspaces, pairs, out, runs=runs)
    plot_attacked(attacked_statistics, out["attacked_kernels"], runs=runs)
    plot_training_curves(histories, out["training_curves"])
    plot_pair_distance(pairs, out["pair_distance"])
    plot_accuracy_vs_spawn(evaluation, out["accuracy_vs_spawn"], headline=headline)
    fixed_kernel_table(
        evaluation, out["fixed_kernel_table"], out["fixed_kernel"], headline=headline
    )
    plot_robustness_vs_epsilon(evaluation, out["robustness_table"], out["robustness_vs_epsilon"])
    plot_machines(machines, features, pictures, evaluation, infinite_machine, out, runs=runs)

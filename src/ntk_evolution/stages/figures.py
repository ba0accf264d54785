"""Loaders that assemble the inputs of the figures."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd
import xarray as xr

from ntk_evolution import statistics, storage
from ntk_evolution.atomic import write_table
from ntk_evolution.config import Run
from ntk_evolution.figures import fixed_kernel_table as grid
from ntk_evolution.figures import robustness_vs_epsilon as against_epsilon
from ntk_evolution.provenance import provenance

log = logging.getLogger(__name__)


def stacked_statistics(paths: Sequence[str | Path], runs: Sequence[Run]) -> xr.Dataset:
    """Per-run statistics stores stacked along a ``run`` dim (for figures)."""
    return statistics.stack_runs([storage.open_store(p, load=True) for p in paths], runs)


def histories(paths: Sequence[str | Path]) -> pd.DataFrame:
    """All runs' training histories in one table."""
    return pd.concat([pd.read_csv(p) for p in paths], ignore_index=True)


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


def robustness_vs_epsilon(
    evaluation_path: str | Path, table_path: str | Path, png_path: str | Path
) -> None:
    """White-box accuracy against epsilon of every model as a CSV table, and its figure."""
    robustness = against_epsilon.table(pd.read_csv(evaluation_path))
    made_from = {"table": "robustness vs epsilon", "evaluation": str(evaluation_path)}
    write_table(robustness.to_dict("records"), table_path, provenance=provenance(made_from))
    against_epsilon.plot(robustness, png_path)

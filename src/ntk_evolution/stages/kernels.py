"""Kernel stage: the per-logit NTK of the probe set at one checkpoint."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import jax.numpy as jnp

from ntk_evolution import data, storage
from ntk_evolution.experiment import Run
from ntk_evolution.ntk import compile_tile_kernel, per_logit_ntk_tiles
from ntk_evolution.provenance import provenance
from ntk_evolution.settings import ModelSettings, NtkSettings
from ntk_evolution.stages.networks import load_network

log = logging.getLogger(__name__)


def extract_kernel(
    checkpoint_path: str | Path,
    split_path: str | Path,
    probes_path: str | Path,
    path: str | Path,
    *,
    run: Run,
    epoch: float,
    model: ModelSettings,
    ntk: NtkSettings,
) -> None:
    """Compute the per-logit empirical NTK of the probe set at one checkpoint into a zarr store."""
    split = data.load_split(split_path)
    indices, labels = data.load_probes(probes_path)
    net, params, meta = load_network(split, model, checkpoint_path)
    images = jnp.asarray(data.to_unit_interval(split.train_images[indices], split.pixel_max))
    compiling = time.perf_counter()
    kernel = compile_tile_kernel(
        net.apply,
        params,
        images.shape[1:],
        implementation=ntk.implementation,
        tile_size=ntk.tile_size,
    )
    attrs = provenance(
        {"run": run.name, "model": model.model_dump(), "ntk": ntk.model_dump()},
        epoch=epoch,
        checkpoint=meta,
        implementation=kernel.implementation,
        compile_seconds=time.perf_counter() - compiling,
    )
    started = time.perf_counter()
    blocks = per_logit_ntk_tiles(kernel, params, images)

    def timed(blocks):
        yield from blocks
        attrs["seconds"] = time.perf_counter() - started

    storage.write_kernel_snapshot(
        path,
        timed(blocks),
        probes=indices,
        labels=labels,
        num_classes=split.num_classes,
        epoch=epoch,
        tile_size=ntk.tile_size,
        attrs=attrs,
    )
    log.info(
        "%s epoch %g: %d probes x %d logits in %.2f s on %s (%s)",
        run.name,
        epoch,
        len(indices),
        split.num_classes,
        attrs["seconds"],
        attrs["device"],
        kernel.implementation,
    )

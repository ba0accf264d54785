"""Kernel stage: the per-logit NTK of the probe set at every checkpoint of a run."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp

from ntk_evolution._infra import storage
from ntk_evolution._infra.checkpoints import load_variables
from ntk_evolution._infra.provenance import provenance
from ntk_evolution._infra.type_aliases import Variables
from ntk_evolution.configuration.experiment import Run
from ntk_evolution.configuration.settings import ModelSettings, NtkSettings
from ntk_evolution.datasets import data
from ntk_evolution.kernels.ntk import TileKernel, compile_tile_kernel, per_logit_ntk_tiles
from ntk_evolution.models.networks import Network
from ntk_evolution.stages.networks import configured_network

log = logging.getLogger(__name__)


def extract_kernels(
    checkpoint_paths: Sequence[str | Path],
    split_path: str | Path,
    probes_path: str | Path,
    path: str | Path,
    *,
    run: Run,
    epochs: Sequence[float],
    model: ModelSettings,
    ntk: NtkSettings,
) -> None:
    """The per-logit empirical NTK of the probe set at every checkpoint of a run, into one zarr
    store at ``path`` (:func:`ntk_evolution._infra.storage.write_kernels`); ``checkpoint_paths[i]`` is
    the checkpoint of epoch ``epochs[i]``.

    The kernel is that of the network's evaluation-mode function at each checkpoint's
    parameters and state. The tile kernel is compiled once: parameters and state are arguments
    of the compiled program, so every checkpoint of the run uses the same one.
    """
    split = data.load_split(split_path)
    indices, labels = data.load_probes(probes_path)
    net, template = configured_network(split, model)
    images = jnp.asarray(data.to_unit_interval(split.train_images[indices], split.pixel_max))
    compiling = time.perf_counter()
    kernel = compile_tile_kernel(  # from the shapes: each checkpoint is read once
        net.evaluation(template.state),
        template.params,
        images.shape[1:],
        implementation=ntk.implementation,
        tile_size=ntk.tile_size,
    )
    compile_seconds = time.perf_counter() - compiling
    attrs = provenance(
        {"run": run.name, "model": model.model_dump(), "ntk": ntk.model_dump()},
        implementation=kernel.implementation,
        compile_seconds=compile_seconds,
    )
    storage.write_kernels(
        path,
        [
            _snapshot(kernel, net, template, images, epoch, checkpoint_path, run)
            for epoch, checkpoint_path in zip(epochs, checkpoint_paths, strict=True)
        ],
        probes=indices,
        labels=labels,
        num_classes=split.num_classes,
        tile_size=ntk.tile_size,
        attrs=attrs,
    )
    log.info("%s: kernels on %s (%s)", run.name, attrs["device"], kernel.implementation)


def _snapshot(
    kernel: TileKernel,
    net: Network,
    template: Variables,
    images: jax.Array,
    epoch: float,
    checkpoint_path: str | Path,
    run: Run,
) -> storage.Snapshot:
    """The kernel at one checkpoint, its parameters loaded only when it is written."""
    attrs: dict[str, Any] = {"epoch": epoch}

    def blocks():
        variables, attrs["checkpoint"] = load_variables(checkpoint_path, template)
        started = time.perf_counter()
        apply = net.evaluation(variables.state)
        yield from per_logit_ntk_tiles(kernel, variables.params, images, apply)
        attrs["seconds"] = time.perf_counter() - started
        log.info("%s epoch %g: %d probes in %.2f s", run.name, epoch, len(images), attrs["seconds"])

    return storage.Snapshot(epoch, blocks(), attrs)

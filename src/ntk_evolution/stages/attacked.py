"""Kernels on attacked inputs: the probes' adversarial versions at chosen checkpoints of a run,
their per-logit kernel and the cross kernel with the clean probes, and how far the attack moves
them (:mod:`ntk_evolution.kernels.attacked`).

Two stores per run: the kernels, ``attacked_ntk`` (epoch, logit, probe_i, probe_j) chunked by
tiles as the clean kernels are, ``cross`` (epoch, logit, probe) and the attacked probe images
``attacked_probes`` (epoch, probe, row, column, channel); and the statistics of
:func:`ntk_evolution.kernels.attacked.attack_statistics` with an ``epoch`` dim.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import xarray as xr

from ntk_evolution._infra import storage
from ntk_evolution._infra.checkpoints import load_variables
from ntk_evolution._infra.provenance import provenance
from ntk_evolution._infra.seeding import evaluation_key
from ntk_evolution.configuration.experiment import Run
from ntk_evolution.configuration.settings import (
    AttackedSettings,
    EvaluationSettings,
    ModelSettings,
    NtkSettings,
    SingleAttack,
)
from ntk_evolution.datasets import data
from ntk_evolution.kernels import attacked as science
from ntk_evolution.kernels.ntk import compile_tile_kernel
from ntk_evolution.stages.machines import ProbeKernels
from ntk_evolution.stages.networks import configured_network

log = logging.getLogger(__name__)


def _kernels_dataset(made: Sequence[science.AttackedKernels], probes: ProbeKernels) -> xr.Dataset:
    """The attacked kernels, cross kernels and attacked probes of every epoch."""
    kernels = probes.kernels
    return xr.Dataset(
        {
            "attacked_ntk": (
                ("epoch", "logit", "probe_i", "probe_j"),
                np.stack([m.attacked for m in made]).astype(np.float32),
                {"long_name": "per-logit NTK of the attacked probes", "units": "1"},
            ),
            "cross": (
                ("epoch", "logit", "probe"),
                np.stack([m.cross for m in made]).astype(np.float32),
                {"long_name": "k_c(x_i, x~_i): a probe against its attacked copy", "units": "1"},
            ),
            "attacked_probes": (
                ("epoch", "probe", "row", "column", "channel"),
                np.stack([m.attacked_probes for m in made]),
                {"long_name": "the probes' adversarial versions", "units": "1"},
            ),
        },
        coords={
            "probe_i": kernels.probe_i.values,
            "probe_j": kernels.probe_j.values,
            "probe": ("probe", kernels.probe_i.values),
            "label": ("probe", probes.labels),
            "logit": kernels.logit.values,
        },
    )


def _attack(attacked: AttackedSettings, evaluation: EvaluationSettings) -> SingleAttack:
    """The evaluation attack ``attacked.attack`` at its own epsilon (no ensemble: the config
    check refuses one)."""
    attack = evaluation.attacks[attacked.attack]
    return attack.at(attack.epsilon)


def extract_attacked_kernels(
    checkpoint_paths: Sequence[str | Path],
    kernels_path: str | Path,
    split_path: str | Path,
    kernels_out: str | Path,
    statistics_out: str | Path,
    *,
    run: Run,
    epochs: Sequence[float],
    model: ModelSettings,
    ntk: NtkSettings,
    evaluation: EvaluationSettings,
    attacked: AttackedSettings,
) -> None:
    """At every checkpoint of ``epochs`` (``checkpoint_paths[i]`` at ``epochs[i]``): the probes
    attacked by ``attacked.attack`` (an evaluation attack at its own epsilon) against the
    checkpoint's network (its evaluation-mode function of the checkpoint's parameters and
    state), their kernel and cross kernel (the two stores of the module docstring). The tile
    kernel is compiled once, as for the clean kernels."""
    split = data.load_split(split_path)
    probes = ProbeKernels(kernels_path, split)
    net, template = configured_network(split, model)
    kernel = compile_tile_kernel(
        net.evaluation(template.state),
        template.params,
        split.image_shape,
        implementation=ntk.implementation,
        tile_size=ntk.tile_size,
    )
    attack = _attack(attacked, evaluation)
    made, statistics = [], []
    for epoch, checkpoint_path in zip(epochs, checkpoint_paths, strict=True):
        variables, _ = load_variables(checkpoint_path, template)
        one = science.attacked_kernels(
            kernel,
            net.evaluation(variables.state),
            variables.params,
            (probes.images, probes.labels),
            attack,
            key=evaluation_key(evaluation.seed),
            batch_size=evaluation.batch_size,
            clean=probes.at(epoch),
        )
        made.append(one)
        kernels = (one.clean, one.attacked, one.cross)
        statistics.append(science.attack_statistics(*kernels, probes.labels, split.num_classes))
        log.info("%s epoch %g: distance %.4f", run.name, epoch, float(statistics[-1].distance))
    config = {"run": run.name, "attacked": attacked.model_dump(), "attack": attack.model_dump()}
    made_by = provenance({**config, "model": model.model_dump(), "ntk": ntk.model_dump()})
    epoch = np.asarray(epochs, np.float64)
    stored = _kernels_dataset(made, probes).assign_coords(epoch=epoch).assign_attrs(made_by)
    tile = min(ntk.tile_size, len(probes.labels))
    chunks = {"epoch": 1, "probe_i": tile, "probe_j": tile}  # the clean kernels' tiles
    storage.write_dataset(stored, kernels_out, chunks=chunks)
    joined = xr.concat(statistics, dim="epoch").assign_coords(epoch=epoch)
    storage.write_dataset(joined.assign_attrs(made_by), statistics_out)

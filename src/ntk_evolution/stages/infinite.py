"""The infinite-width reference stages: the analytic NTK on the probes, once per architecture
and data, and its kernel machine (:mod:`ntk_evolution.kernels.infinite`).

The kernel's store holds ``ntk`` (probe_i, probe_j), the same for every logit, with the
coordinates of a run's kernel store; the machine's ``accuracy`` (attack, epsilon), encoded as
the trained kernels' machines are (:mod:`ntk_evolution.stages.machines`): "clean" and every
evaluation attack at its own epsilon, crafted against the machine itself.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pandas as pd
import xarray as xr

from ntk_evolution._infra import storage
from ntk_evolution._infra.provenance import provenance
from ntk_evolution.attacks.evaluation import shares
from ntk_evolution.configuration.settings import (
    EvaluationSettings,
    MachinesSettings,
    ModelSettings,
    NtkSettings,
)
from ntk_evolution.datasets import data
from ntk_evolution.kernels.infinite import analytic_ntk, infinite_coefficients, infinite_machine
from ntk_evolution.models.networks import build_network
from ntk_evolution.models.stax_models import Model
from ntk_evolution.stages.evaluation import adversarial_key, judge
from ntk_evolution.stages.gather import accuracy_array, with_intervals
from ntk_evolution.stages.machines import headline_cells, test_subset

log = logging.getLogger(__name__)


def _reference(model: ModelSettings, num_classes: int) -> Model:
    """The configured network's ``stax`` model, whose infinite-width kernels exist."""
    reference = build_network(model, num_classes).reference
    if reference is None:
        raise ValueError(
            f"model.architecture {model.architecture!r} has no infinite-width reference: only "
            "the stax models do (ntk_evolution.configuration.infinite_reach)"
        )
    return reference


def extract_infinite_kernel(
    split_path: str | Path,
    probes_path: str | Path,
    path: str | Path,
    *,
    model: ModelSettings,
    ntk: NtkSettings,
) -> None:
    """The infinite-width NTK of the configured network on the probe set, in blocks of
    ``ntk.tile_size`` probes, into the store of the module docstring."""
    split = data.load_split(split_path)
    indices, labels = data.load_probes(probes_path)
    net = _reference(model, split.num_classes)
    images = data.to_unit_interval(split.train_images[indices], split.pixel_max)
    kernel = analytic_ntk(net, images, batch_size=ntk.tile_size)
    ds = xr.Dataset(
        {
            storage.KERNEL: (
                ("probe_i", "probe_j"),
                kernel,
                {"long_name": "infinite-width NTK, the same for every logit", "units": "1"},
            )
        },
        coords={
            "probe_i": indices,
            "probe_j": indices,
            "label_i": ("probe_i", labels),
            "label_j": ("probe_j", labels),
        },
    )
    made = provenance({"model": model.model_dump(), "ntk": ntk.model_dump()})
    storage.write_dataset(ds.assign_attrs(made), path)
    log.info("infinite-width NTK of %d probes, trace %.4g", len(indices), np.trace(kernel))


def _infinite_machine_dataset(
    accuracy: Sequence[float], evaluation: EvaluationSettings
) -> xr.Dataset:
    """The machine's store (see the module docstring) from its accuracy in each cell of
    :func:`~ntk_evolution.stages.machines.headline_cells`."""
    cells = headline_cells(evaluation)
    table = pd.DataFrame(cells, columns=["attack", "epsilon"]).assign(accuracy=accuracy)
    return accuracy_array(table, ["attack", "epsilon"]).to_dataset(name="accuracy")


def judge_infinite_machine(
    kernel_path: str | Path,
    split_path: str | Path,
    path: str | Path,
    *,
    model: ModelSettings,
    machines: MachinesSettings,
    evaluation: EvaluationSettings,
) -> None:
    """Clean and robust accuracy of the infinite-width NTK's kernel machine, judged as the
    trained kernels' machines are (:mod:`ntk_evolution.stages.machines`): the same ridge,
    targets, test images and attacks, crafted against the machine itself."""
    evaluation = machines.judged_by(evaluation)
    split = data.load_split(split_path)
    kernel = storage.open_store(kernel_path, [storage.KERNEL], load=True)[storage.KERNEL]
    net = _reference(model, split.num_classes)
    images = data.to_unit_interval(split.train_images[kernel.probe_i.values], split.pixel_max)
    alpha = infinite_coefficients(
        kernel.values,
        kernel.label_i.values,
        split.num_classes,
        ridge=machines.ridge,
        centered=machines.centered_targets,
    )
    machine = infinite_machine(net, images)
    test = test_subset(split, machines.test_images)
    weights = jnp.asarray(alpha, jnp.float32)
    share = shares(judge(machine, weights, test, evaluation, headline=True).hits)
    cells = headline_cells(evaluation)
    accuracy = [share["clean"]] + [share[adversarial_key(*cell)] for cell in cells[1:]]
    ds = with_intervals(_infinite_machine_dataset(accuracy, evaluation), len(test.images))
    config = {"model": model.model_dump(), "machines": machines.model_dump()}
    made = provenance({**config, "evaluation": evaluation.model_dump()})
    storage.write_dataset(ds.assign_attrs(made), path)
    log.info("infinite-width machine: %s", {k: round(v, 4) for k, v in share.items()})

"""Kernel-machine stages: the machines and eigen-features of a run's checkpoints, and the
feature pictures of the first seed of every regime (:mod:`ntk_evolution.kernels.machines`,
:mod:`ntk_evolution.kernels.pictures`).

A run's machines go to one store, ``accuracy`` (epoch, attack, epsilon, source), encoded as the
evaluation's store is (:func:`ntk_evolution.stages.gather.accuracy_array`): ``attack`` is "clean"
(``epsilon`` 0) or the name of an evaluation attack of ``machines.attacks``, judged at its own
epsilon only (NaN at the other radii); ``source`` is "self" (crafted against the machine) or "parent" (the run's final
network's stored adversarial test images, the transfer check); a clean image is the same for
every source. ``accuracy_low`` and ``accuracy_high`` are the ends of each accuracy's 95 % Wilson
interval over the test images judged (:func:`ntk_evolution.stages.gather.with_intervals`).

Its eigen-features go to another, with ``accuracy`` (epoch, eigen, measure), ``class_accuracy``
(epoch, class, eigen, measure), ``eigenvalue`` (epoch, logit, eigen) and ``robust_share``
(epoch). Eigen-feature k's classifier is the 10-class form built from every class kernel's k-th
term, argmax_c f_c^(k)(x) with f_c^(k)(x) = K_c(x, X) u_k (u_k^T y_c) / (mu_k + lambda_c), u_k and
mu_k the k-th eigenvector and eigenvalue of K_c (1 the largest); ``measure`` is "clean" or
"robust" (PGD of ``machines.features.attack`` against that classifier), ``class_accuracy`` its
accuracy on the test images of each class, and ``robust_share`` = sum_k robust_k / sum_k clean_k
over the ``top`` leading features: the share of their accuracy that survives the attack.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import jax.numpy as jnp
import numpy as np
import pandas as pd
import xarray as xr

from ntk_evolution._infra import storage
from ntk_evolution._infra.checkpoints import load_variables
from ntk_evolution._infra.provenance import provenance
from ntk_evolution._infra.seeding import evaluation_key
from ntk_evolution._infra.type_aliases import ApplyFn, Params
from ntk_evolution.attacks.evaluation import craft, hits, shares
from ntk_evolution.configuration.experiment import CLEAN, SOURCES, Run
from ntk_evolution.configuration.settings import (
    Attack,
    EvaluationSettings,
    MachinesSettings,
    ModelSettings,
    PictureSettings,
)
from ntk_evolution.datasets import data
from ntk_evolution.kernels.machines import (
    dual_coefficients,
    eigen,
    feature_coefficients,
    machine_apply,
    machine_weights,
    parameter_directions,
    targets,
)
from ntk_evolution.kernels.pictures import feature_pictures, oriented
from ntk_evolution.stages.evaluation import (
    adversarial_key,
    crafted_attacks,
    judge,
    load_adversarial,
)
from ntk_evolution.stages.gather import accuracy_array, with_intervals
from ntk_evolution.stages.networks import configured_network

log = logging.getLogger(__name__)

MEASURES = ("clean", "robust")


class ProbeKernels:
    """A run's probe kernels with the probe images and targets they were computed on."""

    def __init__(self, kernels_path: str | Path, split: data.Split) -> None:
        self.kernels = storage.open_store(kernels_path, [storage.KERNEL], load=True)[storage.KERNEL]
        indices = self.kernels.probe_i.values
        self.images = jnp.asarray(
            data.to_unit_interval(split.train_images[indices], split.pixel_max)
        )
        self.labels = self.kernels.label_i.values
        self.num_classes = split.num_classes

    def targets(self, *, centered: bool) -> np.ndarray:
        """The probes' one-hot targets (C, n), centred or not."""
        return targets(self.labels, self.num_classes, centered=centered)

    def at(self, epoch: float) -> np.ndarray:
        """The per-logit kernel (C, n, n) at ``epoch``."""
        return self.kernels.sel(epoch=epoch).values


class Examples(NamedTuple):
    """Test images and their labels."""

    images: np.ndarray
    labels: np.ndarray


def test_subset(split: data.Split, count: int | None) -> Examples:
    """The first ``count`` test images and labels (all for None)."""
    images, labels = split.test_set()
    return Examples(images[:count], labels[:count])


def headline_cells(evaluation: EvaluationSettings) -> list[tuple[str, float]]:
    """``(attack, epsilon)`` of a machine's results: clean (radius 0), then every evaluation
    attack at its own epsilon, in the order of the config."""
    return [(CLEAN, 0.0), *((name, attack.epsilon) for name, attack in evaluation.attacks.items())]


def _machine_accuracy(
    machine: ApplyFn,
    weights: Params,
    test: Examples,
    transfer: Mapping[str, np.ndarray],
    evaluation: EvaluationSettings,
) -> np.ndarray:
    """Accuracy (cell, source) of one machine, the cells of :func:`headline_cells`, the sources
    of :data:`~ntk_evolution.configuration.experiment.SOURCES`."""
    share = shares(judge(machine, weights, test, evaluation, transfer, headline=True).hits)
    rows = [[share[CLEAN]] * len(SOURCES)]
    for name, epsilon in headline_cells(evaluation)[1:]:
        key = adversarial_key(name, epsilon)
        rows.append([share[key], share[f"transfer_{key}"]])
    return np.array(rows)


def _feature_hits(
    machine: ApplyFn,
    weights: Params,
    test: Examples,
    attack: Attack,
    evaluation: EvaluationSettings,
) -> np.ndarray:
    """Which test images one eigen-feature's classifier gets right, (measure, image)."""
    crafted = craft(
        machine,
        weights,
        *test,
        attacks={"robust": attack},
        key=evaluation_key(evaluation.seed),
        batch_size=evaluation.batch_size,
    )
    correct = hits(machine, weights, *test, adversarial=crafted, batch_size=evaluation.batch_size)
    return np.stack([correct[measure] for measure in MEASURES])


def feature_indices(num_probes: int, top: int, bottom: int) -> list[int]:
    """0-based indices of the judged eigen-features: the ``top`` leading and ``bottom``
    trailing ones of ``num_probes``, each once."""
    return sorted(
        set(range(min(top, num_probes))) | set(range(max(num_probes - bottom, 0), num_probes))
    )


def judge_features(
    apply: ApplyFn,
    params: Params,
    probes: ProbeKernels,
    epoch: float,
    chosen: Sequence[int],
    test: Examples,
    machines: MachinesSettings,
    evaluation: EvaluationSettings,
) -> np.ndarray:
    """Hits (eigen, measure, image) of the ``chosen`` eigen-features' classifiers of the
    checkpoint ``params`` at ``epoch``, under ``machines.features.attack``."""
    y = probes.targets(centered=machines.centered_targets)
    coefficients = feature_coefficients(probes.at(epoch), y, machines.ridge)
    machine = machine_apply(apply, params)
    judged = []
    for k in chosen:
        alpha = jnp.asarray(coefficients[:, k], jnp.float32)
        weights = machine_weights(apply, params, probes.images, alpha)
        judged.append(_feature_hits(machine, weights, test, machines.features.attack, evaluation))
    return np.stack(judged)


def _machines_dataset(
    accuracy: np.ndarray, epochs: Sequence[float], evaluation: EvaluationSettings
) -> xr.Dataset:
    """The machines' store (see the module docstring) from accuracy (epoch, cell, source) of
    :func:`judge_machine`."""
    rows = [
        {"epoch": epoch, "attack": attack, "epsilon": epsilon, "source": source, "accuracy": value}
        for epoch, by_cell in zip(epochs, accuracy, strict=True)
        for (attack, epsilon), by_source in zip(headline_cells(evaluation), by_cell, strict=True)
        for source, value in zip(SOURCES, by_source, strict=True)
    ]
    dims = ["epoch", "attack", "epsilon", "source"]
    return accuracy_array(pd.DataFrame(rows), dims).to_dataset(name="accuracy")


def _features_dataset(
    judged: np.ndarray,
    eigenvalues: np.ndarray,
    labels: np.ndarray,
    epochs: Sequence[float],
    chosen: Sequence[int],
    top: int,
) -> xr.Dataset:
    """The eigen-features' store (see the module docstring) from hits (epoch, eigen, measure,
    image) on test images of ``labels`` and eigenvalues (epoch, logit, eigen)."""
    classes = np.arange(eigenvalues.shape[1])
    per_class = np.stack([judged[..., labels == c].mean(axis=-1) for c in classes], axis=1)
    accuracy = judged.mean(axis=-1)
    leading = accuracy[:, : min(top, len(chosen))].sum(axis=1)  # (epoch, measure)
    dims = ("epoch", "eigen", "measure")
    return xr.Dataset(
        {
            "accuracy": (dims, accuracy),
            "class_accuracy": (("epoch", "class", "eigen", "measure"), per_class),
            "eigenvalue": (("epoch", "logit", "eigen"), eigenvalues),
            "robust_share": ("epoch", leading[:, 1] / np.maximum(leading[:, 0], 1e-12)),
        },
        coords={
            "epoch": np.asarray(epochs, np.float64),
            "eigen": np.asarray(chosen) + 1,
            "measure": list(MEASURES),
            "class": classes,
            "logit": classes,
        },
    )


def judge_machine(
    apply: ApplyFn,
    params: Params,
    probes: ProbeKernels,
    epoch: float,
    test: Examples,
    transfer: Mapping[str, np.ndarray],
    machines: MachinesSettings,
    evaluation: EvaluationSettings,
) -> np.ndarray:
    """Accuracy (cell, source) of the kernel machine of the checkpoint ``params`` at ``epoch``,
    with the ridge and targets of ``machines``: the cells of :func:`headline_cells`, the sources
    of :data:`~ntk_evolution.configuration.experiment.SOURCES`."""
    y = probes.targets(centered=machines.centered_targets)
    alpha = jnp.asarray(dual_coefficients(probes.at(epoch), y, machines.ridge), jnp.float32)
    weights = machine_weights(apply, params, probes.images, alpha)
    return _machine_accuracy(machine_apply(apply, params), weights, test, transfer, evaluation)


def judge_machines(
    checkpoint_paths: Sequence[str | Path],
    kernels_path: str | Path,
    split_path: str | Path,
    parent_adversarial_path: str | Path,
    machines_path: str | Path,
    features_path: str | Path,
    *,
    run: Run,
    epochs: Sequence[float],
    model: ModelSettings,
    machines: MachinesSettings,
    evaluation: EvaluationSettings,
) -> None:
    """Clean, robust and transfer accuracy of the kernel machine of every checkpoint of
    ``epochs`` (``checkpoint_paths[i]`` at ``epochs[i]``), and of its eigen-features; into the
    two stores of the module docstring."""
    evaluation = machines.judged_by(evaluation)
    split = data.load_split(split_path)
    probes = ProbeKernels(kernels_path, split)
    net, template = configured_network(split, model)
    test = test_subset(split, machines.test_images)
    feature_test = test_subset(split, machines.features.test_images)
    stored = load_adversarial(
        parent_adversarial_path, list(crafted_attacks(evaluation, headline=True))
    )
    transfer = {name: images[: len(test.images)] for name, images in stored.items()}
    chosen = feature_indices(len(probes.labels), machines.features.top, machines.features.bottom)
    accuracy, judged, eigenvalues = [], [], []
    for epoch, checkpoint_path in zip(epochs, checkpoint_paths, strict=True):
        variables, _ = load_variables(checkpoint_path, template)
        judge = (net.evaluation(variables.state), variables.params, probes, epoch)
        accuracy.append(judge_machine(*judge, test, transfer, machines, evaluation))
        judged.append(judge_features(*judge, chosen, feature_test, machines, evaluation))
        eigenvalues.append(eigen(probes.at(epoch))[0][:, chosen])
        log.info("%s epoch %g: machine accuracy %s", run.name, epoch, accuracy[-1][:, 0].round(3))
    config = {"run": run.name, "machines": machines.model_dump(), "model": model.model_dump()}
    made = provenance({**config, "evaluation": evaluation.model_dump()})
    ds = with_intervals(_machines_dataset(np.stack(accuracy), epochs, evaluation), len(test.images))
    storage.write_dataset(ds.assign_attrs(made), machines_path)
    features = _features_dataset(
        np.stack(judged),
        np.stack(eigenvalues),
        feature_test.labels,
        epochs,
        chosen,
        machines.features.top,
    )
    storage.write_dataset(features.assign_attrs(made), features_path)


class Pictures(NamedTuple):
    """A checkpoint's feature pictures, each field (class, eigen, ...) over the drawn classes
    and their top eigenvectors."""

    images: np.ndarray  # (class, eigen, row, column, channel)
    cosine_start: np.ndarray  # (class, eigen): the cosine at mid-grey
    cosine: np.ndarray  # (class, eigen): the cosine of the picture
    eigenvalue: np.ndarray  # (class, eigen)


def _pictures_of(
    apply: ApplyFn,
    params: Params,
    kernels: np.ndarray,
    probes: ProbeKernels,
    image_shape: tuple[int, ...],
    settings: PictureSettings,
) -> Pictures:
    """Pictures, their cosines at mid-grey and at the end and the eigenvalues of the top
    eigenvectors of the drawn classes' kernels
    (orientation: centred targets, :func:`ntk_evolution.kernels.pictures.oriented`)."""
    classes, top = settings.classes, settings.top
    mu, u = eigen(kernels[classes])
    cotangents = np.zeros((len(classes), top, len(probes.labels), kernels.shape[0]))
    for i, c in enumerate(classes):
        cotangents[i, :, :, c] = oriented(u[i][:, :top], probes.targets(centered=True)[c]).T
    flat = jnp.asarray(cotangents.reshape(len(classes) * top, *cotangents.shape[2:]))
    directions = parameter_directions(apply, params, probes.images, flat)
    logits = np.repeat(classes, top)
    made = feature_pictures(
        apply,
        params,
        directions,
        logits,
        image_shape,
        steps=settings.steps,
        step_size=settings.step_size,
    )
    shaped = [a.reshape(len(classes), top, *a.shape[1:]) for a in made]
    return Pictures(*shaped, mu[:, :top])


def draw_feature_pictures(
    checkpoint_paths: Mapping[Run, Sequence[str | Path]],
    kernels_paths: Mapping[Run, str | Path],
    split_path: str | Path,
    path: str | Path,
    *,
    epochs: Sequence[float],
    model: ModelSettings,
    pictures: PictureSettings,
) -> None:
    """Feature pictures of every run of ``kernels_paths`` (one per regime) at ``epochs``
    (``checkpoint_paths[run][i]`` at ``epochs[i]``), into one store: ``picture`` (regime,
    epoch, class, eigen, row, column, channel), ``cosine_start`` and ``cosine`` (the cosine at
    mid-grey and of the picture) and ``eigenvalue``, each (regime, epoch, class, eigen)."""
    split = data.load_split(split_path)
    net, template = configured_network(split, model)
    runs = list(kernels_paths)
    made = []
    for run in runs:
        probes = ProbeKernels(kernels_paths[run], split)
        for epoch, checkpoint_path in zip(epochs, checkpoint_paths[run], strict=True):
            variables, _ = load_variables(checkpoint_path, template)
            apply = net.evaluation(variables.state)
            made.append(
                _pictures_of(
                    apply, variables.params, probes.at(epoch), probes, split.image_shape, pictures
                )
            )
            log.info("%s epoch %g: cosines %s", run.name, epoch, made[-1].cosine.round(3).tolist())
    shape = (len(runs), len(epochs))
    images, start, end, eigenvalues = (
        np.stack(field).reshape(*shape, *field[0].shape) for field in zip(*made, strict=True)
    )
    scalar = ("regime", "epoch", "class", "eigen")
    ds = xr.Dataset(
        {
            "picture": ((*scalar, "row", "column", "channel"), images),
            "cosine_start": (scalar, start),
            "cosine": (scalar, end),
            "eigenvalue": (scalar, eigenvalues),
        },
        coords={
            "regime": [run.regime for run in runs],
            "seed": ("regime", [run.seed for run in runs]),
            "epoch": np.asarray(epochs, np.float64),
            "class": list(pictures.classes),
            "eigen": np.arange(1, pictures.top + 1),
        },
    )
    config = {"runs": [run.name for run in runs], "pictures": pictures.model_dump()}
    storage.write_dataset(ds.assign_attrs(provenance(config)), path)

"""Stages that prepare the dataset: the train/test split and the probe set."""

from __future__ import annotations

import logging
from pathlib import Path

from ntk_evolution.datasets import data

log = logging.getLogger(__name__)


def prepare_split(
    path: str | Path, *, name: str, root: str, test_fraction: float, seed: int
) -> None:
    """Load dataset ``name`` (its archive in ``root``), split it (seeded, stratified) and write
    the split."""
    split = data.split_dataset(name, root=Path(root), test_fraction=test_fraction, seed=seed)
    data.save_split(path, split)
    log.info(
        "%s: %d training and %d test images of shape %s, %d classes",
        name,
        len(split.train_labels),
        len(split.test_labels),
        split.image_shape,
        split.num_classes,
    )


def prepare_probes(split_path: str | Path, path: str | Path, *, per_class: int, seed: int) -> None:
    """Choose the class-balanced probe set from the training images."""
    labels = data.load_split(split_path).train_labels
    indices = data.select_probes(labels, per_class=per_class, seed=seed)
    data.save_probes(path, indices, labels[indices])
    log.info("probe set: %d images, %d per class", len(indices), per_class)

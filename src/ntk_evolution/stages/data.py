"""Stages that prepare the dataset: the train/test split and the probe set."""

from __future__ import annotations

import logging
from pathlib import Path

from ntk_evolution import data
from ntk_evolution.type_aliases import Settings

log = logging.getLogger(__name__)


def prepare_split(path: str | Path, dataset: Settings) -> None:
    """Load the dataset, split it (seeded, stratified) and write the split."""
    split = data.split_dataset(
        dataset["name"],
        root=Path(dataset["root"]),
        test_fraction=dataset["test_fraction"],
        seed=dataset["seed"],
    )
    data.save_split(path, split)
    log.info(
        "%s: %d training and %d test images of shape %s, %d classes",
        dataset["name"],
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

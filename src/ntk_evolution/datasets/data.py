"""Datasets: loading, the seeded train/test split and the class-balanced probe set.

Every dataset is held as integer pixels in NHWC layout (``images[n, row, col, channel]``) plus the
value of a full-intensity pixel (``pixel_max``); :func:`to_unit_interval` scales to [0, 1] on use,
with no normalisation (as in the paper). A dataset enters through a loader in :data:`LOADERS`;
the rules only ever see the split file that :func:`save_split` writes, so adding a dataset never
touches the workflow.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from ntk_evolution._infra.atomic import atomic_file
from ntk_evolution._infra.recovery import open_npz


@dataclass(frozen=True)
class RawDataset:
    """A dataset as its loader returns it; ``test_*`` is set when the dataset fixes its split."""

    images: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...]
    pixel_max: int
    test_images: np.ndarray | None = None
    test_labels: np.ndarray | None = None


@dataclass(frozen=True)
class Split:
    """Train and test sets of one dataset, integer pixels (NHWC) and integer labels."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    classes: tuple[str, ...]
    pixel_max: int

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.train_images.shape[1:])

    def train_set(self) -> tuple[np.ndarray, np.ndarray]:
        """Training images scaled to [0, 1] and their labels."""
        return to_unit_interval(self.train_images, self.pixel_max), self.train_labels

    def test_set(self) -> tuple[np.ndarray, np.ndarray]:
        """Test images scaled to [0, 1] and their labels."""
        return to_unit_interval(self.test_images, self.pixel_max), self.test_labels


def load_digits(root: Path) -> RawDataset:
    """scikit-learn's handwritten digits: 1797 images of 8x8 pixels with values 0..16.

    Ships with scikit-learn, so ``root`` is not used and nothing is downloaded.
    """
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    images = bunch.images.astype(np.uint8)[..., np.newaxis]
    return RawDataset(
        images=images,
        labels=bunch.target.astype(np.int32),
        classes=tuple(str(c) for c in bunch.target_names),
        pixel_max=16,
    )


def load_cifar(name: str, root: Path) -> RawDataset:
    """CIFAR-10 or CIFAR-100 (``name``: ``cifar10``, ``cifar100``) from its archive or extracted
    folder under ``root``: 32x32 RGB images with values 0..255 and the published train/test
    split (50000 / 10000 images; CIFAR-100 with its 100 fine labels)."""
    from ntk_evolution.datasets import cifar

    arrays = cifar.read(name, root)
    return RawDataset(
        images=arrays.train_images,
        labels=arrays.train_labels,
        classes=arrays.classes,
        pixel_max=255,
        test_images=arrays.test_images,
        test_labels=arrays.test_labels,
    )


LOADERS: dict[str, Callable[[Path], RawDataset]] = {
    "digits": load_digits,
    "cifar10": partial(load_cifar, "cifar10"),
    "cifar100": partial(load_cifar, "cifar100"),
}


def split_dataset(name: str, *, root: Path, test_fraction: float, seed: int) -> Split:
    """Load dataset ``name`` and split it into train and test sets.

    Datasets without a fixed test set are split stratified by class, ``test_fraction`` of each
    class going to the test set, shuffled with ``seed``. A fixed split (CIFAR's) is kept as
    published and ``test_fraction`` is not used.
    """
    if name not in LOADERS:
        raise ValueError(f"unknown dataset {name!r}; available: {sorted(LOADERS)}")
    from sklearn.model_selection import train_test_split  # slow import, needed only here

    raw = LOADERS[name](Path(root))
    if raw.test_images is not None and raw.test_labels is not None:
        train_x, train_y, test_x, test_y = raw.images, raw.labels, raw.test_images, raw.test_labels
    else:
        train_x, test_x, train_y, test_y = train_test_split(
            raw.images,
            raw.labels,
            test_size=test_fraction,
            random_state=seed,
            stratify=raw.labels,
        )
    return Split(train_x, train_y, test_x, test_y, raw.classes, raw.pixel_max)


def select_probes(labels: np.ndarray, *, per_class: int, seed: int) -> np.ndarray:
    """Indices of a class-balanced probe set: ``per_class`` training images of every class.

    Returned grouped by class (class 0 first) and sorted within a class, so kernel matrices
    show their class blocks along the diagonal.
    """
    rng = np.random.default_rng(seed)
    chosen = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        if len(members) < per_class:
            raise ValueError(
                f"class {c} has only {len(members)} training images, fewer than "
                f"probes_per_class = {per_class}; lower dataset.probes_per_class."
            )
        chosen.append(np.sort(rng.choice(members, size=per_class, replace=False)))
    return np.concatenate(chosen).astype(np.int64)


def to_unit_interval(images: np.ndarray, pixel_max: int) -> np.ndarray:
    """Integer pixels -> float32 in [0, 1]."""
    return (np.asarray(images, dtype=np.float32) / np.float32(pixel_max)).astype(np.float32)


SPLIT_MEMBERS = (
    "train_images",
    "train_labels",
    "test_images",
    "test_labels",
    "classes",
    "pixel_max",
)


def save_split(path: str | Path, split: Split) -> None:
    """Write a split as a pickle-free ``.npz`` (atomically, at exactly ``path``)."""
    with atomic_file(path) as f:
        np.savez_compressed(
            f,
            train_images=split.train_images,
            train_labels=split.train_labels,
            test_images=split.test_images,
            test_labels=split.test_labels,
            classes=np.array(split.classes, dtype=str),
            pixel_max=np.array(split.pixel_max),
        )


def load_split(path: str | Path) -> Split:
    """Read a split written by :func:`save_split` (never unpickles)."""
    with open_npz(path, "data split", SPLIT_MEMBERS) as f:
        return Split(
            train_images=f["train_images"],
            train_labels=f["train_labels"],
            test_images=f["test_images"],
            test_labels=f["test_labels"],
            classes=tuple(str(c) for c in f["classes"]),
            pixel_max=int(f["pixel_max"]),
        )


def save_probes(path: str | Path, indices: np.ndarray, labels: np.ndarray) -> None:
    """Write probe indices (into the training set) and their labels as a pickle-free ``.npz``."""
    with atomic_file(path) as f:
        np.savez(f, indices=indices, labels=labels)


def load_probes(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read ``(indices, labels)`` written by :func:`save_probes`."""
    with open_npz(path, "probe set", ["indices", "labels"]) as f:
        return f["indices"], f["labels"]

"""Datasets: the seeded stratified split, the class-balanced probe set and their files."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits

from ntk_evolution.datasets.data import (
    Split,
    load_probes,
    load_split,
    save_probes,
    save_split,
    select_probes,
    split_dataset,
    to_unit_interval,
)

DIGITS = 1797


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    return split_dataset("digits", root=tmp_path_factory.mktemp("data"), test_fraction=0.25, seed=0)


def rows(images: np.ndarray, labels: np.ndarray) -> list[bytes]:
    """Each example as bytes (pixels and label), sorted: a multiset that ignores order."""
    flat = np.concatenate(
        [images.reshape(len(images), -1).astype(np.int64), labels[:, None]], axis=1
    )
    return sorted(r.tobytes() for r in flat)


def test_split_partitions_the_dataset(split):
    assert len(split.train_images) + len(split.test_images) == DIGITS
    assert len(split.train_labels) == len(split.train_images)
    assert len(split.test_labels) == len(split.test_images)
    assert len(split.test_images) == int(np.ceil(0.25 * DIGITS))
    bunch = load_digits()
    # Train and test together are the dataset with every example exactly once: disjoint.
    assert rows(
        np.concatenate([split.train_images, split.test_images]),
        np.concatenate([split.train_labels, split.test_labels]),
    ) == rows(bunch.images.astype(np.uint8), bunch.target)


def test_split_layout(split):
    assert split.image_shape == (8, 8, 1)
    assert split.train_images.dtype == np.uint8
    assert split.train_images.max() == split.pixel_max == 16
    assert split.classes == tuple(str(c) for c in range(10))
    assert split.num_classes == 10
    assert np.issubdtype(split.train_labels.dtype, np.integer)


def test_split_is_stratified(split):
    everything = np.concatenate([split.train_labels, split.test_labels])
    for c in range(10):
        total = np.sum(everything == c)
        in_test = np.sum(split.test_labels == c)
        assert abs(in_test - 0.25 * total) <= 1, f"class {c}: {in_test} of {total} in test"


def test_split_is_deterministic(tmp_path, split):
    again = split_dataset("digits", root=tmp_path, test_fraction=0.25, seed=0)
    for field in ("train_images", "train_labels", "test_images", "test_labels"):
        np.testing.assert_array_equal(getattr(again, field), getattr(split, field))
    other = split_dataset("digits", root=tmp_path, test_fraction=0.25, seed=1)
    assert len(other.test_labels) == len(split.test_labels)
    assert rows(other.test_images, other.test_labels) != rows(split.test_images, split.test_labels)


def test_unknown_dataset(tmp_path):
    with pytest.raises(ValueError, match="unknown dataset 'mnist'") as info:
        split_dataset("mnist", root=tmp_path, test_fraction=0.25, seed=0)
    assert "digits" in str(info.value)


@pytest.mark.parametrize("per_class", [1, 5, 20])
def test_probes_are_class_balanced_and_grouped(split, per_class):
    labels = split.train_labels
    idx = select_probes(labels, per_class=per_class, seed=0)
    assert idx.dtype == np.int64
    assert len(idx) == 10 * per_class
    assert len(np.unique(idx)) == len(idx)
    assert idx.min() >= 0 and idx.max() < len(labels)
    np.testing.assert_array_equal(labels[idx], np.repeat(np.arange(10), per_class))
    for group in idx.reshape(10, per_class):
        assert np.all(np.diff(group) > 0)  # sorted within a class


def test_probes_are_deterministic(split):
    labels = split.train_labels
    a = select_probes(labels, per_class=5, seed=0)
    np.testing.assert_array_equal(a, select_probes(labels, per_class=5, seed=0))
    assert not np.array_equal(a, select_probes(labels, per_class=5, seed=1))


def test_probes_of_unsorted_non_contiguous_labels():
    labels = np.array([7, 3, 7, 3, 3, 7, 9, 9])
    idx = select_probes(labels, per_class=2, seed=0)
    np.testing.assert_array_equal(labels[idx], [3, 3, 7, 7, 9, 9])
    np.testing.assert_array_equal(idx[4:], [6, 7])  # both 9s


def test_too_few_images_of_a_class():
    labels = np.array([0, 0, 0, 1, 1, 2, 2, 2])
    with pytest.raises(ValueError, match="class 1 has only 2") as info:
        select_probes(labels, per_class=3, seed=0)
    assert "probes_per_class = 3" in str(info.value)


@pytest.mark.parametrize("dtype", [np.uint8, np.int64])
@pytest.mark.parametrize("pixel_max", [16, 255])
def test_to_unit_interval(dtype, pixel_max):
    images = np.arange(pixel_max + 1, dtype=dtype).reshape(-1, 1, 1, 1)
    x = to_unit_interval(images, pixel_max)
    assert x.dtype == np.float32
    assert x.shape == images.shape
    assert x.min() == 0.0 and x.max() == 1.0
    np.testing.assert_allclose(x.ravel(), np.arange(pixel_max + 1) / pixel_max, rtol=1e-7, atol=0)


def test_split_file_round_trip(tmp_path, split):
    path = tmp_path / "split.npz"
    save_split(path, split)
    back = load_split(path)
    assert isinstance(back, Split)
    for field in ("train_images", "train_labels", "test_images", "test_labels"):
        got, want = getattr(back, field), getattr(split, field)
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
    assert back.classes == split.classes
    assert back.pixel_max == split.pixel_max and type(back.pixel_max) is int
    with np.load(path, allow_pickle=False) as f:  # pickle-free
        assert set(f.files) >= {"train_images", "classes", "pixel_max"}


def test_probe_file_round_trip(tmp_path, split):
    idx = select_probes(split.train_labels, per_class=3, seed=2)
    path = tmp_path / "probes.npz"
    save_probes(path, idx, split.train_labels[idx])
    got_idx, got_labels = load_probes(path)
    np.testing.assert_array_equal(got_idx, idx)
    np.testing.assert_array_equal(got_labels, split.train_labels[idx])
    assert got_idx.dtype == idx.dtype

"""CIFAR-10 and CIFAR-100 from their python-version archives, read without running any code.

The archives (https://www.cs.toronto.edu/~kriz/cifar.html) hold Python pickles of dicts with
bytes keys. A batch has ``b"data"``, a (n, 3072) uint8 array whose rows are the 1024 red, then
green, then blue values of a 32x32 image in row-major order, and its labels (``b"labels"`` in
CIFAR-10; ``b"fine_labels"`` and ``b"coarse_labels"`` in CIFAR-100, of which the 100 fine
classes are used); the meta file holds the class names. A pickle can name any importable
callable and have it called, so batches are read by :class:`ArrayUnpickler`, which resolves only
the names a numpy array needs and refuses everything else before it is called.

A dataset is found under its root folder as the archive (``cifar-10-python.tar.gz``) or, failing
that, as the folder it extracts to (``cifar-10-batches-py/``).
"""

from __future__ import annotations

import io
import os
import pickle
import shlex
import tarfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ntk_evolution._infra import recovery

OFFICIAL_SITE = "https://www.cs.toronto.edu/~kriz/"
SIDE, CHANNELS = 32, 3


@dataclass(frozen=True)
class CifarFormat:
    """Where one CIFAR dataset keeps what: archive, folder, member files and keys."""

    title: str
    archive: str
    folder: str
    md5: str
    train: tuple[str, ...]
    test: str
    meta: str
    labels_key: bytes
    names_key: bytes

    @property
    def url(self) -> str:
        """The official address of the archive."""
        return OFFICIAL_SITE + self.archive


FORMATS: dict[str, CifarFormat] = {
    "cifar10": CifarFormat(
        title="CIFAR-10",
        archive="cifar-10-python.tar.gz",
        folder="cifar-10-batches-py",
        md5="c58f30108f718f92721af3b95e74349a",
        train=tuple(f"data_batch_{i}" for i in range(1, 6)),
        test="test_batch",
        meta="batches.meta",
        labels_key=b"labels",
        names_key=b"label_names",
    ),
    "cifar100": CifarFormat(
        title="CIFAR-100",
        archive="cifar-100-python.tar.gz",
        folder="cifar-100-python",
        md5="eb9058c3a382ffc7106e4002c42a8d85",
        train=("train",),
        test="test",
        meta="meta",
        labels_key=b"fine_labels",
        names_key=b"fine_label_names",
    ),
}


class DatasetError(ValueError):
    """A dataset file that is missing a part, malformed, truncated or not what it claims."""


class DatasetMissing(FileNotFoundError):
    """Neither the archive nor the extracted folder of a dataset exists."""

    def __init__(self, fmt: CifarFormat, root: Path) -> None:
        self.archive = root / fmt.archive
        self.folder = root / fmt.folder
        super().__init__(
            f"{fmt.title} not found: expected the archive {self.archive} "
            f"or the folder it extracts to, {self.folder}/"
        )


_RECONSTRUCT = np.ndarray.__reduce__(np.empty(0))[0]
_ARRAY_NAMES: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,  # as the published archives name it
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,  # as numpy >= 2 names it
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class ArrayUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays, lists, dicts, numbers and strings, and nothing else.

    Byte strings written by Python 2 (as in the archives) come back as ``bytes``.
    """

    def __init__(self, file: io.BufferedIOBase, where: str) -> None:
        super().__init__(file, encoding="bytes")
        self.where = where

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ARRAY_NAMES:
            return _ARRAY_NAMES[module, name]
        raise DatasetError(
            f"{self.where}: refused to load the pickled name {module}.{name}; a CIFAR file holds "
            "only numpy arrays, lists and strings, so this file is not one (unpickling it could "
            "run code). Replace it with the official file."
        )


def unpickle_arrays(raw: bytes, where: str) -> Any:
    """The object pickled in ``raw``, read by :class:`ArrayUnpickler`; ``where`` names the file."""
    try:
        return ArrayUnpickler(io.BytesIO(raw), where).load()
    except DatasetError:
        raise
    except Exception as err:
        raise DatasetError(f"{where} is not a readable CIFAR pickle ({err!r})") from err


class CifarArrays(NamedTuple):
    """A CIFAR dataset: uint8 NHWC images, int32 labels, the published train/test split."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    classes: tuple[str, ...]


def locate(name: str, root: str | Path) -> Path:
    """The archive of dataset ``name`` under ``root`` if it exists, else its extracted folder.

    Raises :class:`DatasetMissing` naming both paths when neither exists.
    """
    fmt, root = FORMATS[name], Path(root)
    for path in (root / fmt.archive, root / fmt.folder):
        if path.exists():
            return path
    raise DatasetMissing(fmt, root)


def _refetch_advice(archive: Path) -> str:
    """How to replace a bad ``archive``: move it aside (the workflow fetches only an absent
    archive), then fetch it with the config files of the run."""
    configfiles = shlex.split(os.environ.get(recovery.CONFIGFILES_VARIABLE, ""))
    fetch = recovery.snakemake_command(str(archive), "--cores", "1", configfiles=configfiles)
    move = shlex.join(["mv", str(archive), f"{archive}.bad"])
    return f"Move it aside and fetch it again:\n  {move}\n  {fetch}"


def read(name: str, root: str | Path) -> CifarArrays:
    """Read dataset ``name`` (``cifar10`` or ``cifar100``) from its archive or folder under ``root``."""
    fmt = FORMATS[name]
    source = locate(name, root)
    members = _read_members(fmt, source)
    meta = _dict(unpickle_arrays(members[fmt.meta], f"{source}: {fmt.meta}"), fmt.meta, source)
    classes = _class_names(meta, fmt, source)
    train = [_batch(members[m], m, fmt, source, len(classes)) for m in fmt.train]
    test_images, test_labels = _batch(members[fmt.test], fmt.test, fmt, source, len(classes))
    return CifarArrays(
        train_images=np.concatenate([images for images, _ in train]),
        train_labels=np.concatenate([labels for _, labels in train]),
        test_images=test_images,
        test_labels=test_labels,
        classes=classes,
    )


def _read_members(fmt: CifarFormat, source: Path) -> dict[str, bytes]:
    """The raw bytes of every member file the dataset needs, from the archive or the folder."""
    wanted = [fmt.meta, *fmt.train, fmt.test]
    if source.is_dir():
        missing = [m for m in wanted if not (source / m).is_file()]
        if missing:
            raise DatasetError(
                f"{source}/ lacks {missing}; it is not a complete extracted {fmt.title} folder. "
                f"Delete it and extract {fmt.archive} again."
            )
        return {m: (source / m).read_bytes() for m in wanted}
    paths = {f"{fmt.folder}/{m}": m for m in wanted}
    found: dict[str, bytes] = {}
    try:
        with tarfile.open(source, "r|gz") as tar:  # one pass through the compressed stream
            for member in tar:
                if member.name in paths and member.isfile():
                    found[paths[member.name]] = tar.extractfile(member).read()
    except (tarfile.TarError, EOFError, zlib.error, OSError) as err:
        raise DatasetError(
            f"{source} is truncated or corrupt ({err}). {_refetch_advice(source)}"
        ) from err
    missing = [f"{fmt.folder}/{m}" for m in wanted if m not in found]
    if missing:
        raise DatasetError(
            f"{source} lacks the member(s) {missing}; it is not the {fmt.title} python-version "
            f"archive. {_refetch_advice(source)}"
        )
    return found


def _dict(obj: Any, member: str, source: Path) -> Mapping[bytes, Any]:
    if not isinstance(obj, dict):
        raise DatasetError(f"{source}: {member} holds a {type(obj).__name__}, not a CIFAR dict")
    return obj


def _class_names(meta: Mapping[bytes, Any], fmt: CifarFormat, source: Path) -> tuple[str, ...]:
    names = meta.get(fmt.names_key)
    if not isinstance(names, list) or not all(isinstance(n, bytes) for n in names):
        raise DatasetError(f"{source}: {fmt.meta} has no list of class names {fmt.names_key!r}")
    return tuple(n.decode("ascii") for n in names)


def _batch(
    raw: bytes, member: str, fmt: CifarFormat, source: Path, num_classes: int
) -> tuple[np.ndarray, np.ndarray]:
    """Images (n, 32, 32, 3) uint8 and labels (n,) int32 of one batch file, checked."""
    batch = _dict(unpickle_arrays(raw, f"{source}: {member}"), member, source)
    data, labels = batch.get(b"data"), batch.get(fmt.labels_key)
    if not (
        isinstance(data, np.ndarray)
        and data.dtype == np.uint8
        and data.ndim == 2
        and data.shape[1] == SIDE * SIDE * CHANNELS
    ):
        raise DatasetError(
            f"{source}: {member} has no b'data' array of uint8 rows of {SIDE * SIDE * CHANNELS} "
            "pixels"
        )
    if not isinstance(labels, list) or not all(isinstance(y, int) for y in labels):
        raise DatasetError(f"{source}: {member} has no list of integer labels {fmt.labels_key!r}")
    labels = np.asarray(labels, dtype=np.int64)
    if len(labels) != len(data) or (
        len(labels) and not 0 <= labels.min() <= labels.max() < num_classes
    ):
        raise DatasetError(
            f"{source}: {member} has {len(data)} images but {len(labels)} labels, or labels "
            f"outside 0..{num_classes - 1}"
        )
    images = data.reshape(-1, CHANNELS, SIDE, SIDE).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels.astype(np.int32)

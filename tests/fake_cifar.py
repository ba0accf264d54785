"""Small CIFAR archives in the published formats, for tests.

The published archives were pickled by Python 2 (protocol 2): byte strings are Python 2 ``str``
(BINSTRING opcodes, read back as ``bytes``) and numpy's array constructor is named
``numpy.core.multiarray._reconstruct``. :func:`python2_pickle` writes the same opcodes, so the
loader is tested on what it meets in the real files. Member names and dict keys are the
published ones; only the number of images differs.
"""

from __future__ import annotations

import io
import pickle
import struct
import tarfile
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ntk_evolution.datasets.cifar import FORMATS, CifarArrays


class _Python2Pickler(pickle._Pickler):
    """The pure-Python pickler, writing ``bytes`` as Python 2 byte strings."""

    dispatch: ClassVar[dict] = dict(pickle._Pickler.dispatch)

    def save_bytes(self, obj: bytes) -> None:
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_bytes


def python2_pickle(obj: Any) -> bytes:
    """``obj`` pickled as Python 2 with numpy 1 pickled it (protocol 2)."""
    out = io.BytesIO()
    _Python2Pickler(out, protocol=2).dump(obj)
    return out.getvalue().replace(
        b"cnumpy._core.multiarray\n_reconstruct\n", b"cnumpy.core.multiarray\n_reconstruct\n"
    )


def _batch(rng: np.random.Generator, labels: np.ndarray, labels_key: bytes) -> dict:
    data = rng.integers(0, 256, size=(len(labels), 3072), dtype=np.uint8)
    batch = {
        b"batch_label": b"fake batch",
        labels_key: [int(y) for y in labels],
        b"data": data,
        b"filenames": [f"image_{i}.png".encode() for i in range(len(labels))],
    }
    if labels_key == b"fine_labels":
        batch[b"coarse_labels"] = [int(y) // 5 for y in labels]
    return batch


def fake_members(name: str, *, per_class: int = 1, seed: int = 0) -> dict[str, bytes]:
    """Member files of a fake dataset: every training batch and the test batch hold
    ``per_class`` images of every class, in shuffled order."""
    fmt = FORMATS[name]
    num_classes = 10 if name == "cifar10" else 100
    rng = np.random.default_rng(seed)
    members = {}
    for member in (*fmt.train, fmt.test):
        labels = rng.permutation(np.repeat(np.arange(num_classes), per_class))
        members[member] = python2_pickle(_batch(rng, labels, fmt.labels_key))
    names = [f"class{c}".encode() for c in range(num_classes)]
    meta = {fmt.names_key: names}
    if name == "cifar10":
        meta.update({b"num_cases_per_batch": 10000, b"num_vis": 3072})
    else:
        meta[b"coarse_label_names"] = [f"super{c}".encode() for c in range(20)]
    members[fmt.meta] = python2_pickle(meta)
    return members


def expected_arrays(name: str, members: dict[str, bytes]) -> CifarArrays:
    """What the loader should return for ``members``, decoded independently of it (plain
    unpickling is fine here: the test wrote these bytes itself)."""
    fmt = FORMATS[name]

    def load(member: str) -> dict:
        return pickle.loads(members[member], encoding="bytes")

    def images(batch: dict) -> np.ndarray:
        # Row layout: 1024 red, 1024 green, 1024 blue values, each a row-major 32x32 plane.
        planes = batch[b"data"].reshape(-1, 3, 32 * 32)
        return np.stack([planes[:, c].reshape(-1, 32, 32) for c in range(3)], axis=-1)

    train = [load(m) for m in fmt.train]
    test = load(fmt.test)
    return CifarArrays(
        train_images=np.concatenate([images(b) for b in train]),
        train_labels=np.concatenate([b[fmt.labels_key] for b in train]).astype(np.int32),
        test_images=images(test),
        test_labels=np.asarray(test[fmt.labels_key], dtype=np.int32),
        classes=tuple(n.decode() for n in load(fmt.meta)[fmt.names_key]),
    )


def write_archive(root: Path, name: str, members: dict[str, bytes]) -> Path:
    """Write ``members`` as the dataset's ``.tar.gz`` under ``root`` (with a stray readme, as
    the published CIFAR-10 archive has); returns its path."""
    fmt = FORMATS[name]
    root.mkdir(parents=True, exist_ok=True)
    path = root / fmt.archive
    with tarfile.open(path, "w:gz") as tar:
        folder = tarfile.TarInfo(fmt.folder)
        folder.type = tarfile.DIRTYPE
        tar.addfile(folder)
        for member, raw in {**members, "readme.html": b"<html></html>"}.items():
            info = tarfile.TarInfo(f"{fmt.folder}/{member}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return path


def write_folder(root: Path, name: str, members: dict[str, bytes]) -> Path:
    """Write ``members`` as the dataset's extracted folder under ``root``; returns its path."""
    folder = root / FORMATS[name].folder
    folder.mkdir(parents=True, exist_ok=True)
    for member, raw in members.items():
        (folder / member).write_bytes(raw)
    return folder

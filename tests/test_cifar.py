"""CIFAR-10/100: reading the published formats safely, and fetching archives against checksums."""

from __future__ import annotations

import hashlib
import http.server
import pickle
import threading
from pathlib import Path

import numpy as np
import pytest
from fake_cifar import expected_arrays, fake_members, python2_pickle, write_archive, write_folder

from ntk_evolution._infra.recovery import CONFIGFILES_VARIABLE
from ntk_evolution.datasets import cifar
from ntk_evolution.datasets.data import split_dataset
from ntk_evolution.datasets.fetch import FetchError, fetch

NAMES = ["cifar10", "cifar100"]


def assert_same(got: cifar.CifarArrays, want: cifar.CifarArrays) -> None:
    for field in ("train_images", "train_labels", "test_images", "test_labels"):
        a, b = getattr(got, field), getattr(want, field)
        assert a.dtype == b.dtype and a.shape == b.shape, field
        np.testing.assert_array_equal(a, b, err_msg=field)
    assert got.classes == want.classes


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("layout", ["archive", "folder"])
def test_reads_archive_and_folder(tmp_path, name, layout):
    members = fake_members(name)
    write = write_archive if layout == "archive" else write_folder
    source = write(tmp_path, name, members)
    assert cifar.locate(name, tmp_path) == source
    got = cifar.read(name, tmp_path)
    assert_same(got, expected_arrays(name, members))
    classes = 10 if name == "cifar10" else 100
    train_batches = 5 if name == "cifar10" else 1
    assert got.train_images.shape == (classes * train_batches, 32, 32, 3)
    assert got.train_images.dtype == np.uint8
    assert len(got.classes) == classes
    assert sorted(np.unique(got.test_labels)) == list(range(classes))


def test_pixel_layout(tmp_path):
    """A row is 1024 red, 1024 green, 1024 blue values, each plane row-major: check by hand."""
    members = fake_members("cifar10")
    write_folder(tmp_path, "cifar10", members)
    row = pickle.loads(members["test_batch"], encoding="bytes")[b"data"][0]
    image = cifar.read("cifar10", tmp_path).test_images[0]
    assert image[0, 0, 0] == row[0] and image[0, 1, 0] == row[1] and image[1, 0, 0] == row[32]
    assert image[0, 0, 1] == row[1024] and image[0, 0, 2] == row[2048]
    assert image[31, 31, 2] == row[3071]


def test_archive_is_preferred_to_folder(tmp_path):
    write_folder(tmp_path, "cifar10", fake_members("cifar10", seed=1))
    members = fake_members("cifar10", seed=2)
    write_archive(tmp_path, "cifar10", members)
    assert_same(cifar.read("cifar10", tmp_path), expected_arrays("cifar10", members))


def test_fixed_split_is_kept(tmp_path):
    members = fake_members("cifar10", per_class=2)
    write_archive(tmp_path, "cifar10", members)
    split = split_dataset("cifar10", root=tmp_path, test_fraction=0.5, seed=3)
    want = expected_arrays("cifar10", members)
    np.testing.assert_array_equal(split.train_images, want.train_images)
    np.testing.assert_array_equal(split.test_labels, want.test_labels)
    assert split.pixel_max == 255 and split.image_shape == (32, 32, 3)
    assert split.train_set()[0].max() <= 1.0


class Exploit:
    """Unpickling this calls ``os.system``, which would create the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


def test_refuses_any_other_global_without_calling_it(tmp_path):
    marker = tmp_path / "ran"
    members = fake_members("cifar10")
    batch = pickle.loads(members["data_batch_3"], encoding="bytes")
    batch[b"extra"] = Exploit(marker)
    members["data_batch_3"] = python2_pickle(batch)
    write_archive(tmp_path, "cifar10", members)
    with pytest.raises(cifar.DatasetError, match=r"data_batch_3: refused .*(posix|os)\.system"):
        cifar.read("cifar10", tmp_path)
    assert not marker.exists()
    # Even a harmless-looking builtin is refused: only numpy's array names are allowed.
    with pytest.raises(cifar.DatasetError, match=r"refused .*builtin__\.set"):
        cifar.unpickle_arrays(pickle.dumps({1, 2}, protocol=2), "x")


def test_numpy_2_names_are_accepted():
    array = np.arange(12, dtype=np.uint8).reshape(3, 4)
    raw = python2_pickle(array).replace(b"numpy.core.multiarray", b"numpy._core.multiarray")
    np.testing.assert_array_equal(cifar.unpickle_arrays(raw, "x"), array)


def test_truncated_archive(tmp_path, monkeypatch):
    """The error names the fix: the workflow fetches only an absent archive, so it is moved aside
    first, and fetched with the config files of the run (which the workflow passes on)."""
    monkeypatch.setenv(CONFIGFILES_VARIABLE, "'my config.yaml'")  # as the workflow quotes it
    path = write_archive(tmp_path, "cifar10", fake_members("cifar10"))
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(cifar.DatasetError, match="truncated or corrupt") as info:
        cifar.read("cifar10", tmp_path)
    fix = f"\n  mv {path} {path}.bad\n  uv run snakemake {path} --cores 1 --configfile 'my config.yaml'"
    assert str(info.value).endswith(fix)


def test_archive_missing_a_member(tmp_path):
    members = fake_members("cifar10")
    del members["data_batch_4"]
    write_archive(tmp_path, "cifar10", members)
    with pytest.raises(cifar.DatasetError, match="cifar-10-batches-py/data_batch_4"):
        cifar.read("cifar10", tmp_path)


def test_malformed_batch(tmp_path):
    members = fake_members("cifar100")
    batch = pickle.loads(members["train"], encoding="bytes")
    batch[b"data"] = batch[b"data"][:, :100]
    members["train"] = python2_pickle(batch)
    write_folder(tmp_path, "cifar100", members)
    with pytest.raises(cifar.DatasetError, match="train has no b'data' array"):
        cifar.read("cifar100", tmp_path)


@pytest.mark.parametrize("name", NAMES)
def test_missing_dataset_names_both_paths(tmp_path, name):
    with pytest.raises(cifar.DatasetMissing) as info:
        cifar.read(name, tmp_path)
    fmt = cifar.FORMATS[name]
    assert str(tmp_path / fmt.archive) in str(info.value)
    assert str(tmp_path / fmt.folder) in str(info.value)


def md5(raw: bytes) -> str:
    return hashlib.md5(raw).hexdigest()


def partials(path: Path) -> list[Path]:
    """The hidden partial files of ``path`` beside it."""
    return sorted(path.parent.glob(f".{path.name}.partial*"))


def test_fetch_file_url(tmp_path):
    source = tmp_path / "mirror.tar.gz"
    source.write_bytes(b"archive bytes" * 1000)
    target = tmp_path / "data" / "archive.tar.gz"
    target.parent.mkdir()
    fetch(source.as_uri(), target, md5(source.read_bytes()))
    assert target.read_bytes() == source.read_bytes()
    assert not partials(target)


def test_fetch_checksum_mismatch_keeps_nothing(tmp_path):
    source = tmp_path / "mirror.tar.gz"
    source.write_bytes(b"not the archive")
    target = tmp_path / "archive.tar.gz"
    with pytest.raises(FetchError, match=r"has MD5 .* not the published 0123") as info:
        fetch(source.as_uri(), target, "0123" * 8)
    assert source.as_uri() in str(info.value)
    assert not target.exists() and not partials(target)


@pytest.mark.parametrize("failure", ["cannot fetch", "not the published"])
def test_fetch_keeps_an_existing_file_on_failure(tmp_path, failure):
    source = tmp_path / "mirror.tar.gz"
    if failure == "not the published":
        source.write_bytes(b"another file")
    target = tmp_path / "archive.tar.gz"
    target.write_bytes(b"previous")
    with pytest.raises(FetchError, match=failure):
        fetch(source.as_uri(), target, "0" * 32)
    assert target.read_bytes() == b"previous"
    assert not partials(target)


def test_fetch_truncated_http_download(tmp_path):
    """A server that announces more bytes than it sends: the download is refused as truncated."""
    body = b"x" * 5000

    class Truncating(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(2 * len(body)))
            self.end_headers()
            self.wfile.write(body)
            self.close_connection = True

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Truncating)
    thread = threading.Thread(target=server.handle_request, daemon=True)
    thread.start()
    target = tmp_path / "archive.tar.gz"
    try:
        with pytest.raises(FetchError, match="truncated"):
            fetch(f"http://127.0.0.1:{server.server_port}/a.tar.gz", target, md5(body), timeout=10)
    finally:
        thread.join(10)
        server.server_close()
    assert not target.exists() and not partials(target)

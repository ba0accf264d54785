"""Zarr stores: a run's kernel series, statistics datasets and atomic writes."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys

import jax
import numpy as np
import pytest
import xarray as xr
import zarr

from ntk_evolution._infra.atomic import atomic_directory, atomic_file, partials
from ntk_evolution._infra.provenance import provenance
from ntk_evolution._infra.recovery import CONFIGFILES_VARIABLE, DamagedInput
from ntk_evolution._infra.storage import (
    KERNEL_DIMS,
    Snapshot,
    open_store,
    write_dataset,
    write_kernels,
)
from ntk_evolution.kernels.ntk import compile_tile_kernel, per_logit_ntk, per_logit_ntk_tiles, tiles
from ntk_evolution.kernels.statistics import evolution

N, TILE, C = 7, 3, 10  # the tile does not divide the probe count
PROBES = np.array([4, 9, 15, 16, 23, 42, 108])
LABELS = np.array([0, 0, 1, 1, 2, 2, 3])


def blocks_of(k: np.ndarray, tile_size: int):
    """Upper-triangle tiles of a full (C, N, N) kernel, as the NTK engine yields them."""
    spans = tiles(k.shape[-1], tile_size)
    for a, rows in enumerate(spans):
        for cols in spans[a:]:
            yield rows, cols, k[:, rows, cols]


def symmetric(seed: int, c: int = C, n: int = N) -> np.ndarray:
    a = np.random.default_rng(seed).normal(size=(c, n, n)).astype(np.float32)
    return a + np.swapaxes(a, 1, 2)


def write(path, *kernels, epochs=None, attrs=None, snapshot_attrs=None, tile_size=TILE):
    """Write ``kernels`` as a run's series at ``epochs`` (by default 0, 1, ...): each a full
    (C, N, N) kernel or an iterable of the tiles of one; ``snapshot_attrs``: each one's
    attributes (by default none)."""
    epochs = [float(e) for e in range(len(kernels))] if epochs is None else epochs
    snapshot_attrs = [{} for _ in kernels] if snapshot_attrs is None else snapshot_attrs
    snapshots = [
        Snapshot(e, blocks_of(k, tile_size) if isinstance(k, np.ndarray) else k, a)
        for k, e, a in zip(kernels, epochs, snapshot_attrs, strict=True)
    ]
    write_kernels(
        path,
        snapshots,
        probes=PROBES,
        labels=LABELS,
        num_classes=C,
        tile_size=tile_size,
        attrs={} if attrs is None else attrs,
    )


@pytest.fixture(scope="module")
def network(model_and_params, images):
    model, params = model_and_params("mlp", False)
    return model, params, images[:N]


@pytest.mark.parametrize("epochs", [(0.5,), (0.5, 1.0)])
def test_kernels_of_a_network(tmp_path, network, tol, epochs):
    """The kernel at each checkpoint, from the NTK engine's tiles; the tile kernel is compiled
    once and each checkpoint's parameters passed to it."""
    model, params, x = network
    checkpoints = [jax.tree.map(lambda p, s=1.0 + i / 2: s * p, params) for i in range(len(epochs))]
    attrs = provenance({"model": {"width": 16, "depth": 2}, "ntk": {"tile_size": TILE}})
    kernel = compile_tile_kernel(
        model.apply, params, x.shape[1:], implementation="structured_derivatives", tile_size=TILE
    )
    path = tmp_path / "kernels.zarr"
    write(
        path,
        *(per_logit_ntk_tiles(kernel, p, x) for p in checkpoints),
        epochs=epochs,
        attrs=attrs,
        snapshot_attrs=[{"epoch": e} for e in epochs],
    )
    ds = open_store(path)
    ntk = ds["ntk"]
    assert ntk.dims == ("epoch", *KERNEL_DIMS)
    assert ntk.shape == (len(epochs), C, N, N)
    assert ntk.dtype == np.float32
    np.testing.assert_array_equal(ds["probe_i"].values, PROBES)
    np.testing.assert_array_equal(ds["probe_j"].values, PROBES)
    np.testing.assert_array_equal(ds["label_i"].values, LABELS)
    np.testing.assert_array_equal(ds["label_j"].values, LABELS)
    assert ds["label_i"].dims == ("probe_i",)
    np.testing.assert_array_equal(ds["logit"].values, np.arange(C))
    assert ds["epoch"].dims == ("epoch",) and ds["epoch"].dtype == np.float64
    np.testing.assert_array_equal(ds["epoch"].values, epochs)
    # nested dicts and plain values round-trip
    assert ds.attrs == {**attrs, "snapshots": [{"epoch": e} for e in epochs]}
    assert ntk.attrs["units"] == "1" and ntk.attrs["long_name"]
    for e, p in zip(epochs, checkpoints, strict=True):
        expected = per_logit_ntk(model.apply, p, x)
        got = ntk.sel(epoch=e).values
        np.testing.assert_allclose(got, expected, **tol(np.float32, np.abs(expected).max()))
    assert not np.any(np.isnan(ntk.values))
    if len(epochs) == 2:  # the checkpoints' kernels differ, so each is at its own epoch
        assert not np.allclose(ntk.values[0], ntk.values[1])


def test_chunks_are_tiles_of_one_epoch(tmp_path):
    path = tmp_path / "k.zarr"
    write(path, symmetric(0), symmetric(1))
    ds = open_store(path)
    assert ds["ntk"].encoding["chunks"] == (1, C, TILE, TILE)
    assert zarr.open_array(path / "ntk", mode="r").chunks == (1, C, TILE, TILE)


@pytest.mark.parametrize("tile_size", [1, 2, 3, 7, 10])
def test_values_are_exact(tmp_path, tile_size):
    """Tiles are mirrored into the lower triangle; nothing is left at the fill value."""
    k = [symmetric(1), symmetric(2)]
    path = tmp_path / "k.zarr"
    write(path, *k, epochs=[0.0, 2.0], tile_size=tile_size)
    np.testing.assert_array_equal(open_store(path)["ntk"].values, np.stack(k))


def test_attrs_are_plain_json(tmp_path):
    attrs = {
        "nested": {"list": [1, 2], "tuple": (3, 4)},
        "np_int": np.int64(7),
        "np_float": np.float32(0.5),
    }
    snapshot_attrs = [{"epoch": np.float64(0.0), "shape": (C, N)}, {"epoch": 1.0, "n": np.int32(3)}]
    path = tmp_path / "k.zarr"
    write(path, symmetric(2), symmetric(3), attrs=attrs, snapshot_attrs=snapshot_attrs)
    stored = open_store(path).attrs
    assert stored == {
        "nested": {"list": [1, 2], "tuple": [3, 4]},
        "np_int": 7,
        "np_float": 0.5,
        "snapshots": [{"epoch": 0.0, "shape": [C, N]}, {"epoch": 1.0, "n": 3}],
    }
    assert type(stored["np_int"]) is int
    assert type(stored["snapshots"][1]["n"]) is int


def test_snapshot_attrs_completed_while_writing(tmp_path):
    snapshot_attrs = [{"epoch": 0.0}, {"epoch": 1.0}]

    def blocks(seed, attrs):
        yield from blocks_of(symmetric(seed), TILE)
        attrs["seconds"] = 12.5 + seed  # e.g. the time the kernel took, known only at the end

    path = tmp_path / "k.zarr"
    write(
        path,
        *(blocks(i, a) for i, a in enumerate(snapshot_attrs)),
        attrs={"config": {"a": 1}},
        snapshot_attrs=snapshot_attrs,
    )
    assert open_store(path).attrs == {
        "config": {"a": 1},
        "snapshots": [{"epoch": 0.0, "seconds": 12.5}, {"epoch": 1.0, "seconds": 13.5}],
    }


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_failed_write_leaves_nothing(tmp_path, error):
    """A write that fails (or is interrupted) at a later checkpoint, after the earlier ones are
    written, leaves no store."""

    def blocks():
        yield next(blocks_of(symmetric(4), TILE))
        raise error("out of memory")

    path = tmp_path / "k.zarr"
    with pytest.raises(error, match="out of memory"):
        write(path, symmetric(5), blocks())
    assert list(tmp_path.iterdir()) == []


def test_several_epochs_are_stacked_in_order(tmp_path):
    epochs = [0.0, 0.5, 2.0]
    kernels = [symmetric(10 + i) for i in range(len(epochs))]
    snapshot_attrs = [{"epoch": e, "checkpoint": f"epoch{e:g}.msgpack"} for e in epochs]
    path = tmp_path / "kernels.zarr"
    write(path, *kernels, epochs=epochs, attrs={"run": "benign-s0"}, snapshot_attrs=snapshot_attrs)
    ds = open_store(path)
    ntk = ds["ntk"]
    assert ntk.dims == ("epoch", *KERNEL_DIMS)
    assert ds["epoch"].dtype == np.float64
    np.testing.assert_array_equal(ds["epoch"].values, epochs)
    for e, k in zip(epochs, kernels, strict=True):
        np.testing.assert_array_equal(ntk.sel(epoch=e).values, k)
    np.testing.assert_array_equal(ds["probe_i"].values, PROBES)
    np.testing.assert_array_equal(ds["label_j"].values, LABELS)
    assert ntk.encoding["chunks"] == (1, C, TILE, TILE)
    assert ds.attrs == {"run": "benign-s0", "snapshots": snapshot_attrs}
    assert ntk.attrs["long_name"] and ntk.attrs["units"] == "1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kernels.zarr"]


@pytest.mark.parametrize("epochs", [[1.0, 0.0], [0.0, 0.0], [0.0, 1.0, 0.5]])
def test_epochs_must_increase(tmp_path, epochs):
    path = tmp_path / "kernels.zarr"
    with pytest.raises(ValueError, match="not increasing"):
        write(path, *(symmetric(20 + i) for i in range(len(epochs))), epochs=epochs)
    assert list(tmp_path.iterdir()) == []


def test_nan_blocks_are_counted(tmp_path):
    """NaN the engine yields is part of the completion record, counted in the tile and in its
    mirror; the store is then accepted as it is."""
    k = symmetric(25)
    k[:, 0, 5] = k[:, 5, 0] = np.nan  # in an off-diagonal tile and its mirror
    k[2, 1, 1] = np.nan  # in a diagonal tile
    path = tmp_path / "k.zarr"
    write(path, symmetric(24), k)
    record = zarr.open_group(path, mode="r").attrs["complete"]
    assert record["ntk"]["nan"] == 2 * C + 1
    np.testing.assert_array_equal(open_store(path)["ntk"].values, np.stack([symmetric(24), k]))


def test_a_tile_never_written_is_refused(tmp_path):
    """A tile the engine did not yield is left at the fill value, NaN that the record does not
    hold: the store is refused."""
    missing = blocks_of(symmetric(26), TILE)
    next(missing)  # the first diagonal tile, 3 x 3 probes
    path = tmp_path / "k.zarr"
    write(path, symmetric(27), missing)
    with pytest.raises(DamagedInput, match=re.escape(f"NaN values, by array: {{'ntk': {9 * C}}}")):
        open_store(path)


def test_write_dataset_round_trip(tmp_path):
    rng = np.random.default_rng(5)
    series = xr.DataArray(
        np.stack([symmetric(30 + e) for e in range(3)]).astype(np.float64) + 10 * np.eye(N),
        dims=("epoch", *KERNEL_DIMS),
        coords={"epoch": [0.0, 0.5, 1.0]},
    )
    ds = evolution(series)
    ds.attrs = {"config": {"seeds": [0, 1]}, "count": np.int64(rng.integers(10))}
    path = tmp_path / "evolution.zarr"
    write_dataset(ds, path)
    back = open_store(path).load()
    xr.testing.assert_identical(back.drop_attrs(), ds.drop_attrs())
    assert back.attrs == {"config": {"seeds": [0, 1]}, "count": int(ds.attrs["count"])}
    for name in ds.variables:
        assert back[name].attrs == ds[name].attrs


def test_write_dataset_chunks_and_replaces(tmp_path):
    ds = xr.Dataset(
        {
            "x": (
                ("epoch", "logit"),
                np.arange(12.0).reshape(4, 3),
                {"long_name": "x", "units": "1"},
            )
        },
        coords={"epoch": [0.0, 1.0, 2.0, 3.0]},
    )
    path = tmp_path / "x.zarr"
    write_dataset(ds * 0, path)
    write_dataset(ds, path, chunks={"epoch": 1, "logit": -1})
    back = open_store(path)
    assert back["x"].encoding["chunks"] == (1, 3)
    np.testing.assert_array_equal(back["x"].values, ds["x"].values)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.zarr"]


def test_open_missing_store(tmp_path):
    path = tmp_path / "absent.zarr"
    with pytest.raises(DamagedInput, match="does not exist") as info:
        open_store(path)
    assert str(path) in str(info.value)


def _garble(path):
    path.write_text("{ this is not json")


CORRUPTIONS = {
    "root-metadata-deleted": lambda store: (store / "zarr.json").unlink(),
    "root-metadata-garbage": lambda store: _garble(store / "zarr.json"),
    "ntk-metadata-deleted": lambda store: (store / "ntk" / "zarr.json").unlink(),
    "ntk-metadata-garbage": lambda store: _garble(store / "ntk" / "zarr.json"),
    "ntk-array-deleted": lambda store: shutil.rmtree(store / "ntk"),
    "emptied": lambda store: [shutil.rmtree(store), store.mkdir()],
}


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
def test_open_corrupt_store(tmp_path, corruption):
    path = tmp_path / "k.zarr"
    write(path, symmetric(40))
    CORRUPTIONS[corruption](path)
    with pytest.raises(DamagedInput) as info:
        open_store(path)
    assert str(path) in str(info.value)


def test_atomic_directory_success(tmp_path):
    target = tmp_path / "store"
    with atomic_directory(target) as tmp:
        assert tmp != target and not target.exists()
        tmp.mkdir()
        (tmp / "data").write_text("new")
    assert (target / "data").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store"]


def test_atomic_directory_replaces_existing_target(tmp_path):
    target = tmp_path / "store"
    target.mkdir()
    (target / "old").write_text("old")
    with atomic_directory(target) as tmp:
        tmp.mkdir()
        (tmp / "new").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["new"]


def test_atomic_directory_failure_leaves_nothing(tmp_path):
    target = tmp_path / "store"
    with pytest.raises(KeyError), atomic_directory(target) as tmp:
        tmp.mkdir()
        (tmp / "half").write_text("half")
        raise KeyError("boom")
    assert list(tmp_path.iterdir()) == []


def test_atomic_directory_failure_keeps_existing_target(tmp_path):
    target = tmp_path / "store"
    target.mkdir()
    (target / "old").write_text("old")
    with pytest.raises(KeyError), atomic_directory(target) as tmp:
        tmp.mkdir()
        (tmp / "old").write_text("half-written")
        raise KeyError("boom")
    assert (target / "old").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store"]


def _dead_pid() -> int:
    """The pid of a process that has ended."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _partial(target, host: str, pid: int):
    partial = target.with_name(f".{target.name}.partial-{host}-{pid}-0000")
    partial.mkdir()
    (partial / "leftover").write_text("from another attempt")
    return partial


def test_atomic_directory_clears_only_partials_of_dead_processes(tmp_path):
    """A partial of a killed job on this host is cleared; one of a live process (an orphaned
    job still writing) or of another host is never touched."""
    target = tmp_path / "store"
    host = socket.gethostname().replace("-", "_")
    dead = _partial(target, host, _dead_pid())
    alive = _partial(target, host, os.getppid())
    elsewhere = _partial(target, "another_host", _dead_pid())
    with atomic_directory(target) as tmp:
        assert not tmp.exists() and tmp not in (dead, alive, elsewhere)
        tmp.mkdir()
        (tmp / "fresh").write_text("fresh")
    assert sorted(p.name for p in target.iterdir()) == ["fresh"]
    assert not dead.exists()
    assert (alive / "leftover").exists() and (elsewhere / "leftover").exists()
    assert partials(target) == sorted([alive, elsewhere])


def test_overlapping_attempts_never_touch_each_other(tmp_path):
    """Two attempts at one store (an orphaned job and its rerun): each writes its own copy,
    and whichever finishes last is the one in place, complete."""
    target = tmp_path / "store"
    with atomic_directory(target) as first:
        first.mkdir()
        (first / "a").write_text("first, part one")
        with atomic_directory(target) as second:
            second.mkdir()
            for name in "ab":
                (second / name).write_text("second")
        assert sorted(p.name for p in target.iterdir()) == ["a", "b"]
        (first / "b").write_text("first, part two")
    assert (target / "a").read_text() == "first, part one"
    assert (target / "b").read_text() == "first, part two"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store"]


def test_atomic_file_attempts_never_touch_each_other(tmp_path):
    target = tmp_path / "file.npz"
    with atomic_file(target) as first:
        first.write(b"first ")
        with atomic_file(target) as second:
            second.write(b"second")
        assert target.read_bytes() == b"second"
        first.write(b"complete")
    assert target.read_bytes() == b"first complete"
    assert partials(target) == []


@pytest.mark.parametrize("num_epochs", [1, 2])
def test_completion_record(tmp_path, num_epochs):
    path = tmp_path / "k.zarr"
    write(path, *(symmetric(50 + e) for e in range(num_epochs)))
    record = zarr.open_group(path, mode="r").attrs["complete"]
    # 3 x 3 tiles of a 7-probe kernel at each epoch
    assert record["ntk"] == {"chunks": 9 * num_epochs, "nan": 0}
    assert set(record) == {"ntk", "probe_i", "probe_j", "label_i", "label_j", "logit", "epoch"}
    assert "complete" not in open_store(path).attrs


def _drop_record(store):
    group = zarr.open_group(store, mode="r+")
    del group.attrs["complete"]
    zarr.consolidate_metadata(store)


def _lose_a_chunk(store):
    (store / "ntk" / "c" / "1" / "0" / "1" / "2").unlink()  # a tile of the second epoch


def _write_a_nan(store):
    zarr.open_array(store / "ntk", mode="r+")[1, 3, 1, 5] = np.nan


DAMAGE = {
    "unfinished": (_drop_record, "is unfinished (it has no completion record)"),
    "chunk-lost": (_lose_a_chunk, "is damaged (chunk files missing, by array: {'ntk': 1})"),
    "nan-written": (_write_a_nan, "is damaged (NaN values, by array: {'ntk': 1})"),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_damaged_store_is_refused_with_the_command_that_regenerates_it(
    tmp_path, monkeypatch, damage
):
    path = tmp_path / "k.zarr"
    write(path, symmetric(51), symmetric(54))
    do, problem = DAMAGE[damage]
    do(path)
    monkeypatch.setenv(CONFIGFILES_VARIABLE, "mine.yaml")
    for load in (False, True):
        with pytest.raises(DamagedInput) as info:
            open_store(path, load=load)
        assert f"store {path} {problem}" in str(info.value)
        command = f"uv run snakemake --cores all --forcerun {path} --configfile mine.yaml"
        assert str(info.value).endswith(command)


def test_nan_written_by_the_job_is_kept(tmp_path):
    """NaN that a statistic holds by definition (e.g. a velocity at the first epoch) is part of
    the record; only a change in the count is damage."""
    ds = xr.Dataset({"v": ("epoch", [np.nan, 1.0, 2.0])}, coords={"epoch": [0.0, 1.0, 2.0]})
    path = tmp_path / "v.zarr"
    write_dataset(ds, path)
    assert zarr.open_group(path, mode="r").attrs["complete"]["v"]["nan"] == 1
    xr.testing.assert_identical(open_store(path, ["v"], load=True), ds)
    zarr.open_array(path / "v", mode="r+")[1] = np.nan
    with pytest.raises(DamagedInput, match=r"NaN values, by array: \{'v': 2\}"):
        open_store(path)


def test_values_unverified_stay_unread(tmp_path):
    """Without verify_values a NaN written into the store goes unnoticed, as no value is read
    (the kernel stays a lazy dask array); a store without its record or a chunk is refused."""
    path = tmp_path / "k.zarr"
    write(path, symmetric(53), symmetric(54))
    _write_a_nan(path)
    ds = open_store(path, verify_values=False)
    assert ds.ntk.chunks is not None
    assert int(ds.ntk.isnull().sum()) == 1
    for damage in ("unfinished", "chunk-lost"):
        path = tmp_path / f"{damage}.zarr"
        write(path, symmetric(53), symmetric(54))
        DAMAGE[damage][0](path)
        with pytest.raises(DamagedInput, match=re.escape(DAMAGE[damage][1])):
            open_store(path, verify_values=False)


def test_a_store_without_an_expected_variable_is_refused(tmp_path):
    path = tmp_path / "v.zarr"
    write_dataset(xr.Dataset({"v": ("x", [1.0])}), path)
    with pytest.raises(DamagedInput, match=r"lacks the variable\(s\) \['ntk'\]"):
        open_store(path, ["ntk"])


def test_snakemakes_folder_marker_does_not_warn(tmp_path):
    """Snakemake marks a finished folder output with ``.snakemake_timestamp``; opening the store
    afterwards warns of nothing (as a job sees it: a fresh interpreter, default filters)."""
    path = tmp_path / "k.zarr"
    write(path, symmetric(52))
    (path / ".snakemake_timestamp").touch()
    code = (
        f"from ntk_evolution._infra.storage import open_store; open_store({str(path)!r}, load=True)"
    )
    result = subprocess.run(
        [sys.executable, "-W", "default", "-c", code], capture_output=True, text=True, check=True
    )
    assert "Warning" not in result.stderr, result.stderr

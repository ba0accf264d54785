"""open_results: every store of a finished tiny run as one lazy tree, and a damaged one named."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import xarray as xr
import zarr

from ntk_evolution import open_results
from ntk_evolution.recovery import DamagedInput
from ntk_evolution.storage import open_store, write_dataset


def node_path(results: Path, store: Path) -> str:
    return "/" + store.relative_to(results).with_suffix("").as_posix()


@pytest.fixture(scope="module")
def stores(tiny_run) -> dict[str, Path]:
    """Every store of the tiny run, by its path in the tree."""
    results = tiny_run / "results"
    found = list(results.glob("**/*.zarr"))
    return {node_path(results, store): store for store in found}


@pytest.fixture(scope="module")
def tree(tiny_run) -> xr.DataTree:
    return open_results(tiny_run / "results")


def test_the_tree_holds_every_store(stores, tree):
    assert {node.path for node in tree.subtree if node.has_data} == set(stores)
    for path in (
        "/kernels/benign/seed0/ntk",
        "/statistics/adversarial/seed1/spectrum",
        "/evaluation/accuracy",
    ):
        assert path in stores


def test_nothing_is_read_until_asked(tree):
    variables = [var for node in tree.subtree for var in node.data_vars.values()]
    assert variables
    assert all(var.chunks is not None for var in variables)  # lazy dask arrays


def test_attributes_carry_the_provenance(tree, stores):
    for path in stores:
        attrs = tree[path].attrs
        assert {"config", "versions", "device"} <= set(attrs), path
        assert "complete" not in attrs


def test_values_are_those_of_the_stores(tree, stores):
    for path, store in stores.items():
        xr.testing.assert_identical(tree[path].to_dataset().load(), open_store(store, load=True))


def test_a_damaged_store_is_named(tmp_path):
    results = tmp_path / "results"
    good, bad = results / "a/good.zarr", results / "b.zarr"
    for store in (good, bad):
        write_dataset(xr.Dataset({"v": ("x", [1.0, 2.0])}), store)
    assert open_results(results)["a/good"]["v"].values.tolist() == [1.0, 2.0]
    group = zarr.open_group(bad, mode="r+")
    del group.attrs["complete"]
    zarr.consolidate_metadata(bad)
    with pytest.raises(DamagedInput, match=rf"store {bad} is unfinished"):
        open_results(results)


def test_partials_are_left_out(tmp_path):
    results = tmp_path / "results"
    for store in ("k/ntk.zarr", "k/.ntk.zarr.partial-host-1-abc"):
        write_dataset(xr.Dataset({"v": ("x", [1.0])}), results / store)
    assert [node.path for node in open_results(results).subtree if node.has_data] == ["/k/ntk"]


def test_a_missing_folder_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no results folder"):
        open_results(tmp_path / "results")


def test_importing_the_package_imports_neither_jax_nor_xarray():
    code = "import sys, ntk_evolution; print(sorted({'jax', 'xarray', 'zarr'} & set(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"

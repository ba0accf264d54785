"""Two fresh runs of the same configuration give bitwise identical results on the same machine."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import xarray as xr

from snakemake_run import TINY, make_checkout, snakemake

# Seconds taken are the only recorded values allowed to differ between two runs.
TIMINGS = {"seconds"}


@pytest.fixture(scope="module")
def second_run(tmp_path_factory):
    checkout = make_checkout(tmp_path_factory.mktemp("second-run"), TINY)
    snakemake(checkout)
    return checkout


def result_files(checkout, pattern):
    files = sorted(p.relative_to(checkout) for p in checkout.glob(pattern))
    assert files, f"no {pattern} in {checkout}"
    return files


def test_same_files(tiny_run, second_run):
    assert result_files(tiny_run, "results/**/*.*") == result_files(second_run, "results/**/*.*")


@pytest.mark.parametrize(
    "pattern",
    ["results/kernels/*/*/ntk.zarr", "results/statistics/**/*.zarr", "results/evaluation/*.zarr"],
)
def test_stores_are_identical(tiny_run, second_run, pattern):
    for path in result_files(tiny_run, pattern):
        first = xr.open_zarr(tiny_run / path).load()
        second = xr.open_zarr(second_run / path).load()
        xr.testing.assert_identical(first.drop_attrs(), second.drop_attrs())
        for name in first.data_vars:
            np.testing.assert_array_equal(first[name].values, second[name].values, strict=True)


def test_checkpoints_are_identical(tiny_run, second_run):
    for path in result_files(tiny_run, "results/phase*/**/*.npz"):
        with np.load(tiny_run / path) as first, np.load(second_run / path) as second:
            leaves = [k for k in first.files if k.startswith("leaf_")]
            assert leaves and leaves == [k for k in second.files if k.startswith("leaf_")]
            for key in leaves:
                np.testing.assert_array_equal(first[key], second[key], strict=True)


def read_table(path):
    with open(path, newline="") as f:
        return [{k: v for k, v in row.items() if k not in TIMINGS} for row in csv.DictReader(f)]


def test_tables_are_identical(tiny_run, second_run):
    for path in result_files(tiny_run, "results/**/*.csv"):
        assert read_table(tiny_run / path) == read_table(second_run / path), path

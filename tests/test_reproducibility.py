"""Two fresh runs of the same configuration give bitwise identical results on the same machine."""

from __future__ import annotations

import pytest

from snakemake_run import (
    RESULT_STORES,
    TINY,
    assert_same_checkpoints,
    assert_same_stores,
    assert_same_tables,
    make_checkout,
    result_files,
    snakemake,
)


@pytest.fixture(scope="module")
def second_run(tmp_path_factory):
    checkout = make_checkout(tmp_path_factory.mktemp("second-run"), TINY)
    snakemake(checkout)
    return checkout


def test_same_files(tiny_run, second_run):
    assert result_files(tiny_run, "results/**/*.*") == result_files(second_run, "results/**/*.*")


@pytest.mark.parametrize("pattern", RESULT_STORES)
def test_stores_are_identical(tiny_run, second_run, pattern):
    assert_same_stores(tiny_run, second_run, pattern)


def test_checkpoints_are_identical(tiny_run, second_run):
    assert_same_checkpoints(tiny_run, second_run)


def test_tables_are_identical(tiny_run, second_run):
    assert_same_tables(tiny_run, second_run)

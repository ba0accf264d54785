"""Two fresh runs of the same configuration give bitwise identical results on the same machine.

The second run is the one through Slurm where this machine can host a test cluster (the tiny
configuration then runs twice, not three times, in the suite), and a local one otherwise.
"""

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
def second_run(request, tmp_path_factory):
    try:
        slurm_run = request.getfixturevalue("slurm_run")
    except pytest.skip.Exception:
        checkout = make_checkout(tmp_path_factory.mktemp("second-run"), TINY)
        snakemake(checkout)
        return checkout
    assert slurm_run.returncode == 0, f"the run through Slurm failed:\n{slurm_run.context}"
    return slurm_run.checkout


def test_same_files(tiny_run, second_run):
    assert result_files(tiny_run, "results/**/*.*") == result_files(second_run, "results/**/*.*")


@pytest.mark.parametrize("pattern", RESULT_STORES)
def test_stores_are_identical(tiny_run, second_run, pattern):
    assert_same_stores(tiny_run, second_run, pattern)


def test_checkpoints_are_identical(tiny_run, second_run):
    assert_same_checkpoints(tiny_run, second_run)


def test_tables_are_identical(tiny_run, second_run):
    assert_same_tables(tiny_run, second_run)

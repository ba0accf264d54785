"""Two fresh runs of the same configuration give bitwise identical results on the same machine.

Where this machine can host a test cluster, the fresh run is the one of two scenarios through
Slurm, compared with the local tiny run to which the second scenario was added (the tiny
configuration then runs twice, not three times, in the suite); otherwise a second local tiny run,
compared with the first.
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
def runs(request, tiny_run, tmp_path_factory):
    """Two checkouts that ran the same configuration, the second from scratch."""
    try:
        slurm_run = request.getfixturevalue("slurm_run")
    except pytest.skip.Exception:
        checkout = make_checkout(tmp_path_factory.mktemp("second-run"), TINY)
        snakemake(checkout)
        return tiny_run, checkout
    assert slurm_run.returncode == 0, f"the run through Slurm failed:\n{slurm_run.context}"
    return request.getfixturevalue("two_scenarios")[0], slurm_run.checkout


def test_same_files(runs):
    first, second = runs
    assert result_files(first, "results/**/*.*") == result_files(second, "results/**/*.*")


@pytest.mark.parametrize("pattern", RESULT_STORES)
def test_stores_are_identical(runs, pattern):
    assert_same_stores(*runs, pattern)


def test_checkpoints_are_identical(runs):
    assert_same_checkpoints(*runs)


def test_tables_are_identical(runs):
    assert_same_tables(*runs)

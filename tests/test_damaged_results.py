"""What a damaged store says: files it did not write are named as extra, and a notebook's
refusal gives the command that rebuilds that store of that project."""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import yaml

from ntk_evolution._infra.recovery import DamagedInput
from ntk_evolution._infra.storage import open_store, write_dataset
from ntk_evolution.results import MissingResults, open_results, stack_results

from snakemake_run import (
    TINY,
    planned_jobs,
    printed_command,
    rules_of,
    snakemake,
    write_config,
)


@pytest.fixture
def store(tmp_path) -> Path:
    path = tmp_path / "values.zarr"
    write_dataset(xr.Dataset({"v": ("x", np.arange(6.0))}), path, chunks={"x": 2})
    return path


def test_a_stray_file_in_a_store_is_named_as_extra(store):
    (store / "v" / "c" / "0.orig").write_bytes(b"an editor's backup")
    with pytest.raises(DamagedInput) as error:
        open_store(store)
    message = str(error.value)
    assert "holds files that are not its own (by array: {'v': ['c/0.orig']})" in message
    assert "delete these, which leaves the store as written" in message
    # Not counted as missing (nor as -1 missing): the message names no count of missing chunks
    # (the store's path, in pytest's numbered folder, may hold "-1" or "missing" itself).
    assert "chunk files missing" not in message and "'v': -1" not in message
    (store / "v" / "c" / "0.orig").unlink()
    assert open_store(store, load=True)["v"].values.tolist() == list(np.arange(6.0))


def test_a_surplus_chunk_file_is_named_as_extra(store):
    shutil.copy(store / "v" / "c" / "0", store / "v" / "c" / "7")
    with pytest.raises(DamagedInput, match=r"holds more chunk files than it wrote \(by array: "):
        open_store(store)


def test_a_lost_chunk_is_still_named_as_missing(store):
    (store / "v" / "c" / "1").unlink()
    with pytest.raises(DamagedInput, match=r"chunk files missing, by array: \{'v': 1\}"):
        open_store(store)


KERNELS = "kernels/benign/seed0/ntk.zarr"


@pytest.fixture(scope="module")
def configured(tiny_run, tmp_path_factory) -> Path:
    """A copy of the tiny run made as a user makes it: the shipped config.yaml and the preset
    given with ``--configfile`` (the same settings, so only the scenario's record is
    rewritten, forced here to record the config file)."""
    checkout = tmp_path_factory.mktemp("configured") / "run"
    shutil.copytree(tiny_run, checkout, symlinks=True)
    shutil.copy(Path(__file__).resolve().parents[1] / "config.yaml", checkout / "config.yaml")
    write_config(checkout, TINY, "tiny.yaml")
    snakemake(checkout, "--forcerun", "scenario", configfile="tiny.yaml")
    assert planned_jobs(checkout, configfile="tiny.yaml") == set()
    return checkout


def lose_a_chunk(checkout: Path) -> Path:
    """Delete one chunk of the scenario's benign seed-0 kernels; returns the shared store."""
    store = (checkout / "results/tiny" / KERNELS).resolve()
    next(p for p in (store / "ntk" / "c").rglob("*") if p.is_file()).unlink()
    return store


def test_the_scenario_records_the_run_s_config_files(configured):
    record = yaml.safe_load((configured / "results/tiny/scenario.yaml").read_text())
    assert record["configfiles"] == ["tiny.yaml"]


@pytest.mark.parametrize("reader", ["open_results", "stack_results"])
def test_a_notebook_s_fix_rebuilds_that_store_of_that_project(configured, tmp_path, reader):
    checkout = tmp_path / "run"
    shutil.copytree(configured, checkout, symlinks=True)
    store = lose_a_chunk(checkout)
    shared = store.relative_to(checkout.resolve()).as_posix()
    with pytest.raises(DamagedInput) as error:
        if reader == "open_results":
            open_results(checkout / "results")
        else:
            stack_results(checkout / "results", "kernels/ntk")
    command = printed_command(str(error.value))
    assert command.endswith(f"# in {checkout.resolve()}")
    words = shlex.split(command, comments=True)
    assert words == [
        *("uv", "run", "snakemake", "--cores", "all"),
        *("--forcerun", shared, "--configfile", "tiny.yaml"),
    ]
    plan = rules_of(planned_jobs(checkout, *words[3:-2], configfile="tiny.yaml"))
    assert plan == {  # the benign seed-0 kernels and what follows, not the default experiment
        "extract_ntk": 1,
        "attacked_ntk": 1,
        "kernel_evolution": 1,
        "kernel_spectrum": 1,
        "kernel_alignment": 1,
        "kernel_eigenspace": 1,
        "kernel_pair_distances": 1,
        "kernel_machines": 1,
        "feature_pictures": 1,
        "figures": 1,
        "findings": 1,
        "scenario": 1,
        "all": 1,
    }


def test_a_lost_link_is_named_and_remade(configured, tmp_path):
    """A scenario's link deleted by hand is named by a notebook, and the command it gives
    remakes it (the shared result it points to is still there)."""
    checkout = tmp_path / "run"
    shutil.copytree(configured, checkout, symlinks=True)
    link = checkout / "results/tiny/evaluation/accuracy.zarr"
    link.unlink()
    with pytest.raises(MissingResults) as error:
        open_results(checkout / "results")
    assert error.value.missing == [link]
    assert "--forcerun results/<scenario>/scenario.yaml" in str(error.value)
    snakemake(checkout, "--forcerun", "results/tiny/scenario.yaml", configfile="tiny.yaml")
    assert link.is_symlink()
    assert "accuracy" in open_results(checkout / "results")["tiny/evaluation"]


def test_a_chunk_of_random_bytes_is_named(store):
    chunk = store / "v" / "c" / "1"
    chunk.write_bytes(np.random.default_rng(0).bytes(chunk.stat().st_size))
    with pytest.raises(DamagedInput, match=rf"store {store} is unreadable \("):
        open_store(store)

"""Nothing a run promises stays lost: a deleted result is rebuilt by the next run, with exactly
what follows from its job and bitwise as before, and Ctrl-C followed by the same command
leaves every result of an uninterrupted run."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from snakemake_run import (
    JAX_CACHE,
    TINY,
    make_checkout,
    planned_jobs,
    read_table,
    rules_of,
    snakemake,
)

SCENARIO = "results/tiny"
AFTER = {"figures": 1, "scenario": 1, "all": 1}  # what follows any result the figures read
STATISTICS = ("kernel_evolution", "kernel_spectrum", "kernel_alignment", "kernel_eigenspace")
RUN_ANALYSES = {  # what follows a run's kernels
    "extract_ntk": 1,
    "attacked_ntk": 1,
    **dict.fromkeys(STATISTICS, 1),
    "kernel_pair_distances": 1,
    "kernel_machines": 1,
    "feature_pictures": 1,
    "findings": 1,
    **AFTER,
}
RUN_EVALUATION = {"evaluate_children": 1, "gather_evaluation": 1, "findings": 1, **AFTER}


def real_path(checkout: Path, result: str) -> Path:
    """The file of the scenario's ``result`` (its layout path): the shared one a link points
    to, or the scenario's own (a figure, the findings)."""
    path = checkout / SCENARIO / result
    return path.resolve() if path.is_symlink() else path


@contextmanager
def moved_aside(path: Path) -> Iterator[None]:
    """``path`` gone for the block, then back exactly as it was."""
    aside = path.with_name(f"{path.name}.aside")
    path.rename(aside)
    try:
        yield
    finally:
        aside.rename(path)


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        (
            "data/probes.npz",
            {
                "select_probes": 1,
                "extract_ntk": 4,
                "attacked_ntk": 4,
                **dict.fromkeys(STATISTICS, 4),
                "kernel_machines": 4,
                "kernel_pair_distances": 1,
                "feature_pictures": 1,
                "infinite_ntk": 1,
                "infinite_machine": 1,
                "findings": 1,
                **AFTER,
            },
        ),
        (
            "phase1/benign/seed0/epoch0.5.npz",
            {
                "train_phase1": 1,
                **RUN_ANALYSES,
                "train_children": 1,
                "evaluate_phase1": 1,
                **RUN_EVALUATION,
            },
        ),
        ("kernels/benign/seed0/ntk.zarr", RUN_ANALYSES),
        ("statistics/benign/seed0/attacked.zarr", {"attacked_ntk": 1, **AFTER}),
        (
            "kernels/infinite.zarr",
            {
                "infinite_ntk": 1,
                "kernel_evolution": 4,
                "infinite_machine": 1,
                "findings": 1,
                **AFTER,
            },
        ),
        (
            "phase2/benign/seed0/spawn2/linearized/adversarial/params.npz",
            {"train_children": 1, **RUN_EVALUATION},
        ),
        (
            "evaluation/benign/seed0/phase1_adversarial.npz",
            {"evaluate_phase1": 1, "kernel_machines": 1, **RUN_EVALUATION},
        ),
        ("evaluation/benign/seed0/spawn2.csv", RUN_EVALUATION),
        ("evaluation/accuracy.csv", {"gather_evaluation": 1, "findings": 1, **AFTER}),
        ("statistics/adversarial/seed1/spectrum.zarr", {"kernel_spectrum": 1, **AFTER}),
        ("statistics/benign/seed0/eigenspace.zarr", {"kernel_eigenspace": 1, **AFTER}),
        ("statistics/pair_distances.zarr", {"kernel_pair_distances": 1, "findings": 1, **AFTER}),
        ("machines/benign/seed0/features.zarr", {"kernel_machines": 1, **AFTER}),
        ("machines/pictures.zarr", {"feature_pictures": 1, **AFTER}),
        ("machines/infinite.zarr", {"infinite_machine": 1, **AFTER}),
        ("figures/spectrum.png", AFTER),
        ("findings.csv", {"findings": 1, "scenario": 1, "all": 1}),
    ],
)
def test_a_missing_result_is_planned_with_what_follows_from_its_job(tiny_run, result, expected):
    """Deleting one result of a finished run plans its job and every job downstream of it
    (what ``--forcerun`` of the file plans), for a run's result that run's job alone."""
    with moved_aside(real_path(tiny_run, result)):
        jobs = planned_jobs(tiny_run)
    assert rules_of(jobs) == expected
    run = re.search(r"(benign|adversarial)/seed(\d+)", result)
    if run:  # the job of that run (and of its spawn point) reruns, no other run's
        for rule, wildcards in jobs:
            if "regime" in dict(wildcards):
                assert dict(wildcards)["regime"] == run.group(1), (rule, wildcards)
                assert dict(wildcards)["seed"] == run.group(2), (rule, wildcards)


def promised(checkout: Path) -> list[str]:
    """Every result of the scenario (layout paths): its links and its own files."""
    folder = checkout / SCENARIO
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in [*dirnames, *filenames]:
            path = Path(dirpath, name)
            if path.is_symlink() or path.is_file():
                found.append(path.relative_to(folder).as_posix())
    return sorted(found)


def assert_same_result(first: Path, second: Path, result: str) -> None:
    """The scenario's ``result`` holds the same data in both checkouts: a store's variables
    and coordinates, an archive's arrays (not its metadata), a table's rows (not its
    timings), a figure's pixels (drawn from the same data) aside."""
    a, b = first / SCENARIO / result, second / SCENARIO / result
    assert a.exists() and b.exists(), result
    if result.endswith(".zarr"):
        x, y = xr.open_zarr(a).load(), xr.open_zarr(b).load()
        xr.testing.assert_identical(x.drop_attrs(), y.drop_attrs())
        for name in x.variables:
            np.testing.assert_array_equal(x[name].values, y[name].values, strict=True)
    elif result.endswith(".npz"):
        with np.load(a) as x, np.load(b) as y:
            assert x.files == y.files, result
            for name in x.files:
                if name != "metadata":
                    np.testing.assert_array_equal(x[name], y[name], strict=True)
    elif result.endswith(".csv"):
        assert read_table(a) == read_table(b), result


def assert_same_results(first: Path, second: Path) -> None:
    results = promised(first)
    assert promised(second) == results
    assert any(r.endswith(".zarr") for r in results) and any(r.endswith(".npz") for r in results)
    for result in results:
        assert_same_result(first, second, result)


def test_deleted_results_are_rebuilt_bitwise(tiny_run, tmp_path):
    """A checkpoint, a statistics store, a child's parameters, a run's table and the gathered
    table, deleted at once, come back identical, and so does everything rebuilt with them."""
    checkout = tmp_path / "run"
    shutil.copytree(tiny_run, checkout, symlinks=True)
    deleted = [
        "phase1/benign/seed0/epoch0.5.npz",
        "statistics/adversarial/seed1/spectrum.zarr",
        "phase2/adversarial/seed0/spawn2/linearized/adversarial/params.npz",
        "evaluation/benign/seed1/spawn2.csv",
        "evaluation/accuracy.csv",
    ]
    for result in deleted:
        path = real_path(checkout, result)
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    snakemake(checkout)
    assert planned_jobs(checkout) == set()
    for result in deleted:
        assert real_path(checkout, result).exists(), result
    assert_same_results(tiny_run, checkout)


def test_ctrl_c_then_the_same_command_leaves_every_result(tiny_run, tmp_path):
    """Ctrl-C (SIGINT to Snakemake and its jobs) while the children are evaluated, then the
    same command: every result of the uninterrupted run is there, identical."""
    checkout = make_checkout(tmp_path / "run", TINY)
    process = subprocess.Popen(
        [sys.executable, "-m", "snakemake", "--cores", "2"],
        cwd=checkout,
        env={**os.environ, "JAX_COMPILATION_CACHE_DIR": str(JAX_CACHE)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # a process group, as a terminal's foreground job
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # as in a terminal
    )
    try:
        deadline = time.monotonic() + 600
        while not list(checkout.glob("logs/evaluate_children/*.log")):
            assert process.poll() is None, "the run ended before the children were evaluated"
            assert time.monotonic() < deadline, "no child was evaluated in 10 minutes"
            time.sleep(0.05)
        time.sleep(1)  # the job under way
        os.killpg(process.pid, signal.SIGINT)
        assert process.wait(timeout=120) != 0
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    snakemake(checkout)
    assert planned_jobs(checkout) == set()
    assert_same_results(tiny_run, checkout)

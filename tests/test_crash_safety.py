"""Interrupted jobs and damaged inputs: nothing half-written passes for finished work, and every
refusal names the file and a command that regenerates it (run here as printed)."""

from __future__ import annotations

import copy
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import psutil
import pytest
import xarray as xr
import zarr

from ntk_evolution.atomic import partials
from ntk_evolution.checkpoints import load_checkpoint
from ntk_evolution.networks import build_network
from ntk_evolution.settings import ModelSettings
from ntk_evolution.storage import open_store

from snakemake_run import (
    JAX_CACHE,
    RESULT_STORES,
    TINY,
    assert_same_stores,
    make_checkout,
    planned_jobs,
    printed_command,
    rules_of,
    snakemake,
)

HISTORY = "results/phase1/adversarial/seed0/history.csv"
CHECKPOINTS = "results/phase1/adversarial/seed0"


def interrupted_training(checkout, kill) -> int:
    """Start the training job, call ``kill(snakemake_process)`` once its first checkpoint is
    written, and return Snakemake's exit code."""
    snakemake(checkout, "results/data/split.npz")
    process = subprocess.Popen(
        [sys.executable, "-m", "snakemake", "--cores", "1", HISTORY],
        cwd=checkout,
        env={**os.environ, "JAX_COMPILATION_CACHE_DIR": str(JAX_CACHE)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    first = checkout / CHECKPOINTS / "epoch0.npz"
    deadline = time.monotonic() + 120
    while not first.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert process.poll() is None, "the training job ended before it could be killed"
    kill(process)
    return process.wait()


def kill_the_job(process) -> None:
    """SIGKILL the job's own process, as a scheduler does at a time limit; Snakemake lives on."""
    jobs = [
        child
        for child in psutil.Process(process.pid).children(recursive=True)
        if any("train_phase1" in part for part in child.cmdline())
    ]
    assert jobs, "no training job process found"
    for job in jobs:
        job.kill()


def kill_everything(process) -> None:
    """SIGKILL Snakemake and its job at once, as a power loss would."""
    os.killpg(process.pid, signal.SIGKILL)


def template():
    """The parameter shapes of the tiny model on digits."""
    return build_network(ModelSettings(**TINY["model"]), 10).shapes((8, 8, 1)).params


def slow_config():
    config = copy.deepcopy(TINY)
    config["phase1"]["regimes"] = ["adversarial"]
    config["phase1"]["seeds"] = [0]
    config["phase1"]["attack"]["steps"] = 40  # a job that runs for a few seconds
    config["phase1"]["attack"]["step_size"] = 0.01
    return config


@pytest.fixture(scope="module")
def crashed(tmp_path_factory):
    """A checkout whose training job was killed after its first checkpoint."""
    checkout = make_checkout(tmp_path_factory.mktemp("crash"), slow_config())
    assert interrupted_training(checkout, kill_the_job) != 0
    assert not (checkout / HISTORY).exists()
    return checkout


def test_killed_job_is_planned_again(crashed):
    assert rules_of(planned_jobs(crashed, HISTORY)) == {"train_phase1": 1}


def test_rerun_completes(crashed):
    snakemake(crashed, HISTORY)
    for epoch in ("0", "0.5", "2"):
        _, meta = load_checkpoint(crashed / CHECKPOINTS / f"epoch{epoch}.npz", template())
        assert meta["epoch"] == float(epoch)
    assert not list(crashed.glob("results/**/.*.partial*"))
    assert planned_jobs(crashed, HISTORY) == set()


def test_truncated_checkpoint_is_named_with_a_command_that_regenerates_it(crashed):
    """A plain rerun trusts the damaged file (it exists); the printed command reruns the job
    that writes it and everything downstream."""
    snakemake(crashed, HISTORY)
    path = crashed / CHECKPOINTS / "epoch0.5.npz"
    path.write_bytes(path.read_bytes()[:200])
    target = "results/kernels/adversarial/seed0/ntk.zarr"
    result = snakemake(crashed, target, check=False)
    assert result.returncode != 0
    log = (crashed / "logs/extract_ntk/adversarial-seed0.log").read_text()
    assert f"checkpoint {CHECKPOINTS}/epoch0.5.npz is truncated or corrupt" in log
    assert not (crashed / target).exists()
    command = printed_command(log)
    assert command == f"uv run snakemake --cores all --forcerun {CHECKPOINTS}/epoch0.5.npz"
    assert "train_phase1" not in rules_of(planned_jobs(crashed))
    plan = rules_of(planned_jobs(crashed, *shlex.split(command)[3:]))
    assert plan["train_phase1"] == 1 and plan["extract_ntk"] == 1  # every epoch of the run
    snakemake(crashed, target, *shlex.split(command)[3:])  # as printed, for one target
    assert load_checkpoint(path, template())[1]["epoch"] == 0.5
    assert (crashed / target).exists()


def test_after_a_hard_kill_unlock_and_rerun(tmp_path):
    checkout = make_checkout(tmp_path, slow_config())
    interrupted_training(checkout, kill_everything)
    assert (checkout / CHECKPOINTS / "epoch0.npz").exists()  # left behind, but not trusted
    locked = snakemake(checkout, HISTORY, check=False)
    assert locked.returncode != 0
    assert "--unlock" in locked.stdout + locked.stderr
    snakemake(checkout, "--unlock")
    assert rules_of(planned_jobs(checkout, HISTORY)) == {"train_phase1": 1}
    snakemake(checkout, HISTORY)
    assert planned_jobs(checkout, HISTORY) == set()


def orphan_config():
    """One benign run whose kernel job writes for a few seconds per checkpoint (400 probes, tiles
    of 5), of two checkpoints."""
    config = copy.deepcopy(TINY)
    config["phase1"]["regimes"] = ["benign"]
    config["phase1"]["seeds"] = [0]
    config["phase1"]["checkpoints"]["fractional"] = []
    config["dataset"]["probes_per_class"] = 40
    config["ntk"]["tile_size"] = 5
    return config


def wait_for(condition, what: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def start_snakemake(checkout, *args) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "snakemake", "--cores", "1", *args],
        cwd=checkout,
        env={**os.environ, "JAX_COMPILATION_CACHE_DIR": str(JAX_CACHE)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def kernel_job(snakemake_process: subprocess.Popen) -> psutil.Process:
    """The ``extract_ntk`` job that ``snakemake_process`` runs."""
    [job] = [
        child
        for child in psutil.Process(snakemake_process.pid).children(recursive=True)
        if any("extract_ntk" in part for part in child.cmdline())
    ]
    return job


def alive(process: psutil.Process) -> bool:
    """Whether ``process`` still runs (a zombie that no one has reaped has ended)."""
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_an_orphaned_job_and_its_rerun_both_leave_a_complete_store(tmp_path):
    """SIGKILL Snakemake while its kernel job writes: the job lives on as an orphan. Following
    the README (``--unlock``, rerun) starts the same job again while the orphan still writes.
    Neither attempt may spoil the other: the rerun succeeds, and the store in place, first
    the orphan's and then the rerun's, is complete and identical.

    The jobs are paused and resumed (SIGSTOP, SIGCONT) so that the writes interleave the same
    way on a fast or a loaded machine: the orphan stops mid-write, the rerun writes, stops, the
    orphan finishes, then the rerun finishes."""
    checkout = make_checkout(tmp_path / "checkout", orphan_config())
    target = "results/kernels/benign/seed0/ntk.zarr"
    store = checkout / target
    snakemake(checkout, "results/phase1/benign/seed0/history.csv", "results/data/probes.npz")
    first = start_snakemake(checkout, target)
    processes = [first]
    try:
        wait_for(lambda: any((p / "ntk").is_dir() for p in partials(store)), "the first write")
        orphan = kernel_job(first)
        processes.append(orphan)
        orphan.suspend()
        first.kill()  # Snakemake only: its job is orphaned
        first.wait()
        snakemake(checkout, "--unlock")
        rerun = start_snakemake(checkout, target)
        processes.append(rerun)
        wait_for(lambda: len(partials(store)) == 2, "the rerun's own write", timeout=120)
        rerun_job = kernel_job(rerun)
        processes.append(rerun_job)
        rerun_job.suspend()
        orphan.resume()
        wait_for(lambda: not alive(orphan), "the orphan")
        shutil.copytree(store, tmp_path / "orphans.zarr")  # what the orphan put in place
        rerun_job.resume()
        assert rerun.wait() == 0
    finally:  # nothing outlives a failed test
        for process in processes:
            if process.poll() is None if isinstance(process, subprocess.Popen) else alive(process):
                process.kill()
    assert planned_jobs(checkout, target) == set()
    assert partials(store) == []
    kernels = open_store(store, ["ntk"], load=True)
    orphans = open_store(tmp_path / "orphans.zarr", load=True)
    xr.testing.assert_identical(kernels.drop_attrs(), orphans.drop_attrs())  # timings differ
    assert kernels.ntk.shape == (2, 10, 400, 400)  # epochs 0 and 2


KERNELS = "results/kernels/benign/seed0/ntk.zarr"
STATISTICS = {  # the jobs that read a run's kernels: rule -> (output, log)
    "kernel_evolution": (
        "results/statistics/benign/seed0/evolution.zarr",
        "logs/kernel_evolution/benign-seed0.log",
    ),
    "kernel_spectrum": (
        "results/statistics/benign/seed0/spectrum.zarr",
        "logs/kernel_spectrum/benign-seed0.log",
    ),
    "kernel_alignment": (
        "results/statistics/benign/seed0/alignment.zarr",
        "logs/kernel_alignment/benign-seed0.log",
    ),
    "kernel_pair_distances": (
        "results/statistics/pair_distances.zarr",
        "logs/kernel_pair_distances.log",
    ),
}


def lose_a_chunk(store):
    next(p for p in (store / "ntk" / "c").rglob("*") if p.is_file()).unlink()


def write_a_nan(store):
    zarr.open_array(store / "ntk", mode="r+")[1, 3, 2, 5] = np.nan


@pytest.mark.parametrize(
    ("damage", "problem"),
    [(lose_a_chunk, "chunk files missing"), (write_a_nan, "NaN values")],
    ids=["chunk-lost", "nan-written"],
)
def test_damaged_kernels_stop_every_statistic(tiny_run, tmp_path, damage, problem):
    """Damage to a run's gathered kernels stops every job that reads them, each naming the
    store and the command that regenerates it; that command, run as printed, restores every
    result bitwise."""
    checkout = tmp_path / "run"
    shutil.copytree(tiny_run, checkout, symlinks=True)
    damage(checkout / KERNELS)
    outputs = [output for output, _ in STATISTICS.values()]
    result = snakemake(checkout, *outputs, "--keep-going", "--forcerun", *STATISTICS, check=False)
    assert result.returncode != 0
    command = f"uv run snakemake --cores all --forcerun {KERNELS}"
    for rule, (output, log) in STATISTICS.items():
        text = (checkout / log).read_text()
        assert f"store {KERNELS} is damaged ({problem}" in text, rule
        assert printed_command(text) == command, rule
        assert not (checkout / output).exists(), rule
    if damage is write_a_nan:  # the chunk-lost case heals the same way
        snakemake(checkout, *shlex.split(command)[3:])
        for pattern in RESULT_STORES:
            assert_same_stores(tiny_run, checkout, pattern)

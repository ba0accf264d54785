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
from pathlib import Path

import numpy as np
import psutil
import pytest
import xarray as xr
import zarr

from ntk_evolution._infra.atomic import partials
from ntk_evolution._infra.checkpoints import load_checkpoint
from ntk_evolution._infra.storage import open_store
from ntk_evolution.configuration.settings import ModelSettings
from ntk_evolution.models.networks import build_network

from snakemake_run import (
    JAX_CACHE,
    RESULT_STORES,
    SHARED,
    TINY,
    assert_same_stores,
    linked_path,
    make_checkout,
    planned_jobs,
    planned_key,
    printed_command,
    rules_of,
    snakemake,
)

RUN = "phase1/adversarial/seed0"  # the slow configuration's one training run


def checkpoints(checkout) -> str:
    """The folder of the training run's history and checkpoints, below its job's key."""
    key = planned_key(checkout, "train_phase1", regime="adversarial", seed="0")
    return f"{SHARED}/{key}/{RUN}"


def interrupted_training(checkout, kill) -> int:
    """Start the training job, call ``kill(snakemake_process)`` once its first checkpoint is
    written, and return Snakemake's exit code."""
    run = checkpoints(checkout)
    snakemake(checkout, "--until", "split_dataset")
    process = subprocess.Popen(
        [sys.executable, "-m", "snakemake", "--cores", "1", f"{run}/history.csv"],
        cwd=checkout,
        env={**os.environ, "JAX_COMPILATION_CACHE_DIR": str(JAX_CACHE)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    first = checkout / run / "epoch0.npz"
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
    assert not (checkout / checkpoints(checkout) / "history.csv").exists()
    return checkout


def test_killed_job_is_planned_again(crashed):
    history = f"{checkpoints(crashed)}/history.csv"
    assert rules_of(planned_jobs(crashed, history)) == {"train_phase1": 1}


def test_rerun_completes(crashed):
    run = checkpoints(crashed)
    snakemake(crashed, f"{run}/history.csv")
    for epoch in ("0", "0.5", "2"):
        _, meta = load_checkpoint(crashed / run / f"epoch{epoch}.npz", template())
        assert meta["epoch"] == float(epoch)
    assert not list(crashed.glob("results/**/.*.partial*"))
    assert planned_jobs(crashed, f"{run}/history.csv") == set()


def test_truncated_checkpoint_is_named_with_a_command_that_regenerates_it(crashed):
    """A plain rerun trusts the damaged file (it exists); the printed command reruns the job
    that writes it and everything downstream."""
    run = checkpoints(crashed)
    snakemake(crashed, f"{run}/history.csv")
    path = crashed / run / "epoch0.5.npz"
    path.write_bytes(path.read_bytes()[:200])
    key = planned_key(crashed, "extract_ntk", regime="adversarial", seed="0")
    target = f"{SHARED}/{key}/kernels/adversarial/seed0/ntk.zarr"
    result = snakemake(crashed, "--until", target, check=False)
    assert result.returncode != 0
    log = (crashed / f"logs/extract_ntk/{key}-adversarial-seed0.log").read_text()
    assert f"checkpoint {run}/epoch0.5.npz is truncated or corrupt" in log
    assert not (crashed / target).exists()
    command = printed_command(log)
    assert command == f"uv run snakemake --cores all --forcerun {run}/epoch0.5.npz"
    assert "train_phase1" not in rules_of(planned_jobs(crashed))
    plan = rules_of(planned_jobs(crashed, *shlex.split(command)[3:]))
    assert plan["train_phase1"] == 1 and plan["extract_ntk"] == 1  # every epoch of the run
    snakemake(crashed, *shlex.split(command)[3:], "--until", target)  # as printed, one target
    assert load_checkpoint(path, template())[1]["epoch"] == 0.5
    assert (crashed / target).exists()


def test_after_a_hard_kill_unlock_and_rerun(tmp_path):
    checkout = make_checkout(tmp_path, slow_config())
    run = checkpoints(checkout)
    interrupted_training(checkout, kill_everything)
    assert (checkout / run / "epoch0.npz").exists()  # left behind, but not trusted
    history = f"{run}/history.csv"
    locked = snakemake(checkout, history, check=False)
    assert locked.returncode != 0
    assert "--unlock" in locked.stdout + locked.stderr
    snakemake(checkout, "--unlock")
    assert rules_of(planned_jobs(checkout, history)) == {"train_phase1": 1}
    snakemake(checkout, history)
    assert planned_jobs(checkout, history) == set()


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
    key = planned_key(checkout, "extract_ntk", regime="benign", seed="0")
    target = f"{SHARED}/{key}/kernels/benign/seed0/ntk.zarr"
    store = checkout / target
    snakemake(checkout, "--until", "train_phase1", "select_probes")  # the kernel job's inputs
    first = start_snakemake(checkout, "--until", target)
    processes = [first]
    try:
        wait_for(lambda: any((p / "ntk").is_dir() for p in partials(store)), "the first write")
        orphan = kernel_job(first)
        processes.append(orphan)
        orphan.suspend()
        first.kill()  # Snakemake only: its job is orphaned
        first.wait()
        snakemake(checkout, "--unlock")
        rerun = start_snakemake(checkout, "--until", target)
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
    assert planned_jobs(checkout, "--until", target) == set()
    assert partials(store) == []
    kernels = open_store(store, ["ntk"], load=True)
    orphans = open_store(tmp_path / "orphans.zarr", load=True)
    xr.testing.assert_identical(kernels.drop_attrs(), orphans.drop_attrs())  # timings differ
    assert kernels.ntk.shape == (2, 10, 400, 400)  # epochs 0 and 2


SCENARIO = f"results/{TINY['name']}"
KERNELS = f"{SCENARIO}/kernels/benign/seed0/ntk.zarr"  # a link to the shared store
STATISTICS = {  # the jobs that read a run's kernels: rule -> (output's link, log name after key)
    "kernel_evolution": (f"{SCENARIO}/statistics/benign/seed0/evolution.zarr", "-benign-seed0"),
    "kernel_spectrum": (f"{SCENARIO}/statistics/benign/seed0/spectrum.zarr", "-benign-seed0"),
    "kernel_alignment": (f"{SCENARIO}/statistics/benign/seed0/alignment.zarr", "-benign-seed0"),
    "kernel_pair_distances": (f"{SCENARIO}/statistics/pair_distances.zarr", ""),
}


def output_and_log(checkout, rule: str) -> tuple[Path, str]:
    """A statistic job's shared output, and its log (named by the job's key)."""
    link, job = STATISTICS[rule]
    output = linked_path(checkout, link)
    key = output.relative_to(SHARED).parts[0]
    return output, f"logs/{rule}/{key}{job}.log"


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
    kernels = linked_path(checkout, KERNELS)
    damage(checkout / kernels)
    jobs = {rule: output_and_log(checkout, rule) for rule in STATISTICS}
    outputs = [output for output, _ in jobs.values()]
    forced = ("--keep-going", "--forcerun", *STATISTICS)
    result = snakemake(checkout, *forced, "--until", *outputs, check=False)
    assert result.returncode != 0
    command = f"uv run snakemake --cores all --forcerun {kernels}"
    for rule, (output, log) in jobs.items():
        text = (checkout / log).read_text()
        assert f"store {kernels} is damaged ({problem}" in text, rule
        assert printed_command(text) == command, rule
        assert not (checkout / output).exists(), rule
    if damage is write_a_nan:  # the chunk-lost case heals the same way
        snakemake(checkout, *shlex.split(command)[3:])
        for pattern in RESULT_STORES:
            assert_same_stores(tiny_run, checkout, pattern)

"""Interrupted jobs and damaged inputs: nothing half-written passes for finished work."""

from __future__ import annotations

import copy
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from ntk_evolution.checkpoints import load_checkpoint
from ntk_evolution.models import build_model

from snakemake_run import JAX_CACHE, TINY, make_checkout, planned_jobs, rules_of, snakemake

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
    net = build_model(**TINY["model"], num_classes=10)
    template = net.param_shapes((8, 8, 1))
    for epoch in ("0", "0.5", "2"):
        _, meta = load_checkpoint(crashed / CHECKPOINTS / f"epoch{epoch}.npz", template)
        assert meta["epoch"] == float(epoch)
    assert not list(crashed.glob("results/**/.*.partial"))
    assert planned_jobs(crashed, HISTORY) == set()


def test_truncated_checkpoint_is_named(crashed):
    snakemake(crashed, HISTORY)
    path = crashed / CHECKPOINTS / "epoch0.5.npz"
    path.write_bytes(path.read_bytes()[:200])
    target = "results/kernels/adversarial/seed0/epoch0.5.zarr"
    result = snakemake(crashed, target, check=False)
    assert result.returncode != 0
    log = (crashed / "logs/extract_ntk/adversarial-seed0-epoch0.5.log").read_text()
    assert f"checkpoint {CHECKPOINTS}/epoch0.5.npz is truncated or corrupt" in log
    assert "rerun the training job" in log
    assert not (crashed / target).exists()


def test_damaged_store_is_named(crashed):
    snakemake(crashed, HISTORY, "--forcerun", "train_phase1")  # heal the truncated checkpoint
    store = "results/kernels/adversarial/seed0/epoch2.zarr"
    snakemake(crashed, store)
    chunk = next(
        p for p in (crashed / store / "ntk").rglob("*") if p.is_file() and p.name != "zarr.json"
    )
    chunk.unlink()
    target = "results/kernels/adversarial/seed0/ntk.zarr"
    result = snakemake(crashed, target, check=False)
    assert result.returncode != 0
    log = (crashed / "logs/gather_kernels/adversarial-seed0.log").read_text()
    assert f"store {store} is incomplete or corrupt" in log


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

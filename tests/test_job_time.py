"""Every job logs where its time went, and the jobs of a workflow compile each program once."""

from __future__ import annotations

from pathlib import Path

from ntk_evolution.pipeline.joblog import JobTime, read_job_time

from snakemake_run import SHARED, TINY, make_checkout, planned_key, snakemake, write_config

KERNELS = "kernels/{}/seed0/ntk.zarr"
KERNEL_LOG = "logs/extract_ntk/{}-{}-seed0.log"  # the job's key, its regime


def job_time(log: Path) -> JobTime:
    timed = read_job_time(log.read_text())
    assert timed is not None, f"no job time line in {log}"
    return timed


def extract_kernels(checkout: Path, regime: str, cache: Path, configfile: str | None = None):
    """Run the kernel job of ``regime``'s seed 0 (and what it needs); returns its job time."""
    key = planned_key(checkout, "extract_ntk", configfile=configfile, regime=regime, seed="0")
    target = f"{SHARED}/{key}/{KERNELS.format(regime)}"
    snakemake(checkout, "--until", target, configfile=configfile, jax_cache=cache)
    return job_time(checkout / KERNEL_LOG.format(key, regime))


def test_kernel_jobs_share_compiled_programs_and_compile_a_changed_model_afresh(tmp_path):
    """The first kernel job compiles its programs into the workflow's cache; the next one, of
    another run of the same model, takes every program from there. A wider model is a
    different program: its kernel job compiles it, whatever the cache holds."""
    checkout = make_checkout(tmp_path / "workflow", TINY)
    cache = tmp_path / "cache"
    first = extract_kernels(checkout, "benign", cache)
    assert first.programs >= 1
    assert first.programs > first.cached
    assert first.compile > 0
    assert 0 < first.imports < first.seconds

    second = extract_kernels(checkout, "adversarial", cache)
    assert second.programs == first.programs
    assert second.cached == second.programs  # nothing compiled: every program from the cache

    write_config(checkout, {"model": {"width": 2 * TINY["model"]["width"]}}, "wider.yaml")
    changed = extract_kernels(checkout, "benign", cache, configfile="wider.yaml")
    assert changed.programs > changed.cached  # the wider network's kernel is compiled afresh


def test_a_job_without_jax_compiles_nothing(tiny_run):
    timed = job_time(tiny_run / f"logs/findings/{TINY['name']}.log")
    assert (timed.compile, timed.programs, timed.cached) == (0.0, 0, 0)
    assert 0 < timed.imports <= timed.seconds

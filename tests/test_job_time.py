"""Every job logs where its time went, and the jobs of a workflow compile each program once."""

from __future__ import annotations

from pathlib import Path

from ntk_evolution.joblog import JobTime, read_job_time

from snakemake_run import TINY, make_checkout, planned_jobs, snakemake, write_config

KERNELS = "results/shared/{key}/kernels/{regime}/seed0/ntk.zarr"
KERNEL_LOG = "logs/extract_ntk/{key}-{regime}-seed0.log"


def kernel_jobs(checkout: Path, configfile: str | None = None) -> dict[str, tuple[str, str]]:
    """The store and log of each seed-0 kernel job a fresh run plans, by regime (a run asks
    for one with ``--until``: a job's key is known once the scenario's results are asked for)."""
    jobs = {}
    for rule, wildcards in planned_jobs(checkout, "--forceall", configfile=configfile):
        w = dict(wildcards)
        if rule == "extract_ntk" and w["seed"] == "0":
            jobs[w["regime"]] = (KERNELS.format(**w), KERNEL_LOG.format(**w))
    return jobs


def job_time(log: Path) -> JobTime:
    timed = read_job_time(log.read_text())
    assert timed is not None, f"no job time line in {log}"
    return timed


def test_kernel_jobs_share_compiled_programs_and_compile_a_changed_model_afresh(tmp_path):
    """The first kernel job compiles its programs into the workflow's cache; the next one, of
    another run of the same model, takes every program from there. A wider model is a
    different program: its kernel job compiles it, whatever the cache holds."""
    checkout = make_checkout(tmp_path / "workflow", TINY)
    cache = tmp_path / "cache"
    jobs = kernel_jobs(checkout)
    snakemake(checkout, "--until", jobs["benign"][0], jax_cache=cache)
    first = job_time(checkout / jobs["benign"][1])
    assert first.programs >= 1
    assert first.programs > first.cached
    assert first.compile > 0
    assert 0 < first.imports < first.seconds

    snakemake(checkout, "--until", jobs["adversarial"][0], jax_cache=cache)
    second = job_time(checkout / jobs["adversarial"][1])
    assert second.programs == first.programs
    assert second.cached == second.programs  # nothing compiled: every program from the cache

    write_config(checkout, {"model": {"width": 2 * TINY["model"]["width"]}}, "wider.yaml")
    wider = kernel_jobs(checkout, "wider.yaml")["benign"]
    snakemake(checkout, "--until", wider[0], configfile="wider.yaml", jax_cache=cache)
    changed = job_time(checkout / wider[1])
    assert changed.programs > changed.cached  # the wider network's kernel is compiled afresh


def test_a_job_without_jax_compiles_nothing(tiny_run):
    timed = job_time(tiny_run / "logs/findings/tiny.log")
    assert (timed.compile, timed.programs, timed.cached) == (0.0, 0, 0)
    assert 0 < timed.imports <= timed.seconds

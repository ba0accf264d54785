"""The execution profiles: every setting explained, and GPU requests where the GPU profile says."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from snakemake_run import ROOT, TINY, make_checkout, snakemake

PROFILES = sorted(ROOT.glob("profiles/*/config.yaml"))
GPU_RULES = {
    "train_phase1",
    "train_children",
    "extract_ntk",
    "evaluate_phase1",
    "evaluate_children",
    "attacked_ntk",
    "infinite_ntk",
    "kernel_machines",
    "infinite_machine",
    "feature_pictures",
}
_RULE = re.compile(r"^(?:local)?rule (\w+):$")
_RESOURCES = re.compile(r"^\s+resources: (.*)$")


def test_the_three_profiles_exist():
    assert {path.parent.name for path in PROFILES} >= {"default", "slurm", "slurm-gpu"}


@pytest.mark.parametrize("path", PROFILES, ids=lambda path: path.parent.name)
def test_every_setting_is_commented(path):
    """Each top-level setting has a comment on its line or on the line above."""
    assert yaml.safe_load(path.read_text()), f"{path} sets nothing"
    lines = path.read_text().splitlines()
    for number, line in enumerate(lines):
        if re.match(r"^[a-z][\w-]*:", line):
            above = lines[number - 1] if number else ""
            assert "#" in line or above.startswith("#"), f"{path}: no comment for {line!r}"


def planned_resources(checkout: Path, *args: str) -> dict[str, list[dict[str, str]]]:
    """Rule -> the resources of each of its jobs in a dry run."""
    out = snakemake(checkout, "--dry-run", *args).stdout
    jobs: dict[str, list[dict[str, str]]] = {}
    rule = None
    for line in out.splitlines():
        if match := _RULE.match(line):
            rule = match.group(1)
        elif rule and (match := _RESOURCES.match(line)):
            pairs = (item.split("=", 1) for item in match.group(1).split(", "))
            jobs.setdefault(rule, []).append(dict(pairs))
            rule = None
    return jobs


@pytest.fixture(scope="module")
def checkout(tmp_path_factory):
    return make_checkout(tmp_path_factory.mktemp("profiles"), TINY)


def test_gpu_profile_puts_one_gpu_on_training_kernel_and_evaluation_jobs(checkout):
    jobs = planned_resources(checkout, "--profile", "profiles/slurm-gpu")
    assert GPU_RULES <= set(jobs)
    for rule, resources in jobs.items():
        for job in resources:
            if rule in GPU_RULES:
                assert (job.get("gpu"), job.get("slurm_partition")) == ("1", "gpu"), (rule, job)
            else:
                assert "gpu" not in job and "slurm_partition" not in job, (rule, job)


def test_cpu_profile_requests_no_gpu(checkout):
    jobs = planned_resources(checkout, "--profile", "profiles/slurm")
    assert GPU_RULES <= set(jobs)
    for rule, resources in jobs.items():
        for job in resources:
            assert "gpu" not in job, (rule, job)
            assert int(job["mem_mb"]) > 0 and int(job["runtime"]) > 0, (rule, job)

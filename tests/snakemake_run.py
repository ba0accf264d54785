"""Running the real workflow from tests: the tiny preset, Snakemake in a subprocess.

Each test run works in a fresh copy of the workflow (Snakefile, rules, scripts, profiles and the
package sources its rules list as code inputs) in a temporary folder, as a user works in a clone:
results, logs and Snakemake's metadata stay there, and a test may edit the copy's code. The jobs
import the installed package. JAX's compiled programs are shared between the test runs through
one persistent cache (the workflow keeps a cache directory set by its caller).
"""

from __future__ import annotations

import csv
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
import yaml

from ntk_evolution.configuration.scenarios import merge

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW_FILES = ("Snakefile", "workflow", "profiles", "envs", "src")
JAX_CACHE = Path(tempfile.gettempdir()) / "ntk-evolution-test-jax-cache"

# The smallest configuration that still exercises every rule (its comments say why), whole: the
# defaults with the preset's changes. Its results lie in results/tiny/.
DEFAULTS: dict[str, Any] = yaml.safe_load((ROOT / "workflow/config.default.yaml").read_text())
TINY: dict[str, Any] = merge(DEFAULTS, yaml.safe_load((ROOT / "presets/tiny.yaml").read_text()))


def write_config(checkout: Path, config: dict[str, Any], name: str = "config.yaml") -> Path:
    """Write ``config`` as YAML into ``checkout``; returns its path."""
    path = checkout / name
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def make_checkout(path: Path, config: dict[str, Any]) -> Path:
    """A copy of the workflow at ``path`` whose ``config.yaml`` is ``config``."""
    path.mkdir(parents=True, exist_ok=True)
    for name in WORKFLOW_FILES:
        source = ROOT / name
        if source.is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
            shutil.copytree(source, path / name, ignore=ignore, dirs_exist_ok=True)
        else:
            shutil.copy2(source, path / name)
    write_config(path, config)
    return path


def snakemake(
    checkout: Path,
    *args: str,
    configfile: str | None = None,
    check: bool = True,
    timeout: int | None = None,
    jax_cache: Path = JAX_CACHE,
) -> subprocess.CompletedProcess[str]:
    """Run Snakemake in ``checkout`` (with ``configfile`` on top of its config.yaml); the jobs
    share the compilation cache ``jax_cache`` (by default the suite's).

    With ``timeout`` (seconds), Snakemake is interrupted as by Ctrl-C when it runs longer (it
    ignores SIGTERM while jobs run), so that it cancels its jobs, and killed 30 s later.
    """
    env = {**os.environ, "JAX_COMPILATION_CACHE_DIR": str(jax_cache)}
    # Config files last: --configfile takes several values and would swallow a target.
    extra = ["--configfile", configfile] if configfile else []
    command = [sys.executable, "-m", "snakemake", "--cores", "2", *args, *extra]
    if timeout is not None:
        command = ["timeout", "-s", "INT", "-k", "30", str(timeout), *command]
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=checkout)
    if check and result.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed with exit code {result.returncode}:\n"
            f"{result.stdout[-6000:]}\n{result.stderr[-6000:]}"
        )
    return result


def run_printed(checkout: Path, command: str, *extra: str) -> subprocess.CompletedProcess[str]:
    """Run ``command`` as a user would (``uv run snakemake ...``, as printed or documented) in
    ``checkout`` with the Snakemake of this interpreter; ``extra`` options are appended."""
    words = shlex.split(command, comments=True)
    assert words[:3] == ["uv", "run", "snakemake"], command
    env = {**os.environ, "JAX_COMPILATION_CACHE_DIR": str(JAX_CACHE)}
    command_line = [sys.executable, "-m", "snakemake", *words[3:], *extra]
    return subprocess.run(command_line, capture_output=True, text=True, env=env, cwd=checkout)


def printed_command(text: str) -> str:
    """The last ``uv run snakemake`` command line in ``text`` (an error message or a log)."""
    commands = re.findall(r"^\s*(uv run snakemake .+)$", text, flags=re.MULTILINE)
    assert commands, f"no command in:\n{text}"
    return commands[-1]


Job = tuple[str, tuple[tuple[str, str], ...]]
_RULE = re.compile(r"^(?:local)?rule (\w+):$")
_WILDCARDS = re.compile(r"^\s+wildcards: (.*)$")


def planned_jobs(checkout: Path, *args: str, configfile: str | None = None) -> set[Job]:
    """The jobs a dry run plans, as ``(rule, ((wildcard, value), ...))`` pairs."""
    out = snakemake(checkout, "--dry-run", *args, configfile=configfile).stdout
    jobs: set[Job] = set()
    rule = None
    wildcards: tuple[tuple[str, str], ...] = ()
    for line in [*out.splitlines(), ""]:
        if match := _RULE.match(line):
            rule, wildcards = match.group(1), ()
        elif rule and (match := _WILDCARDS.match(line)):
            pairs = (item.split("=", 1) for item in match.group(1).split(", "))
            wildcards = tuple(sorted((k, v) for k, v in pairs))
        elif rule and not line.strip():
            jobs.add((rule, wildcards))
            rule = None
    return jobs


def rules_of(jobs: set[Job]) -> dict[str, int]:
    """How many planned jobs each rule has."""
    counts: dict[str, int] = {}
    for rule, _ in jobs:
        counts[rule] = counts.get(rule, 0) + 1
    return counts


# The jobs after the evaluation of any network: its table, figures, the findings and the
# scenario's folder of links.
AFTER_EVALUATION = {
    "gather_evaluation": 1,
    "figures": 1,
    "findings": 1,  # judges the accuracies
    "scenario": 1,
}


# Seconds taken are the only recorded values allowed to differ between two runs.
TIMINGS = {"seconds"}
RESULT_STORES = (  # below each job's key (SHARED)
    "results/shared/*/kernels/*/*/ntk.zarr",
    "results/shared/*/statistics/**/*.zarr",
    "results/shared/*/evaluation/*.zarr",
)


def result_files(checkout: Path, pattern: str) -> list[Path]:
    """The files matching ``pattern`` in ``checkout``, relative to it (at least one)."""
    files = sorted(p.relative_to(checkout) for p in checkout.glob(pattern))
    assert files, f"no {pattern} in {checkout}"
    return files


def assert_same_stores(first: Path, second: Path, pattern: str) -> None:
    """The zarr stores matching ``pattern`` hold bitwise identical data in both checkouts."""
    for path in result_files(first, pattern):
        a = xr.open_zarr(first / path).load()
        b = xr.open_zarr(second / path).load()
        xr.testing.assert_identical(a.drop_attrs(), b.drop_attrs())
        for name in a.data_vars:
            np.testing.assert_array_equal(a[name].values, b[name].values, strict=True)


def assert_same_checkpoints(first: Path, second: Path) -> None:
    """Every phase-1 and phase-2 checkpoint has bitwise identical parameters in both checkouts."""
    for path in result_files(first, "results/shared/*/phase*/**/*.npz"):
        with np.load(first / path) as a, np.load(second / path) as b:
            leaves = [k for k in a.files if k.startswith("leaf_")]
            assert leaves and leaves == [k for k in b.files if k.startswith("leaf_")]
            for key in leaves:
                np.testing.assert_array_equal(a[key], b[key], strict=True)


def read_table(path: Path) -> list[dict[str, str]]:
    """The rows of a CSV table without its timing columns."""
    with open(path, newline="") as f:
        return [{k: v for k, v in row.items() if k not in TIMINGS} for row in csv.DictReader(f)]


def assert_same_tables(first: Path, second: Path) -> None:
    """Every CSV table has the same rows in both checkouts (timings aside)."""
    for path in result_files(first, "results/**/*.csv"):
        assert read_table(first / path) == read_table(second / path), path


def assert_same_results(first: Path, second: Path) -> None:
    """Two runs made the same result files with the same contents."""
    assert result_files(first, "results/**/*.*") == result_files(second, "results/**/*.*")
    for pattern in RESULT_STORES:
        assert_same_stores(first, second, pattern)
    assert_same_checkpoints(first, second)
    assert_same_tables(first, second)


# The scenario layout (workflow/rules/common.smk): every job writes below results/shared/<key>/
# in a single run's layout, and results/<scenario>/ links to those results in the same layout.
# A run asks for a shared result with ``--until <path>``: the plan of the default target then
# knows every job's scenario.
SHARED = "results/shared"


def planned_key(
    checkout: Path, rule: str, *, configfile: str | None = None, **wildcards: str
) -> str:
    """The key of the one job of ``rule`` with ``wildcards`` (among its others) in the plan of
    every job of ``checkout`` (with ``configfile``): its results lie in results/shared/<key>/
    and its log and benchmark are named by it, whether or not it has run."""
    jobs = planned_jobs(checkout, "--forceall", configfile=configfile)
    keys = {
        dict(job)["key"]
        for name, job in jobs
        if name == rule and wildcards.items() <= dict(job).items()
    }
    assert len(keys) == 1, f"{len(keys)} keys of {rule} {wildcards}: {sorted(keys)}"
    return keys.pop()


def shared_path(checkout: Path, layout: str) -> Path:
    """The one result ``results/shared/*/<layout>`` (a glob pattern) in ``checkout``, relative
    to it."""
    found = sorted(p.relative_to(checkout) for p in checkout.glob(f"{SHARED}/*/{layout}"))
    assert len(found) == 1, f"{len(found)} {SHARED}/*/{layout} in {checkout}: {found}"
    return found[0]


def linked_path(checkout: Path, link: str) -> Path:
    """The shared result that a scenario's link ``link`` (``results/tiny/...``) points to,
    relative to ``checkout``."""
    path = checkout / link
    assert path.is_symlink(), f"{link} is no link in {checkout}"
    target = path.resolve().relative_to(checkout.resolve())
    assert target.parts[:2] == tuple(Path(SHARED).parts), f"{link} -> {target}"
    return target


# Two scenarios of the tiny preset: itself, and one that changes only an analysis setting.
TWO_SCENARIOS = {"tiny": {}, "topk": {"statistics": {"eigenspace": {"top_k": 4}}}}


def write_scenarios(checkout: Path, scenarios: dict[str, Any], base: dict[str, Any] = TINY) -> Path:
    """Give ``checkout`` the config ``base`` with the scenarios file ``scenarios.yaml``."""
    write_config(checkout, {**base, "scenarios": "scenarios.yaml"})
    (checkout / "scenarios.yaml").write_text(yaml.safe_dump(scenarios, sort_keys=False))
    return checkout


def scenario_checkout(path: Path, scenarios: dict[str, Any], base: dict[str, Any] = TINY) -> Path:
    """A copy of the workflow at ``path`` that runs ``scenarios`` on top of ``base``."""
    return write_scenarios(make_checkout(path, base), scenarios, base)

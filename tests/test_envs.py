"""The conda environment of `snakemake --sdm conda` installs what uv.lock locks."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
ENV = ROOT / "envs/ntk-evolution.yaml"
CUDA_ENV = ROOT / "envs/ntk-evolution-cuda.yaml"  # the GPU jobs' with `gpu: true`
POST_DEPLOY = ROOT / "envs/ntk-evolution.post-deploy.sh"  # each environment runs this one
# Snakemake and its executor plugins run the workflow; the jobs' environment does not need them.
OUTSIDE_JOBS = {"snakemake", "snakemake-executor-plugin-slurm"}
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
PIN = re.compile(rf"({NAME.pattern})==(\S+)")


def normalize(name: str) -> str:
    """A package name as registries compare them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def env_pins(env: Path = ENV) -> dict[str, str]:
    """Package -> version pinned by an environment file's pip section and its post-deploy script."""
    dependencies = yaml.safe_load(env.read_text())["dependencies"]
    pip = next(d["pip"] for d in dependencies if isinstance(d, dict))
    lines = [
        *pip,
        *(line for line in POST_DEPLOY.read_text().splitlines() if "pip install" in line),
    ]
    return {normalize(name): version for line in lines for name, version in PIN.findall(line)}


LOCK = {normalize(p["name"]): p for p in tomllib.loads((ROOT / "uv.lock").read_text())["package"]}


@pytest.mark.parametrize("env", [ENV, CUDA_ENV], ids=lambda env: env.name)
def test_pins_are_the_locked_versions(env):
    locked = {name: package.get("version") for name, package in LOCK.items()}
    pins = env_pins(env)
    wrong = {name: (pin, locked.get(name)) for name, pin in pins.items() if locked.get(name) != pin}
    assert not wrong, f"envs/ pin (pinned, locked) versions that differ from uv.lock: {wrong}"


@pytest.mark.parametrize("env", [ENV, CUDA_ENV], ids=lambda env: env.name)
def test_every_runtime_dependency_is_pinned(env):
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {normalize(NAME.match(d).group(0)) for d in project["dependencies"]}
    missing = names - OUTSIDE_JOBS - set(env_pins(env))
    assert not missing, (
        f"{env.name} does not pin these dependencies of pyproject.toml: {sorted(missing)}"
    )


def locked_closure(name: str, extras: tuple[str, ...] = ()) -> set[str]:
    """``name`` and every package uv.lock installs with it (and its ``extras``)."""
    package = LOCK[normalize(name)]
    wanted = list(package.get("dependencies", []))
    for extra in extras:
        wanted += package.get("optional-dependencies", {}).get(extra, [])
    found = {normalize(name)}
    for dependency in wanted:
        found |= locked_closure(dependency["name"], tuple(dependency.get("extra", ())))
    return found


def test_the_cuda_environment_pins_the_cuda_extra():
    """The GPU jobs' environment is the CPU one plus what the `cuda` extra adds, as locked."""
    [extra] = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]["cuda"]
    assert extra == "jax[cuda12]==0.5.3"
    added = locked_closure("jax", ("cuda12",)) - locked_closure("jax")
    assert added >= {"jax-cuda12-plugin", "jax-cuda12-pjrt", "nvidia-cudnn-cu12"}
    assert set(env_pins(CUDA_ENV)) == set(env_pins(ENV)) | added

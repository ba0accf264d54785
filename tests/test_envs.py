"""The conda environment of `snakemake --sdm conda` installs what uv.lock locks."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
ENV = ROOT / "envs/ntk-evolution.yaml"
POST_DEPLOY = ROOT / "envs/ntk-evolution.post-deploy.sh"
# Snakemake and its executor plugins run the workflow; the jobs' environment does not need them.
OUTSIDE_JOBS = {"snakemake", "snakemake-executor-plugin-slurm"}
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
PIN = re.compile(rf"({NAME.pattern})==(\S+)")


def normalize(name: str) -> str:
    """A package name as registries compare them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def env_pins() -> dict[str, str]:
    """Package -> version pinned by the environment file's pip section and its post-deploy script."""
    dependencies = yaml.safe_load(ENV.read_text())["dependencies"]
    pip = next(d["pip"] for d in dependencies if isinstance(d, dict))
    lines = [
        *pip,
        *(line for line in POST_DEPLOY.read_text().splitlines() if "pip install" in line),
    ]
    return {normalize(name): version for line in lines for name, version in PIN.findall(line)}


def test_pins_are_the_locked_versions():
    locked = {
        normalize(p["name"]): p.get("version")
        for p in tomllib.loads((ROOT / "uv.lock").read_text())["package"]
    }
    pins = env_pins()
    wrong = {name: (pin, locked.get(name)) for name, pin in pins.items() if locked.get(name) != pin}
    assert not wrong, f"envs/ pin (pinned, locked) versions that differ from uv.lock: {wrong}"


def test_every_runtime_dependency_is_pinned():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {normalize(NAME.match(d).group(0)) for d in project["dependencies"]}
    missing = names - OUTSIDE_JOBS - set(env_pins())
    assert not missing, (
        f"envs/ does not pin these dependencies of pyproject.toml: {sorted(missing)}"
    )

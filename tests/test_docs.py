"""The documentation's commands run as written, and the figures it quotes are the workflow's.

Every line of a ``bash`` block in README.md and docs/*.md is a command (``&&`` joins several);
each is run in a copy of the project, dry: Snakemake with ``--dry-run``, pytest with
``--collect-only``, a Python script or module that takes arguments with ``--help``, the rest
(lint, copying a profile) as written. A YAML block whose first line names a file
(``# scenarios/epsilon.yaml``) is written to that file first, and a small CIFAR-10 archive in
the published format stands in for the real one (a command that fetches an archive runs where
none is in place). Inline commands with placeholders (``<key>``,
``PRESET``) are templates, not commands, and are not run. Comments in the presets and config
files that point at a documentation file point at one that exists, and the job counts that
docs/performance.md quotes are those of a dry run.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from fake_cifar import fake_members, write_archive

from snakemake_run import ROOT

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PROJECT = ("Snakefile", "workflow", "profiles", "envs", "src", "presets", "scenarios", "benchmarks")
UV_RUN = re.compile(r"^uv run(?: --locked)?(?: --extra \S+)* ")
JOB_COUNT = re.compile(r"^total\s+(\d+)$", re.M)


def _blocks(language: str) -> list[tuple[str, str]]:
    """``(page, text)`` of every fenced block in ``language``."""
    fence = re.compile(rf"```{language}\n(.*?)```", re.S)
    return [(p.name, block) for p in PAGES for block in fence.findall(p.read_text())]


def documented_commands() -> list[str]:
    """Every command of the bash blocks, once each, comments and ``pip install uv`` dropped."""
    commands = []
    for _, block in _blocks("bash"):
        for line in block.splitlines():
            line = line.split("  #")[0].strip()
            for command in filter(None, (part.strip() for part in line.split(" && "))):
                if command != "pip install uv" and command not in commands:
                    commands.append(command)
    return commands


def dry(command: str) -> list[str] | None:
    """The dry form of ``command`` as arguments, or None for an environment assignment."""
    if command.startswith("export "):
        return None
    words = shlex.split(UV_RUN.sub("", command))
    tool, args = words[0], words[1:]
    if tool == "snakemake" and "--lint" not in args:  # a report needs a finished run
        args = [a for a in args if a not in ("--report", "report.html", "--report-after-run")]
        return [sys.executable, "-m", "snakemake", *args, "--dry-run"]
    if tool == "pytest":
        return [sys.executable, "-m", "pytest", *args, "--collect-only", "-q"]
    if tool == "python" and args[0] == "-m":  # a module: as written if it is given settings
        given = any("=" in a for a in args[2:])
        return [sys.executable, *args] if given else [sys.executable, *args[:2], "--help"]
    if tool == "python":  # a script: its arguments parse
        return [sys.executable, args[0], "--help"]
    if tool in ("ruff", "snakefmt", "snakemake"):
        return [str(Path(sys.executable).parent / tool), *args]
    if tool == "cp":
        return words
    raise AssertionError(f"no dry form for the documented command {command!r}")


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A copy of the project with the documented YAML files and a CIFAR-10 archive."""
    path = tmp_path_factory.mktemp("documented")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in PROJECT:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, path / name, ignore=ignore)
        else:
            shutil.copy2(source, path / name)
    for name in ("config.yaml", "pyproject.toml"):
        shutil.copy2(ROOT / name, path / name)
    for _, block in _blocks("yaml"):
        first = block.splitlines()[0]
        if first.startswith("# ") and first.endswith((".yaml", ".yml")):
            target = path / first[2:].strip()
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(block)
    return path


@pytest.fixture(scope="module")
def with_archive(project, tmp_path_factory) -> Path:
    """The project with a CIFAR-10 archive in place, as a CIFAR preset needs."""
    path = tmp_path_factory.mktemp("with-archive") / "project"
    shutil.copytree(project, path)
    write_archive(path / "data", "cifar10", fake_members("cifar10"))
    return path


def run(project: Path, command: str) -> str:
    """Run ``command``'s dry form in ``project`` (pytest in the repository itself)."""
    args = dry(command)
    if args is None:
        return ""
    cwd = ROOT if args[1:3] == ["-m", "pytest"] else project
    env = {**os.environ, "SNAKEMAKE_OUTPUT_CACHE": str(project / "output-cache")}
    (project / "output-cache").mkdir(exist_ok=True)
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, (
        f"{command!r} failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
    )
    return result.stdout


def test_the_documentation_has_commands():
    commands = documented_commands()
    assert any(c.startswith("uv run --locked snakemake --cores all --report") for c in commands)
    assert all(dry(c) is not None or c.startswith("export ") for c in commands)


@pytest.mark.parametrize("command", documented_commands())
def test_a_documented_command_runs_as_written(project, with_archive, command):
    fetches = re.search(r"data/\S+\.tar\.gz", command)  # an archive in place is never fetched
    run(project if fetches else with_archive, command)


def quoted_job_counts() -> dict[str, int]:
    """docs/performance.md's table of job counts: configuration file (or ``default``) -> jobs."""
    text = (ROOT / "docs" / "performance.md").read_text()
    rows = re.findall(
        r"^\| `([^`]+)` \| (\d+) \|", text.split("## Jobs per configuration")[1], re.M
    )
    return {name: int(jobs) for name, jobs in rows}


def test_the_quoted_job_counts_are_a_dry_runs(with_archive):
    quoted = quoted_job_counts()
    assert {"config.yaml", "presets/tiny.yaml"} <= set(quoted)
    for name, jobs in quoted.items():
        extra = [] if name == "config.yaml" else ["--configfile", name]
        result = subprocess.run(
            [sys.executable, "-m", "snakemake", "--dry-run", "--forceall", *extra],
            cwd=with_archive,
            capture_output=True,
            text=True,
            timeout=600,
        )
        counted = JOB_COUNT.findall(result.stdout)
        assert counted, result.stdout[-2000:] + result.stderr[-2000:]
        assert int(counted[-1]) == jobs, f"{name}: {counted[-1]} jobs planned, {jobs} quoted"


DOC_PATH = re.compile(
    r"\b((?:docs|benchmarks|presets|scenarios|workflow)/[\w./-]+\.(?:md|py|yaml))"
)


@pytest.mark.parametrize(
    "path",
    [
        "config.yaml",
        "workflow/config.default.yaml",
        *(f"presets/{p.name}" for p in sorted((ROOT / "presets").glob("*.yaml"))),
    ],
)
def test_every_file_a_config_comment_points_at_exists(path):
    comments = [
        line.split("#", 1)[1] for line in (ROOT / path).read_text().splitlines() if "#" in line
    ]
    named = {m for comment in comments for m in DOC_PATH.findall(comment)}
    missing = sorted(name for name in named if not (ROOT / name).exists())
    assert not missing, f"{path} points at {missing}"
    yaml.safe_load((ROOT / path).read_text())

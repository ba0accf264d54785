"""Incremental reruns: after a full run, each kind of change plans exactly the jobs it touches."""

from __future__ import annotations

import ast
import copy
import re
import shutil
from collections.abc import Callable
from contextlib import contextmanager
from importlib.util import resolve_name
from pathlib import Path
from typing import Any

import pytest

from snakemake_run import (
    AFTER_EVALUATION,
    TINY,
    Job,
    planned_jobs,
    rules_of,
    snakemake,
    write_config,
)

PACKAGE = "ntk_evolution"


def changed(edit: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    config = copy.deepcopy(TINY)
    edit(config)
    return config


def plan(checkout, config) -> set[Job]:
    write_config(checkout, config, "changed.yaml")
    return planned_jobs(checkout, configfile="changed.yaml")


def wildcard_values(jobs: set[Job], name: str) -> set[str]:
    return {dict(wildcards)[name] for _, wildcards in jobs if name in dict(wildcards)}


def set_top_k(config):
    config["statistics"]["spectrum"]["top_k"] = 5


def uncenter(config):
    config["statistics"]["alignment"]["centered"] = False


def add_seed(config):
    config["phase1"]["seeds"] = [0, 1, 2]


def phase2_learning_rate(config):
    config["phase2"]["optimizer"]["learning_rate"] = 0.02


def phase2_attack(config):
    config["phase2"]["attack"]["steps"] = 3


def evaluation_attack(config):
    config["evaluation"]["attacks"]["pgd_linf"]["steps"] = 4


def eigenspace_top_k(config):
    config["statistics"]["eigenspace"]["top_k"] = 2


def attacked_epochs(config):
    config["attacked"]["epochs"] = [2]


def machine_ridge(config):
    config["machines"]["ridge"] = 0.01


def picture_steps(config):
    config["pictures"]["steps"] = 4


def findings_threshold(config):
    config["findings"]["distance_ratio"] = 2.0


def test_nothing_changed_plans_nothing(tiny_run):
    assert planned_jobs(tiny_run) == set()
    assert plan(tiny_run, TINY) == set()


def test_a_moved_checkout_plans_nothing(tiny_run, tmp_path):
    """Results stay valid when the checkout moves (a copy, a renamed folder, a cluster path)."""
    moved = tmp_path / "moved"
    shutil.copytree(tiny_run, moved, symlinks=True)
    assert planned_jobs(moved) == set()


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (set_top_k, {"kernel_spectrum": 4, "figures": 1, "scenario": 1, "all": 1}),
        (uncenter, {"kernel_alignment": 4, "figures": 1, "scenario": 1, "all": 1}),
        (
            eigenspace_top_k,
            {  # the findings read the pair distances' store, which holds the overlaps too
                "kernel_eigenspace": 4,
                "kernel_pair_distances": 1,
                "figures": 1,
                "findings": 1,
                "scenario": 1,
                "all": 1,
            },
        ),
        (findings_threshold, {"findings": 1, "scenario": 1, "all": 1}),
        (
            machine_ridge,
            {"kernel_machines": 4, "infinite_machine": 1, "figures": 1, "scenario": 1, "all": 1},
        ),
        (attacked_epochs, {"attacked_ntk": 4, "figures": 1, "scenario": 1, "all": 1}),
        (picture_steps, {"feature_pictures": 1, "figures": 1, "scenario": 1, "all": 1}),
        (
            phase2_learning_rate,
            {"train_children": 4, "evaluate_children": 4, **AFTER_EVALUATION, "all": 1},
        ),
        (
            phase2_attack,  # only adversarial children use it, but they share jobs with benign ones
            {"train_children": 4, "evaluate_children": 4, **AFTER_EVALUATION, "all": 1},
        ),
        (
            evaluation_attack,  # the machines are judged by it, on the parent's images too
            {
                "evaluate_phase1": 4,
                "evaluate_children": 4,
                "kernel_machines": 4,
                "infinite_machine": 1,
                **AFTER_EVALUATION,
                "all": 1,
            },
        ),
    ],
    ids=lambda value: getattr(value, "__name__", ""),
)
def test_a_setting_reruns_only_what_uses_it(tiny_run, edit, expected):
    assert rules_of(plan(tiny_run, changed(edit))) == expected


def test_a_new_seed_runs_only_that_seed_and_what_gathers_it(tiny_run):
    jobs = plan(tiny_run, changed(add_seed))
    assert rules_of(jobs) == {
        "train_phase1": 2,
        "extract_ntk": 2,
        "kernel_evolution": 2,
        "kernel_spectrum": 2,
        "kernel_alignment": 2,
        "kernel_eigenspace": 2,
        "attacked_ntk": 2,
        "train_children": 2,
        "evaluate_phase1": 2,
        "evaluate_children": 2,
        "kernel_machines": 2,  # the pictures are of the first seed only
        "kernel_pair_distances": 1,
        **AFTER_EVALUATION,
        "all": 1,
    }
    assert wildcard_values(jobs, "seed") == {"2"}


@contextmanager
def edited(modules: list[Path]):
    """``modules`` with a comment appended (an edit that changes no behaviour), then restored."""
    originals = {module: module.read_bytes() for module in modules}
    for module, original in originals.items():
        module.write_bytes(original + b"\n# edited\n")
    try:
        yield
    finally:
        for module, original in originals.items():
            module.write_bytes(original)


# The package modules each rule's script reaches, found here with a walk of our own over the
# sources: every ``import`` and ``from ... import`` naming a package module, anywhere in a
# module, relative ones included, with the packages above each module.


def package_index(package: Path) -> dict[str, Path]:
    """Every module of ``package`` (a folder) by dotted name."""
    index = {}
    for path in package.rglob("*.py"):
        parts = path.relative_to(package.parent).with_suffix("").parts
        index[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return index


def direct_imports(path: Path, name: str, index: dict[str, Path]) -> set[str]:
    """The package modules the source at ``path`` (module ``name``; "" for a script) imports."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = resolve_name("." * node.level + (node.module or ""), package)
            targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        else:
            continue
        for target in targets:
            parts = target.split(".")
            found |= {".".join(parts[:end]) for end in range(1, len(parts) + 1)} & index.keys()
    return found


def reached_modules(script: Path, index: dict[str, Path]) -> set[Path]:
    """The sources of every package module ``script`` imports, directly or through others."""
    seen: set[str] = set()
    pending = direct_imports(script, "", index)
    while pending:
        name = pending.pop()
        seen.add(name)
        pending |= direct_imports(index[name], name, index) - seen
    return {index[name] for name in seen}


def job_files(checkout: Path) -> dict[Job, tuple[list[str], list[str]]]:
    """Inputs and outputs of every job of the workflow, from a dry run that forces them all."""
    out = snakemake(checkout, "--dry-run", "--forceall").stdout
    jobs, files = {}, {}
    for line in [*out.splitlines(), ""]:
        if match := re.match(r"^(?:local)?rule (\w+):$", line):
            rule, wildcards, files = match.group(1), (), {"input": [], "output": []}
        elif match := re.match(r"^    (input|output|wildcards): (.*)$", line):
            key, values = match.group(1), match.group(2).split(", ")
            if key == "wildcards":
                wildcards = tuple(sorted(tuple(v.split("=", 1)) for v in values))
            else:
                files[key] = values
        elif not line.strip() and files:
            jobs[(rule, wildcards)] = (files["input"], files["output"])
            files = {}
    return jobs


def downstream(jobs: dict[Job, tuple[list[str], list[str]]], start: set[Job]) -> set[Job]:
    """``start`` and every job that reads, directly or not, what one of them writes."""
    found, pending = set(), set(start)
    while pending:
        job = pending.pop()
        found.add(job)
        outputs = set(jobs[job][1])
        pending |= {other for other, (inputs, _) in jobs.items() if outputs & set(inputs)} - found
    return found


@pytest.fixture(scope="module")
def every_job(tiny_run) -> dict[Job, tuple[list[str], list[str]]]:
    return job_files(tiny_run)


def test_every_module_is_an_input_of_exactly_the_rules_whose_script_reaches_it(tiny_run, every_job):
    index = package_index(tiny_run / "src" / PACKAGE)
    for (rule, _), (inputs, _) in every_job.items():
        script = tiny_run / "workflow" / "scripts" / f"{rule}.py"
        expected = set() if rule == "all" else reached_modules(script, index)
        code = {tiny_run / path for path in inputs if path.startswith(f"src/{PACKAGE}/")}
        assert code == expected, rule


def test_editing_a_module_reruns_the_jobs_that_run_it_and_what_follows(tiny_run, every_job):
    """Each module edited (with the others that plan the same jobs) replans exactly the jobs of
    the rules whose scripts reach it, and every job downstream of them."""
    index = package_index(tiny_run / "src" / PACKAGE)
    scripts = tiny_run / "workflow" / "scripts"
    reaching = {
        rule: reached_modules(scripts / f"{rule}.py", index)
        for rule, _ in every_job
        if rule != "all"
    }
    by_plan: dict[frozenset[Job], list[Path]] = {}
    for module in sorted(index.values()):
        runs_it = {job for job in every_job if module in reaching.get(job[0], set())}
        by_plan.setdefault(frozenset(downstream(every_job, runs_it)), []).append(module)
    for expected, modules in by_plan.items():
        with edited(modules):
            assert planned_jobs(tiny_run) == expected, [m.name for m in modules]
    assert planned_jobs(tiny_run) == set()

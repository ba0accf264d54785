"""Incremental reruns: after a full run, each kind of change plans exactly the jobs it touches."""

from __future__ import annotations

import copy
import shutil
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from snakemake_run import TINY, Job, planned_jobs, rules_of, write_config

RUNS = [("benign", "0"), ("benign", "1"), ("adversarial", "0"), ("adversarial", "1")]
FIGURES_OF_RUNS = {  # figures that stack every run (the distance matrix: one per regime)
    "plot_distance_curves": 1,
    "plot_spectrum": 1,
    "plot_alignment": 1,
    "plot_training_curves": 1,
    "plot_pair_distance": 1,
    "plot_distance_matrix": 2,
}
AFTER_EVALUATION = {
    "gather_evaluation": 1,
    "plot_accuracy_vs_spawn": 1,
    "fixed_kernel_table": 1,
    "plot_robustness_vs_epsilon": 1,
    "findings": 1,  # judges the accuracies
}


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
        (set_top_k, {"kernel_spectrum": 4, "plot_spectrum": 1, "all": 1}),
        (uncenter, {"kernel_alignment": 4, "plot_alignment": 1, "all": 1}),
        (findings_threshold, {"findings": 1, "all": 1}),
        (
            phase2_learning_rate,
            {"train_children": 4, "evaluate_children": 4, **AFTER_EVALUATION, "all": 1},
        ),
        (
            phase2_attack,  # only adversarial children use it, but they share jobs with benign ones
            {"train_children": 4, "evaluate_children": 4, **AFTER_EVALUATION, "all": 1},
        ),
        (
            evaluation_attack,
            {"evaluate_phase1": 4, "evaluate_children": 4, **AFTER_EVALUATION, "all": 1},
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
        "extract_ntk": 2 * 3,
        "gather_kernels": 2,
        "kernel_evolution": 2,
        "kernel_spectrum": 2,
        "kernel_alignment": 2,
        "train_children": 2,
        "evaluate_phase1": 2,
        "evaluate_children": 2,
        "kernel_pair_distances": 1,
        **FIGURES_OF_RUNS,
        **AFTER_EVALUATION,
        "all": 1,
    }
    assert wildcard_values(jobs, "seed") == {"2"}


@contextmanager
def edited(module: Path):
    """``module`` with a comment appended (as an edit that changes no behaviour), then restored."""
    original = module.read_bytes()
    module.write_bytes(original + b"\n# edited\n")
    try:
        yield
    finally:
        module.write_bytes(original)


def test_editing_one_figure_reruns_only_that_figure(tiny_run):
    with edited(tiny_run / "src/ntk_evolution/figures/spectrum.py"):
        assert rules_of(planned_jobs(tiny_run)) == {"plot_spectrum": 1, "all": 1}
    assert planned_jobs(tiny_run) == set()


def test_editing_the_statistics_reruns_statistics_and_their_figures(tiny_run):
    with edited(tiny_run / "src/ntk_evolution/statistics.py"):
        assert rules_of(planned_jobs(tiny_run)) == {
            "kernel_evolution": 4,
            "kernel_spectrum": 4,
            "kernel_alignment": 4,
            "kernel_pair_distances": 1,
            **{k: v for k, v in FIGURES_OF_RUNS.items() if k != "plot_training_curves"},
            "findings": 1,  # judges the distances
            "all": 1,
        }
    assert planned_jobs(tiny_run) == set()

"""The experiment's identity: runs, checkpoint epochs, children and pairs of runs, their paths,
and what a workflow job is about."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from snakemake.iocontainers import Namedlist

from ntk_evolution.configuration.experiment import (
    Child,
    JobSubject,
    Run,
    RunPair,
    epoch_label,
    run_pairs,
)
from ntk_evolution.configuration.settings import Phase1Settings, Phase2Settings

from snakemake_run import TINY


def phase1(**changes) -> Phase1Settings:
    """The tiny preset's phase-1 settings with ``changes``."""
    return Phase1Settings.model_validate({**TINY["phase1"], **changes})


THREE_BY_THREE = phase1(regimes=["benign", "adversarial", "flip"], seeds=[0, 1, 2])


@pytest.mark.parametrize(
    ("epochs", "every", "fractional", "expected"),
    [
        (3, 1, [0.5, 0.25], [0, 0.25, 0.5, 1, 2, 3]),
        (5, 2, [], [0, 2, 4, 5]),
        (4, 2, [], [0, 2, 4]),
        (3, 10, [0.125], [0, 0.125, 3]),
        (
            2,
            1,
            [1.5, 1.0, 0.5],
            [0, 0.5, 1, 1.5, 2],
        ),  # a fractional epoch may repeat an integer one
    ],
)
def test_checkpoint_epochs(epochs, every, fractional, expected):
    checkpoints = {"every": every, "fractional": fractional}
    got = phase1(epochs=epochs, checkpoints=checkpoints).checkpoint_epochs
    assert got == expected
    assert all(type(e) is float for e in got)


@pytest.mark.parametrize(
    ("epoch", "label"),
    [(3.0, "3"), (3, "3"), (0, "0"), (0.125, "0.125"), (0.5, "0.5"), (12.0, "12"), (2.25, "2.25")],
)
def test_epoch_label(epoch, label):
    assert epoch_label(epoch) == label


def test_epoch_labels_of_a_schedule_are_distinct():
    checkpoints = {"every": 1, "fractional": [0.125, 0.25, 0.5]}
    epochs = phase1(epochs=30, checkpoints=checkpoints).checkpoint_epochs
    labels = [epoch_label(e) for e in epochs]
    assert len(set(labels)) == len(labels)
    assert [float(s) for s in labels] == epochs


def test_run_names_and_paths():
    run = Run("adversarial", 2)
    assert run.name == "adversarial-s2"
    assert run.path == "adversarial/seed2"


def test_phase1_runs():
    runs = THREE_BY_THREE.runs
    assert len(runs) == 9
    assert set(runs) == {Run(r, s) for r in ("benign", "adversarial", "flip") for s in (0, 1, 2)}


def test_run_pairs():
    runs = THREE_BY_THREE.runs
    pairs = run_pairs(runs)
    assert run_pairs(reversed(runs)) == pairs  # independent of the order of the runs
    assert len(pairs) == len(runs) * (len(runs) - 1) // 2  # every two runs, once
    kinds = [pair.kind for pair in pairs]
    # Two regimes: 3 runs of the same seed, 6 across seeds; one regime: 3 seed pairs.
    for comparison in ("benign vs adversarial", "benign vs flip", "adversarial vs flip"):
        assert kinds.count(f"{comparison} (same seed)") == 3
        assert kinds.count(f"{comparison} (across seeds)") == 6
    for regime in ("benign", "adversarial", "flip"):
        assert kinds.count(f"{regime} vs {regime} (yardstick)") == 3
    # The earlier regime comes first; within a regime, the lower seed.
    assert RunPair(Run("benign", 1), Run("adversarial", 0)) in pairs
    assert RunPair(Run("adversarial", 0), Run("benign", 1)) not in pairs
    assert RunPair(Run("flip", 0), Run("flip", 2)) in pairs
    # Comparisons come before the yardsticks.
    assert [pair.yardstick for pair in pairs] == sorted(pair.yardstick for pair in pairs)


def test_run_pair_labels():
    same = RunPair(Run("benign", 0), Run("adversarial", 0))
    across = RunPair(Run("benign", 0), Run("adversarial", 1))
    yardstick = RunPair(Run("benign", 0), Run("benign", 1))
    assert (same.seeds, across.seeds, yardstick.seeds) == ("same", "across", "across")
    assert same.kind == "benign vs adversarial (same seed)"
    assert across.kind == "benign vs adversarial (across seeds)"
    assert yardstick.kind == "benign vs benign (yardstick)"
    assert not same.yardstick and not across.yardstick and yardstick.yardstick
    assert across.name == "benign-s0 vs adversarial-s1"


def test_run_pairs_of_one_run():
    assert run_pairs([Run("benign", 0)]) == []


def test_child_path():
    child = Child(Run("adversarial", 1), 0.5, "centered", "adversarial")
    assert child.path == "adversarial/seed1/spawn0.5/centered/adversarial"


@pytest.mark.parametrize(
    "path",
    [
        "results/kernels/adversarial/seed12/epoch0.5.zarr",
        "results/statistics/adversarial/seed12/spectrum.zarr",
        "/home/me/seed3/checkout/results/phase1/adversarial/seed12/history.csv",
    ],
)
def test_a_result_path_names_its_run(path):
    assert Run.from_path(path) == Run("adversarial", 12)


def test_a_path_without_a_run_is_refused():
    with pytest.raises(ValueError, match="names no run"):
        Run.from_path("results/statistics/pair_distances.zarr")


def test_a_child_is_read_back_from_its_path():
    child = Child(Run("benign", 1), 0.125, "linearized", "adversarial")
    path = f"results/phase2/{child.path}/params.npz"
    assert Child.from_path(path) == child
    assert Child.from_path(path).phase2_regime == "adversarial"


def test_child_kinds_follow_the_config_order():
    order = {"dynamics": ["standard", "linearized"], "regimes": ["adversarial", "benign"]}
    phase2 = Phase2Settings.model_validate({**TINY["phase2"], **order})
    assert phase2.child_kinds == [
        ("standard", "adversarial"),
        ("standard", "benign"),
        ("linearized", "adversarial"),
        ("linearized", "benign"),
    ]


def job(wildcards=None, input=None, output=None):
    """A stand-in for the ``snakemake`` object of a script."""
    return SimpleNamespace(
        wildcards=SimpleNamespace(**(wildcards or {})),
        input=Namedlist(fromdict=input or {}),
        output=Namedlist(fromdict=output or {}),
    )


def test_a_job_subject_is_read_from_wildcards_and_paths():
    subject = JobSubject(job(wildcards={"regime": "flip", "seed": "2"}))
    assert subject.run == Run("flip", 2)
    runs = ["results/statistics/benign/seed1/evolution.zarr", "results/x/flip/seed0/y.zarr"]
    assert JobSubject(job(input={"runs": runs})).runs == [Run("benign", 1), Run("flip", 0)]


def test_a_job_reads_its_children_from_their_files_in_their_order():
    paths = [
        "results/phase2/benign/seed0/spawn2/standard/adversarial/params.npz",
        "results/phase2/benign/seed0/spawn2/linearized/benign/params.npz",
    ]
    expected = [
        Child(Run("benign", 0), 2.0, "standard", "adversarial"),
        Child(Run("benign", 0), 2.0, "linearized", "benign"),
    ]
    trains = job(output={"children": paths, "histories": []})
    evaluates = job(input={"children": paths})
    assert JobSubject(trains).children == JobSubject(evaluates).children == expected

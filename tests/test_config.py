"""Config helpers: checkpoint schedules, runs and their pairs, cross-value checks."""

from __future__ import annotations

import copy

import pytest

from ntk_evolution.config import (
    Child,
    ConfigError,
    Run,
    check_config,
    checkpoint_epochs,
    epoch_label,
    phase1_runs,
    run_pairs,
)

VALID = {
    "dataset": {"name": "digits", "url": None},
    "phase1": {
        "epochs": 4,
        "regimes": ["benign", "adversarial", "flip"],
        "seeds": [0, 1, 2],
        "flip_epoch": 2,
        "batch_size": 32,
        "optimizer": {"learning_rate": 0.05, "momentum": 0.9},
        "attack": {"epsilon": 0.1, "step_size": 0.025, "steps": 8, "random_start": True},
        "adversarial_mix": "pure",
        "checkpoints": {"every": 1, "fractional": [0.25, 0.5]},
    },
    "phase2": {
        "spawn_epochs": [0, 0.5, 3],
        "dynamics": ["linearized", "centered"],
        "regimes": ["benign", "adversarial"],
        "attack": {"epsilon": 0.1, "step_size": 0.025, "steps": 8, "random_start": True},
    },
    "evaluation": {
        "attacks": {
            "pgd_linf": {"epsilon": 0.1, "step_size": 0.002, "steps": 100, "random_start": True}
        }
    },
}


def config_with(section_name="phase1", **changes):
    """A copy of the valid config with keys of one section replaced (``__`` reaches one level in)."""
    config = copy.deepcopy(VALID)
    for key, value in changes.items():
        section = config[section_name]
        *parents, leaf = key.split("__")
        for parent in parents:
            section = section[parent]
        section[leaf] = value
    return config


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
    phase1 = {"epochs": epochs, "checkpoints": {"every": every, "fractional": fractional}}
    got = checkpoint_epochs(phase1)
    assert got == expected
    assert all(type(e) is float for e in got)


def test_checkpoint_epochs_without_fractional():
    assert checkpoint_epochs({"epochs": 2, "checkpoints": {"every": 1}}) == [0, 1, 2]


@pytest.mark.parametrize(
    ("epoch", "label"),
    [(3.0, "3"), (3, "3"), (0, "0"), (0.125, "0.125"), (0.5, "0.5"), (12.0, "12"), (2.25, "2.25")],
)
def test_epoch_label(epoch, label):
    assert epoch_label(epoch) == label


def test_epoch_labels_of_a_schedule_are_distinct():
    epochs = checkpoint_epochs(
        {"epochs": 30, "checkpoints": {"every": 1, "fractional": [0.125, 0.25, 0.5]}}
    )
    labels = [epoch_label(e) for e in epochs]
    assert len(set(labels)) == len(labels)
    assert [float(s) for s in labels] == epochs


def test_run_names_and_paths():
    run = Run("adversarial", 2)
    assert run.name == "adversarial-s2"
    assert run.path == "adversarial/seed2"


def test_phase1_runs():
    runs = phase1_runs(VALID)
    assert len(runs) == 9
    assert set(runs) == {Run(r, s) for r in ("benign", "adversarial", "flip") for s in (0, 1, 2)}


def test_run_pairs():
    runs = phase1_runs(VALID)
    b = {s: Run("benign", s) for s in range(3)}
    expected = (
        [("benign vs adversarial", b[s], Run("adversarial", s)) for s in range(3)]
        + [("benign vs flip", b[s], Run("flip", s)) for s in range(3)]
        + [
            ("benign vs benign", b[0], b[1]),
            ("benign vs benign", b[0], b[2]),
            ("benign vs benign", b[1], b[2]),
        ]
    )
    pairs = run_pairs(runs)
    assert len(pairs) == len(expected)
    assert set(pairs) == set(expected)
    assert run_pairs(reversed(runs)) == pairs  # independent of the order of the runs


def test_run_pairs_without_a_benign_partner():
    runs = [Run("benign", 0), Run("flip", 0), Run("flip", 1)]
    assert run_pairs(runs) == [("benign vs flip", Run("benign", 0), Run("flip", 0))]


def test_valid_config_passes():
    check_config(VALID)


def test_flip_epoch_is_not_checked_without_flip():
    config = config_with(regimes=["benign", "adversarial"], flip_epoch=99)
    check_config(config)


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"checkpoints__fractional": [0.5, 4.5]}, "phase1.checkpoints.fractional"),
        ({"flip_epoch": 4}, "phase1.flip_epoch"),
        ({"flip_epoch": 0}, "phase1.flip_epoch"),
        ({"flip_epoch": -1}, "phase1.flip_epoch"),
        ({"attack__steps": 3}, "phase1.attack"),  # 3 x 0.025 < 0.1
        ({"attack__step_size": 0.01}, "phase1.attack"),  # 8 x 0.01 < 0.1
        ({"seeds": [0, 1, 0]}, "phase1.seeds"),
    ],
    ids=[
        "fractional-past-end",
        "flip-at-end",
        "flip-at-start",
        "flip-negative",
        "pgd-too-few-steps",
        "pgd-too-small-steps",
        "duplicate-seeds",
    ],
)
def test_inconsistent_config(changes, key):
    with pytest.raises(ConfigError) as info:
        check_config(config_with(**changes))
    assert key in str(info.value)


@pytest.mark.parametrize(
    ("section", "changes", "key"),
    [
        ("phase2", {"spawn_epochs": [0, 0.75]}, "phase2.spawn_epochs [0.75]"),
        ("phase2", {"attack__steps": 2}, "phase2.attack"),
        (
            "evaluation",
            {"attacks__pgd_linf": {"epsilon": 0.1, "step_size": 0.001, "steps": 10}},
            "evaluation.attacks.pgd_linf",
        ),
    ],
    ids=["spawn-not-a-checkpoint", "phase2-pgd-too-short", "evaluation-pgd-too-short"],
)
def test_inconsistent_phase2_and_evaluation(section, changes, key):
    with pytest.raises(ConfigError) as info:
        check_config(config_with(section, **changes))
    assert key in str(info.value)


def test_child_path():
    child = Child(Run("adversarial", 1), 0.5, "centered", "adversarial")
    assert child.path == "adversarial/seed1/spawn0.5/centered/adversarial"


def test_fractional_at_the_last_epoch_is_allowed():
    check_config(config_with(checkpoints__fractional=[0.5, 4.0]))


def test_pgd_reaching_epsilon_exactly_is_allowed():
    check_config(config_with(attack__steps=4, attack__step_size=0.025))  # 4 x 0.025 = 0.1


def test_download_url_for_a_shipped_dataset_is_refused():
    config = config_with("dataset", url="file:///tmp/digits.tar.gz")
    with pytest.raises(ConfigError, match=r"dataset.url is set.*set dataset.url: null"):
        check_config(config)
    check_config(config_with("dataset", name="cifar10", url="file:///tmp/cifar.tar.gz"))

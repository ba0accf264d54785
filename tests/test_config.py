"""Config reading and validation: the schema, cross-value checks, how config files combine."""

from __future__ import annotations

import copy
import re

import pytest
from snakemake.utils import update_config

from ntk_evolution.configuration import config as checks
from ntk_evolution.configuration.config import (
    DATASET_SIZES,
    ConfigError,
    replace_named_tables,
    split_sizes,
)
from ntk_evolution.configuration.settings import Config, PgdAttack

from snakemake_run import ROOT, TINY

SCHEMA = ROOT / "workflow/schemas/config.schema.yaml"

LINF = {"norm": "linf", "random_start": True}
# Every phase-1 regime: the tiny preset has no flip regime, whose flip_epoch is checked.
FLIP = ["benign", "adversarial", "flip"]


def check_config(config: dict) -> None:
    """The whole validation: the schema, the typed description, the cross-value checks."""
    checks.validate_config(config, SCHEMA)


def config_with(section_name="phase1", **changes):
    """A copy of the tiny preset with keys of one section replaced (``__`` reaches one level in)."""
    config = copy.deepcopy(TINY)
    for key, value in changes.items():
        section = config[section_name]
        *parents, leaf = key.split("__")
        for parent in parents:
            section = section[parent]
        section[leaf] = value
    return config


def test_findings_attack_must_be_an_evaluation_attack():
    config = config_with("findings", attack="pgd_l1")
    with pytest.raises(ConfigError, match=r"findings\.attack = 'pgd_l1'.*pgd_l2', 'pgd_linf'"):
        check_config(config)


def test_valid_config_passes():
    check_config(TINY)
    check_config(config_with(regimes=FLIP))


def test_flip_epoch_is_not_checked_without_flip():
    config = config_with(regimes=["benign", "adversarial"], flip_epoch=99)
    check_config(config)


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        pytest.param(
            {"checkpoints__fractional": [0.5, 2.5]},
            "phase1.checkpoints.fractional",
            id="fractional-past-end",
        ),
        pytest.param({"regimes": FLIP, "flip_epoch": 2}, "phase1.flip_epoch", id="flip-at-end"),
        pytest.param({"regimes": FLIP, "flip_epoch": 0}, "phase1.flip_epoch", id="flip-at-start"),
        pytest.param({"regimes": FLIP, "flip_epoch": -1}, "phase1.flip_epoch", id="flip-negative"),
        # 1 x 0.05 < 0.1 and 2 x 0.04 < 0.1: PGD cannot reach epsilon
        pytest.param({"attack__steps": 1}, "phase1.attack", id="pgd-too-few-steps"),
        pytest.param({"attack__step_size": 0.04}, "phase1.attack", id="pgd-too-small-steps"),
        pytest.param({"seeds": [0, 1, 0]}, "phase1.seeds", id="duplicate-seeds"),
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
        ("phase2", {"attack__steps": 1}, "phase2.attack"),
        (
            "evaluation",
            {"attacks__pgd_linf": {**LINF, "epsilon": 0.1, "step_size": 0.001, "steps": 10}},
            "evaluation.attacks.pgd_linf",
        ),
    ],
    ids=["spawn-not-a-checkpoint", "phase2-pgd-too-short", "evaluation-pgd-too-short"],
)
def test_inconsistent_phase2_and_evaluation(section, changes, key):
    with pytest.raises(ConfigError) as info:
        check_config(config_with(section, **changes))
    assert key in str(info.value)


def test_fractional_at_the_last_epoch_is_allowed():
    check_config(config_with(checkpoints__fractional=[0.5, 2.0]))


def test_pgd_reaching_epsilon_exactly_is_allowed():
    check_config(config_with(attack__steps=4, attack__step_size=0.025))  # 4 x 0.025 = 0.1


def test_download_url_for_a_shipped_dataset_is_refused():
    config = config_with("dataset", url="file:///tmp/digits.tar.gz")
    with pytest.raises(ConfigError, match=r"dataset.url is set.*set dataset.url: null"):
        check_config(config)
    check_config(config_with("dataset", name="cifar10", url="file:///tmp/cifar.tar.gz"))


@pytest.mark.parametrize(
    ("section", "changes", "key"),
    [
        ("phase1", {"attack__epsilon": 1.0, "attack__step_size": 0.5}, "phase1.attack.epsilon"),
        (
            "evaluation",
            {"attacks__pgd_linf__epsilons": [0.05, 1.5]},
            "evaluation.attacks.pgd_linf.epsilons",
        ),
    ],
    ids=["own-epsilon", "epsilons-list"],
)
def test_linf_radius_of_one_or_more_is_refused(section, changes, key):
    with pytest.raises(ConfigError, match=rf"{re.escape(key)}: an L-infinity radius") as info:
        check_config(config_with(section, **changes))
    assert "1.5" in str(info.value) or "1.0" in str(info.value)


def test_l2_radius_of_one_or_more_is_allowed():
    l2 = {"method": "pgd", "norm": "l2", "epsilon": 2.0, "step_size": 0.5, "steps": 10}
    l2["random_start"] = True
    check_config(config_with("evaluation", attacks__pgd_l2={**l2, "epsilons": [0.5, 4.0]}))


def test_attack_radii_are_sorted_unique_and_hold_the_headline():
    settings = {
        "method": "pgd",
        "norm": "linf",
        "step_size": 0.01,
        "steps": 10,
        "random_start": True,
    }
    attack = PgdAttack(epsilon=0.1, epsilons=[0.3, 0.05, 0.3, 0.1], **settings)
    assert attack.radii == [0.05, 0.1, 0.3]
    assert PgdAttack(epsilon=0.1, **settings).radii == [0.1]


def test_evaluation_batch_larger_than_the_test_set_is_allowed():
    """Evaluation cuts a batch to the test set's size: one batch of all 450 test images."""
    check_config(config_with("evaluation", batch_size=100_000))


@pytest.mark.parametrize(
    ("section", "batch_size", "refused"),
    [("phase1", 1347, False), ("phase1", 1348, True), ("phase2", 1348, True)],
)
def test_training_batch_must_fit_in_the_training_set(section, batch_size, refused):
    """digits at test_fraction 0.25: 450 of 1797 images held out, 1347 left for training."""
    config = config_with(section, batch_size=batch_size)
    config["phase1"]["checkpoints"]["fractional"] = []  # one step per epoch has no fractions
    if not refused:
        check_config(config)
        return
    with pytest.raises(ConfigError) as info:
        check_config(config)
    assert str(info.value) == (
        f"{section}.batch_size = 1348 exceeds the 1347 training images of digits "
        "(dataset.test_fraction = 0.25), so an epoch has no batch; use a batch_size from 1 "
        "to 1347."
    )


def test_checkpoints_on_the_same_step_are_refused_before_any_job():
    """1347 training images in batches of 700: one step per epoch, so epochs 0.25 and 0.5 would
    both be saved after step 1."""
    config = config_with(batch_size=700, checkpoints__fractional=[0.25, 0.5])
    with pytest.raises(ConfigError) as info:
        check_config(config)
    assert str(info.value) == (
        "phase1.checkpoints with phase1.batch_size: checkpoint epochs 0.25 and 0.5 fall on the "
        "same step with 1 steps per epoch; drop one or lower the batch size."
    )
    check_config(config_with(batch_size=300, checkpoints__fractional=[0.25, 0.5]))  # four steps


def test_cifar_training_batch_is_checked_against_its_fixed_split():
    config = config_with("dataset", name="cifar10", test_fraction=0.001)  # fraction not used
    check_config(config)
    config["phase1"]["batch_size"] = 50_001
    with pytest.raises(ConfigError, match=r"50000 training images of cifar10, so an epoch"):
        check_config(config)


@pytest.mark.parametrize(
    ("fraction", "sizes"),
    [(0.001, "1795 training and 2 test"), (0.9945, "9 training and 1788 test")],
)
def test_test_fraction_must_leave_every_class_an_image(fraction, sizes):
    with pytest.raises(ConfigError) as info:
        check_config(config_with("dataset", test_fraction=fraction))
    assert str(info.value) == (
        f"dataset.test_fraction = {fraction:g} splits the 1797 digits images into {sizes} "
        "images, but each set needs one image of each of the 10 classes at least; use a "
        "test_fraction from 0.0056 to 0.9944."
    )


@pytest.mark.parametrize("fraction", [0.005, 0.0051, 0.0056, 0.25, 0.9944, 0.9945])
def test_split_sizes_are_those_of_the_split(fraction):
    """split_sizes counts as the real split does, and the check refuses exactly the fractions
    the split refuses."""
    from ntk_evolution.datasets.data import split_dataset

    config = config_with("dataset", test_fraction=fraction)
    config["phase1"]["batch_size"] = config["phase2"]["batch_size"] = 1
    try:
        split = split_dataset("digits", root=".", test_fraction=fraction, seed=0)
    except ValueError:
        with pytest.raises(ConfigError, match=r"dataset\.test_fraction = "):
            check_config(config)
        return
    check_config(config)
    sizes = split_sizes(Config.model_validate(config).dataset)
    assert sizes == (len(split.train_labels), len(split.test_labels))
    digits = DATASET_SIZES["digits"]
    assert (digits.images, digits.classes) == (len(split.train_labels) + len(split.test_labels), 10)


DEFAULT = {
    "evaluation": {
        "batch_size": 500,
        "seed": 0,
        "attacks": {"pgd_linf": {"norm": "linf", "epsilon": 0.2, "steps": 100}},
    },
    "findings": {"attack": "pgd_linf"},
}
L2 = {"norm": "l2", "epsilon": 1.0, "steps": 10}


def combined(*layers):
    """DEFAULT merged with ``layers`` as Snakemake merges config files, then resolved."""
    config = copy.deepcopy(DEFAULT)
    for layer in layers:
        update_config(config, copy.deepcopy(layer))
    replace_named_tables(config, layers)
    return config


def test_a_file_replaces_the_attacks_whole_and_merges_the_rest():
    mine = {"evaluation": {"seed": 3, "attacks": {"pgd_l2": L2}}, "findings": {"attack": "pgd_l2"}}
    config = combined(mine)
    assert config["evaluation"] == {"batch_size": 500, "seed": 3, "attacks": {"pgd_l2": L2}}
    assert config["findings"] == {"attack": "pgd_l2"}
    assert "pgd_l2" not in DEFAULT["evaluation"]["attacks"]  # the default is not touched


def test_an_entry_of_a_file_is_replaced_whole_too():
    """Settings of an attack the default also names are the file's alone."""
    config = combined({"evaluation": {"attacks": {"pgd_linf": {"epsilon": 0.1}}}})
    assert config["evaluation"]["attacks"] == {"pgd_linf": {"epsilon": 0.1}}


@pytest.mark.parametrize(
    ("layers", "attacks"),
    [
        ([], ["pgd_linf"]),
        ([{"evaluation": {"seed": 1}}], ["pgd_linf"]),
        ([{"evaluation": {"attacks": {"pgd_l2": L2}}}, {"evaluation": {"seed": 1}}], ["pgd_l2"]),
        (
            [{"evaluation": {"attacks": {"a": L2}}}, {"evaluation": {"attacks": {"b": L2}}}],
            ["b"],
        ),
        ([{"evaluation": {"attacks": {"a": L2}}}, {"evaluation": {"attacks": {}}}], []),
    ],
    ids=["no-file", "file-without-attacks", "last-file-giving-them", "last-file-wins", "empty"],
)
def test_the_last_file_that_gives_the_attacks_gives_all_of_them(layers, attacks):
    assert sorted(combined(*layers)["evaluation"]["attacks"]) == attacks


@pytest.mark.parametrize(
    ("section", "changes", "message"),
    [
        ("machines", {"epochs": [0.75]}, "machines.epochs [0.75] are not phase-1 checkpoint"),
        ("pictures", {"epochs": [3]}, "pictures.epochs [3.0] are not phase-1 checkpoint"),
        ("attacked", {"epochs": [1]}, "attacked.epochs [1.0] are not phase-1 checkpoint"),
        ("machines", {"features__top": 21}, "machines.features.top = 21 exceeds the 20"),
        ("pictures", {"top": 30}, "pictures.top = 30 exceeds the 20 eigenvectors"),
        ("pictures", {"classes": [0, 10]}, "pictures.classes [10] are not classes of digits"),
        ("machines", {"features__attack__steps": 1}, "machines.features.attack: steps x"),
        ("attacked", {"attack": "pgd"}, "attacked.attack = 'pgd' is not an evaluation attack"),
    ],
)
def test_inconsistent_analyses_name_the_key(section, changes, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        check_config(config_with(section, **changes))


@pytest.mark.parametrize(
    ("members", "epsilons", "message"),
    [
        (["pgd_linf", "fgsm"], None, r"ensemble_linf\.members: 'fgsm' is not an evaluation"),
        (["pgd_linf", "ensemble_linf"], None, r"'ensemble_linf' is not an evaluation attack that"),
        (["pgd_linf", "pgd_l2"], None, r"'pgd_l2' is an l2 attack at radii \[0\.5\]"),
        # pgd_linf has the radius 0.05, square_linf not
        (["pgd_linf", "square_linf"], [0.05], r"'square_linf' is an linf attack at radii \[0\.1\]"),
    ],
)
def test_an_ensemble_member_crafts_images_in_the_ensembles_ball(members, epsilons, message):
    attacks = copy.deepcopy(TINY["evaluation"]["attacks"])
    attacks["ensemble_linf"]["members"] = members
    if epsilons is not None:
        attacks["ensemble_linf"]["epsilons"] = epsilons
    with pytest.raises(ConfigError, match=message):
        check_config(config_with("evaluation", attacks=attacks))


@pytest.mark.parametrize(("loss", "targets"), [("ce", 2), ("dlr_targeted", None)])
def test_apgd_targets_go_with_the_targeted_loss_only(loss, targets):
    config = config_with("evaluation", attacks__apgd_ce_linf__loss=loss)
    config["evaluation"]["attacks"]["apgd_ce_linf"]["targets"] = targets
    with pytest.raises(ConfigError, match=rf"apgd_ce_linf: loss {loss} takes"):
        check_config(config)


@pytest.mark.parametrize(
    ("section", "key", "name"),
    [("findings", "black_box", "ensemble_linf"), ("attacked", "attack", "ensemble_linf")],
)
def test_a_check_that_needs_one_attacks_images_refuses_an_ensemble(section, key, name):
    with pytest.raises(
        ConfigError, match=rf"{section}\.{key} = '{name}' is not an evaluation attack other"
    ):
        check_config(config_with(section, **{key: name}))


def test_machines_are_judged_by_evaluation_attacks_only():
    with pytest.raises(ConfigError, match=r"machines\.attacks = 'pgd_l1' is not"):
        check_config(config_with("machines", attacks=["pgd_linf", "pgd_l1"]))
    check_config(config_with("machines", attacks=["ensemble_linf"]))


def test_an_attack_without_its_method_is_named():
    config = copy.deepcopy(TINY)
    del config["evaluation"]["attacks"]["square_linf"]["method"]
    with pytest.raises(
        ConfigError, match=r"evaluation\.attacks\.square_linf: 'method' is a required"
    ):
        check_config(config)

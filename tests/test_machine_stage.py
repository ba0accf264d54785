"""The kernel-machine stage's pieces: which eigen-features are judged, the headline attacks, the
features' store from per-image hits, and the per-image hits of the evaluation themselves."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ntk_evolution.attacks.evaluation import craft, evaluate, hits
from ntk_evolution.configuration.settings import EvaluationSettings, MachinesSettings
from ntk_evolution.stages.evaluation import adversarial_key, crafted_attacks
from ntk_evolution.stages.machines import (
    MEASURES,
    _features_dataset,
    feature_indices,
    headline_cells,
)

from pgd_settings import pgd_attack, pgd_entry
from snakemake_run import TINY

# Like the evaluation section of presets/tiny.yaml, with a third attack whose epsilon is also
# one of another attack's radii.
EVALUATION = {
    "batch_size": 256,
    "seed": 0,
    "transfer": True,
    "attacks": {
        "pgd_linf": pgd_entry("linf", 0.1, 0.05, 3, random_start=True, epsilons=[0.05, 0.1]),
        "pgd_l2": pgd_entry("l2", 0.5, 0.25, 3, random_start=True),
        "pgd_small": pgd_entry("linf", 0.05, 0.01, 2, random_start=False, epsilons=[0.2]),
    },
}


@pytest.mark.parametrize(
    ("num_probes", "top", "bottom", "expected"),
    [
        (20, 2, 1, [0, 1, 19]),  # the tiny preset: two leading features and the last
        (10, 3, 0, [0, 1, 2]),
        (10, 1, 3, [0, 7, 8, 9]),
        (6, 4, 4, [0, 1, 2, 3, 4, 5]),  # top + bottom > n: the overlap counted once
        (5, 5, 5, [0, 1, 2, 3, 4]),
        (4, 9, 1, [0, 1, 2, 3]),  # more leading features than probes: all of them
    ],
)
def test_feature_indices_are_the_leading_and_trailing_features_in_order(
    num_probes, top, bottom, expected
):
    chosen = feature_indices(num_probes, top, bottom)
    assert chosen == expected
    assert chosen == sorted(set(chosen))
    assert all(0 <= k < num_probes for k in chosen)


def test_feature_indices_stay_in_range_when_bottom_exceeds_the_probes():
    """``machines.features.bottom`` has no upper bound (the number of probes is the dataset's):
    more trailing features than probes means all of them, each once."""
    assert feature_indices(3, 1, 5) == [0, 1, 2]


def test_machines_are_judged_by_every_attack_at_its_own_epsilon():
    evaluation = EvaluationSettings.model_validate(EVALUATION)
    cells = headline_cells(evaluation)
    assert cells == [("clean", 0.0), ("pgd_linf", 0.1), ("pgd_l2", 0.5), ("pgd_small", 0.05)]
    attacks = crafted_attacks(evaluation, headline=True)
    assert set(attacks) == {adversarial_key(*cell) for cell in cells[1:]}  # extra radii left out
    for name, epsilon in cells[1:]:
        attack = attacks[adversarial_key(name, epsilon)]
        assert attack == evaluation.attacks[name].at(epsilon)
        assert attack.step_size == evaluation.attacks[name].step_size  # the configured attack
    assert all(a.epsilon != 0.2 for a in attacks.values())


def test_the_features_store_shares_and_class_accuracies():
    """robust_share = sum of robust accuracy / sum of clean accuracy over the ``top`` leading
    features (the trailing ones left out); class_accuracy is each class's mean hit."""
    labels = np.array([0, 1, 2, 0, 1, 2, 0, 1])
    num_classes, chosen, top = 3, [0, 1, 6], 2
    # hits (epoch, eigen, measure, image): two epochs, three features
    clean = np.array(
        [
            [[1, 1, 1, 1, 0, 0, 1, 1], [1, 0, 1, 0, 1, 0, 1, 0], [1, 1, 1, 1, 1, 1, 1, 1]],
            [[0, 0, 0, 0, 0, 0, 0, 1], [1, 1, 0, 0, 0, 0, 0, 0], [1, 1, 1, 1, 1, 1, 1, 1]],
        ],
        bool,
    )
    robust = clean.copy()
    robust[0, 0, :4] = False  # epoch 0: feature 1 keeps 2 of 6, feature 2 all 4 of 4
    robust[1] = False  # epoch 1: nothing survives among the leading features ...
    robust[1, 2] = True  # ... the trailing feature does, and is not counted
    judged = np.stack([clean, robust], axis=2)
    assert judged.shape == (2, 3, len(MEASURES), 8) and MEASURES == ("clean", "robust")
    eigenvalues = np.arange(2 * num_classes * 3, dtype=float).reshape(2, num_classes, 3)

    ds = _features_dataset(judged, eigenvalues, labels, [0.5, 2.0], chosen, top)

    np.testing.assert_allclose(ds.robust_share.values, [(2 / 8 + 4 / 8) / (6 / 8 + 4 / 8), 0.0])
    np.testing.assert_array_equal(ds.eigen.values, [1, 2, 7])
    np.testing.assert_array_equal(ds.epoch.values, [0.5, 2.0])
    np.testing.assert_array_equal(ds.eigenvalue.values, eigenvalues)
    np.testing.assert_allclose(ds.accuracy.values, judged.mean(axis=-1))
    assert ds.class_accuracy.dims == ("epoch", "class", "eigen", "measure")
    for c in range(num_classes):
        mine = labels == c
        expected = judged[..., mine].sum(axis=-1) / mine.sum()
        np.testing.assert_allclose(ds.class_accuracy.sel({"class": c}).values, expected)
    # By hand: at epoch 0 feature 1 gets all of class 0 (images 0, 3, 6) right, images 1 and 7
    # of class 1 (1, 4, 7) and image 2 of class 2 (2, 5); under attack only images 6 and 7.
    np.testing.assert_allclose(
        ds.class_accuracy.sel(epoch=0.5, eigen=1, measure="clean").values, [1, 2 / 3, 1 / 2]
    )
    np.testing.assert_allclose(
        ds.class_accuracy.sel(epoch=0.5, eigen=1, measure="robust").values, [1 / 3, 1 / 3, 0]
    )


def test_the_robust_share_of_features_that_are_never_right_is_zero():
    judged = np.zeros((1, 2, 2, 4), bool)
    ds = _features_dataset(judged, np.ones((1, 2, 2)), np.array([0, 1, 0, 1]), [1.0], [0, 1], 2)
    assert ds.robust_share.values.tolist() == [0.0]


@pytest.fixture(scope="module")
def judged_models(model_and_params, images):
    """A tiny MLP, a CNN as the transfer source, and 12 images labelled so that the MLP gets
    the first 7 right and the rest wrong."""
    mlp, mlp_params = model_and_params("mlp", False)
    cnn, cnn_params = model_and_params("cnn", False)
    x = jnp.asarray(images)
    predicted = np.asarray(jnp.argmax(mlp.apply(mlp_params, x), axis=-1))
    labels = np.where(np.arange(len(x)) < 7, predicted, (predicted + 1) % 10)
    return (mlp.apply, mlp_params), (cnn.apply, cnn_params), np.asarray(images), labels


def test_hits_are_the_per_example_form_of_evaluate(judged_models):
    (apply, params), source, images, labels = judged_models
    attacks = {"linf": pgd_attack(0.1, 0.05, 3), "l2": pgd_attack(0.5, 0.25, 3, norm="l2")}
    key = jax.random.PRNGKey(3)
    own = craft(apply, params, images, labels, attacks=attacks, key=key, batch_size=5)
    transfer = craft(*source, images, labels, attacks=attacks, key=key, batch_size=5)
    arguments = {"adversarial": own, "transfer": transfer, "batch_size": 5}

    correct = hits(apply, params, images, labels, **arguments)
    accuracies = evaluate(apply, params, images, labels, **arguments)

    names = ["clean", "linf", "l2", "transfer_linf", "transfer_l2"]
    assert list(correct) == names and set(accuracies) == set(names)
    assert accuracies["linf"] < accuracies["clean"]  # the attack breaks some examples
    for name, hit in correct.items():
        assert hit.dtype == bool and hit.shape == (len(images),)
        assert float(hit.mean()) == pytest.approx(accuracies[name], abs=1e-12)
        assert not (hit & ~correct["clean"]).any()  # an attack never mends a wrong example
    np.testing.assert_array_equal(correct["clean"], np.arange(len(images)) < 7)
    # A different batch size gives the same hits.
    again = hits(apply, params, images, labels, **{**arguments, "batch_size": 12})
    for name in names:
        np.testing.assert_array_equal(again[name], correct[name])


def test_machines_judged_by_some_attacks_keep_an_ensembles_members():
    attacks = dict(EVALUATION["attacks"])
    attacks["both"] = {
        "method": "ensemble", "norm": "linf", "epsilon": 0.1, "members": ["pgd_linf", "pgd_small"]
    }  # fmt: skip
    attacks["pgd_small"] = {**attacks["pgd_small"], "epsilons": [0.1]}
    evaluation = EvaluationSettings.model_validate({**EVALUATION, "attacks": attacks})
    machines = MachinesSettings.model_validate({**TINY["machines"], "attacks": ["both"]})
    judged = machines.judged_by(evaluation)
    assert list(judged.attacks) == ["pgd_linf", "pgd_small", "both"]  # the config's order
    assert machines.model_copy(update={"attacks": None}).judged_by(evaluation) == evaluation

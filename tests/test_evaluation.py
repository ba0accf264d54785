"""Evaluation: clean accuracy by batches, robust and transfer accuracy, and reproducibility;
the attacks at every epsilon, and the evaluation stages' tables, stored images and dataset."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from ntk_evolution._infra.checkpoints import save_checkpoint
from ntk_evolution.attacks.evaluation import craft, evaluate
from ntk_evolution.attacks.pgd import pgd
from ntk_evolution.configuration.experiment import Child, Run
from ntk_evolution.configuration.settings import (
    EvaluationSettings,
    ModelSettings,
    Optimizer,
    Training,
)
from ntk_evolution.datasets.data import Split, load_split, save_split
from ntk_evolution.figures import robustness_vs_epsilon
from ntk_evolution.models.classifier import accuracy
from ntk_evolution.models.stax_models import build_model
from ntk_evolution.stages.evaluation import (
    MODEL_COLUMNS,
    adversarial_key,
    crafted_attacks,
    evaluate_children,
    evaluate_phase1,
    load_adversarial,
    save_adversarial,
)
from ntk_evolution.stages.gather import gather_evaluation
from ntk_evolution.training.loop import train

from pgd_settings import pgd_attack

NUM_TEST, NUM_CLASSES = 50, 4
MLP = {"architecture": "mlp", "width": 32, "depth": 1}  # the trained model's config section
LINF = pgd_attack(epsilon=0.1, step_size=0.025, steps=5)
L2 = pgd_attack(epsilon=0.5, step_size=0.2, steps=5, norm="l2")


def quadrant(images: jax.Array) -> jax.Array:
    """The brightest quadrant of 8x8 images: a learnable labelling rule with 4 classes."""
    means = images.reshape(len(images), 2, 4, 2, 4).mean(axis=(2, 4))
    return jnp.argmax(means.reshape(len(images), NUM_CLASSES), axis=-1)


def rule(params, images):
    """A model without parameters whose logits are the one-hot of :func:`quadrant`."""
    return jax.nn.one_hot(quadrant(images), NUM_CLASSES)


@pytest.fixture(scope="module")
def task():
    """(train images, train labels, test images, test labels): random images with one quadrant
    brightened by 0.2, labelled by :func:`quadrant`."""
    kl, kx = jax.random.split(jax.random.PRNGKey(20))
    brightened = jax.random.randint(kl, (128 + NUM_TEST,), 0, NUM_CLASSES)
    masks = jnp.kron(jnp.eye(NUM_CLASSES).reshape(NUM_CLASSES, 2, 2), jnp.ones((4, 4)))
    noise = jax.random.uniform(kx, (128 + NUM_TEST, 8, 8, 1))
    images = 0.8 * noise + 0.2 * masks[brightened, :, :, None]
    labels = quadrant(images)
    return images[:128], labels[:128], images[128:], labels[128:]


@pytest.fixture(scope="module")
def trained(task):
    """``(apply, params)`` of an MLP trained on the task for a few epochs."""
    train_images, train_labels, test_images, test_labels = task
    model = build_model(**MLP, num_classes=NUM_CLASSES)
    saved = {}
    train(
        model.apply,
        model.init(jax.random.PRNGKey(21), (8, 8, 1)),
        (train_images, train_labels),
        (test_images, test_labels),
        settings=Training(
            epochs=4, batch_size=16, optimizer=Optimizer(learning_rate=0.1, momentum=0.9)
        ),
        regime="benign",
        key=jax.random.PRNGKey(22),
        checkpoints=[4.0],
        save=lambda epoch, params, state, meta: saved.update(params=params),
    )
    return model.apply, saved["params"]


@pytest.fixture(scope="module")
def untrained():
    """``(apply, params)`` of a randomly initialised CNN."""
    model = build_model("cnn", num_classes=NUM_CLASSES, width=8, depth=1)
    return model.apply, model.init(jax.random.PRNGKey(23), (8, 8, 1))


def attacked(apply, params, images, labels, attacks, *, key, batch_size, source=None):
    """:func:`evaluate` on images crafted against the model and (with ``source``, an
    ``(apply, params)`` pair) against the source, every attack from the same ``key``."""
    key = jax.random.PRNGKey(key)

    def crafted(apply, params):
        return craft(apply, params, images, labels, attacks=attacks, key=key, batch_size=batch_size)

    return evaluate(
        apply,
        params,
        images,
        labels,
        adversarial=crafted(apply, params),
        batch_size=batch_size,
        transfer=None if source is None else crafted(*source),
    )


def with_pgd(apply, params, images, labels, attack, *, key, batch_size, source=None):
    """:func:`attacked` under the single attack ``attack``, named ``"pgd"``."""
    return attacked(
        apply,
        params,
        images,
        labels,
        {"pgd": attack},
        key=key,
        batch_size=batch_size,
        source=source,
    )


@pytest.mark.parametrize("batch_size", [1, 7, NUM_TEST, NUM_TEST + 5])
def test_known_rule_gives_known_accuracy(task, batch_size):
    *_, images, labels = task
    right = 37  # the rule's label for the first 37 examples, another one for the rest
    labels = jnp.concatenate([labels[:right], (labels[right:] + 1) % NUM_CLASSES])
    result = evaluate(rule, None, images, labels, adversarial={}, batch_size=batch_size)
    assert result == {"clean": right / NUM_TEST}


@pytest.mark.parametrize("attack", [LINF, L2], ids=["linf", "l2"])
def test_constant_logits_give_the_class_share_and_resist_attacks(task, attack):
    *_, images, labels = task

    def constant(params, images):
        return jnp.zeros((len(images), NUM_CLASSES)).at[:, 2].set(1.0) + 0 * images.sum()

    result = with_pgd(constant, None, images, labels, attack, key=0, batch_size=16)
    share = float(np.mean(np.asarray(labels) == 2))
    assert 0 < share < 1
    assert result == {"clean": share, "pgd": share}


def test_clean_accuracy_is_the_accuracy_of_the_whole_set(task, trained):
    *_, images, labels = task
    apply, params = trained
    result = evaluate(apply, params, images, labels, adversarial={}, batch_size=7)
    assert result["clean"] == pytest.approx(float(accuracy(apply(params, images), labels)))


@pytest.mark.parametrize(
    "attack", [LINF, pgd_attack(0.03, 0.01, 5), L2], ids=["linf", "linf-small", "l2"]
)
@pytest.mark.parametrize("model", ["trained", "untrained"])
def test_robust_accuracy_never_exceeds_clean_accuracy(request, task, model, attack):
    *_, images, labels = task
    apply, params = request.getfixturevalue(model)
    result = with_pgd(apply, params, images, labels, attack, key=1, batch_size=16)
    assert 0 <= result["pgd"] <= result["clean"] <= 1


@pytest.mark.parametrize("attack", [LINF, L2], ids=["linf", "l2"])
def test_attacks_break_a_trained_model(task, trained, attack):
    *_, images, labels = task
    apply, params = trained
    result = with_pgd(apply, params, images, labels, attack, key=1, batch_size=16)
    assert result["clean"] > 0.5
    assert result["pgd"] < result["clean"] - 0.2


def test_misclassified_examples_are_never_robust():
    # A model that is wrong on the pixel grid k/8 and right everywhere else: the random start
    # leaves the grid, so every attacked image is classified correctly, yet no clean one is.
    images = jnp.round(jax.random.uniform(jax.random.PRNGKey(2), (20, 8, 8, 1)) * 8) / 8
    labels = jnp.zeros(20, jnp.int32)

    def off_grid(params, x):
        outside = jnp.any(jnp.abs(x * 8 - jnp.round(x * 8)) > 1e-3, axis=(1, 2, 3))
        return jax.nn.one_hot(jnp.where(outside, 0, 1), 2)

    attack = pgd_attack(epsilon=0.05, step_size=0.01, steps=2)
    attacked = pgd(lambda x, y: 0.0 * x.sum(), images, labels, jax.random.PRNGKey(0), attack)
    assert np.all(np.argmax(off_grid(None, attacked), axis=-1) == 0)
    result = with_pgd(off_grid, None, images, labels, attack, key=0, batch_size=8)
    assert result == {"clean": 0.0, "pgd": 0.0}


@pytest.mark.parametrize("attack", [LINF, L2], ids=["linf", "l2"])
def test_transfer_from_the_model_itself_is_the_robust_accuracy(task, trained, attack):
    *_, images, labels = task
    apply, params = trained
    result = with_pgd(apply, params, images, labels, attack, key=3, batch_size=16, source=trained)
    assert set(result) == {"clean", "pgd", "transfer_pgd"}
    assert result["transfer_pgd"] == result["pgd"]


def test_transfer_attacks_the_source_not_the_model(task, trained):
    # A source with constant logits has no input gradient: without a random start its
    # "adversarial" examples are the clean images, and the transfer accuracy is the clean one.
    *_, images, labels = task
    apply, params = trained

    def constant(params, x):
        return jnp.zeros((len(x), NUM_CLASSES)) + 0 * x.sum()

    attack = pgd_attack(epsilon=0.1, step_size=0.025, steps=5, random_start=False)
    result = with_pgd(
        apply, params, images, labels, attack, key=3, batch_size=16, source=(constant, None)
    )
    assert result["transfer_pgd"] == result["clean"]
    assert result["pgd"] < result["clean"]


@pytest.mark.parametrize(
    "attack",
    [
        pgd_attack(epsilon=0.0, step_size=0.1, steps=5),
        pgd_attack(epsilon=0.0, step_size=0.1, steps=5, norm="l2"),
        pgd_attack(epsilon=0.1, step_size=0.1, steps=0, random_start=False),
    ],
    ids=["linf-eps0", "l2-eps0", "no-steps"],
)
def test_an_attack_without_budget_leaves_clean_accuracy(task, trained, attack):
    *_, images, labels = task
    apply, params = trained
    result = with_pgd(apply, params, images, labels, attack, key=4, batch_size=16)
    assert result["pgd"] == result["clean"]


def test_evaluation_is_bitwise_reproducible(task, trained, untrained):
    *_, images, labels = task
    apply, params = trained

    def run():
        return attacked(
            apply,
            params,
            images,
            labels,
            {"linf": LINF, "l2": L2},
            key=5,
            batch_size=16,
            source=untrained,
        )

    first = run()
    assert set(first) == {"clean", "linf", "l2", "transfer_linf", "transfer_l2"}
    assert run() == first


@pytest.mark.parametrize("batch_size", [1, 16, NUM_TEST + 5])
def test_crafted_images_stay_in_the_epsilon_ball(task, trained, batch_size):
    *_, images, labels = task
    apply, params = trained

    def crafted(batch_size):
        options = {"key": jax.random.PRNGKey(6), "batch_size": batch_size}
        return craft(apply, params, images, labels, attacks={"linf": LINF}, **options)["linf"]

    adversarial = crafted(batch_size)
    assert adversarial.shape == images.shape and adversarial.dtype == np.float32
    assert np.abs(adversarial - np.asarray(images)).max() <= LINF.epsilon + 1e-6
    assert 0 <= adversarial.min() and adversarial.max() <= 1
    if batch_size >= NUM_TEST:  # a batch beyond the test set is the whole set
        np.testing.assert_array_equal(adversarial, crafted(NUM_TEST))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"images": np.zeros((0, 8, 8, 1)), "labels": np.zeros(0, int)}, "no test images"),
        ({"batch_size": 0}, "batch_size"),
        ({"adversarial": {"clean": "images"}}, "clean"),
        ({"adversarial": {"transfer_x": "images"}}, "transfer_x"),
        ({"adversarial": {"pgd": "half"}}, "shape"),
        ({"transfer": {"pgd": "half"}}, "shape"),
    ],
)
def test_invalid_arguments_are_rejected(task, kwargs, message):
    *_, images, labels = task
    named = {"images": images, "half": images[: NUM_TEST // 2]}
    arguments = {"images": images, "labels": labels, "adversarial": {}, "batch_size": 8, **kwargs}
    for group in ("adversarial", "transfer"):
        if group in arguments:
            arguments[group] = {name: named[x] for name, x in arguments[group].items()}
    images, labels = arguments.pop("images"), arguments.pop("labels")
    with pytest.raises(ValueError, match=message):
        evaluate(rule, None, images, labels, **arguments)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"images": np.zeros((0, 8, 8, 1)), "labels": np.zeros(0, int)}, "no test images"),
        ({"batch_size": 0}, "batch_size"),
    ],
)
def test_invalid_craft_arguments_are_rejected(task, kwargs, message):
    *_, images, labels = task
    arguments = {"images": images, "labels": labels, "batch_size": 8, **kwargs}
    images, labels = arguments.pop("images"), arguments.pop("labels")
    arguments |= {"attacks": {"pgd": LINF}, "key": jax.random.PRNGKey(0)}
    with pytest.raises(ValueError, match=message):
        craft(rule, None, images, labels, **arguments)


def test_stored_adversarial_images_round_trip_and_transfer(tmp_path, task, trained, untrained):
    *_, images, labels = task
    attacks = {"linf": LINF, "l2": L2}
    crafted = craft(
        *untrained, images, labels, attacks=attacks, key=jax.random.PRNGKey(7), batch_size=16
    )
    path = tmp_path / "adversarial.npz"
    save_adversarial(path, crafted, {"config": {"run": "benign/seed0"}})
    loaded = load_adversarial(path, ["l2", "linf"])
    assert list(loaded) == ["l2", "linf"]
    for name in attacks:
        np.testing.assert_array_equal(loaded[name], crafted[name])
    apply, params = trained
    own = craft(
        apply, params, images, labels, attacks=attacks, key=jax.random.PRNGKey(7), batch_size=16
    )
    from_store = evaluate(
        apply, params, images, labels, adversarial=own, batch_size=16, transfer=loaded
    )
    from_source = attacked(
        apply, params, images, labels, attacks, key=7, batch_size=16, source=untrained
    )
    assert from_store == from_source


@pytest.mark.parametrize("damage", ["truncated", "missing", "attack"])
def test_unreadable_adversarial_images_name_the_file_and_the_fix(tmp_path, damage):
    path = tmp_path / "phase1_adversarial.npz"
    if damage != "missing":
        save_adversarial(path, {"linf": np.zeros((3, 8, 8, 1), np.float32)}, {})
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(RuntimeError, match=r"(?s)phase1_adversarial\.npz.*--forcerun \S*/phase1_"):
        load_adversarial(path, ["l2" if damage == "attack" else "linf"])


def test_equal_attacks_are_crafted_once(task, trained):
    *_, images, labels = task
    key = jax.random.PRNGKey(8)
    twice = craft(*trained, images, labels, attacks={"a": LINF, "b": LINF}, key=key, batch_size=16)
    once = craft(*trained, images, labels, attacks={"a": LINF}, key=key, batch_size=16)
    assert twice["a"] is twice["b"]
    np.testing.assert_array_equal(twice["a"], once["a"])


PGD = {"method": "pgd", "steps": 5, "random_start": True}
SETTINGS = {
    "linf": {**PGD, "norm": "linf", "epsilon": 0.1, "step_size": 0.025},
    "l2": {**PGD, "norm": "l2", "epsilon": 0.5, "step_size": 0.2},
}


def test_every_attack_is_crafted_at_every_radius_with_scaled_steps():
    attacks = {"linf": {**SETTINGS["linf"], "epsilons": [0.3, 0.0001, 0.1]}, "l2": SETTINGS["l2"]}
    evaluation = EvaluationSettings(batch_size=8, seed=0, transfer=True, attacks=attacks)
    grid = crafted_attacks(evaluation)
    assert list(grid) == ["l2@0.5", "linf@0.0001", "linf@0.1", "linf@0.3"]
    # The headline attack is the configured one, exactly; the others scale the step with epsilon.
    assert grid["linf@0.1"] == evaluation.attacks["linf"].at(0.1)
    assert grid["linf@0.1"].step_size == SETTINGS["linf"]["step_size"]
    assert grid["l2@0.5"].model_dump(exclude={"epsilons"}) == SETTINGS["l2"]
    for key, attack in grid.items():
        assert attack.epsilon == float(key.split("@")[1]) and attack.epsilons == []
        assert attack.steps == 5 and attack.random_start
        assert attack.steps * attack.step_size / attack.epsilon == pytest.approx(
            1.25 if attack.epsilon < 0.5 else 2
        )
    assert grid["linf@0.3"].step_size == pytest.approx(0.075)
    assert {a.norm for key, a in grid.items() if key.startswith("linf")} == {"linf"}
    headline = crafted_attacks(evaluation, headline=True)
    assert list(headline) == ["l2@0.5", "linf@0.1"]


def test_every_epsilon_crafts_in_its_own_ball(task, trained):
    # The radius is an argument of one compiled attack: each radius's images use its own ball.
    *_, images, labels = task
    attacks = {eps: LINF.at(eps) for eps in (0.02, 0.1, 0.3)}
    crafted = craft(
        *trained,
        images,
        labels,
        attacks={str(eps): a for eps, a in attacks.items()},
        key=jax.random.PRNGKey(9),
        batch_size=16,
    )
    moved = [np.abs(crafted[str(eps)] - np.asarray(images)).max() for eps in attacks]
    for eps, distance in zip(attacks, moved, strict=True):
        assert eps - 1e-6 <= distance <= eps + 1e-6


def test_adversarial_keys_write_the_epsilon_exactly():
    assert adversarial_key("pgd_linf", 0.1) == "pgd_linf@0.1"
    assert adversarial_key("pgd_linf", np.float64(4 / 255)) == "pgd_linf@0.01568627450980392"
    assert float(adversarial_key("x", 4 / 255).split("@")[1]) == 4 / 255


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory, task, trained):
    """The evaluation stages run on the task: the trained network as a run's final phase-1
    network and as the spawn point of two children (a linearized and a standard one, both at
    the spawn parameters), with an L-inf attack at three epsilons and an L2 attack at one."""
    path = tmp_path_factory.mktemp("evaluation")
    train_images, train_labels, test_images, test_labels = map(np.asarray, task)
    pixels = [np.round(x * 255).astype(np.uint8) for x in (train_images, test_images)]
    classes = tuple(map(str, range(NUM_CLASSES)))
    save_split(
        path / "split.npz", Split(pixels[0], train_labels, pixels[1], test_labels, classes, 255)
    )
    save_checkpoint(path / "network.npz", trained[1], {"epoch": 4})
    model = {**MLP, "parameterization": "standard", "zero_readout": False, "options": {}}
    evaluation = {
        "batch_size": 16,
        "seed": 0,
        "transfer": True,
        "attacks": {"linf": {**SETTINGS["linf"], "epsilons": [0.0001, 0.3]}, "l2": SETTINGS["l2"]},
    }
    run = Run("benign", 0)
    names = ("network.npz", "split.npz", "phase1_adversarial.npz")
    network, split, adversarial = (path / name for name in names)
    settings = {
        "model": ModelSettings(**model),
        "evaluation": EvaluationSettings.model_validate(evaluation),
    }
    evaluate_phase1(network, split, path / "phase1.csv", adversarial, run=run, **settings)
    children = [Child(run, 4.0, "linearized", "benign"), Child(run, 4.0, "standard", "adversarial")]
    spawn4 = path / "spawn4.csv"
    evaluate_children(
        [network] * 2, network, adversarial, split, spawn4, children=children, **settings
    )
    tables = [path / "phase1.csv", path / "spawn4.csv"]
    gather_evaluation(tables, path / "accuracy.csv", path / "accuracy.zarr", config={})
    return path


CELLS = [("clean", 0.0), ("linf", 0.0001), ("linf", 0.1), ("linf", 0.3), ("l2", 0.5)]


def test_tables_have_a_row_per_model_attack_epsilon_and_source(evaluated):
    table = pd.read_csv(evaluated / "accuracy.csv")
    assert list(table.columns) == [
        *MODEL_COLUMNS, "attack", "epsilon", "source", "accuracy", "correct", "n"
    ]  # fmt: skip
    assert (table.n == NUM_TEST).all()
    np.testing.assert_allclose(table.accuracy, table.correct / table.n)
    parent = table[table.spawn_epoch.isna()]
    assert list(zip(parent.attack, parent.epsilon, strict=True)) == CELLS
    assert set(parent.source) == {"self"}
    for dynamics in ("linearized", "standard"):
        child = table[table.dynamics.eq(dynamics) & table.spawn_epoch.notna()]
        cells = list(zip(child.attack, child.epsilon, child.source, strict=True))
        assert cells == [(*c, "self") for c in CELLS] + [(*c, "parent") for c in CELLS[1:]]


def test_robust_accuracy_at_every_epsilon(evaluated):
    table = pd.read_csv(evaluated / "accuracy.csv")
    wide = table.pivot(
        index=["dynamics", "phase2_regime"],
        columns=["attack", "epsilon", "source"],
        values="accuracy",
    )
    clean = wide[("clean", 0.0, "self")]
    assert (clean > 0.5).all()
    for attack, epsilon in CELLS[1:]:
        assert (wide[(attack, epsilon, "self")] <= clean).all()
    # A radius of 1e-4 barely moves the images: robust is the clean accuracy (give or take an
    # example); the largest radius breaks the trained model.
    assert (wide[("linf", 0.0001, "self")] >= clean - 1 / NUM_TEST).all()
    assert (wide[("linf", 0.3, "self")] < clean - 0.2).all()
    # The standard child is the parent: the parent's stored images at each epsilon are its own.
    standard = table[table.dynamics.eq("standard") & table.spawn_epoch.notna()]
    own = standard[standard.source == "self"].set_index(["attack", "epsilon"]).accuracy
    transfer = standard[standard.source == "parent"].set_index(["attack", "epsilon"]).accuracy
    pd.testing.assert_series_equal(own.drop(("clean", 0.0)), transfer)


def test_parent_images_are_stored_per_attack_and_epsilon(evaluated):
    test_images, _ = load_split(evaluated / "split.npz").test_set()
    names = ["linf@0.0001", "linf@0.1", "linf@0.3", "l2@0.5"]
    with np.load(evaluated / "phase1_adversarial.npz", allow_pickle=False) as f:
        assert sorted(f.files) == sorted([*names, "provenance"])
    stored = load_adversarial(evaluated / "phase1_adversarial.npz", names)
    for name, images in stored.items():
        epsilon = float(name.split("@")[1])
        moved = (images - test_images).reshape(len(images), -1)
        if name.startswith("linf"):
            assert epsilon - 1e-6 <= np.abs(moved).max() <= epsilon + 1e-6
        else:
            assert np.linalg.norm(moved, axis=1).max() <= epsilon + 1e-5


def test_dataset_has_an_epsilon_dim(evaluated):
    ds = xr.open_zarr(evaluated / "accuracy.zarr")
    assert ds.accuracy.dims == (*MODEL_COLUMNS, "attack", "epsilon", "source")
    assert ds.parent_accuracy.dims == ("phase1_regime", "seed", "attack", "epsilon")
    np.testing.assert_array_equal(ds.epsilon.values, [0.0, 0.0001, 0.1, 0.3, 0.5])
    parent = ds.parent_accuracy.sel(phase1_regime="benign", seed=0)
    assert float(parent.sel(attack="linf", epsilon=0.3)) <= float(
        parent.sel(attack="clean", epsilon=0)
    )
    assert np.isnan(float(parent.sel(attack="clean", epsilon=0.3)))


def test_robustness_table_starts_every_attack_at_the_clean_accuracy(evaluated):
    evaluation = pd.read_csv(evaluated / "accuracy.csv")
    robustness = robustness_vs_epsilon.table(evaluation)
    models = ["spawn_epoch", "dynamics", "phase2_regime"]
    cells = [("linf", 0.0), *CELLS[1:4], ("l2", 0.0), CELLS[4]]
    assert len(robustness) == 3 * len(cells)
    for _, model in robustness.groupby(models, dropna=False):
        assert sorted(zip(model.attack, model.epsilon, strict=True)) == sorted(cells)
    assert set(robustness.code) == {"C", "CC", "CA"}
    start = robustness[robustness.epsilon == 0].groupby(models, dropna=False).accuracy
    clean = evaluation[evaluation.attack == "clean"].groupby(models, dropna=False).accuracy
    pd.testing.assert_series_equal(start.min(), clean.min())
    pd.testing.assert_series_equal(start.max(), clean.min())

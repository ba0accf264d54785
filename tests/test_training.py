"""The training loop: learning, the checkpoint schedule, reproducibility and divergence."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ntk_evolution.configuration.config import checkpoint_steps
from ntk_evolution.configuration.settings import Optimizer, Phase1Settings, Training
from ntk_evolution.models.classifier import cross_entropy
from ntk_evolution.models.stax_models import build_model
from ntk_evolution.training.loop import DivergedError, train

from pgd_settings import pgd_attack
from snakemake_run import TINY

NUM_TRAIN, NUM_CLASSES, BATCH = 64, 4, 16  # 4 steps per epoch
SCHEDULE = [0.0, 0.25, 1.0, 3.0]
SCHEDULE_STEPS = [0, 1, 4, 12]
ATTACK = pgd_attack(epsilon=0.05, step_size=0.025, steps=3)


@pytest.fixture(scope="module")
def task():
    """Random images labelled by their brightest quadrant (a learnable rule), and an MLP."""
    kx, kt = jax.random.split(jax.random.PRNGKey(42))
    images = jax.random.uniform(kx, (NUM_TRAIN + 32, 8, 8, 1))
    quadrants = images.reshape(len(images), 2, 4, 2, 4).mean(axis=(2, 4))
    labels = jnp.argmax(quadrants.reshape(len(images), NUM_CLASSES), axis=-1)
    train_set = (images[:NUM_TRAIN], labels[:NUM_TRAIN])
    test_set = (images[NUM_TRAIN:], labels[NUM_TRAIN:])
    model = build_model("mlp", num_classes=NUM_CLASSES, width=32, depth=1)
    params = model.init(kt, (8, 8, 1))
    return model, params, train_set, test_set


def settings(
    regime="benign", *, epochs=3, learning_rate=0.3, momentum=0.9, **kwargs
) -> tuple[Training, str]:
    """Training settings and the regime they train."""
    training = Training(
        epochs=epochs,
        batch_size=kwargs.pop("batch_size", BATCH),
        optimizer=Optimizer(learning_rate=learning_rate, momentum=momentum),
        attack=kwargs.pop("attack", ATTACK),
        adversarial_mix=kwargs.pop("adversarial_mix", "pure"),
        **kwargs,
    )
    return training, regime


class Recorder:
    """A ``save`` callback that keeps host copies of everything it is given."""

    def __init__(self):
        self.calls = []

    def __call__(self, epoch, params, state, metadata):
        assert state == {}  # an MLP has no state
        leaves = [np.array(leaf) for leaf in jax.tree_util.tree_leaves(params)]
        self.calls.append((epoch, leaves, dict(metadata)))

    @property
    def epochs(self):
        return [epoch for epoch, _, _ in self.calls]


def run(task, setup, *, key=0, checkpoints=SCHEDULE, save=None, name="test-run"):
    """Train the task's model; returns the history and the ``save`` callback (a new
    :class:`Recorder` unless one is given, so that a test can look at it after an error)."""
    model, params, train_set, test_set = task
    training, regime = setup
    save = Recorder() if save is None else save
    history = train(
        model.apply,
        params,
        train_set,
        test_set,
        settings=training,
        regime=regime,
        key=jax.random.PRNGKey(key),
        checkpoints=list(checkpoints),
        save=save,
        name=name,
    )
    return history, save


def full_loss(model, leaves, params_template, data) -> float:
    params = jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(params_template), leaves)
    images, labels = data
    return float(cross_entropy(model.apply(params, images), labels))


@pytest.fixture(scope="module")
def benign_run(task):
    return run(task, settings())


def test_benign_training_learns(task, benign_run):
    model, params, train_set, _ = task
    history, save = benign_run
    assert [row["epoch"] for row in history] == [1, 2, 3]
    assert not any(row["adversarial"] for row in history)
    losses = [row["train_loss"] for row in history]
    assert np.all(np.isfinite(losses))
    assert losses[-1] < losses[0]
    before = full_loss(model, save.calls[0][1], params, train_set)
    after = full_loss(model, save.calls[-1][1], params, train_set)
    assert after < 0.8 * before
    assert all(0 <= row["test_accuracy"] <= 1 for row in history)


def test_checkpoints_follow_the_schedule(task, benign_run):
    _, params, _, _ = task
    _, save = benign_run
    assert save.epochs == SCHEDULE
    for (epoch, leaves, metadata), step in zip(save.calls, SCHEDULE_STEPS, strict=True):
        assert metadata == {"epoch": epoch, "step": step, "steps_per_epoch": NUM_TRAIN // BATCH}
        assert all(np.all(np.isfinite(leaf)) for leaf in leaves)
    # Epoch 0 is the initialisation itself; every later checkpoint is a different state.
    for got, want in zip(save.calls[0][1], jax.tree_util.tree_leaves(params), strict=True):
        np.testing.assert_array_equal(got, want)
    states = [np.concatenate([leaf.ravel() for leaf in leaves]) for _, leaves, _ in save.calls]
    for a, b in itertools.pairwise(states):
        assert not np.array_equal(a, b)


def test_same_key_is_bitwise_reproducible(task, benign_run):
    _, first = benign_run
    _, second = run(task, settings())
    assert second.epochs == first.epochs
    for (_, a, _), (_, b, _) in zip(first.calls, second.calls, strict=True):
        for x, y in zip(a, b, strict=True):
            assert np.array_equal(x, y)


def test_other_key_shuffles_differently(task, benign_run):
    _, first = benign_run
    _, other = run(task, settings(), key=1, checkpoints=[3.0])
    assert not all(
        np.array_equal(x, y) for x, y in zip(first.calls[-1][1], other.calls[-1][1], strict=True)
    )


@pytest.mark.parametrize("mix", ["pure", "benign_then_adversarial"])
def test_flip_regime_turns_adversarial_at_flip_epoch(task, mix):
    history, save = run(
        task, settings("flip", epochs=3, flip_epoch=2, adversarial_mix=mix), checkpoints=[0.0, 3.0]
    )
    assert [row["adversarial"] for row in history] == [False, False, True]
    assert save.epochs == [0.0, 3.0]
    assert all(np.all(np.isfinite(leaf)) for leaf in save.calls[-1][1])


@pytest.mark.parametrize(
    ("regime", "flip_epoch", "expected"),
    [
        ("benign", None, [False] * 5),
        ("adversarial", None, [True] * 5),
        ("flip", 2, [False, False, True, True, True]),
        ("flip", 1, [False, True, True, True, True]),
        ("flip", None, [False] * 5),
    ],
)
def test_adversarial_in(regime, flip_epoch, expected):
    training, _ = settings(regime, epochs=5, flip_epoch=flip_epoch)
    assert [training.adversarial_in(regime, e) for e in range(5)] == expected


def test_training_settings_hold_only_what_the_regimes_use():
    """A job's settings hold the attack only if it trains adversarially, and the flip epoch
    only for the flip regime: the rest of its phase may change without rerunning it."""
    phase1 = Phase1Settings.model_validate({**TINY["phase1"], "epochs": 4, "flip_epoch": 2})
    benign = phase1.training(["benign"])
    assert (benign.attack, benign.adversarial_mix, benign.flip_epoch) == (None, None, None)
    assert (benign.epochs, benign.batch_size, benign.optimizer) == (4, 128, phase1.optimizer)
    adversarial = phase1.training(["adversarial"])
    assert adversarial.attack == phase1.attack and adversarial.flip_epoch is None
    assert adversarial.adversarial_mix == phase1.adversarial_mix
    assert all(adversarial.adversarial_in("adversarial", e) for e in range(4))
    flip = phase1.training(["flip"])
    assert flip.flip_epoch == 2 and flip.attack == phase1.attack
    assert [flip.adversarial_in("flip", e) for e in range(4)] == [False, False, True, True]


EPOCHS = [0.0, 0.1, 0.25, 0.3, 1 / 3, 0.5, 0.7, 1.0, 2.5, 3.0]


@pytest.mark.parametrize("steps_per_epoch", [1, 3, 4, 7, 10, 56])
@pytest.mark.parametrize("epoch", EPOCHS)
def test_checkpoint_step_is_first_step_past_the_epoch(epoch, steps_per_epoch):
    # Exact rational arithmetic on the decimal the config holds: ceil(epoch * steps).
    exact = Fraction(repr(epoch)) if epoch != 1 / 3 else Fraction(1, 3)
    expected = math.ceil(exact * steps_per_epoch)
    assert checkpoint_steps([epoch], steps_per_epoch) == {expected: epoch}


@pytest.mark.parametrize(
    ("epoch", "steps_per_epoch", "expected"),
    # epoch * steps_per_epoch lands just above the integer in floating point, e.g.
    # 1.1 * 50 == 55.00000000000001; the checkpoint still belongs after step 55, not 56.
    [(1.1, 50, 55), (2.2, 25, 55), (0.55, 100, 55), (2.2, 100, 220)],
)
def test_checkpoint_step_ignores_rounding_error(epoch, steps_per_epoch, expected):
    assert epoch * steps_per_epoch > expected  # the premise of the test
    assert checkpoint_steps([epoch], steps_per_epoch) == {expected: epoch}


def test_checkpoint_steps_of_a_schedule():
    assert checkpoint_steps(SCHEDULE, 4) == dict(zip(SCHEDULE_STEPS, SCHEDULE, strict=True))


@pytest.mark.parametrize(
    ("epochs", "steps_per_epoch"),
    [([0.2, 0.25], 4), ([0.4, 0.5], 2), ([0.0, 0.01, 1.0], 1), ([0.1, 0.3], 1), ([1.0, 0.95], 10)],
)
def test_checkpoint_steps_collision(epochs, steps_per_epoch):
    with pytest.raises(ValueError, match="same step") as info:
        checkpoint_steps(epochs, steps_per_epoch)
    assert f"{steps_per_epoch} steps per epoch" in str(info.value)


@pytest.mark.parametrize(
    ("learning_rate", "input_scale", "saved"),
    [(1e20, 1.0, [0.0, 0.25]), (1e6, 1e35, [0.0])],
    # a huge step makes the second loss NaN; huge inputs make the first update overflow, which
    # the checkpoint after that step must catch before calling save
    ids=["non-finite-loss", "non-finite-params"],
)
def test_divergence_raises_and_saves_only_finite_params(task, learning_rate, input_scale, saved):
    model, params, (images, labels), test_set = task
    every_step = [k / 4 for k in range(13)]  # a checkpoint after every one of the 12 steps
    save = Recorder()
    scaled = (model, params, (images * input_scale, labels), test_set)
    with pytest.raises(DivergedError) as info:
        run(
            scaled,
            settings(learning_rate=learning_rate),
            checkpoints=every_step,
            save=save,
            name="diverging-run",
        )
    message = str(info.value)
    assert "learning rate" in message
    assert f"{learning_rate:g}" in message
    assert "diverging-run" in message
    assert "no checkpoint written" in message
    assert save.epochs == saved
    for _, leaves, _ in save.calls:
        assert all(np.all(np.isfinite(leaf)) for leaf in leaves)


@pytest.mark.parametrize("regime", ["adversarial", "flip"])
def test_attack_regimes_need_attack_settings(task, regime):
    no_attack = settings(regime, epochs=1, learning_rate=0.1, momentum=0.0, attack=None)
    save = Recorder()
    with pytest.raises(ValueError, match=regime):
        run(task, no_attack, checkpoints=[0.0], save=save)
    assert save.calls == []


def test_batch_larger_than_the_data(task):
    too_big = settings(epochs=1, batch_size=NUM_TRAIN + 1, learning_rate=0.1, momentum=0.0)
    with pytest.raises(ValueError, match="batch_size"):
        run(task, too_big, checkpoints=[0.0])

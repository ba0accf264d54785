"""L-infinity PGD: stays in the epsilon-ball and the pixel range, and raises the loss."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ntk_evolution.attacks import pgd_linf
from ntk_evolution.training import cross_entropy

STEPS = 10


@pytest.fixture(scope="module")
def problem(model_and_params):
    """A loss ``loss(x, y)`` of the random-readout MLP and a batch that touches 0 and 1."""
    model, params = model_and_params("mlp", False)
    images = np.array(jax.random.uniform(jax.random.PRNGKey(10), (16, 8, 8, 1)), np.float32)
    images[0] = 0.0  # an all-black image
    images[1] = 1.0  # an all-white image
    images[2, :4] = 0.0  # partly saturated ones
    images[3, 4:] = 1.0
    labels = jnp.asarray(np.random.default_rng(0).integers(0, 10, size=16))

    def loss(x, y):
        return cross_entropy(model.apply(params, x), y)

    return loss, jnp.asarray(images), labels


def attack(problem, epsilon, *, key=0, steps=STEPS, random_start=True):
    loss, images, labels = problem
    return pgd_linf(
        loss,
        images,
        labels,
        jax.random.PRNGKey(key),
        epsilon=epsilon,
        step_size=2.5 * epsilon / max(steps, 1),
        steps=steps,
        random_start=random_start,
    )


@pytest.mark.parametrize("random_start", [True, False])
@pytest.mark.parametrize("epsilon", [0.01, 0.1, 0.3])
def test_stays_in_ball_and_pixel_range(problem, epsilon, random_start):
    _, images, _ = problem
    adv = np.asarray(attack(problem, epsilon, random_start=random_start))
    clean = np.asarray(images)
    assert adv.shape == clean.shape
    assert adv.dtype == clean.dtype
    assert np.abs(adv - clean).max() <= epsilon + 1e-6
    assert adv.min() >= 0.0
    assert adv.max() <= 1.0
    assert np.all(adv[0] <= epsilon + 1e-6)  # black image: can only brighten
    assert np.all(adv[1] >= 1.0 - epsilon - 1e-6)  # white image: can only darken
    assert np.abs(adv - clean).max() > epsilon / 2  # the attack did move the images


@pytest.mark.parametrize("epsilon", [0.05, 0.1])
def test_raises_the_loss(problem, epsilon):
    loss, images, labels = problem
    clean = float(loss(images, labels))
    adversarial = float(loss(attack(problem, epsilon), labels))
    noise = jax.random.uniform(
        jax.random.PRNGKey(11), images.shape, minval=-epsilon, maxval=epsilon
    )
    noisy = float(loss(jnp.clip(images + noise, 0.0, 1.0), labels))
    assert adversarial > clean
    assert adversarial > noisy
    # With 10 steps of 0.25 epsilon the attack is far stronger than random noise.
    assert adversarial - clean > 5 * abs(noisy - clean)


def test_more_steps_raise_the_loss_further(problem):
    loss, _, labels = problem
    few = float(loss(attack(problem, 0.1, steps=1, random_start=False), labels))
    many = float(loss(attack(problem, 0.1, steps=20, random_start=False), labels))
    assert many > few


def test_no_steps_without_random_start_is_the_identity(problem):
    _, images, _ = problem
    np.testing.assert_array_equal(attack(problem, 0.1, steps=0, random_start=False), images)


def test_random_start_alone_stays_in_the_ball(problem):
    _, images, _ = problem
    start = np.asarray(attack(problem, 0.1, steps=0, random_start=True))
    assert not np.array_equal(start, images)
    assert np.abs(start - np.asarray(images)).max() <= 0.1 + 1e-6
    assert 0.0 <= start.min() and start.max() <= 1.0


def test_same_key_same_result(problem):
    a = attack(problem, 0.1, key=3)
    b = attack(problem, 0.1, key=3)
    c = attack(problem, 0.1, key=4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)

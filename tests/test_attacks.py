"""PGD in L-infinity and L2 balls: stays in the ball and the pixel range, and raises the loss."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ntk_evolution.attacks.pgd import pgd
from ntk_evolution.configuration.settings import Attack
from ntk_evolution.models.classifier import cross_entropy

from pgd_settings import pgd_attack

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


def attack(problem, epsilon, *, norm="linf", key=0, steps=STEPS, random_start=True, step_size=None):
    loss, images, labels = problem
    step_size = 2.5 * epsilon / max(steps, 1) if step_size is None else step_size
    settings = pgd_attack(epsilon, step_size, steps, random_start, norm)
    return pgd(loss, images, labels, jax.random.PRNGKey(key), settings)


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


@pytest.mark.parametrize(("norm", "epsilon"), [("linf", 0.1), ("l2", 0.5)])
def test_no_steps_without_random_start_is_the_identity(problem, norm, epsilon):
    _, images, _ = problem
    adv = attack(problem, epsilon, norm=norm, steps=0, random_start=False)
    np.testing.assert_array_equal(adv, images)


def test_random_start_alone_stays_in_the_ball(problem):
    _, images, _ = problem
    start = np.asarray(attack(problem, 0.1, steps=0, random_start=True))
    assert not np.array_equal(start, images)
    assert np.abs(start - np.asarray(images)).max() <= 0.1 + 1e-6
    assert 0.0 <= start.min() and start.max() <= 1.0


@pytest.mark.parametrize(("norm", "epsilon"), [("linf", 0.1), ("l2", 0.5)])
def test_same_key_same_result(problem, norm, epsilon):
    a = attack(problem, epsilon, norm=norm, key=3)
    b = attack(problem, epsilon, norm=norm, key=3)
    c = attack(problem, epsilon, norm=norm, key=4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def l2_distances(a, b) -> np.ndarray:
    """Per-example L2 distances between two batches."""
    diff = np.asarray(a, np.float64) - np.asarray(b, np.float64)
    return np.sqrt(np.sum(diff.reshape(len(diff), -1) ** 2, axis=1))


@pytest.mark.parametrize("random_start", [True, False])
@pytest.mark.parametrize("epsilon", [0.1, 0.5, 2.0])
def test_l2_stays_in_ball_and_pixel_range(problem, epsilon, random_start):
    _, images, _ = problem
    adv = np.asarray(attack(problem, epsilon, norm="l2", random_start=random_start))
    assert adv.shape == images.shape
    assert adv.dtype == images.dtype
    distances = l2_distances(adv, images)
    assert distances.max() <= epsilon * (1 + 1e-5)
    assert adv.min() >= 0.0
    assert adv.max() <= 1.0
    assert np.median(distances) > 0.9 * epsilon  # the attack spends its budget


@pytest.mark.parametrize("epsilon", [0.25, 0.5])
def test_l2_raises_the_loss(problem, epsilon):
    loss, images, labels = problem
    clean = float(loss(images, labels))
    adversarial = float(loss(attack(problem, epsilon, norm="l2"), labels))
    z = np.asarray(jax.random.normal(jax.random.PRNGKey(11), images.shape))
    noise = epsilon * z / l2_distances(z, np.zeros_like(z)).reshape(-1, 1, 1, 1)
    noisy = float(loss(jnp.clip(images + noise, 0.0, 1.0), labels))
    assert adversarial > clean
    assert adversarial - clean > 5 * abs(noisy - clean)


def test_l2_steps_follow_the_normalised_gradient():
    # A linear loss sum_i w_i . x_i: every step moves image i by alpha along w_i / ||w_i||, until
    # the projection holds it on the sphere of radius epsilon, away from the pixel bounds.
    w = jax.random.normal(jax.random.PRNGKey(12), (5, 4, 4, 1))
    images = jnp.full((5, 4, 4, 1), 0.5)
    labels = jnp.zeros(5, jnp.int32)
    direction = np.asarray(w) / l2_distances(w, np.zeros_like(w)).reshape(-1, 1, 1, 1)

    def linear(x, y):
        return jnp.sum(w * x)

    def run(steps):
        settings = pgd_attack(0.3, 0.1, steps, random_start=False, norm="l2")
        return pgd(linear, images, labels, jax.random.PRNGKey(0), settings)

    np.testing.assert_allclose(run(1), 0.5 + 0.1 * direction, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(run(2), 0.5 + 0.2 * direction, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(run(10), 0.5 + 0.3 * direction, rtol=1e-6, atol=1e-6)


def test_l2_random_start_is_uniform_in_the_ball():
    # In d = 2 dimensions a uniform point of the ball lies within radius eps/2 with probability
    # 1/4 (eps * U would give 1/2), and its direction has mean zero.
    n, epsilon = 4000, 0.1
    images = jnp.full((n, 2), 0.5)
    start = pgd(
        lambda x, y: jnp.sum(x),
        images,
        jnp.zeros(n, jnp.int32),
        jax.random.PRNGKey(13),
        pgd_attack(epsilon, 0.0, 0, norm="l2"),
    )
    offsets = np.asarray(start, np.float64) - 0.5
    radii = np.linalg.norm(offsets, axis=1)
    assert radii.max() <= epsilon * (1 + 1e-5)
    assert abs(np.mean(radii < epsilon / 2) - 0.25) < 0.03
    assert np.all(np.abs(np.mean(offsets / radii[:, None], axis=0)) < 0.05)


def test_l2_zero_epsilon_is_the_identity(problem):
    _, images, _ = problem
    np.testing.assert_array_equal(attack(problem, 0.0, norm="l2", step_size=0.1), images)


def test_attack_rejects_an_unknown_norm():
    section = {"norm": "l1", "epsilon": 0.1, "step_size": 0.1, "steps": 1, "random_start": True}
    with pytest.raises(ValueError, match="'l1'") as info:
        Attack.model_validate(section)
    assert "'linf'" in str(info.value) and "'l2'" in str(info.value)


def test_attack_is_read_from_its_config_section():
    section = {"norm": "l2", "epsilon": 0.25, "step_size": 0.05, "steps": 10, "random_start": False}
    assert Attack.model_validate(section) == pgd_attack(0.25, 0.05, 10, False, "l2")
    with pytest.raises(ValueError, match="norm"):
        Attack.model_validate({k: v for k, v in section.items() if k != "norm"})

"""APGD, Square and the ensemble: exact on a linear classifier, at least as strong as PGD, no
gradient for Square, and the ensemble's worst case per example."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from sklearn.datasets import load_digits

from ntk_evolution.attacks.apgd import checkpoints, target_classes
from ntk_evolution.attacks.evaluation import craft, hits, worst_case
from ntk_evolution.configuration.settings import (
    ApgdAttack,
    EvaluationSettings,
    PgdAttack,
    SquareAttack,
    read_attack,
)
from ntk_evolution.stages.evaluation import judge

CLASSES = 10
EPSILON = 0.05


def apgd_attack(loss: str = "ce", steps: int = 20, targets: int | None = None, **ball):
    ball = {"norm": "linf", "epsilon": EPSILON} | ball
    return ApgdAttack(method="apgd", loss=loss, targets=targets, steps=steps, restarts=1, **ball)


def pgd_attack(steps: int, epsilon: float = EPSILON) -> PgdAttack:
    return PgdAttack(
        method="pgd",
        norm="linf",
        epsilon=epsilon,
        step_size=2.5 * epsilon / steps,
        steps=steps,
        random_start=True,
    )


def square_attack(queries: int = 300, norm: str = "linf", epsilon: float = EPSILON):
    return SquareAttack(method="square", norm=norm, epsilon=epsilon, queries=queries, p_init=0.8)


def linear(params, images):
    weights, bias = params
    return images.reshape(len(images), -1) @ weights + bias


@pytest.fixture(scope="module")
def linear_problem():
    """A random linear classifier of 8x8 images and 300 images it labels itself."""
    rng = np.random.default_rng(0)
    params = (
        jnp.asarray(rng.normal(size=(64, CLASSES)), jnp.float32),
        jnp.asarray(rng.normal(size=CLASSES), jnp.float32),
    )
    images = rng.uniform(size=(300, 8, 8, 1)).astype(np.float32)
    labels = np.asarray(jnp.argmax(linear(params, images), -1))
    return params, images, labels


def exact_linf_robust(params, images, labels, epsilon):
    """The exact L-inf worst case of a linear classifier in the box [0, 1]: for each wrong class
    j, the margin (w_y - w_j) . x + b_y - b_j is least at x - epsilon sign(w_y - w_j), clipped
    to the box (the problem separates by pixel)."""
    weights, bias = (np.asarray(p, np.float64) for p in params)
    flat = images.reshape(len(images), -1).astype(np.float64)
    robust = np.ones(len(images), bool)
    for i, (x, y) in enumerate(zip(flat, labels, strict=True)):
        for j in range(CLASSES):
            w = weights[:, y] - weights[:, j]
            worst = np.clip(x - epsilon * np.sign(w), 0, 1)
            if j != y and worst @ w + bias[y] - bias[j] < 0:
                robust[i] = False
    return robust


def robust_under(apply, params, images, labels, attack, batch_size=500):
    adversarial = craft(
        apply,
        params,
        images,
        labels,
        attacks={"a": attack},
        key=jax.random.PRNGKey(0),
        batch_size=batch_size,
    )
    return hits(apply, params, images, labels, adversarial=adversarial, batch_size=batch_size)


def test_checkpoints_follow_the_papers_schedule():
    # p = 0, 0.22, 0.41, 0.57, 0.7, 0.8, 0.87, 0.93, 0.99 of 100 steps
    assert checkpoints(100) == [22, 41, 57, 70, 80, 87, 93, 99]
    assert checkpoints(3) == [1, 2, 3]


def test_targets_are_the_classes_ranked_after_the_label():
    logits = jnp.array([[5.0, 1.0, 3.0, 4.0], [0.0, 9.0, 8.0, 7.0]])
    labels = jnp.array([3, 1])
    assert target_classes(logits, labels, 1).tolist() == [0, 2]
    assert target_classes(logits, labels, 2).tolist() == [2, 3]


def test_targeted_apgd_finds_the_exact_linear_worst_case(linear_problem):
    params, images, labels = linear_problem
    exact = exact_linf_robust(params, images, labels, EPSILON)
    assert 0.2 < exact.mean() < 0.8  # a problem where the attack matters
    attack = apgd_attack("dlr_targeted", steps=50, targets=CLASSES - 1)
    robust = robust_under(linear, params, images, labels, attack)["a"]
    np.testing.assert_array_equal(robust, exact)


def test_apgd_stays_in_the_ball_and_the_pixel_range(linear_problem):
    params, images, labels = linear_problem
    for attack, distance in (
        (apgd_attack(), lambda d: np.abs(d).max(axis=(1, 2, 3))),
        (apgd_attack(norm="l2", epsilon=0.5), lambda d: np.sqrt((d**2).sum(axis=(1, 2, 3)))),
    ):
        adversarial = craft(
            linear, params, images, labels, attacks={"a": attack},
            key=jax.random.PRNGKey(1), batch_size=128,
        )["a"]  # fmt: skip
        assert distance(adversarial - images).max() <= attack.epsilon + 1e-5
        assert adversarial.min() >= 0 and adversarial.max() <= 1


@pytest.fixture(scope="module")
def trained_network():
    """A one-hidden-layer network trained on scikit-learn's digits (pixels in [0, 1]) for 300
    Adam steps; 360 test images."""
    digits = load_digits()
    images = (digits.images[..., None] / 16).astype(np.float32)
    labels = digits.target
    train, test = slice(0, 1400), slice(1437, 1797)

    def apply(params, x):
        hidden = jax.nn.relu(x.reshape(len(x), -1) @ params["w1"] + params["b1"])
        return hidden @ params["w2"] + params["b2"]

    keys = jax.random.split(jax.random.PRNGKey(0), 2)
    params = {
        "w1": jax.random.normal(keys[0], (64, 64)) / 8,
        "b1": jnp.zeros(64),
        "w2": jax.random.normal(keys[1], (64, CLASSES)) / 8,
        "b2": jnp.zeros(CLASSES),
    }
    optimizer = optax.adam(1e-2)
    state = optimizer.init(params)

    @jax.jit
    def step(params, state):
        def loss(p):
            logits = apply(p, images[train])
            return optax.softmax_cross_entropy_with_integer_labels(logits, labels[train]).mean()

        updates, state = optimizer.update(jax.grad(loss)(params), state)
        return optax.apply_updates(params, updates), state

    for _ in range(300):
        params, state = step(params, state)
    return apply, params, images[test], labels[test]


def test_apgd_is_at_least_as_strong_as_pgd_with_the_same_steps(trained_network):
    apply, params, images, labels = trained_network
    clean = hits(apply, params, images, labels, adversarial={}, batch_size=500)["clean"]
    assert clean.mean() > 0.9
    for steps in (5, 20):
        pgd = robust_under(apply, params, images, labels, pgd_attack(steps))["a"].mean()
        apgd = robust_under(apply, params, images, labels, apgd_attack(steps=steps))["a"].mean()
        assert apgd <= pgd, (steps, apgd, pgd)
        assert pgd < clean.mean()  # the radius is one where attacks matter


@jax.custom_vjp
def _no_gradient(x):
    return x


def _forward(x):
    return x, None


def _backward(_, g):
    raise AssertionError("a gradient of the model was asked for")


_no_gradient.defvjp(_forward, _backward)


def test_square_lowers_accuracy_without_any_gradient(trained_network):
    apply, params, images, labels = trained_network

    def guarded(params, x):
        return apply(params, _no_gradient(x))

    clean = hits(guarded, params, images, labels, adversarial={}, batch_size=500)["clean"]
    for attack in (square_attack(), square_attack(norm="l2", epsilon=1.0)):
        robust = robust_under(guarded, params, images, labels, attack)["a"]
        assert robust.mean() < clean.mean() - 0.1, attack.norm
    with pytest.raises(AssertionError, match="gradient of the model"):
        robust_under(guarded, params, images, labels, pgd_attack(3))


def test_worst_case_is_right_only_under_every_member_and_names_the_first_breaker():
    clean = np.array([True, True, True, True, False])
    members = [
        np.array([True, False, True, True, False]),
        np.array([True, False, False, True, False]),
        np.array([True, True, False, False, False]),
    ]
    robust, first = worst_case(clean, members)
    assert robust.tolist() == [True, False, False, False, False]
    assert first.tolist() == [-1, 0, 1, 2, -1]  # a wrong clean image is broken by no attack


def test_the_ensemble_is_the_worst_case_of_its_members_per_example(linear_problem):
    params, images, labels = linear_problem
    members = {
        "pgd": pgd_attack(10).model_dump(exclude={"epsilons"}),
        "apgd_ce": apgd_attack(steps=10).model_dump(exclude={"epsilons"}),
        "square": square_attack(queries=50).model_dump(exclude={"epsilons"}),
    }
    ensemble = {"method": "ensemble", "norm": "linf", "epsilon": EPSILON, "members": list(members)}
    evaluation = EvaluationSettings(
        batch_size=128,
        seed=0,
        transfer=False,
        attacks={name: read_attack(a) for name, a in (members | {"all": ensemble}).items()},
    )
    judged = judge(linear, params, (images, labels), evaluation)
    key = f"all@{EPSILON!r}"
    parts = [judged.hits[f"{m}@{EPSILON!r}"] for m in members]
    np.testing.assert_array_equal(judged.hits[key], np.logical_and.reduce(parts))
    for part in parts:
        assert np.all(judged.hits[key] <= part)  # never above a member, example by example
    first = judged.first[key]
    for i, index in enumerate(first):
        broke = [not part[i] for part in parts]
        assert index == (broke.index(True) if any(broke) and judged.hits["clean"][i] else -1)
    assert set(first) > {-1}  # some member broke some example
    assert judged.members["all"] == list(members)
    assert set(judged.crafted) == {f"{m}@{EPSILON!r}" for m in members}  # no images of its own

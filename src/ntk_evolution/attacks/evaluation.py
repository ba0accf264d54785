"""Clean, robust and transfer accuracy of a model on a whole test set, batch by batch.

For a model g with parameters theta, test examples (x_i, y_i), i = 1..n, the prediction
p(x) = argmax_c g(theta, x)_c and a PGD attack A (see :mod:`ntk_evolution.attacks.pgd`):

- clean accuracy:    (1/n) sum_i [p(x_i) = y_i];
- robust accuracy:   (1/n) sum_i [p(x_i) = y_i and p(A_g(x_i)) = y_i], with A_g(x_i) crafted
  against g itself;
- transfer accuracy: the same with A_h(x_i) crafted against another model h, the source. If g's
  robust accuracy came from gradient masking (uninformative input gradients), examples crafted
  with h's gradients would break g more often than its own do.

The clean image lies in its own ball, so an example the model gets wrong counts as broken by
every attack: robust and transfer accuracy never exceed clean accuracy. The attacks ascend the
cross-entropy of the attacked model.

Evaluation has two steps. :func:`craft` makes the adversarial test images against one model;
:func:`evaluate` judges a model on the clean images and on adversarial images made by
:func:`craft`, against the model itself (robust) or against a source (transfer). The source's
images are therefore crafted once and judged for any number of models: the workflow crafts them
when it evaluates a phase-1 network and reuses them for every child of that run.

The test set is cut into batches of ``batch_size`` examples, the last one padded with blank images
that are not counted, so memory is bounded by one batch and one compiled program serves every
batch. Batch ``b`` starts its attacks from ``fold_in(key, b)``, so results are bitwise
reproducible on the same machine.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import jax
import numpy as np
from numpy.typing import ArrayLike

from ntk_evolution._infra.type_aliases import ApplyFn, Params
from ntk_evolution.attacks.apgd import apgd
from ntk_evolution.attacks.pgd import pgd
from ntk_evolution.attacks.square import square
from ntk_evolution.configuration.settings import ApgdAttack, Attack, SingleAttack, SquareAttack
from ntk_evolution.models.classifier import as_pytree, correct, cross_entropy


@functools.cache
def _correct_fn() -> Callable[..., jax.Array]:
    """Jitted ``(model, params, images, labels) -> correct``: whether the arg-max is the label."""

    def model_correct(model, params, images, labels):
        return correct(model(params, images), labels)

    return jax.jit(model_correct)


def _static(attack: Attack | SingleAttack) -> str:
    """What shapes an attack's compiled program: every setting but its radius (and PGD's step
    size, which scales with it), as text."""
    update = {"epsilon": 1.0, "epsilons": []} if hasattr(attack, "epsilons") else {"epsilon": 1.0}
    if isinstance(attack, Attack):
        update["step_size"] = 1.0
    return type(attack).__name__ + attack.model_copy(update=update).model_dump_json()


def _identity(attack: Attack | SingleAttack) -> str:
    """An attack's settings as text, but for the radii it is not measured at now: equal for
    attacks that craft the same images."""
    exclude = {"epsilons"} if hasattr(attack, "epsilons") else set()
    return type(attack).__name__ + attack.model_dump_json(exclude=exclude)


_PROGRAMS: dict[str, Callable[..., tuple[jax.Array, jax.Array]]] = {}


def _program(attack: Attack | SingleAttack) -> Callable[..., tuple[jax.Array, jax.Array]]:
    """Jitted ``(model, params, images, labels, key, epsilon, step_size, rank) -> (adversarial
    images, misclassified)`` against the model, by ``attack``; its radius, PGD's step size and
    APGD's target rank are arguments, so attacks that differ only in those share one program
    (cached under :func:`_static`).

    ``model`` is a pytree (:func:`ntk_evolution.models.classifier.as_pytree`), so one compiled program
    serves every model of the same kind and every radius of an attack.
    """
    static = _static(attack)
    if static not in _PROGRAMS:
        _PROGRAMS[static] = _compile(attack)
    return _PROGRAMS[static]


def _compile(attack: Attack | SingleAttack) -> Callable[..., tuple[jax.Array, jax.Array]]:
    """The program of :func:`_program`."""

    def adversarial(model, params, images, labels, key, epsilon, step_size, rank):
        def logits(x):
            return model(params, x)

        ball = {"norm": attack.norm, "epsilon": epsilon}
        if isinstance(attack, ApgdAttack):
            steps = {"steps": attack.steps, "loss": attack.loss, "rank": rank}
            return apgd(logits, images, labels, key, **ball, **steps)
        if isinstance(attack, SquareAttack):
            queries = {"queries": attack.queries, "p_init": attack.p_init}
            return square(logits, images, labels, key=key, **ball, **queries)
        pgd_attack = Attack.model_construct(
            norm=attack.norm,
            epsilon=epsilon,
            step_size=step_size,
            steps=attack.steps,
            random_start=attack.random_start,
        )
        x = pgd(lambda x, y: cross_entropy(logits(x), y), images, labels, key, pgd_attack)
        return x, ~correct(logits(x), labels)

    return jax.jit(adversarial)


def _runs(attack: Attack | SingleAttack) -> list[tuple[int, int]]:
    """``(restart, target rank)`` of every run of an attack: APGD's restarts for each target,
    one run for the others."""
    if not isinstance(attack, ApgdAttack):
        return [(0, 1)]
    return [(r, t) for t in range(1, (attack.targets or 1) + 1) for r in range(attack.restarts)]


def _attack_batch(
    attack: Attack | SingleAttack, model, params, images, labels, key: jax.Array
) -> np.ndarray:
    """Adversarial images of one batch: over an attack's runs, each example keeps the first
    image that the model misclassifies (else the last run's). Run i > 0 starts from
    ``fold_in(key, i)``, the first (an attack's only one, such as PGD's) from ``key``."""
    program = _program(attack)
    step_size = getattr(attack, "step_size", 0.0)
    result, found = None, None
    for i, (_, rank) in enumerate(_runs(attack)):
        start = jax.random.fold_in(key, i) if i else key
        x, wrong = program(model, params, images, labels, start, attack.epsilon, step_size, rank)
        x, wrong = np.asarray(x), np.asarray(wrong)
        if result is None:
            result, found = x, wrong
        else:
            result = np.where(found[(...,) + (None,) * (x.ndim - 1)], result, x)
            found = found | wrong
    return result


def _check(images: np.ndarray, batch_size: int) -> None:
    if len(images) == 0:
        raise ValueError("no test images to evaluate on")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, not {batch_size}")


def _pad(a: np.ndarray, size: int) -> np.ndarray:
    """``a`` with blank rows appended up to ``size`` rows."""
    return np.concatenate([a, np.zeros((size - len(a), *a.shape[1:]), a.dtype)])


def _batches(
    arrays: tuple[np.ndarray, ...], batch_size: int
) -> Iterator[tuple[int, int, tuple[np.ndarray, ...]]]:
    """Yield ``(b, size, padded)`` for batch ``b``: ``size`` real examples of ``arrays``, each
    padded to ``min(batch_size, n)`` rows so that one compiled program serves every batch."""
    n = len(arrays[0])
    batch_size = min(batch_size, n)
    for b, start in enumerate(range(0, n, batch_size)):
        size = min(batch_size, n - start)
        yield b, size, tuple(_pad(a[start : start + size], batch_size) for a in arrays)


def craft(
    apply: ApplyFn,
    params: Params,
    images: ArrayLike,
    labels: ArrayLike,
    *,
    attacks: Mapping[str, Attack | SingleAttack],
    key: jax.Array,
    batch_size: int,
) -> dict[str, np.ndarray]:
    """Adversarial test images against ``apply(params, .)``, one array per attack name.

    Batch ``b`` starts every attack from ``fold_in(key, b)``, so equal attacks under two names
    give the same images: they are crafted once. Each array has the shape and dtype of
    ``images`` (float32 in [0, 1]).
    """
    images, labels = np.asarray(images, np.float32), np.asarray(labels)
    _check(images, batch_size)
    model = as_pytree(apply)
    made: dict[str, np.ndarray] = {}
    for attack in attacks.values():
        same = _identity(attack)
        if same in made:
            continue
        parts = []
        for b, size, (x, y) in _batches((images, labels), batch_size):
            start = jax.random.fold_in(key, b)
            parts.append(_attack_batch(attack, model, params, x, y, start)[:size])
        made[same] = np.concatenate(parts)
    return {name: made[_identity(attack)] for name, attack in attacks.items()}


def evaluate(
    apply: ApplyFn, params: Params, images: ArrayLike, labels: ArrayLike, **options: Any
) -> dict[str, float]:
    """Clean, robust and transfer accuracy of ``apply(params, .)``: the share of the N examples
    :func:`hits` (with its ``options``) counts as correct, under the same names."""
    return shares(hits(apply, params, images, labels, **options))


def worst_case(clean: np.ndarray, members: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """An ensemble's hits from its members' (each from :func:`hits`, so right clean too): an
    example counts as right only if it is right clean and under every member; and per example
    the index of the first member that breaks it, -1 where none does (also where the clean
    image is already wrong: no attack broke it)."""
    stacked = np.stack([np.asarray(m, bool) for m in members])
    clean = np.asarray(clean, bool)
    broken = clean[None] & ~stacked
    return clean & ~broken.any(0), np.where(broken.any(0), broken.argmax(0), -1)


def shares(correct: Mapping[str, np.ndarray]) -> dict[str, float]:
    """The share of true entries of every array of :func:`hits`: the accuracies."""
    return {name: float(np.count_nonzero(hit)) / len(hit) for name, hit in correct.items()}


def hits(
    apply: ApplyFn,
    params: Params,
    images: ArrayLike,
    labels: ArrayLike,
    *,
    adversarial: Mapping[str, ArrayLike],
    batch_size: int,
    transfer: Mapping[str, ArrayLike] | None = None,
) -> dict[str, np.ndarray]:
    """Which examples ``apply(params, .)`` gets right, clean and under every attack.

    Args:
        apply: the evaluated model, ``apply(params, images) -> logits``.
        params: its parameters.
        images: the test images in [0, 1], (N, ...).
        labels: their integer labels, (N,).
        adversarial: by attack name, the test images crafted against this model
            (:func:`craft`); each gives a robust accuracy.
        batch_size: examples per compiled call; bounds the memory.
        transfer: by attack name, test images crafted against another model, the source; each
            gives a transfer accuracy.

    Returns:
        ``{"clean": ...}``, plus ``{name: ...}`` for every ``adversarial`` attack and
        ``{"transfer_" + name: ...}`` for every ``transfer`` attack; every value is a boolean
        array (N,), true where the clean example and (for an attack) its attacked copy are
        classified correctly.

    Raises:
        ValueError: no test images, a batch size below 1, an attack named ``"clean"`` or
            ``"transfer_..."``, or adversarial images of another shape than ``images``.
    """
    images, labels = np.asarray(images, np.float32), np.asarray(labels)
    _check(images, batch_size)
    sets = {name: np.asarray(x, np.float32) for name, x in adversarial.items()}
    sets |= {f"transfer_{name}": np.asarray(x, np.float32) for name, x in (transfer or {}).items()}
    reserved = [name for name in adversarial if name == "clean" or name.startswith("transfer_")]
    if reserved:
        raise ValueError(
            f"attack names {reserved} clash with the result names 'clean' and 'transfer_*'"
        )
    for name, x in sets.items():
        if x.shape != images.shape:
            raise ValueError(
                f"adversarial images {name!r} have shape {x.shape}, the test images {images.shape}"
            )
    model, judge = as_pytree(apply), _correct_fn()
    parts: dict[str, list[np.ndarray]] = {name: [] for name in ["clean", *sets]}
    names = list(sets)
    for _, size, (x, y, *attacked) in _batches((images, labels, *sets.values()), batch_size):
        clean = np.asarray(judge(model, params, x, y))[:size]
        parts["clean"].append(clean)
        for name, a in zip(names, attacked, strict=True):
            parts[name].append(clean & np.asarray(judge(model, params, a, y))[:size])
    return {name: np.concatenate(part) for name, part in parts.items()}

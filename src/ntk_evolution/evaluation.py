"""Clean, robust and transfer accuracy of a model on a whole test set, batch by batch.

For a model g with parameters theta, test examples (x_i, y_i), i = 1..n, the prediction
p(x) = argmax_c g(theta, x)_c and a PGD attack A (see :mod:`ntk_evolution.attacks`):

- clean accuracy:    (1/n) sum_i [p(x_i) = y_i];
- robust accuracy:   (1/n) sum_i [p(x_i) = y_i and p(A_g(x_i)) = y_i], with A_g(x_i) crafted
  against g itself;
- transfer accuracy: the same with A_h(x_i) crafted against another model h, the source. If g's
  robust accuracy came from gradient masking (uninformative input gradients), examples crafted
  with h's gradients would break g more often than its own do.

The clean image lies in its own ball, so an example the model gets wrong counts as broken by
every attack: robust and transfer accuracy never exceed clean accuracy. The attacks ascend the
cross-entropy of the attacked model.

The test set is cut into batches of ``batch_size`` examples, the last one padded with blank images
that are not counted, so memory is bounded by one batch and one compiled program serves every
batch. Batch ``b`` starts its attacks from ``fold_in(key, b)``, the same for the robust and the
transfer attack, so results are bitwise reproducible on the same machine and the transfer attack
from the model itself is the robust attack.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from numpy.typing import ArrayLike

from ntk_evolution.attacks import Attack
from ntk_evolution.dynamics import as_pytree
from ntk_evolution.training import cross_entropy

Params = Any
ApplyFn = Callable[[Params, jax.Array], jax.Array]
CorrectFn = Callable[..., jax.Array]  # (model, params, source, source_params, x, y, key)


def _correct(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Per-example: whether the arg-max logit is the label."""
    return jnp.argmax(logits, axis=-1) == labels


@functools.cache
def _clean_fn() -> CorrectFn:
    """Jitted ``(model, params, source, source_params, images, labels, key) -> correct``."""

    def correct(model, params, source, source_params, images, labels, key):
        del source, source_params, key
        return _correct(model(params, images), labels)

    return jax.jit(correct)


@functools.cache
def _attacked_fn(attack: Attack) -> CorrectFn:
    """Jitted ``correct`` on clean and attacked images, the attack crafted against the source.

    ``correct(model, params, source, source_params, images, labels, key)`` attacks
    ``source(source_params, .)`` and judges ``model(params, .)``; ``model`` and ``source`` are
    pytrees (:func:`ntk_evolution.dynamics.as_pytree`), so one compiled program serves every
    model of the same kind.
    """

    def correct(model, params, source, source_params, images, labels, key):
        def loss(x, y):
            return cross_entropy(source(source_params, x), y)

        adversarial = attack.perturb(loss, images, labels, key)
        clean = _correct(model(params, images), labels)
        return clean & _correct(model(params, adversarial), labels)

    return jax.jit(correct)


def _share(
    correct: CorrectFn,
    model: jax.tree_util.Partial,
    params: Params,
    source: jax.tree_util.Partial,
    source_params: Params,
    images: np.ndarray,
    labels: np.ndarray,
    *,
    key: jax.Array,
    batch_size: int,
) -> float:
    """Share of the examples that ``correct`` marks as correct, one padded batch at a time."""
    hits = 0
    for b, start in enumerate(range(0, len(images), batch_size)):
        x, y = images[start : start + batch_size], labels[start : start + batch_size]
        size = len(x)
        if size < batch_size:
            x = np.concatenate([x, np.zeros((batch_size - size, *x.shape[1:]), x.dtype)])
            y = np.concatenate([y, np.zeros(batch_size - size, y.dtype)])
        batch = correct(model, params, source, source_params, x, y, jax.random.fold_in(key, b))
        hits += int(np.count_nonzero(np.asarray(batch)[:size]))
    return hits / len(images)


def evaluate(
    apply: ApplyFn,
    params: Params,
    images: ArrayLike,
    labels: ArrayLike,
    *,
    attacks: Mapping[str, Attack],
    key: jax.Array,
    batch_size: int,
    source: tuple[ApplyFn, Params] | None = None,
) -> dict[str, float]:
    """Clean, robust and (with ``source``) transfer accuracy of ``apply(params, .)``.

    Args:
        apply: the evaluated model, ``apply(params, images) -> logits``.
        params: its parameters.
        images: the test images in [0, 1], (N, ...).
        labels: their integer labels, (N,).
        attacks: the attacks to run, by name; every one gives a robust accuracy and, with
            ``source``, a transfer accuracy.
        key: PRNG key; batch ``b`` starts every attack from ``fold_in(key, b)``.
        batch_size: examples per compiled call; bounds the memory.
        source: ``(source_apply, source_params)``, the model the transfer attacks are crafted
            against.

    Returns:
        ``{"clean": ...}``, plus ``{name: ...}`` (robust accuracy) for every attack and, with
        ``source``, ``{"transfer_" + name: ...}``; every value is a share of the N examples.

    Raises:
        ValueError: no test images, a batch size below 1, or an attack named ``"clean"`` or
            ``"transfer_..."``.
    """
    images, labels = np.asarray(images), np.asarray(labels)
    if len(images) == 0:
        raise ValueError("no test images to evaluate on")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, not {batch_size}")
    reserved = [name for name in attacks if name == "clean" or name.startswith("transfer_")]
    if reserved:
        raise ValueError(
            f"attack names {reserved} clash with the result names 'clean' and 'transfer_*'"
        )

    batch_size = min(batch_size, len(images))

    model = as_pytree(apply)

    def share(correct: CorrectFn, source: jax.tree_util.Partial, source_params: Params) -> float:
        return _share(
            correct,
            model,
            params,
            source,
            source_params,
            images,
            labels,
            key=key,
            batch_size=batch_size,
        )

    results = {"clean": share(_clean_fn(), model, params)}
    for name, attack in attacks.items():
        results[name] = share(_attacked_fn(attack), model, params)
        if source is not None:
            source_apply, source_params = source
            results[f"transfer_{name}"] = share(
                _attacked_fn(attack), as_pytree(source_apply), source_params
            )
    return results

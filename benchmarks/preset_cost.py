"""Time a CIFAR preset's steps on this machine and estimate what the whole preset costs.

Runs the package's own training, NTK and evaluation code on random CIFAR-shaped images (no
dataset needed) for a few steps each, on whatever device JAX sees, with the preset's network
(``model``: for the CIFAR presets the batch-norm ResNet-18, trained in its training mode and
otherwise used in its evaluation mode, as the workflow does):

- phase-1 SGD steps of every regime in the preset (benign; adversarial with its PGD and mix),
- phase-2 steps of every dynamics and phase-2 regime,
- one kernel tile (``ntk.tile_size`` x ``ntk.tile_size`` probes, every logit),
- one evaluation batch of a phase-1 network and of a child (its own attacks at every epsilon,
  and the transfer attack: the parent's stored adversarial images, judged only),
- one batch of a kernel machine (its attacks at their own epsilon and the transfer images) and
  of an eigen-feature (the feature attack), on the probes' machine weights,

each timed after compilation and counted in floating-point operations (XLA's cost analysis of
the same computations; a PGD attack as its steps times one input gradient). Both are multiplied
by the number of such steps the preset needs (50000 training and 10000 test images): the times
give this machine's total, the operation counts divided by ``--tflops`` (an assumed sustained
rate) another machine's. Compilation, job start-up and data loading are not counted.

    uv run python benchmarks/preset_cost.py presets/cifar10-small.yaml --tflops 10
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import numpy as np
import yaml

from ntk_evolution.attacks.evaluation import craft, evaluate
from ntk_evolution.configuration.scenarios import merge
from ntk_evolution.configuration.settings import Attack, Config, Phase, SingleAttack, Training
from ntk_evolution.kernels.machines import machine_apply, machine_weights
from ntk_evolution.kernels.ntk import per_logit_ntk_fn
from ntk_evolution.models.classifier import cross_entropy
from ntk_evolution.models.dynamics import child_apply
from ntk_evolution.models.networks import Modes, build_network
from ntk_evolution.stages.evaluation import crafted_attacks
from ntk_evolution.stages.machines import feature_indices
from ntk_evolution.training.loop import train

TRAIN_IMAGES, TEST_IMAGES, SHAPE = 50000, 10000, (32, 32, 3)
DEFAULTS = Path(__file__).resolve().parents[1] / "workflow/config.default.yaml"
NUM_CLASSES = {"cifar10": 10, "cifar100": 100}


def images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    key = jax.random.PRNGKey(seed)
    x = np.asarray(jax.random.uniform(key, (n, *SHAPE)), np.float32)
    return x, np.arange(n, dtype=np.int32) % 10


def seconds_per_step(
    apply: Callable | Modes, params: Any, phase: Phase, regime: str, steps: int, state: Any = None
) -> float:
    """Seconds of one optimiser step of ``train`` (its second epoch, after compilation) of
    ``apply`` (with its ``state``: the modes of a network); NaN when ``steps`` is 0 (not
    timed)."""
    if not steps:
        return math.nan
    data = images(steps * phase.batch_size, 0)
    settings = phase.training([regime]).model_copy(update={"epochs": 2})
    rows = train(
        apply,
        params,
        data,
        images(phase.batch_size, 1),
        settings=settings,
        regime=regime,
        key=jax.random.PRNGKey(2),
        checkpoints=[],
        save=lambda *_: None,
        state=state,
    )
    return rows[1]["seconds"] / steps


def flops(fn: Callable, *args: Any) -> float:
    """Floating-point operations XLA counts in one call of ``fn(*args)``."""
    analysis = jax.jit(fn).lower(*args).cost_analysis()
    return float((analysis[0] if isinstance(analysis, list) else analysis)["flops"])


class Counts:
    """Operation counts of one model's passes on a batch of ``n`` images."""

    def __init__(self, apply: Callable, params: Any, n: int) -> None:
        x, y = images(n, 6)
        self.forward = flops(apply, params, x)
        self.step = flops(jax.value_and_grad(lambda p: cross_entropy(apply(p, x), y)), params)
        self.input_gradient = flops(jax.grad(lambda x: cross_entropy(apply(params, x), y)), x)

    def training_step(self, phase: Phase, regime: str) -> float:
        """One optimiser step of ``regime`` (adversarial: the PGD attack, then the update(s))."""
        if regime == "benign":
            return self.step
        updates = 2 if phase.adversarial_mix == "benign_then_adversarial" else 1
        return phase.attack.steps * self.input_gradient + updates * self.step

    def attack(self, attack: Attack | SingleAttack) -> float:
        """One attack against this model: PGD's steps, or another attack's passes
        (:attr:`ntk_evolution.configuration.settings.SquareAttack.passes`: forward passes counted as
        gradients, an upper bound), each an input gradient."""
        passes = attack.steps if isinstance(attack, Attack) else attack.passes - 1
        return passes * self.input_gradient


def seconds_of(fn: Callable[[], Any], timed: bool) -> float:
    """Seconds of ``fn()`` after a first, compiling call; NaN when not ``timed``."""
    if not timed:
        return math.nan
    jax.block_until_ready(fn())
    started = time.perf_counter()
    jax.block_until_ready(fn())
    return time.perf_counter() - started


Row = tuple[str, int, float, float]  # stage, how many, seconds each, operations each


def phase1_rows(config: Config, net: Any, variables: Any, steps: int) -> list[Row]:
    """Optimiser steps of every phase-1 run, benign and adversarial epochs apart, in the
    network's training mode (batch-norm: batch statistics)."""
    phase1 = config.phase1
    params, state = variables

    def training_mode(p: Any, x: Any) -> Any:
        return net.model.apply_train(p, state, x)[0]

    counts = Counts(training_mode, params, phase1.batch_size)
    rows = []
    for kind in ("benign", "adversarial"):
        epochs = 0
        for run in phase1.runs:
            settings: Training = phase1.training([run.regime])
            adversarial = [settings.adversarial_in(run.regime, e) for e in range(phase1.epochs)]
            epochs += adversarial.count(kind == "adversarial")
        if epochs:
            count = epochs * (TRAIN_IMAGES // phase1.batch_size)
            seconds = seconds_per_step(net.modes, params, phase1, kind, steps, state)
            rows.append(
                (f"phase 1, {kind} steps", count, seconds, counts.training_step(phase1, kind))
            )
    return rows


def kernel_rows(config: Config, net: Any, variables: Any, timed: bool) -> list[Row]:
    """The upper triangle of kernel tiles at every checkpoint of every run."""
    tile = config.ntk.tile_size
    probes = config.dataset.probes_per_class * NUM_CLASSES[config.dataset.name]
    params = variables.params
    kernel = per_logit_ntk_fn(net.evaluation(variables.state), config.ntk.implementation)
    x = images(tile, 3)[0]
    tiles = math.ceil(probes / tile)
    snapshots = len(config.phase1.runs) * len(config.phase1.checkpoint_epochs)
    count = snapshots * tiles * (tiles + 1) // 2
    seconds = seconds_of(lambda: kernel(x, x, params), timed)
    return [("kernel tiles", count, seconds, flops(kernel, x, x, params))]


def phase2_rows(config: Config, net: Any, variables: Any, steps: int) -> list[Row]:
    """Optimiser steps of every child of every spawn point of every run."""
    phase2 = config.phase2
    params, network = variables.params, net.evaluation(variables.state)
    spawns = len(config.phase1.runs) * len(phase2.spawn_epochs)
    count = spawns * phase2.epochs * (TRAIN_IMAGES // phase2.batch_size)
    rows = []
    for dynamics in phase2.dynamics:
        child = child_apply(network, params, dynamics)
        counts = Counts(child, params, phase2.batch_size)
        for regime in phase2.regimes:
            seconds = seconds_per_step(child, params, phase2, regime, steps)
            operations = counts.training_step(phase2, regime)
            rows.append((f"phase 2, {dynamics} {regime} steps", count, seconds, operations))
    return rows


def evaluation_rows(config: Config, net: Any, variables: Any, n: int, timed: bool) -> list[Row]:
    """Test images of every final phase-1 network and every child: clean, attacked, transfer.

    A phase-1 network's adversarial images are crafted once and stored; a child is judged on
    them (the transfer attack), which costs one forward pass per attack. The timing judges the
    child's own images a second time in their place: the same shapes, the same work.
    """
    evaluation, phase2 = config.evaluation, config.phase2
    attacks = crafted_attacks(evaluation)
    runs = len(config.phase1.runs)
    test = images(n, 4)
    params, network = variables.params, net.evaluation(variables.state)
    rows = []
    for dynamics in ("phase 1", *phase2.dynamics):
        if dynamics == "phase 1":
            apply, models, transfer = network, runs, False
        else:
            apply = child_apply(network, params, dynamics)
            models = runs * len(phase2.spawn_epochs) * len(phase2.regimes)
            transfer = evaluation.transfer
        counts = Counts(apply, params, n)
        operations = counts.forward
        for attack in attacks.values():
            operations += counts.attack(attack) + counts.forward * (2 if transfer else 1)

        def evaluated(apply=apply, transfer=transfer):
            key = jax.random.PRNGKey(5)
            crafted = craft(apply, params, *test, attacks=attacks, key=key, batch_size=n)
            return evaluate(
                apply,
                params,
                *test,
                adversarial=crafted,
                batch_size=n,
                transfer=crafted if transfer else None,
            )

        seconds = seconds_of(evaluated, timed)
        rows.append(
            (f"evaluation, {dynamics} images", models * TEST_IMAGES, seconds / n, operations / n)
        )
    return rows


def machine_rows(config: Config, net: Any, variables: Any, n: int, timed: bool) -> list[Row]:
    """Test images of every analysed checkpoint's kernel machine (its attacks at their own
    epsilon, and the parent's images judged) and of each judged eigen-feature (the feature
    attack): both are the machine ``machine_apply`` with weights from the probes."""
    machines, runs = config.machines, len(config.phase1.runs)
    epochs = len(machines.selected_epochs(config.phase1.checkpoint_epochs))
    classes = NUM_CLASSES[config.dataset.name]
    probes = images(config.dataset.probes_per_class * classes, 7)[0]
    coefficients = jax.random.normal(jax.random.PRNGKey(8), (classes, len(probes)))
    params, network = variables.params, net.evaluation(variables.state)
    weights = machine_weights(network, params, probes, coefficients)
    machine, test = machine_apply(network, params), images(n, 4)
    counts = Counts(machine, weights, n)
    features = len(feature_indices(len(probes), machines.features.top, machines.features.bottom))
    rows = []
    for stage, attacks, count, judged in (
        (
            "kernel machines",
            crafted_attacks(machines.judged_by(config.evaluation), headline=True),
            machines.test_images,
            2,
        ),
        ("eigen-features", {"robust": machines.features.attack}, machines.features.test_images, 1),
    ):
        operations = counts.forward * (1 + judged * len(attacks))
        operations += sum(counts.attack(attack) for attack in attacks.values())

        def judge(attacks=attacks):
            crafted = craft(
                machine, weights, *test, attacks=attacks, key=jax.random.PRNGKey(5), batch_size=n
            )
            return evaluate(machine, weights, *test, adversarial=crafted, batch_size=n)

        models = runs * epochs * (features if stage == "eigen-features" else 1)
        total = models * min(count or TEST_IMAGES, TEST_IMAGES)
        rows.append((f"{stage}, images", total, seconds_of(judge, timed) / n, operations / n))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("preset")
    parser.add_argument(
        "--steps", type=int, default=2, help="timed steps per training kind (0: count only)"
    )
    parser.add_argument("--eval-images", type=int, default=100, help="images per timed evaluation")
    parser.add_argument("--tflops", type=float, default=10.0, help="assumed sustained TFLOP/s")
    args = parser.parse_args()
    changes = yaml.safe_load(Path(args.preset).read_text())  # a preset lists what it changes
    config = Config.model_validate(merge(yaml.safe_load(DEFAULTS.read_text()), changes))
    net = build_network(config.model, NUM_CLASSES[config.dataset.name])
    variables = net.init(jax.random.PRNGKey(0), SHAPE)
    size = sum(int(np.prod(leaf.shape)) for leaf in jax.tree_util.tree_leaves(variables.params))
    print(
        f"device: {jax.devices()[0].device_kind}; preset {args.preset}; model "
        f"{config.model.architecture} (width {config.model.width}, depth {config.model.depth}), "
        f"{size:,} parameters",
        flush=True,
    )
    rows = [
        *phase1_rows(config, net, variables, args.steps),
        *kernel_rows(config, net, variables, args.steps > 0),
        *phase2_rows(config, net, variables, args.steps),
        *evaluation_rows(config, net, variables, args.eval_images, args.steps > 0),
        *machine_rows(config, net, variables, args.eval_images, args.steps > 0),
    ]
    rate = args.tflops * 1e12 * 3600
    print(
        f"{'stage':34s} {'count':>9s} {'s each':>9s} {'h here':>8s} {'GFLOP each':>11s} {'h at rate':>10s}"
    )
    seconds_total = operations_total = 0.0
    for stage, count, seconds, operations in rows:
        seconds_total += count * seconds
        operations_total += count * operations
        print(
            f"{stage:34s} {count:9d} {seconds:9.4f} {count * seconds / 3600:8.2f} "
            f"{operations / 1e9:11.3f} {count * operations / rate:10.2f}"
        )
    print(
        f"total: {seconds_total / 3600:.2f} h here; {operations_total / 1e15:.1f} PFLOP, "
        f"{operations_total / rate:.2f} h at {args.tflops:g} TFLOP/s"
    )


if __name__ == "__main__":
    main()

"""What each evaluation attack of a config costs, against PGD in the same run.

On a finished run's final phase-1 network of the first adversarial seed, its linearized child of
the last spawn epoch and its kernel machine at the last checkpoint, crafts every attack of
``evaluation.attacks`` at its own epsilon on the run's test images (the machine on
``machines.test_images``), once to compile and then timed, and prints per attack and model the
seconds, the ratio to the first PGD attack of the table, and the robust accuracy.

    uv run python benchmarks/attack_cost.py                     # the default run, already run
    uv run python benchmarks/attack_cost.py --configfile presets/tiny.yaml
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import jax.numpy as jnp
import numpy as np

from ntk_evolution._infra.checkpoints import load_checkpoint
from ntk_evolution._infra.seeding import evaluation_key
from ntk_evolution.attacks.evaluation import craft, hits
from ntk_evolution.configuration.config import read_config_file, resolve_config
from ntk_evolution.configuration.scenarios import merge
from ntk_evolution.configuration.settings import Config, EnsembleAttack, PgdAttack
from ntk_evolution.datasets import data
from ntk_evolution.kernels.machines import dual_coefficients, machine_apply, machine_weights
from ntk_evolution.models.dynamics import child_apply
from ntk_evolution.results import open_results
from ntk_evolution.stages.machines import ProbeKernels, test_subset
from ntk_evolution.stages.networks import load_network

ROOT = Path(__file__).resolve().parents[1]


def timed(apply, params, test, attack, batch_size: int) -> tuple[float, float]:
    """Seconds of one crafting of ``attack`` (compiled beforehand) and the robust accuracy."""
    arguments = dict(attacks={"a": attack}, key=evaluation_key(0), batch_size=batch_size)
    craft(apply, params, *test, **arguments)
    started = time.perf_counter()
    adversarial = craft(apply, params, *test, **arguments)
    seconds = time.perf_counter() - started
    judged = hits(apply, params, *test, adversarial=adversarial, batch_size=batch_size)
    return seconds, float(judged["a"].mean())


def models(config: Config, run: Path) -> dict[str, tuple]:
    """``name: (apply, params, test images and labels)`` of the three kinds of attacked model."""
    split = data.load_split(next(run.glob("data/split.npz")))
    phase1 = run / "phase1" / "adversarial" / f"seed{config.phase1.seeds[0]}"
    last = config.phase1.checkpoint_epochs[-1]
    epoch = f"epoch{last:g}".replace(".", "_")
    net, variables, _ = load_network(split, config.model, phase1 / f"{epoch}.npz")
    network = net.evaluation(variables.state)
    spawn = max(config.phase2.spawn_epochs)
    spawned = f"epoch{spawn:g}".replace(".", "_")
    _, at_spawn, _ = load_network(split, config.model, phase1 / f"{spawned}.npz")
    child_path = next(
        (run / "phase2" / "adversarial" / f"seed{config.phase1.seeds[0]}").glob(
            f"spawn{spawn:g}/linearized/benign/params.npz"
        )
    )
    child, _ = load_checkpoint(child_path, at_spawn.params)
    spawn_network = net.evaluation(at_spawn.state)
    probes = ProbeKernels(
        next((run / "kernels" / "adversarial").glob(f"seed{config.phase1.seeds[0]}/ntk.zarr")),
        split,
    )
    targets = probes.targets(centered=config.machines.centered_targets)
    alpha = dual_coefficients(probes.at(last), targets, config.machines.ridge)
    weights = machine_weights(network, variables.params, probes.images, jnp.asarray(alpha))
    return {
        "network": (network, variables.params, split.test_set()),
        "linearized child": (
            child_apply(spawn_network, at_spawn.params, "linearized"),
            child,
            split.test_set(),
        ),
        "kernel machine": (
            machine_apply(network, variables.params),
            weights,
            test_subset(split, config.machines.test_images),
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configfile", type=Path, help="a preset or config file on top")
    args = parser.parse_args()
    layers = [read_config_file(args.configfile)] if args.configfile else []
    config = read_config_file(ROOT / "workflow/config.default.yaml")
    for layer in [read_config_file(ROOT / "config.yaml"), *layers]:
        config = merge(config, layer)
    config = resolve_config(config, layers, ROOT / "workflow/schemas/config.schema.yaml")
    run = ROOT / "results" / config.name
    open_results(ROOT / "results")  # fails, naming what is missing, before any work
    attacks = {
        n: a for n, a in config.evaluation.attacks.items() if not isinstance(a, EnsembleAttack)
    }
    baseline = next(n for n, a in attacks.items() if isinstance(a, PgdAttack))
    print(f"{'model':<18}{'attack':<16}{'seconds':>9}{'/ ' + baseline:>14}{'robust':>8}")
    for name, (apply, params, test) in models(config, run).items():
        test = tuple(np.asarray(a) for a in test)
        costs = {
            attack: timed(apply, params, test, settings.at(settings.epsilon), 500)
            for attack, settings in attacks.items()
        }
        for attack, (seconds, robust) in costs.items():
            ratio = seconds / costs[baseline][0]
            print(f"{name:<18}{attack:<16}{seconds:>9.2f}{ratio:>14.2f}{robust:>8.3f}")


if __name__ == "__main__":
    main()

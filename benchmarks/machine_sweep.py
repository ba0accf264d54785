"""Sweep of the kernel machines' settings on a finished run: every configuration tried, tabled.

Reads a finished scenario's config, kernels, checkpoints and the parents' adversarial images
(``--results``, the default run's ``results/default/`` by default) and judges, at the last checkpoint of every run, the
kernel machine for each ridge and target centring, and the eigen-features under the configured
feature attack and under the headline evaluation attack (PGD-100 by default), so that the
defaults of ``machines`` are chosen by evidence and anyone can rerun the choice::

    uv run snakemake --cores all                     # the default run, if not done yet
    uv run python benchmarks/machine_sweep.py        # about a minute on 2 cores

Prints two Markdown tables: the machines' clean, robust and transfer accuracy per ridge and
centring, and the leading features' robust share under each attack.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import yaml

from ntk_evolution._infra.checkpoints import load_variables
from ntk_evolution.configuration.experiment import epoch_label
from ntk_evolution.configuration.settings import Attack, Config
from ntk_evolution.datasets import data
from ntk_evolution.stages import machines as stage
from ntk_evolution.stages.evaluation import load_adversarial
from ntk_evolution.stages.networks import configured_network

RIDGES = (1e-6, 1e-4, 1e-3, 1e-2, 1e-1)


def machine_rows(config: Config, results: Path) -> list[str]:
    """One table row per (ridge, centring, run): the final machine's accuracies."""
    split = data.load_split(results / "data/split.npz")
    net, template = configured_network(split, config.model)
    final = config.phase1.checkpoint_epochs[-1]
    test = stage.test_subset(split, config.machines.test_images)
    attack = next(iter(stage.headline_attacks(config.evaluation)))
    rows = []
    for run in config.phase1.runs:
        variables, _ = load_variables(
            results / f"phase1/{run.path}/epoch{epoch_label(final)}.npz", template
        )
        stored = load_adversarial(
            results / f"evaluation/{run.path}/phase1_adversarial.npz", [attack]
        )
        probes = stage.ProbeKernels(results / f"kernels/{run.path}/ntk.zarr", split)
        for centered in (True, False):
            for ridge in RIDGES:
                settings = config.machines.model_copy(
                    update={"ridge": ridge, "centered_targets": centered}
                )
                judge = (net.evaluation(variables.state), variables.params, probes, final)
                accuracy = stage.judge_machine(*judge, test, stored, settings, config.evaluation)
                clean, robust = accuracy[0, 0], accuracy[1, 0]
                rows.append(
                    f"| {ridge:g} | {centered} | {run.name} | {clean:.3f} | {robust:.3f} | "
                    f"{accuracy[1, 1]:.3f} |"
                )
    return rows


def feature_rows(config: Config, results: Path) -> list[str]:
    """One table row per (attack, run): the final leading features' robust share."""
    split = data.load_split(results / "data/split.npz")
    net, template = configured_network(split, config.model)
    final = config.phase1.checkpoint_epochs[-1]
    test = stage.test_subset(split, config.machines.features.test_images)
    headline = next(iter(stage.headline_attacks(config.evaluation).values()))
    attacks: dict[str, Attack] = {"features.attack": config.machines.features.attack}
    attacks["headline evaluation attack"] = headline
    rows = []
    for name, attack in attacks.items():
        settings = config.machines.model_copy(
            update={"features": config.machines.features.model_copy(update={"attack": attack})}
        )
        for run in config.phase1.runs:
            variables, _ = load_variables(
                results / f"phase1/{run.path}/epoch{epoch_label(final)}.npz", template
            )
            probes = stage.ProbeKernels(results / f"kernels/{run.path}/ntk.zarr", split)
            chosen = stage.feature_indices(len(probes.labels), settings.features.top, 0)
            judge = (net.evaluation(variables.state), variables.params, probes, final)
            judged = stage.judge_features(*judge, chosen, test, settings, config.evaluation)
            judged = judged.mean(axis=-1)
            share = judged[:, 1].sum() / judged[:, 0].sum()
            rows.append(f"| {name} (PGD-{attack.steps}) | {run.name} | {share:.3f} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--results", type=Path, default=Path("results/default"), help="a finished scenario's folder"
    )
    args = parser.parse_args()
    record = yaml.safe_load((args.results / "scenario.yaml").read_text())
    config = Config.model_validate(record["config"])
    print("| ridge | centred targets | run | clean | robust | transfer |")
    print("|---|---|---|---|---|---|")
    print("\n".join(machine_rows(config, args.results)), flush=True)
    print()
    print("| feature attack | run | robust share of the leading features |")
    print("|---|---|---|")
    print("\n".join(feature_rows(config, args.results)))


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()

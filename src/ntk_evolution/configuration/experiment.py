"""The experiment's identity: its runs, the children spawned from them and the pairs of runs
whose kernels are compared (no JAX here). Which runs, checkpoint epochs and children a config
asks for, its settings say (:class:`ntk_evolution.configuration.settings.Phase1Settings`).

A :class:`Run` is one phase-1 training (regime, seed); a :class:`Child` one phase-2 model
spawned from a run's checkpoint; a :class:`RunPair` two runs compared epoch by epoch. Each has a
``path``, the folders its results lie in below ``results/<stage>/``, and each is read back from
such a path (:meth:`Run.from_path`, :meth:`Child.from_path`), so the order in which a job lists
its files is the order of the objects it works on. :class:`JobSubject` gives a workflow script
the objects its job is about.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

REGIME_ORDER = ("benign", "adversarial", "flip")
# The columns that name a model in every table: a phase-1 network has spawn_epoch NaN,
# dynamics "standard" and phase2_regime "none".
MODEL_COLUMNS = ["phase1_regime", "seed", "spawn_epoch", "dynamics", "phase2_regime"]
SEED_FOLDER = re.compile(r"seed(\d+)")
# Whom an evaluation's adversarial examples were crafted against, in the order of every store's
# ``source`` dim: the model itself (white-box), then the final phase-1 network of its run.
SOURCES = ("self", "parent")
CLEAN = "clean"  # the attack name of the unattacked test images (epsilon 0)


def epoch_label(epoch: float) -> str:
    """Canonical text of a checkpoint epoch, used in file names: 0.125 -> '0.125', 3.0 -> '3'."""
    return f"{float(epoch):g}"


def attack_order(names: Iterable[str]) -> list[str]:
    """Attack names in the order of every store's ``attack`` dim: :data:`CLEAN` first, then the
    others alphabetically."""
    return sorted(set(names), key=lambda name: (name != CLEAN, name))


def _run_folder(parts: Sequence[str]) -> int:
    """Index of the last ``seed<n>`` folder of a result's path (its run's regime comes before)."""
    found = [i for i, part in enumerate(parts) if i > 0 and SEED_FOLDER.fullmatch(part)]
    if not found:
        raise ValueError(f"{'/'.join(parts)} names no run (no <regime>/seed<n> folders)")
    return found[-1]


@dataclass(frozen=True, order=True)
class Run:
    """One phase-1 training run: a regime and a seed."""

    regime: str
    seed: int

    @classmethod
    def from_path(cls, path: str | PurePath) -> Run:
        """The run a result belongs to, from its path (``.../<regime>/seed<n>/...``)."""
        parts = PurePath(path).parts
        at = _run_folder(parts)
        return cls(parts[at - 1], int(SEED_FOLDER.fullmatch(parts[at]).group(1)))

    @property
    def name(self) -> str:
        """Label used in tables and figures, e.g. ``benign-s0``."""
        return f"{self.regime}-s{self.seed}"

    @property
    def path(self) -> str:
        """Folders of this run's results below ``results/<stage>``, e.g. ``benign/seed0``."""
        return f"{self.regime}/seed{self.seed}"


@dataclass(frozen=True, order=True)
class Child:
    """One phase-2 child: spawned from ``run`` at epoch ``spawn``, trained with ``dynamics`` on
    ``phase2_regime`` data (benign or adversarial) while its kernel stays the spawn kernel."""

    run: Run
    spawn: float
    dynamics: str
    phase2_regime: str

    @property
    def path(self) -> str:
        """Folders of this child's results below ``results/phase2``."""
        spawn = f"spawn{epoch_label(self.spawn)}"
        return f"{self.run.path}/{spawn}/{self.dynamics}/{self.phase2_regime}"

    @classmethod
    def from_path(cls, path: str | PurePath) -> Child:
        """The child a result belongs to, from its path (``.../<child path>/<file>``)."""
        parts = PurePath(path).parts
        at = _run_folder(parts)
        spawn, dynamics, phase2_regime = parts[at + 1 : at + 4]
        return cls(Run.from_path(path), float(spawn.removeprefix("spawn")), dynamics, phase2_regime)


@dataclass(frozen=True)
class RunPair:
    """Two phase-1 runs whose kernels are compared epoch by epoch, ``a`` in the earlier regime of
    :data:`REGIME_ORDER` (or the lower seed, for two runs of one regime)."""

    a: Run
    b: Run

    @property
    def comparison(self) -> str:
        """The regimes compared, e.g. ``benign vs adversarial``."""
        return f"{self.a.regime} vs {self.b.regime}"

    @property
    def seeds(self) -> str:
        """``same``: the runs share a seed, hence their initial weights (distance 0 at epoch 0);
        ``across``: different seeds, no shared start."""
        return "same" if self.a.seed == self.b.seed else "across"

    @property
    def yardstick(self) -> bool:
        """Two seeds of one regime: how far kernels of the same training drift apart by chance."""
        return self.a.regime == self.b.regime

    @property
    def kind(self) -> str:
        """Label of the comparison in tables and figures."""
        if self.yardstick:
            return f"{self.comparison} (yardstick)"
        return f"{self.comparison} ({'same seed' if self.seeds == 'same' else 'across seeds'})"

    @property
    def name(self) -> str:
        return f"{self.a.name} vs {self.b.name}"


def run_pairs(runs: Iterable[Run]) -> list[RunPair]:
    """Pairs of runs whose kernels are compared epoch by epoch.

    For every two regimes, every pair of their runs: of the same seed (which share their initial
    weights) and across seeds (which share nothing, the fair comparison with a yardstick). For
    every regime, every pair of its seeds: the seed-to-seed yardstick for "different". Pairs
    come in a fixed order whatever the order of ``runs``.
    """
    runs = sorted(set(runs), key=lambda r: (REGIME_ORDER.index(r.regime), r.seed))
    pairs = [RunPair(a, b) for i, a in enumerate(runs) for b in runs[i + 1 :]]

    def order(p: RunPair) -> tuple:
        regimes = REGIME_ORDER.index(p.a.regime), REGIME_ORDER.index(p.b.regime)
        return p.yardstick, regimes, p.seeds, p.a.seed, p.b.seed

    return sorted(pairs, key=order)


@dataclass(frozen=True)
class JobSubject:
    """What one workflow job is about, read from the job (Snakemake's ``snakemake`` object in a
    script): the run its wildcards name, the runs whose files are its ``runs`` input
    and the children whose parameters are its ``children`` (output or input)."""

    job: Any

    @property
    def run(self) -> Run:
        """The run of the ``regime`` and ``seed`` wildcards."""
        return Run(self.job.wildcards.regime, int(self.job.wildcards.seed))

    @property
    def runs(self) -> list[Run]:
        """The run of each file of the ``runs`` input, in its order."""
        return [Run.from_path(path) for path in self.job.input.runs]

    @property
    def children(self) -> list[Child]:
        """The child of each file of the ``children`` output (a training job) or input."""
        paths = self.job.output.get("children") or self.job.input.children
        return [Child.from_path(path) for path in paths]

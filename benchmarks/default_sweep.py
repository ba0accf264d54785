"""Sweep of candidate default experiments: each one run as a whole workflow, its findings tabled.

Every variant in the sweep file (``benchmarks/default_sweep.yaml``) is ``config.yaml`` with a few
keys changed. The script runs the real workflow for each, in its own folder under ``--out``
(``snakemake --directory``), times it, reads the run's own ``results/findings.csv`` and prints
one Markdown table with every finding's figure for every seed, so the default can be chosen by
evidence and anyone can rerun the choice::

    uv run python benchmarks/default_sweep.py                   # every variant, about an hour
    uv run python benchmarks/default_sweep.py --only base eps0.3  # some of them

A finished variant is not run again (Snakemake finds nothing to do); its wall time is then the
one recorded in its folder. Keys of a variant are dotted paths into the config, plus one
shorthand: ``epsilon`` sets the epsilon of phase-1 and phase-2 adversarial training and of the
findings' evaluation attack, scales their step sizes in proportion (so steps x step size keeps
its ratio to epsilon) and adds it to that attack's ``epsilons``.
"""

from __future__ import annotations

import argparse
import copy
import json
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]


def set_key(config: dict[str, Any], dotted: str, value: Any) -> None:
    """``config[a][b][c] = value`` for ``dotted`` = ``a.b.c``; the key must exist."""
    *path, last = dotted.split(".")
    section = config
    for key in path:
        section = section[key]
    if last not in section:
        raise KeyError(f"{dotted} is not a configuration key")
    section[last] = value


def scale_attack(attack: dict[str, Any], epsilon: float) -> None:
    """Move an attack to ``epsilon``, its step size in proportion."""
    attack["step_size"] = attack["step_size"] * epsilon / attack["epsilon"]
    attack["epsilon"] = epsilon


def variant_config(base: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``changes`` applied (see the module docstring for ``epsilon``)."""
    config = copy.deepcopy(dict(base))
    for key, value in changes.items():
        if key == "epsilon":
            scale_attack(config["phase1"]["attack"], value)
            scale_attack(config["phase2"]["attack"], value)
            attack = config["evaluation"]["attacks"][config["findings"]["attack"]]
            scale_attack(attack, value)
            attack["epsilons"] = sorted({*attack.get("epsilons", []), value})
        else:
            set_key(config, key, value)
    return config


def run_variant(folder: Path, config: Mapping[str, Any], cores: int) -> float:
    """Run the workflow on ``config`` in ``folder``; returns the wall seconds of the run that
    made the results (recorded in ``folder/wall_seconds``)."""
    folder.mkdir(parents=True, exist_ok=True)
    configfile = folder / "config.yaml"
    configfile.write_text(yaml.safe_dump(dict(config), sort_keys=False))
    record = folder / "wall_seconds"
    command = [
        sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"),
        "--directory", str(folder), "--configfile", str(configfile), "--cores", str(cores),
    ]  # fmt: skip
    dry = subprocess.run([*command, "--dry-run", "--quiet"], capture_output=True, text=True)
    if record.exists() and "Nothing to be done" in dry.stdout + dry.stderr:
        return float(record.read_text())
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    (folder / "snakemake.log").write_text(done.stdout + done.stderr)
    if done.returncode != 0:
        raise RuntimeError(f"the run in {folder} failed; see {folder / 'snakemake.log'}")
    record.write_text(f"{seconds:.1f}")
    return seconds


def _values(table: pd.DataFrame, measure: str) -> str:
    """The values of ``measure``, one per subject, as ``a / b / ...`` (3 digits)."""
    rows = table[table.measure == measure]
    return " / ".join(f"{v:.3g}" for v in rows.value) if len(rows) else "-"


def _by_dynamics(table: pd.DataFrame, measure: str) -> str:
    """``measure`` per dynamics and seed: ``lin a / b; cen c / d``."""
    rows = table[table.measure == measure]
    parts = []
    for dynamics in ("linearized", "centered"):
        values = rows[rows.subject.str.startswith(dynamics)].value
        parts.append(f"{dynamics[:3]} " + " / ".join(f"{v:.2f}" for v in values))
    return "; ".join(parts)


def summary(findings: pd.DataFrame) -> dict[str, str]:
    """One sweep-table row from a run's ``findings.csv``: every seed's figure of every finding."""
    verdicts = {}
    for finding, rows in findings.groupby("finding"):
        decisive = rows[rows.decisive]
        verdicts[finding] = "-" if decisive.empty else "yes" if decisive.holds.all() else "no"
    masking = findings[(findings.finding == "F4") & findings.decisive]
    return {
        "F1 centred ratio": _values(findings, "distance / yardstick (centered)"),
        "F1 raw ratio": _values(findings, "distance / yardstick (raw)"),
        "F1 above from epoch (centred)": _values(
            findings, "stays above the yardsticks from epoch (centered)"
        ),
        "F2 settling epoch (b0 / b1 / a0 / a1)": _values(findings, "settling epoch"),
        "F3 benign robust": _values(findings, "robust accuracy, benign network"),
        "F3 CC robust": _by_dynamics(findings, "robust accuracy CC"),
        "F3 AC - CC": _by_dynamics(findings, "AC - CC robust accuracy"),
        "F3 AA - CC": _by_dynamics(findings, "AA - CC robust accuracy"),
        "F4 min transfer - robust (AC, AA)": f"{masking.value.min():.3f}" if len(masking) else "-",
        "shown (F1 F2 F3 F4)": " ".join(verdicts.get(f, "-") for f in ("F1", "F2", "F3", "F4")),
    }


def markdown(rows: list[dict[str, Any]]) -> str:
    """The sweep as a Markdown table."""
    columns = list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(row[c]) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sweep", type=Path, default=ROOT / "benchmarks/default_sweep.yaml")
    parser.add_argument("--base", type=Path, default=ROOT / "config.yaml")
    parser.add_argument("--out", type=Path, default=ROOT / "sweep")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--only", nargs="*", help="names of the variants to run (default: all)")
    args = parser.parse_args()
    base = yaml.safe_load(args.base.read_text())
    variants = yaml.safe_load(args.sweep.read_text())["variants"]
    rows = []
    for name, changes in variants.items():
        if args.only and name not in args.only:
            continue
        folder = args.out.resolve() / name
        seconds = run_variant(folder, variant_config(base, changes or {}), args.cores)
        findings = pd.read_csv(folder / "results/findings.csv")
        changed = ", ".join(f"{k}={v}" for k, v in (changes or {}).items()) or "(base)"
        rows.append({"variant": name, "changes": changed, "wall s": f"{seconds:.0f}"})
        rows[-1] |= summary(findings)
        print(json.dumps(rows[-1]), flush=True)
    table = markdown(rows)
    (args.out / "sweep.md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()

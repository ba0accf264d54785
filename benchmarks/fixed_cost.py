"""What each job of a whole workflow run spends on starting, compiling and working.

Runs the workflow at a revision (HEAD by default) in a fresh clone, with a configuration file on
top of config.yaml if one is given, and reports per rule: the number of jobs, their seconds (the
jobs' Snakemake benchmark files, or their logs' ``job time`` line where a rule keeps no
benchmark), and how much of them was process start and imports, XLA compilation (how many
programs, how many from JAX's persistent cache) and the rest, the work. The split comes from the
``job time`` line every job logs at exit (:mod:`ntk_evolution.pipeline.joblog`); a revision that predates
it reports job seconds only. It also times the whole run (wall clock) and a no-op rerun
(``snakemake -n`` on the finished project).

    uv run python benchmarks/fixed_cost.py                           # the default run
    uv run python benchmarks/fixed_cost.py --configfile presets/tiny.yaml
    uv run python benchmarks/fixed_cost.py --no-cache                 # every job compiles afresh
    uv run python benchmarks/fixed_cost.py --revision 5e023cd         # an earlier commit
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from ntk_evolution.pipeline.joblog import read_job_time

ROOT = Path(__file__).resolve().parents[1]
FIELDS = ("jobs", "seconds", "imports", "compile", "work", "programs", "cached")


def run(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    """Seconds ``command`` took; its output goes to ``cwd/benchmark-output.log``."""
    started = time.perf_counter()
    with open(cwd / "benchmark-output.log", "a") as output:
        subprocess.run(command, cwd=cwd, env=env, stdout=output, stderr=output, check=True)
    return time.perf_counter() - started


def job_rule(path: Path, folder: Path) -> str:
    """The rule a log or benchmark file belongs to: its first folder, or its name."""
    parts = path.relative_to(folder).parts
    return parts[0] if len(parts) > 1 else path.stem


def per_rule(checkout: Path) -> dict[str, dict[str, float]]:
    """Per rule, the sums of :data:`FIELDS` over its jobs."""
    rules: dict[str, dict[str, float]] = defaultdict(lambda: dict.fromkeys(FIELDS, 0.0))
    benchmarked: dict[str, float] = defaultdict(float)
    bench = checkout / "logs" / "benchmarks"
    for path in bench.rglob("*.tsv"):
        with open(path) as f:
            benchmarked[job_rule(path, bench)] += sum(
                float(r["s"]) for r in csv.DictReader(f, delimiter="\t")
            )
    for path in (checkout / "logs").rglob("*.log"):
        if bench in path.parents:
            continue
        rule = rules[job_rule(path, checkout / "logs")]
        rule["jobs"] += 1
        timed = read_job_time(path.read_text(errors="replace"))
        if timed:
            rule["seconds"] += timed.seconds
            rule["imports"] += timed.imports
            rule["compile"] += timed.compile
            rule["work"] += timed.work
            rule["programs"] += timed.programs
            rule["cached"] += timed.cached
    for name, seconds in benchmarked.items():
        rules[name]["seconds"] = seconds  # Snakemake's own measure, where the rule keeps one
    return dict(rules)


def report(rules: dict[str, dict[str, float]], wall: float, noop: float) -> str:
    lines = [
        f"{'rule':28s} {'jobs':>5s} {'seconds':>8s} {'imports':>8s} {'compile':>8s} "
        f"{'work':>8s} {'programs':>9s} {'cached':>7s}"
    ]
    totals = dict.fromkeys(FIELDS, 0.0)
    for name, row in sorted(rules.items(), key=lambda item: -item[1]["seconds"]):
        lines.append(
            f"{name:28s} {row['jobs']:5.0f} {row['seconds']:8.1f} {row['imports']:8.1f} "
            f"{row['compile']:8.1f} {row['work']:8.1f} {row['programs']:9.0f} {row['cached']:7.0f}"
        )
        totals = {k: totals[k] + row[k] for k in FIELDS}
    lines.append(
        f"{'total':28s} {totals['jobs']:5.0f} {totals['seconds']:8.1f} {totals['imports']:8.1f} "
        f"{totals['compile']:8.1f} {totals['work']:8.1f} {totals['programs']:9.0f} "
        f"{totals['cached']:7.0f}"
    )
    lines.append(f"wall time of the run: {wall:.1f} s; no-op rerun (snakemake -n): {noop:.2f} s")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--configfile", help="a configuration on top of config.yaml")
    parser.add_argument("--revision", default="HEAD", help="the commit to run (default HEAD)")
    parser.add_argument("--no-cache", action="store_true", help="no persistent compile cache")
    parser.add_argument("--cores", default="all")
    parser.add_argument("--workdir", help="where to clone (default: a temporary folder)")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args()
    checkout = Path(args.workdir or tempfile.mkdtemp(prefix="fixed-cost-")) / "checkout"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(checkout)], check=True)
    subprocess.run(["git", "checkout", "--quiet", args.revision], cwd=checkout, check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JAX_", "VIRTUAL_ENV"))}
    if args.no_cache:
        env["JAX_ENABLE_COMPILATION_CACHE"] = "false"
    run(["uv", "sync", "--locked", "--quiet"], checkout, env)
    snakemake = ["uv", "run", "--locked", "snakemake", "--cores", args.cores]
    if args.configfile:
        snakemake += ["--configfile", str(Path(args.configfile).resolve())]
    wall = run(snakemake, checkout, env)
    noop = run([*snakemake, "-n"], checkout, env)
    rules = per_rule(checkout)
    print(
        f"{args.revision} ({args.configfile or 'config.yaml'}), cache "
        f"{'off' if args.no_cache else 'on'}, in {checkout}"
    )
    print(report(rules, wall, noop))
    if args.json:
        Path(args.json).write_text(
            json.dumps({"rules": rules, "wall": wall, "noop": noop}, indent=1)
        )


if __name__ == "__main__":
    sys.exit(main())

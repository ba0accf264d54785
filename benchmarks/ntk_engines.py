"""Benchmark: the per-logit NTK engine against the original recipe and a one-shot contraction.

Three ways to compute the per-logit kernel K[c, i, j] of the same network, probes and parameters:

- ``recipe``: the original paper code's method. For one logit at a time, neural-tangents'
  NTK-vector products (``empirical_kernel_fn``, implementation 2, batched by 4 with ``nt.batch``
  and jitted) over 4 x 4 blocks of probes, upper triangle only, each block copied to a host array.
- ``jacobian``: neural-tangents' JACOBIAN_CONTRACTION on the whole probe set in one call.
- ``engine``: this package's tiled extraction (STRUCTURED_DERIVATIVES by default, tiles of the
  configured size, upper-triangle tiles only). In the comparison it fills a host array, as the
  other two do; the memory run writes a zarr store chunk by chunk, exactly as the ``extract_ntk``
  rule does.

Every measurement runs in its own process, so its peak resident memory (``ru_maxrss``) is its
own. "seconds" is the compute time after compilation (the workflow compiles once and reuses the
program for every checkpoint through the persistent compilation cache); compilation is reported
separately. The one-shot contraction and the engine run once untimed (the first run of a
compiled program also pays for allocating its buffers and waking the thread pool), then
``--repeats`` timed runs, of which the median is reported; the recipe's tens of thousands of
calls are timed in one pass after its calibration calls. When the recipe would take longer than
``--recipe-budget`` seconds, it times a seeded random sample of its blocks (every block runs the
same compiled program on the same shapes) and scales the time by the number of blocks; such rows
are marked ``~`` and their kernel difference covers the sampled blocks. The one-shot contraction is skipped when its Jacobians alone would
exceed ``--jacobian-budget`` GB.

The probes are the digits training images (uniform random images of the same shape beyond the
dataset's size; for the batch-norm ResNet, ``resnet``, uniform random CIFAR-shaped images); the
parameters are a random initialisation with a random readout (the cost does not depend on the
values), and the kernel is that of the network's evaluation-mode function. Run from the
repository root:

    uv run python benchmarks/ntk_engines.py                    # default MLP and CNN, 100-1000 probes
    uv run python benchmarks/ntk_engines.py --models mlp --probes 100 500 --memory-probes 0
    uv run python benchmarks/ntk_engines.py --config presets/cifar10-small.yaml \
        --models resnet --probes 100 --methods engine --memory-probes 0
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
RECIPE_BLOCK = 4
METHODS = ("recipe", "jacobian", "engine")
CIFAR_SHAPED = {"resnet": (32, 32, 3)}  # the batch-norm ResNet, on CIFAR-shaped images


def read_settings(path: str) -> dict[str, Any]:
    """The config the benchmark reads: workflow/config.default.yaml with ``path``'s changes."""
    from ntk_evolution.configuration.scenarios import merge

    defaults = yaml.safe_load((ROOT / "workflow/config.default.yaml").read_text())
    return merge(defaults, yaml.safe_load(Path(path).read_text()) or {})


def peak_rss_gb() -> float:
    """Peak resident memory of this process so far, in GB (``ru_maxrss`` is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9


def setup(settings: dict[str, Any], architecture: str, num_probes: int):
    """The network's evaluation-mode function, its parameters, ``num_probes`` probe images and
    the number of classes. The batch-norm ResNet (``resnet``) takes CIFAR-shaped images,
    uniform random ones; its running statistics are the initial ones (the cost does not depend
    on them)."""
    import jax

    from ntk_evolution.configuration.config import DATASET_SIZES
    from ntk_evolution.configuration.settings import ModelSettings
    from ntk_evolution.datasets.data import LOADERS, to_unit_interval
    from ntk_evolution.models.networks import build_network

    dataset, model_settings = settings["dataset"], settings["model"]
    num_classes = DATASET_SIZES[dataset["name"]].classes
    if architecture in CIFAR_SHAPED:  # no dataset needed
        images = np.zeros((0, *CIFAR_SHAPED[architecture]), np.float32)
    else:
        raw = LOADERS[dataset["name"]](ROOT / dataset["root"])
        images = to_unit_interval(raw.images, raw.pixel_max).astype(np.float32)
    order = np.random.default_rng(0).permutation(len(images))
    images = images[order[:num_probes]]
    if num_probes > len(images):
        extra = np.random.default_rng(1).uniform(size=(num_probes - len(images), *images.shape[1:]))
        images = np.concatenate([images, extra.astype(np.float32)])
    model = ModelSettings(
        **{**model_settings, "architecture": architecture, "zero_readout": False, "options": {}}
    )
    net = build_network(model, num_classes)
    params, state = net.init(jax.random.PRNGKey(0), images.shape[1:])
    return net.evaluation(state), params, images, num_classes


def run_recipe(apply, params, images, num_classes, budget: float, kernel_path: Path) -> dict:
    """One logit at a time: jitted NTK-vector products over 4 x 4 blocks of the upper triangle."""
    import jax

    from ntk_evolution._infra.compat import nt

    n = len(images)
    if n % RECIPE_BLOCK:
        raise ValueError(f"the recipe needs a multiple of {RECIPE_BLOCK} probes, not {n}")
    starts = range(0, n, RECIPE_BLOCK)
    pairs = [(a, b) for i, a in enumerate(starts) for b in starts[i:]]
    kernel = np.full((num_classes, n, n), np.nan, np.float32)
    compile_seconds = 0.0
    per_block = None
    timed = pairs
    seconds = 0.0
    for c in range(num_classes):

        def logit(p, x, c=c):
            return apply(p, x)[:, c : c + 1]

        fn = nt.empirical_kernel_fn(logit, implementation=nt.NtkImplementation.NTK_VECTOR_PRODUCTS)
        fn = jax.jit(nt.batch(fn, batch_size=RECIPE_BLOCK), static_argnums=(2,))
        first = images[:RECIPE_BLOCK]
        started = time.perf_counter()
        np.asarray(fn(first, first, "ntk", params))
        compile_seconds += time.perf_counter() - started
        if per_block is None:  # calibrate on the first logit, then decide whether to sample
            started = time.perf_counter()
            for _ in range(20):
                np.asarray(fn(first, first, "ntk", params))
            per_block = (time.perf_counter() - started) / 20
            affordable = int(budget / (per_block * num_classes))
            if affordable < len(pairs):
                rng = np.random.default_rng(0)
                timed = [pairs[k] for k in sorted(rng.choice(len(pairs), affordable, False))]
        started = time.perf_counter()
        for a, b in timed:
            block = fn(images[a : a + RECIPE_BLOCK], images[b : b + RECIPE_BLOCK], "ntk", params)
            kernel[c, a : a + RECIPE_BLOCK, b : b + RECIPE_BLOCK] = np.asarray(block)
        seconds += time.perf_counter() - started
    upper = np.triu(np.ones((n, n), bool))
    kernel = np.where(upper, kernel, np.swapaxes(kernel, 1, 2))
    np.save(kernel_path, kernel)
    return {
        "seconds": seconds * len(pairs) / len(timed),
        "compile_seconds": compile_seconds,
        "blocks": len(pairs) * num_classes,
        "blocks_timed": len(timed) * num_classes,
    }


def timed(run: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """Median seconds of ``repeats`` runs of ``run()`` after one untimed run, and its result."""
    result = run()
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        result = run()
        seconds.append(time.perf_counter() - started)
    return float(np.median(seconds)), result


def run_jacobian(apply, params, images, num_classes, repeats: int, kernel_path: Path) -> dict:
    """JACOBIAN_CONTRACTION on the whole probe set in one call."""
    import jax

    from ntk_evolution.kernels.ntk import per_logit_ntk_fn

    fn = per_logit_ntk_fn(apply, "jacobian_contraction")
    started = time.perf_counter()
    compiled = fn.lower(images, None, params).compile()
    compile_seconds = time.perf_counter() - started
    seconds, kernel = timed(
        lambda: np.asarray(jax.block_until_ready(compiled(images, None, params))), repeats
    )
    np.save(kernel_path, kernel)
    return {"seconds": seconds, "compile_seconds": compile_seconds}


def run_engine(
    apply, params, images, num_classes, settings, repeats: int, kernel_path: Path | None
) -> dict:
    """This package's engine: into a host array like the other methods when ``kernel_path`` is
    given, otherwise chunk by chunk into a zarr store, as the ``extract_ntk`` rule does."""
    import jax.numpy as jnp

    from ntk_evolution._infra.storage import Snapshot, write_kernels
    from ntk_evolution.kernels.ntk import assemble, compile_tile_kernel, per_logit_ntk_tiles

    started = time.perf_counter()
    kernel = compile_tile_kernel(
        apply,
        params,
        images.shape[1:],
        implementation=settings["implementation"],
        tile_size=settings["tile_size"],
    )
    compile_seconds = time.perf_counter() - started
    n = len(images)
    probes = jnp.asarray(images)

    def blocks():
        return per_logit_ntk_tiles(kernel, params, probes)

    if kernel_path is not None:
        seconds, out = timed(lambda: assemble(blocks(), n), repeats)
        np.save(kernel_path, out)
    else:
        with tempfile.TemporaryDirectory() as tmp:

            def write() -> None:
                write_kernels(
                    Path(tmp) / "kernel.zarr",
                    [Snapshot(0.0, blocks(), {})],
                    probes=np.arange(n),
                    labels=np.zeros(n, np.int64),
                    num_classes=num_classes,
                    tile_size=settings["tile_size"],
                    attrs={"implementation": kernel.implementation},
                )

            seconds, _ = timed(write, repeats)
    return {
        "seconds": seconds,
        "compile_seconds": compile_seconds,
        "implementation": kernel.implementation,
        "tile_size": settings["tile_size"],
        "repeats": repeats,
    }


def worker(args: argparse.Namespace) -> None:
    """Run one measurement and print it as one JSON line."""
    import jax

    settings = read_settings(args.config)
    apply, params, images, num_classes = setup(settings, args.model, args.num_probes)
    baseline = peak_rss_gb()
    kernel_path = Path(args.kernel) if args.kernel else None
    if args.method == "recipe":
        result = run_recipe(apply, params, images, num_classes, args.recipe_budget, kernel_path)
    elif args.method == "jacobian":
        result = run_jacobian(apply, params, images, num_classes, args.repeats, kernel_path)
    else:
        result = run_engine(
            apply, params, images, num_classes, settings["ntk"], args.repeats, kernel_path
        )
    device = jax.devices()[0]
    stats = device.memory_stats() or {}
    result.update(
        peak_rss_gb=peak_rss_gb(),
        baseline_rss_gb=baseline,
        device_peak_gb=stats.get("peak_bytes_in_use", 0) / 1e9 or None,
        device=f"{device.platform}:{device.device_kind}",
    )
    print(json.dumps(result))


def measure(args: argparse.Namespace, method: str, model: str, n: int, kernel: Path | None):
    """Run one worker process and return its result (or the reason it failed)."""
    command = [
        sys.executable,
        __file__,
        "--worker",
        method,
        "--model",
        model,
        "--num-probes",
        str(n),
        "--config",
        args.config,
        "--recipe-budget",
        str(args.recipe_budget),
        "--repeats",
        str(args.repeats),
    ]
    if kernel is not None:
        command += ["--kernel", str(kernel)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr else "failed"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def relative_difference(a: Path, b: Path) -> float:
    """max |A - B| / max |B| over the entries both kernels have (the recipe may be sampled)."""
    ka, kb = np.load(a).astype(np.float64), np.load(b).astype(np.float64)
    both = ~(np.isnan(ka) | np.isnan(kb))
    return float(np.abs(ka - kb)[both].max() / np.abs(kb[both]).max())


def jacobian_gb(args: argparse.Namespace, model: str, n: int) -> float:
    """Size of the Jacobians the one-shot contraction holds: probes x logits x parameters."""
    import jax

    settings = read_settings(args.config)
    _, params, _images, num_classes = setup(settings, model, 1)
    size = sum(math.prod(leaf.shape) for leaf in jax.tree.leaves(params))
    return n * num_classes * size * 4 / 1e9


def fmt(value: float | None, spec: str = ".3g") -> str:
    return "-" if value is None else format(value, spec)


def compare(args: argparse.Namespace) -> list[dict]:
    """Measure every model and probe count and print the table."""
    rows = []
    print(
        "| model | probes | recipe s | jacobian s | engine s | engine compile s | x recipe |"
        " x jacobian | rel. diff vs recipe | rel. diff vs jacobian | peak RSS GB"
        " recipe / jacobian / engine |"
    )
    print("|" + "---|" * 11)
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models:
            for n in args.probes:
                paths = {
                    m: Path(tmp) / f"{model}-{n}-{m}.npy" for m in ("recipe", "jacobian", "engine")
                }
                row: dict[str, Any] = {"model": model, "probes": n}
                row["engine"] = measure(args, "engine", model, n, paths["engine"])
                row["recipe"] = {"error": "not run"}
                if "recipe" in args.methods:
                    row["recipe"] = measure(args, "recipe", model, n, paths["recipe"])
                needed = jacobian_gb(args, model, n)
                if "jacobian" not in args.methods:
                    row["jacobian"] = {"error": "not run"}
                elif needed <= args.jacobian_budget:
                    row["jacobian"] = measure(args, "jacobian", model, n, paths["jacobian"])
                else:
                    row["jacobian"] = {"error": f"skipped: its Jacobians need {needed:.1f} GB"}
                engine = row["engine"].get("seconds")
                cells = {}
                for name in ("recipe", "jacobian"):
                    other = row[name]
                    if "seconds" in other and engine:
                        other["speedup"] = other["seconds"] / engine
                        other["relative_difference"] = relative_difference(
                            paths["engine"], paths[name]
                        )
                    mark = "~" if other.get("blocks_timed", 0) < other.get("blocks", 0) else ""
                    cells[name] = (
                        mark + fmt(other.get("seconds"), ".2f")
                        if "seconds" in other
                        else other["error"]
                    )
                print(
                    f"| {model} | {n} | {cells['recipe']} | {cells['jacobian']} "
                    f"| {fmt(engine, '.3f')} | {fmt(row['engine'].get('compile_seconds'), '.2f')} "
                    f"| {fmt(row['recipe'].get('speedup'), '.0f')} "
                    f"| {fmt(row['jacobian'].get('speedup'), '.1f')} "
                    f"| {fmt(row['recipe'].get('relative_difference'), '.1e')} "
                    f"| {fmt(row['jacobian'].get('relative_difference'), '.1e')} "
                    f"| {fmt(row['recipe'].get('peak_rss_gb'), '.2f')} / "
                    f"{fmt(row['jacobian'].get('peak_rss_gb'), '.2f')} / "
                    f"{fmt(row['engine'].get('peak_rss_gb'), '.2f')} |",
                    flush=True,
                )
                rows.append(row)
    return rows


def memory(args: argparse.Namespace) -> dict:
    """The engine alone on many probes: its peak memory must not grow with the probe count."""
    result = measure(args, "engine", args.models[0], args.memory_probes, None)
    print(
        f"\nengine, {args.models[0]}, {args.memory_probes} probes: "
        f"{fmt(result.get('seconds'), '.1f')} s, peak RSS {fmt(result.get('peak_rss_gb'), '.2f')} GB"
        f" (baseline after imports and data {fmt(result.get('baseline_rss_gb'), '.2f')} GB)"
        f"{'' if 'seconds' in result else ' — ' + result['error']}"
    )
    return {"model": args.models[0], "probes": args.memory_probes, **result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--models", nargs="+", default=["mlp", "cnn"], choices=["mlp", "cnn", "resnet"]
    )
    parser.add_argument(
        "--methods",
        nargs="+",
        default=list(METHODS),
        choices=METHODS,
        help="the engine always runs; the others to compare it with",
    )
    parser.add_argument("--probes", nargs="+", type=int, default=[100, 200, 500, 1000])
    parser.add_argument("--memory-probes", type=int, default=4000, help="0 skips the run")
    parser.add_argument(
        "--config",
        default=str(ROOT / "config.yaml"),
        help="model and ntk settings: the changes to workflow/config.default.yaml",
    )
    parser.add_argument("--recipe-budget", type=float, default=120.0, help="seconds per recipe run")
    parser.add_argument("--jacobian-budget", type=float, default=6.0, help="GB of Jacobians")
    parser.add_argument(
        "--repeats", type=int, default=3, help="timed runs of the jacobian and engine methods"
    )
    parser.add_argument("--output", help="also write every measurement to this JSON file")
    parser.add_argument(
        "--worker", choices=["recipe", "jacobian", "engine"], help=argparse.SUPPRESS
    )
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--num-probes", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--kernel", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        args.method = args.worker
        worker(args)
        return

    import jax

    device = jax.devices()[0]
    settings = read_settings(args.config)
    print(
        f"device {device.platform}:{device.device_kind}, {os.cpu_count()} CPU cores; "
        f"model {settings['model']}, ntk {settings['ntk']}\n"
    )
    results = {"table": compare(args)}
    if args.memory_probes:
        results["memory"] = memory(args)
    if args.output:
        Path(args.output).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

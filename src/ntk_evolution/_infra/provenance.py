"""Provenance recorded in every store and table: config subset, package versions, device.

Stores keep it in their attributes, checkpoints in their JSON metadata, CSV tables in a
``.provenance.json`` file beside them. ``python -m ntk_evolution._infra.provenance PATH...``, run in the
workflow directory, prints for each result what it holds and what Snakemake recorded about the
job that made it (rule, inputs, settings, start and end time).
"""

from __future__ import annotations

import argparse
import base64
import json
import platform
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

PACKAGES = (
    "ntk-evolution",
    "jax",
    "jaxlib",
    "neural-tangents",
    "optax",
    "numpy",
    "zarr",
    "xarray",
    "snakemake",
)


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that shape the results."""
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def device_description() -> str:
    """The device the job computes on, as ``platform:kind``: ``cpu:<machine architecture>``
    (e.g. ``cpu:x86_64``) on a CPU, whether or not the job imported JAX, and JAX's first device
    otherwise (e.g. ``gpu:NVIDIA H100 80GB HBM3``). JAX is asked only in a job that imported it
    (a job that did not computes on the CPU), so recording the device costs no JAX import."""
    if "jax" in sys.modules:
        import jax

        device = jax.devices()[0]
        if device.platform != "cpu":
            return f"{device.platform}:{device.device_kind}"
    return f"cpu:{platform.machine()}"


def provenance(config: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """Attributes for a store: the config subset that produced it, versions, device and ``extra``."""
    return {
        "config": config,
        "versions": package_versions(),
        "device": device_description(),
        **extra,
    }


def _stored(path: Path) -> dict[str, Any] | None:
    """The provenance kept with a result: zarr attributes, checkpoint metadata or sidecar."""
    if path.suffix == ".zarr":
        import zarr

        return dict(zarr.open_group(path, mode="r").attrs)
    if path.suffix == ".npz":
        import numpy as np

        with np.load(path, allow_pickle=False) as f:
            return json.loads(str(f["metadata"])) if "metadata" in f.files else None
    from ntk_evolution._infra.atomic import provenance_path

    sidecar = provenance_path(path)
    return json.loads(sidecar.read_text()) if sidecar.exists() else None


def _snakemake_record(path: Path, workdir: Path) -> dict[str, Any] | None:
    """What Snakemake recorded about the job that wrote ``path`` (relative to ``workdir``)."""
    key = base64.urlsafe_b64encode(str(path).encode()).decode()
    record = workdir / ".snakemake" / "metadata" / key
    if not record.exists():
        return None
    data = json.loads(record.read_text())
    keep = ("rule", "input", "params", "log", "starttime", "endtime", "incomplete")
    return {name: data[name] for name in keep if name in data}


def describe(path: str | Path, workdir: str | Path = ".") -> dict[str, Any]:
    """How the result at ``path`` was made: its own provenance and Snakemake's job record (of
    the file a scenario's link points to, in ``results/shared``)."""
    path, workdir = Path(path), Path(workdir)
    if not (workdir / path).exists():
        raise FileNotFoundError(f"{path} does not exist (relative to {workdir})")
    made = (workdir / path).resolve().relative_to(workdir.resolve())
    return {
        "path": str(path),
        "provenance": _stored(workdir / path),
        "snakemake": _snakemake_record(made, workdir),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Show how results of the workflow were made.")
    parser.add_argument("paths", nargs="+", help="result files or stores, relative to the workdir")
    parser.add_argument("--workdir", default=".", help="the workflow directory (default: .)")
    args = parser.parse_args(argv)
    print(json.dumps([describe(p, args.workdir) for p in args.paths], indent=2, default=str))


if __name__ == "__main__":
    main()

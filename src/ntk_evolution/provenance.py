"""Provenance recorded in every store and table: config subset, package versions, device."""

from __future__ import annotations

import platform
from importlib.metadata import PackageNotFoundError, version
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
    """The device JAX computes on, e.g. ``cpu`` or ``gpu:NVIDIA H100 80GB HBM3``."""
    import jax

    device = jax.devices()[0]
    return f"{device.platform}:{device.device_kind}"


def provenance(config: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """Attributes for a store: the config subset that produced it, versions, device and ``extra``."""
    return {
        "config": config,
        "versions": package_versions(),
        "device": device_description(),
        **extra,
    }

"""Whether the infinite-width NTK of an architecture is within reach (no JAX here: the
workflow asks when it builds the DAG). The figures behind the rule are in
:mod:`ntk_evolution.infinite`'s docstring."""

from __future__ import annotations

import math

ARCHITECTURES = ("mlp", "cnn", "resnet")  # those of ntk_evolution.models
RESNET_SECONDS_PER_PAIR_32 = 4.0  # measured, 32x32x3, 2 CPU cores (see ntk_evolution.infinite)


def reference_reason(architecture: str, image_shape: tuple[int, ...]) -> str | None:
    """None where the analytic kernel of ``architecture`` on images of ``image_shape`` (H, W, C)
    is within reach (mlp, cnn: always); else why not and what to do instead (resnet: always)."""
    if architecture not in ARCHITECTURES:
        raise ValueError(
            f"unknown architecture {architecture!r}; available: {sorted(ARCHITECTURES)}"
        )
    if architecture != "resnet":
        return None
    positions = math.prod(image_shape[:2])
    seconds = RESNET_SECONDS_PER_PAIR_32 * (positions / 1024) ** 2
    hours = seconds * 500 * 501 / 2 / 3600
    return (
        "neural-tangents cannot compute the infinite-width kernel of this ResNet, whatever the "
        "image size: its identity shortcuts add a ReLU output (not Gaussian) to a Gaussian "
        "branch, which FanInSum does not support. Even with projection shortcuts, global average "
        f"pooling needs the full (H*W)^2 = {positions**2:,} spatial covariance of every pair of "
        f"images through every convolution: roughly {seconds:.2g} s per pair on 2 CPU cores, "
        f"{hours:.3g} hours for 500 probes. Use the mlp or cnn for an analytic reference, or the "
        "ResNet's empirical epoch-0 kernels at several widths or seeds."
    )

"""Whether the infinite-width NTK of an architecture is within reach (no JAX here: the
workflow asks when it builds the DAG). The figures behind the rule are in
:mod:`ntk_evolution.kernels.infinite`'s docstring.

Only the ``stax`` models have one: neural-tangents derives it layer by layer from their
``stax`` description. The batch-norm ResNet and models named by an import path
(``package.module:function``, :mod:`ntk_evolution.models.networks`) have none.
"""

from __future__ import annotations

import math
import re

STAX_ARCHITECTURES = ("mlp", "cnn", "resnet_no_bn")  # those of ntk_evolution.models.stax_models
FLAX_ARCHITECTURES = ("resnet",)  # those of ntk_evolution.models.flax_models
ARCHITECTURES = (*STAX_ARCHITECTURES, *FLAX_ARCHITECTURES)
IMPORT_PATH = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$"
RESNET_SECONDS_PER_PAIR_32 = (
    4.0  # measured, 32x32x3, 2 CPU cores (see ntk_evolution.kernels.infinite)
)


def split_import_path(path: str) -> tuple[str, str]:
    """``(module, function)`` of an import path ``package.module:function``."""
    if not re.match(IMPORT_PATH, path):
        raise ValueError(
            f"unknown architecture {path!r}: neither a built-in one {list(ARCHITECTURES)} nor "
            "an import path package.module:function"
        )
    module, function = path.split(":")
    return module, function


def reference_reason(architecture: str, image_shape: tuple[int, ...]) -> str | None:
    """None where the analytic kernel of ``architecture`` on images of ``image_shape`` (H, W, C)
    is within reach (mlp, cnn: always); else why not and what to do instead (every other
    architecture: always)."""
    if architecture in ("mlp", "cnn"):
        return None
    if architecture == "resnet":
        return (
            "the batch-norm ResNet has no infinite-width NTK that neural-tangents can compute: "
            "stax has no batch-norm layer, and batch statistics couple the images of a batch. "
            "Use the mlp or cnn for an analytic reference, or the ResNet's empirical epoch-0 "
            "kernels at several widths or seeds."
        )
    if architecture not in ARCHITECTURES:
        split_import_path(architecture)
        return (
            f"{architecture} is a model named by its import path, not a stax model, so "
            "neural-tangents has no infinite-width kernel for it. Use the mlp or cnn for an "
            "analytic reference."
        )
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

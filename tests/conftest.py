"""Shared fixtures: tiny models, cached kernels and dtype-aware tolerances.

Compiling an NTK function dominates the run time of the suite, so the kernels of the few tiny
models the tests share are computed once per session and reused.
"""

from __future__ import annotations

import functools
import os

# The suite compiles a few dozen tiny XLA programs; at the default optimisation level compiling
# them takes most of the run time. Unoptimised code is as correct, only slower to run, which for
# these sizes does not matter. An XLA_FLAGS set by the caller is left alone.
os.environ.setdefault(
    "XLA_FLAGS", "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"
)

import jax
import numpy as np
import pytest

from ntk_evolution.kernels.ntk import per_logit_ntk_fn
from ntk_evolution.models.stax_models import build_model

IMAGE_SHAPE = (8, 8, 1)
NUM_CLASSES = 10
WIDTH = 16
# The ResNet's stages have width x (1, 2, 4, 8) channels; a quarter of the width keeps its
# kernels about as cheap to compile and compute as the other families'.
WIDTHS = {"resnet_no_bn": 4}
DEPTH = 2
NUM_IMAGES = 12

# Relative tolerance for results computed in a given floating-point precision: a few hundred
# units in the last place of float32 (reduction order differs between NTK implementations), and
# correspondingly tight for float64.
_RTOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}


def tolerance(dtype, scale: float = 1.0) -> dict[str, float]:
    """``assert_allclose`` keywords for results in ``dtype``; ``scale`` is the size of the data.

    The absolute tolerance is the relative one times ``scale``, so entries that are small
    compared with the largest one (e.g. near-zero kernel entries) are compared at the precision
    the largest one carries.
    """
    rtol = _RTOL[np.dtype(dtype)]
    return {"rtol": rtol, "atol": rtol * float(scale)}


@pytest.fixture(scope="session")
def tol():
    """The :func:`tolerance` helper, as a fixture."""
    return tolerance


@functools.cache
def _model_and_params(architecture: str, zero_readout: bool):
    model = build_model(
        architecture,
        num_classes=NUM_CLASSES,
        width=WIDTHS.get(architecture, WIDTH),
        depth=DEPTH,
        zero_readout=zero_readout,
    )
    return model, model.init(jax.random.PRNGKey(0), IMAGE_SHAPE)


@functools.cache
def _images(n: int = NUM_IMAGES) -> np.ndarray:
    return np.asarray(jax.random.uniform(jax.random.PRNGKey(1), (n, *IMAGE_SHAPE)), np.float32)


@functools.cache
def _kernel(architecture: str, zero_readout: bool, implementation: str) -> np.ndarray:
    model, params = _model_and_params(architecture, zero_readout)
    x = _images()
    return np.asarray(per_logit_ntk_fn(model.apply, implementation)(x, x, params))


@pytest.fixture(scope="session")
def model_and_params():
    """``model_and_params(architecture, zero_readout) -> (model, params)``, cached."""
    return _model_and_params


@pytest.fixture(scope="session")
def images():
    """Twelve random images in [0, 1] of shape (8, 8, 1), float32."""
    return _images()


@pytest.fixture(scope="session")
def kernel():
    """``kernel(architecture, zero_readout, implementation)``: the (C, N, N) NTK of ``images``."""
    return _kernel


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A copy of the workflow in which the tiny configuration has run to the end.

    Shared by the workflow and rerun tests; a test that edits the copy restores it.
    """
    from snakemake_run import TINY, make_checkout, snakemake

    checkout = make_checkout(tmp_path_factory.mktemp("tiny-run"), TINY)
    snakemake(checkout)
    return checkout


@pytest.fixture(scope="session")
def two_scenarios(tiny_run, tmp_path_factory):
    """The finished tiny run, copied, then run to the end with the two scenarios of
    ``TWO_SCENARIOS`` (itself, and one that changes only the eigenspace's top-k); with the jobs
    that second run planned (rule -> count)."""
    import shutil

    from snakemake_run import TWO_SCENARIOS, planned_jobs, rules_of, snakemake, write_scenarios

    checkout = tmp_path_factory.mktemp("two-scenarios") / "checkout"
    shutil.copytree(tiny_run, checkout, symlinks=True)
    write_scenarios(checkout, TWO_SCENARIOS)
    plan = rules_of(planned_jobs(checkout))
    snakemake(checkout)
    return checkout, plan


@pytest.fixture(scope="session")
def slurm_run(tmp_path_factory):
    """The two scenarios of ``TWO_SCENARIOS`` run to the end through ``profiles/slurm`` on a
    single-node Slurm cluster started on this machine for the session (skipped where that cannot
    be done)."""
    from slurm_cluster import run_through_slurm, slurm_cluster, unavailable
    from snakemake_run import TWO_SCENARIOS, scenario_checkout

    reason = unavailable()
    if reason is not None:
        pytest.skip(reason)
    with slurm_cluster(tmp_path_factory.mktemp("slurm")) as cluster:
        checkout = scenario_checkout(tmp_path_factory.mktemp("slurm-run"), TWO_SCENARIOS)
        yield run_through_slurm(cluster, checkout)

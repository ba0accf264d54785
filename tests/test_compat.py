"""The compatibility layer: neural-tangents without TensorFlow, STRUCTURED_DERIVATIVES on jax 0.5.3."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types

import jax
import jax.interpreters.ad
import numpy as np
import pytest
from jax._src import source_info_util

import ntk_evolution._infra.compat as compat
from ntk_evolution.kernels.ntk import per_logit_ntk
from ntk_evolution.models.networks import build_network
from ntk_evolution.models.stax_models import ARCHITECTURES

from pgd_settings import model_settings

REFERENCES = ("jacobian_contraction", "ntk_vector_products")


# Every reference with a random readout (all layers enter the kernel); one reference with a zero
# readout (the pipeline's ResNet-style initialisation, where only the readout's gradient is left).
CASES = [
    *[(False, reference) for reference in REFERENCES],
    (True, "jacobian_contraction"),
]


@pytest.mark.parametrize(
    ("zero_readout", "reference"),
    CASES,
    ids=[f"{'zero' if z else 'random'}-readout-{r}" for z, r in CASES],
)
@pytest.mark.parametrize("architecture", sorted(ARCHITECTURES))
def test_structured_derivatives_matches_reference(kernel, architecture, zero_readout, reference):
    fast = kernel(architecture, zero_readout, "structured_derivatives")
    slow = kernel(architecture, zero_readout, reference)
    assert fast.shape == slow.shape == (10, 12, 12)
    assert fast.dtype == slow.dtype == np.float32
    assert np.all(np.isfinite(fast))
    scale = np.abs(slow).max()
    assert scale > 0
    assert np.abs(fast - slow).max() / scale < 1e-5


@pytest.mark.parametrize("architecture", sorted(ARCHITECTURES))
def test_kernel_is_not_only_the_readout(kernel, tol, architecture):
    """A zero readout leaves only its own gradient, the same for every logit; a random one does not.

    This keeps the comparison above honest: with ``zero_readout=False`` the hidden layers'
    gradients (where STRUCTURED_DERIVATIVES uses the restored jax names) enter the kernel.
    """
    zero = kernel(architecture, True, "structured_derivatives")
    np.testing.assert_allclose(
        zero, np.broadcast_to(zero[0], zero.shape), **tol(zero.dtype, np.abs(zero).max())
    )
    full = kernel(architecture, False, "structured_derivatives")
    spread = np.abs(full - full[0]).max() / np.abs(full).max()
    assert spread > 1e-3


def test_tensorflow_is_not_installed():
    assert importlib.util.find_spec("tensorflow") is None
    with pytest.raises(ImportError):
        importlib.import_module("tensorflow")


@pytest.mark.skipif(
    importlib.util.find_spec("tensorflow") is not None, reason="the stub stands in only without TF"
)
def test_experimental_is_the_stub_without_tensorflow():
    stub = sys.modules["neural_tangents.experimental"]
    assert isinstance(stub, types.ModuleType)
    assert getattr(stub, "__file__", None) is None  # not the real TF port from site-packages
    assert "Placeholder" in (stub.__doc__ or "")
    assert not hasattr(stub, "empirical_ntk_fn_tf")
    assert compat.nt.experimental is stub


def test_jax_names_are_restored():
    ad = jax.interpreters.ad
    assert ad.source_info_util is source_info_util
    assert ad.config is jax.config


def test_reimport_is_idempotent():
    stub = sys.modules["neural_tangents.experimental"]
    before = (jax.interpreters.ad.source_info_util, jax.interpreters.ad.config)
    reloaded = importlib.reload(compat)
    assert sys.modules["neural_tangents.experimental"] is stub
    assert (jax.interpreters.ad.source_info_util, jax.interpreters.ad.config) == before
    assert reloaded.nt is sys.modules["neural_tangents"]
    assert callable(reloaded.nt.empirical_ntk_fn)
    assert callable(reloaded.stax.serial)


def test_structured_derivatives_matches_on_the_batch_norm_resnet(images):
    """The Flax family: the batch-norm ResNet (one block per stage, random readout), in
    evaluation mode with running statistics moved away from their initial values."""
    settings = model_settings("resnet", width=2)
    net = build_network(settings, 10)
    params, state = net.init(jax.random.PRNGKey(0), images.shape[1:])
    _, state = net.model.apply_train(params, state, images)
    apply = net.evaluation(state)
    fast = per_logit_ntk(apply, params, images, implementation="structured_derivatives")
    slow = per_logit_ntk(apply, params, images, implementation="jacobian_contraction")
    assert fast.shape == slow.shape == (10, 12, 12)
    assert np.abs(fast - slow).max() / np.abs(slow).max() < 1e-5

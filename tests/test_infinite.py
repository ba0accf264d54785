"""The infinite-width reference: the analytic kernel is the Monte Carlo mean of wide networks, the
pipeline's own epoch-0 kernels approach it as the width grows, and its kernel machine can be
attacked like any model."""

from __future__ import annotations

import functools
import itertools

import jax
import numpy as np
import pytest

from ntk_evolution._infra.compat import nt
from ntk_evolution.attacks.evaluation import craft, evaluate
from ntk_evolution.configuration.infinite_reach import reference_reason
from ntk_evolution.kernels.infinite import (
    analytic_ntk,
    infinite_coefficients,
    infinite_machine,
    per_logit_kernel,
    reference_kernel_fn,
)
from ntk_evolution.kernels.machines import targets
from ntk_evolution.kernels.ntk import per_logit_ntk_fn
from ntk_evolution.models.stax_models import Model, build_model

from pgd_settings import pgd_attack

IMAGE_SHAPE = (8, 8, 1)
CLASSES = 3  # fewer logits than the fixtures' 10: wide networks' kernels cost less
KERNEL_IMAGES = 6
CASES = [("standard", False), ("standard", True), ("ntk", False), ("ntk", True)]

# Monte Carlo: 64 networks of width 512. Their mean kernel differs from the analytic one by the
# sampling error (about 0.2 / sqrt(64) relative: one network's error at this width is about 0.2)
# plus a finite-width bias of order 1 / 512; measured 0.7 to 1.0 % per logit, and cross-logit
# blocks at most 0.7 % of the kernel.
MC_WIDTH, MC_SAMPLES, MC_RTOL, MC_CROSS = 512, 64, 0.05, 0.02
# One network per seed: the error shrinks like 1 / sqrt(width) (about 3 / sqrt(width) for this
# MLP); the root mean square over two seeds must fall at every step and end below the bound.
# Measured: mlp 0.29-0.43, 0.20-0.24, 0.05-0.07; cnn 0.35, 0.11 (over the cases below).
WIDTHS = {"mlp": (32, 256, 2048), "cnn": (32, 256)}
SEEDS = (0, 1)
BOUND = {"mlp": 0.15, "cnn": 0.2}


@functools.cache
def _model(architecture: str, width: int, parameterization: str, zero_readout: bool) -> Model:
    return build_model(
        architecture,
        num_classes=CLASSES,
        width=width,
        depth=2,
        parameterization=parameterization,
        zero_readout=zero_readout,
    )


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """||a - b||_F / ||b||_F."""
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


@pytest.mark.parametrize(("parameterization", "zero_readout"), [CASES[1], CASES[2]])
def test_the_analytic_kernel_is_the_mean_kernel_of_wide_networks(
    images, parameterization, zero_readout
):
    """The Monte Carlo mean of the C x C block NTK of wide MLPs (initialised as the pipeline
    does, zero readout included) is K_ref on every logit and 0 between logits."""
    model = _model("mlp", MC_WIDTH, parameterization, zero_readout)
    x = images[:KERNEL_IMAGES]
    mc = nt.monte_carlo_kernel_fn(
        lambda key, shape: (None, model.init(key, shape[1:])),
        model.apply_fn,
        jax.random.PRNGKey(2),
        MC_SAMPLES,
        trace_axes=(),
        vmap_axes=0,
        implementation=nt.NtkImplementation.STRUCTURED_DERIVATIVES,
        device_count=0,
    )
    blocks = np.moveaxis(np.asarray(mc(x, x, get="ntk"), np.float64), (2, 3), (0, 1))
    reference = analytic_ntk(model, x)
    for c in range(CLASSES):
        assert relative_error(blocks[c, c], reference) < MC_RTOL
        for other in set(range(CLASSES)) - {c}:
            assert np.linalg.norm(blocks[c, other]) < MC_CROSS * np.linalg.norm(reference)


def _epoch0_errors(architecture: str, parameterization: str, zero_readout: bool, x) -> list:
    """Root mean square over SEEDS of ||K_emp - K_ref|| / ||K_ref|| (all logits), per width."""
    errors = []
    for width in WIDTHS[architecture]:
        model = _model(architecture, width, parameterization, zero_readout)
        reference = per_logit_kernel(analytic_ntk(model, x), CLASSES)
        kernel = per_logit_ntk_fn(model.apply, "structured_derivatives")
        squares = [
            relative_error(
                np.asarray(kernel(x, x, model.init(jax.random.PRNGKey(seed), IMAGE_SHAPE))),
                reference,
            )
            ** 2
            for seed in SEEDS
        ]
        errors.append(float(np.sqrt(np.mean(squares))))
    return errors


@pytest.mark.parametrize(
    ("architecture", "parameterization", "zero_readout"),
    [("mlp", *case) for case in CASES] + [("cnn", "standard", False), ("cnn", "standard", True)],
)
def test_the_epoch0_kernel_approaches_the_reference_as_the_width_grows(
    images, architecture, parameterization, zero_readout
):
    errors = _epoch0_errors(architecture, parameterization, zero_readout, images[:KERNEL_IMAGES])
    assert all(wide < narrow for narrow, wide in itertools.pairwise(errors)), errors
    assert errors[-1] < BOUND[architecture], errors


@pytest.mark.parametrize(("parameterization", "zero_readout"), CASES)
def test_the_reference_is_one_psd_kernel_computed_in_float64_blocks(
    images, parameterization, zero_readout
):
    model = _model("mlp", 16, parameterization, zero_readout)
    whole = analytic_ntk(model, images)
    assert whole.shape == (len(images), len(images)) and whole.dtype == np.float64
    np.testing.assert_array_equal(whole, whole.T)
    eigenvalues = np.linalg.eigvalsh(whole)
    assert eigenvalues.min() > -1e-12 * eigenvalues.max()
    # Ragged 5 x 5 blocks, symmetric or not, give the whole kernel to float64 rounding.
    np.testing.assert_allclose(analytic_ntk(model, images, batch_size=5), whole, rtol=1e-13)
    crossed = analytic_ntk(model, images[:7], images[3:], batch_size=5)
    np.testing.assert_allclose(crossed, whole[:7, 3:], rtol=1e-13)
    # float64 indeed: the kernel in the images' float32 differs from it by float32 rounding.
    single = np.asarray(reference_kernel_fn(model)(images, images))
    assert single.dtype == np.float32
    assert 0 < relative_error(single, whole) < 1e-4
    logits = per_logit_kernel(whole, CLASSES)
    assert logits.shape == (CLASSES, *whole.shape)
    assert all(np.array_equal(logits[c], whole) for c in range(CLASSES))


def test_a_zero_readout_gives_every_logit_the_same_kernel_at_any_width(images):
    """With a zero readout only the readout's parameters have a gradient: K_cc' = delta_cc'
    (phi.phi' + 1), the same for every logit even at width 16."""
    model = _model("mlp", 16, "standard", True)
    params = model.init(jax.random.PRNGKey(0), IMAGE_SHAPE)
    kernels = np.asarray(
        per_logit_ntk_fn(model.apply, "structured_derivatives")(images, images, params)
    )
    for c in range(1, CLASSES):
        np.testing.assert_allclose(kernels[c], kernels[0], rtol=1e-6)


def test_the_reference_is_within_reach_for_the_mlp_and_cnn_but_no_other_model():
    for architecture in ("mlp", "cnn"):
        for shape in ((8, 8, 1), (32, 32, 3)):
            assert reference_reason(architecture, shape) is None
    reason = reference_reason("resnet_no_bn", (32, 32, 3))
    assert isinstance(reason, str) and "1,048,576" in reason
    assert "batch-norm" in reference_reason("resnet", (32, 32, 3))
    assert "import path" in reference_reason("my_models.nets:small_cnn", (8, 8, 1))
    with pytest.raises(ValueError, match="unknown architecture"):
        reference_reason("transformer", (8, 8, 1))


def test_neural_tangents_cannot_compute_the_resnet(images):
    """The claim behind :func:`reference_reason`: the identity shortcuts are not Gaussian."""
    model = build_model("resnet_no_bn", num_classes=CLASSES, width=4, depth=1)
    with pytest.raises(NotImplementedError, match="FanInSum"):
        analytic_ntk(model, images[:2])


@pytest.fixture(scope="module")
def machine(images):
    """The infinite machine of a zero-readout MLP on 8 probes, and 4 other images."""
    model = _model("mlp", 16, "standard", True)
    probes, others = images[:8], images[8:]
    labels = np.arange(8) % CLASSES
    return (
        model,
        infinite_machine(model, probes),
        analytic_ntk(model, probes),
        probes,
        others,
        labels,
    )


def test_the_infinite_machine_interpolates_the_probes_as_the_ridge_vanishes(machine):
    model, apply, kernel, probes, others, labels = machine
    y = targets(labels, CLASSES, centered=True).T
    residuals = []
    for ridge in (1e-1, 1e-3, 1e-6):
        alpha = infinite_coefficients(kernel, labels, CLASSES, ridge=ridge, centered=True)
        residuals.append(np.abs(np.asarray(apply(alpha, probes)) - y).max())
    assert residuals[0] > residuals[1] > residuals[2] and residuals[2] < 1e-3, residuals
    # Elsewhere the machine is K_ref(x, X) alpha, computed here in float64.
    explicit = analytic_ntk(model, others, probes) @ alpha.T
    np.testing.assert_allclose(np.asarray(apply(alpha, others)), explicit, rtol=1e-4, atol=1e-4)


def test_pgd_attacks_the_infinite_machine_inside_its_ball(machine):
    _, apply, kernel, _, others, _ = machine
    labels = np.arange(len(others)) % CLASSES
    alpha = infinite_coefficients(
        kernel, np.arange(8) % CLASSES, CLASSES, ridge=1e-3, centered=True
    )
    attacks = {"pgd": pgd_attack(0.1, 0.05, 3, random_start=False)}
    adversarial = craft(
        apply, alpha, others, labels, attacks=attacks, key=jax.random.PRNGKey(0), batch_size=3
    )["pgd"]
    assert adversarial.shape == others.shape and adversarial.dtype == np.float32
    assert np.abs(adversarial - others).max() <= 0.1 + 1e-6
    assert 0 <= adversarial.min() and adversarial.max() <= 1
    assert np.abs(adversarial - others).max() > 0.05  # the gradient moved every batch
    accuracy = evaluate(
        apply, alpha, others, labels, adversarial={"pgd": adversarial}, batch_size=3
    )
    assert 0 <= accuracy["pgd"] <= accuracy["clean"] <= 1

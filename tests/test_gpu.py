"""The GPU path: run where JAX sees a GPU (``uv run --locked --extra cuda pytest -m gpu``),
skipped with the reason everywhere else."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from ntk_evolution._infra.checkpoints import load_checkpoint
from ntk_evolution.configuration.experiment import Run
from ntk_evolution.configuration.settings import Optimizer, Training
from ntk_evolution.datasets.data import Split, save_split
from ntk_evolution.kernels.ntk import per_logit_ntk_fn
from ntk_evolution.models.networks import build_network
from ntk_evolution.stages.phase1 import train_phase1

from pgd_settings import model_settings


def gpus() -> list[jax.Device]:
    try:
        return jax.devices("gpu")
    except RuntimeError:
        return []


pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(
        not gpus(),
        reason="JAX sees no GPU here (install the CUDA plugin with `--extra cuda` on a GPU machine)",
    ),
]


def test_a_kernel_tile_on_the_gpu_equals_the_cpus(model_and_params, images, tol):
    model, params = model_and_params("cnn", False)
    kernel = per_logit_ntk_fn(model.apply, "structured_derivatives")
    on = {}
    for platform in ("gpu", "cpu"):
        device = jax.devices(platform)[0]
        x, p = jax.device_put((images, params), device)
        on[platform] = np.asarray(kernel(x, x, p))
    np.testing.assert_allclose(on["gpu"], on["cpu"], **tol(np.float32, np.abs(on["cpu"]).max()))


def test_training_runs_on_the_gpu_and_records_it(tmp_path):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(80, 8, 8, 1), dtype=np.uint8)
    labels = np.arange(80) % 10
    classes = tuple(map(str, range(10)))
    save_split(
        tmp_path / "split.npz",
        Split(pixels[:64], labels[:64], pixels[64:], labels[64:], classes, 255),
    )
    model = model_settings(width=16)
    training = Training(
        epochs=1, batch_size=64, optimizer=Optimizer(learning_rate=0.01, momentum=0.9)
    )
    checkpoint = tmp_path / "epoch1.npz"
    train_phase1(
        tmp_path / "split.npz",
        [checkpoint],
        tmp_path / "history.csv",
        run=Run("benign", 0),
        model=model,
        training=training,
        checkpoint_epochs=[1.0],
    )
    template = build_network(model, 10).shapes((8, 8, 1)).params
    _, meta = load_checkpoint(checkpoint, template)
    assert meta["device"].startswith("gpu:"), meta["device"]

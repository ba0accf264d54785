"""Models with state, written in Flax: the paper's batch-norm ResNet-18 (its layout and size,
its two modes, its checkpoints, its kernel against a float64 Jacobian, its children) and a Flax
MLP against the stax MLP of the same weights."""

from __future__ import annotations

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from fake_cifar import expected_arrays, fake_members
from jax.experimental import enable_x64

from ntk_evolution._infra.checkpoints import load_checkpoint, load_variables, save_checkpoint
from ntk_evolution.configuration.config import ConfigError
from ntk_evolution.configuration.config import _check_model as check_model
from ntk_evolution.configuration.settings import ModelSettings, Optimizer, Training
from ntk_evolution.kernels.ntk import compile_tile_kernel, per_logit_ntk
from ntk_evolution.models.dynamics import child_apply
from ntk_evolution.models.flax_models import FlaxModel, resnet
from ntk_evolution.models.networks import Network, build_network
from ntk_evolution.models.stax_models import build_model
from ntk_evolution.training.loop import train

CIFAR = (32, 32, 3)
CLASSES = 10


def resnet18_counts(width: int, num_classes: int) -> tuple[int, int]:
    """(parameters, running statistics) of ResNet-18 v1 with batch-norm after every convolution
    (projection shortcuts included) and convolutions without biases, counted from its layout:
    a 3x3 stem, 4 stages x 2 basic blocks, a projection where the channels change, a dense
    readout. Every batch-norm has a scale and an offset, and a running mean and variance."""
    convolutions, normalised = 3 * 3 * 3 * width, width
    channels_in = width
    for multiple in (1, 2, 4, 8):
        channels = width * multiple
        for _ in range(2):
            convolutions += 9 * channels_in * channels + 9 * channels * channels
            normalised += 2 * channels
            if channels != channels_in:
                convolutions += channels_in * channels
                normalised += channels
            channels_in = channels
    readout = channels_in * num_classes + num_classes
    return convolutions + 2 * normalised + readout, 2 * normalised


def count(tree) -> int:
    return sum(int(np.prod(leaf.shape)) for leaf in jax.tree_util.tree_leaves(tree))


def test_resnet18_with_batch_norm_has_11_173_962_parameters():
    net = build_network(bn_resnet_settings(width=64, depth=2), CLASSES)
    shapes = net.shapes(CIFAR)
    assert (count(shapes.params), count(shapes.state)) == resnet18_counts(64, CLASSES)
    assert count(shapes.params) == 11_173_962 and count(shapes.state) == 9_600
    # 20 batch-norm layers: the stem's, two per block, three projections.
    assert len(jax.tree_util.tree_leaves(shapes.state)) == 2 * 20
    assert net.reference is None  # no infinite-width kernel


def bn_resnet_settings(**changes) -> ModelSettings:
    settings = {
        "architecture": "resnet",
        "width": 2,
        "depth": 1,
        "parameterization": "standard",
        "zero_readout": False,
        "options": {},
    }
    return ModelSettings(**{**settings, **changes})


@functools.cache
def fake_cifar() -> tuple[np.ndarray, np.ndarray]:
    """The 50 training images of a fake CIFAR-10 archive in [0, 1], and their labels."""
    arrays = expected_arrays("cifar10", fake_members("cifar10"))
    return arrays.train_images.astype(np.float32) / 255, arrays.train_labels


@functools.cache
def trained_resnet() -> tuple[Network, object, object]:
    """A width-2 batch-norm ResNet (one block per stage, random readout) after two
    training-mode passes, so that its running statistics are no longer the initial ones."""
    net = build_network(bn_resnet_settings(), CLASSES)
    params, state = net.init(jax.random.PRNGKey(0), CIFAR)
    images, _ = fake_cifar()
    for batch in (images[:25], images[25:]):
        _, state = net.model.apply_train(params, state, batch)
    return net, params, state


def test_the_modes_differ_and_training_mode_moves_the_running_statistics():
    net = build_network(bn_resnet_settings(), CLASSES)
    params, initial = net.init(jax.random.PRNGKey(0), CIFAR)
    images = fake_cifar()[0][:8]
    trained, moved = net.model.apply_train(params, initial, images)
    evaluated = net.model.apply_eval(params, initial, images)
    assert trained.shape == evaluated.shape == (8, CLASSES)
    assert np.abs(np.asarray(trained - evaluated)).max() > 1e-3
    changed = [
        np.abs(np.asarray(a) - np.asarray(b)).max()
        for a, b in zip(
            jax.tree_util.tree_leaves(initial), jax.tree_util.tree_leaves(moved), strict=True
        )
    ]
    assert min(changed) > 0  # every running mean and variance moved
    # Evaluation mode is a function of the parameters and the state alone: no batch coupling.
    one = net.model.apply_eval(params, moved, images[:1])
    np.testing.assert_allclose(one, net.model.apply_eval(params, moved, images)[:1], rtol=1e-5)


def train_one_epoch(apply, params, data, *, key, save, checkpoints=(1.0,), **options):
    """One benign epoch of SGD with momentum in batches of 10, tested on the first 10 images."""
    images, labels = data
    settings = Training(
        epochs=1, batch_size=10, optimizer=Optimizer(learning_rate=0.1, momentum=0.9)
    )
    test = (images[:10], labels[:10])
    checkpoints = list(checkpoints)
    return train(
        apply,
        params,
        data,
        test,
        settings=settings,
        regime="benign",
        key=key,
        checkpoints=checkpoints,
        save=save,
        **options,
    )


def test_training_updates_the_running_statistics_and_checkpoints_keep_them(tmp_path):
    net = build_network(bn_resnet_settings(), CLASSES)
    params, state = net.init(jax.random.PRNGKey(0), CIFAR)
    images, labels = fake_cifar()
    saved = {}
    train_one_epoch(
        net.modes,
        params,
        (images, labels),
        key=jax.random.PRNGKey(1),
        checkpoints=[0.0, 1.0],
        save=lambda epoch, params, state, meta: saved.update({epoch: (params, state, meta)}),
        state=state,
    )
    assert jax.tree_util.tree_structure(saved[1.0][1]) == jax.tree_util.tree_structure(state)
    for before, after in zip(
        jax.tree_util.tree_leaves(saved[0.0][1]),
        jax.tree_util.tree_leaves(saved[1.0][1]),
        strict=True,
    ):
        assert np.abs(np.asarray(after) - np.asarray(before)).max() > 0
    # A checkpoint holds parameters and state, bitwise.
    trained_params, trained_state, meta = saved[1.0]
    path = tmp_path / "epoch1.npz"
    save_checkpoint(path, trained_params, meta, state=trained_state)
    loaded, metadata = load_variables(path, net.shapes(CIFAR))
    assert metadata == meta
    for got, want in zip(
        jax.tree_util.tree_leaves(loaded),
        jax.tree_util.tree_leaves((trained_params, trained_state)),
        strict=True,
    ):
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, np.asarray(want))
    assert len(np.load(path).files) == 1 + len(jax.tree_util.tree_leaves(loaded))
    # The parameters alone read as before.
    params_only, _ = load_checkpoint(path, net.shapes(CIFAR).params)
    assert count(params_only) == count(trained_params)


def jacobian_kernel(net: Network, params, state, images: np.ndarray) -> np.ndarray:
    """K[c, i, j] = J_c(x_i) . J_c(x_j) of the evaluation-mode function, from the whole
    Jacobian by jax.jacrev, everything in float64."""
    with enable_x64():
        wide = functools.partial(jax.tree_util.tree_map, lambda a: jnp.asarray(a, jnp.float64))
        params, state, x = wide(params), wide(state), jnp.asarray(images, jnp.float64)
        jacobian = jax.jacrev(lambda p: net.model.apply_eval(p, state, x))(params)
        flat = jnp.concatenate(
            [leaf.reshape(*leaf.shape[:2], -1) for leaf in jax.tree_util.tree_leaves(jacobian)],
            axis=-1,
        )
        assert flat.dtype == jnp.float64
        return np.asarray(jnp.einsum("icp,jcp->cij", flat, flat))


def test_kernel_of_the_batch_norm_resnet_is_the_float64_jacobian_contraction():
    net, params, state = trained_resnet()
    probes = fake_cifar()[0][:4]
    apply = net.evaluation(state)
    tile = compile_tile_kernel(
        apply, params, CIFAR, implementation="structured_derivatives", tile_size=4
    )
    assert tile.implementation == "structured_derivatives"  # no fallback
    stored = per_logit_ntk(apply, params, probes)
    reference = jacobian_kernel(net, params, state, probes)
    assert stored.shape == reference.shape == (CLASSES, 4, 4)
    scale = np.abs(reference).max()
    assert scale > 0
    assert np.abs(stored - reference).max() / scale < 1e-5
    spread = np.abs(reference - reference[0]).max() / scale
    assert spread > 1e-3  # every layer enters the kernel, not only the readout


def test_linearized_child_at_the_spawn_point_is_its_parent():
    net, spawn, state = trained_resnet()
    images, labels = fake_cifar()
    parent = net.evaluation(state)
    child = child_apply(parent, spawn, "linearized")
    np.testing.assert_allclose(
        child(spawn, images[:8]), parent(spawn, images[:8]), rtol=1e-6, atol=1e-6
    )
    frozen = [np.array(leaf) for leaf in jax.tree_util.tree_leaves(child)]
    saved = {}

    def save(epoch, params, state, meta):
        saved.update(params=params, state=state)

    train_one_epoch(child, spawn, (images, labels), key=jax.random.PRNGKey(2), save=save)
    assert saved["state"] == {}  # a child carries no state of its own: the spawn state is fixed
    for before, after in zip(frozen, jax.tree_util.tree_leaves(child), strict=True):
        np.testing.assert_array_equal(np.asarray(after), before)
    assert count(saved["params"]) == count(spawn)
    moved = np.abs(
        np.concatenate(
            [
                np.ravel(a - b)
                for a, b in zip(
                    jax.tree_util.tree_leaves(saved["params"]),
                    jax.tree_util.tree_leaves(spawn),
                    strict=True,
                )
            ]
        )
    ).max()
    assert moved > 0
    # Its kernel is its parent's at the spawn point, wherever it has trained to.
    probes = images[:4]
    at_spawn = per_logit_ntk(parent, spawn, probes)
    trained = per_logit_ntk(child, saved["params"], probes)
    assert np.abs(trained - at_spawn).max() / np.abs(at_spawn).max() < 1e-5


class FlaxMLP(nn.Module):
    """The stax MLP's layers: flatten, ``depth`` dense ReLU layers, a dense readout."""

    width: int
    depth: int
    num_classes: int

    @nn.compact
    def __call__(self, images: jax.Array, train: bool) -> jax.Array:
        x = images.reshape(len(images), -1)
        for _ in range(self.depth):
            x = nn.relu(nn.Dense(self.width)(x))
        return nn.Dense(self.num_classes)(x)


def test_a_flax_mlp_with_the_stax_mlps_weights_has_its_kernel(images):
    stax_model = build_model("mlp", num_classes=CLASSES, width=16, depth=2, zero_readout=False)
    stax_params = stax_model.init(jax.random.PRNGKey(0), (8, 8, 1))
    dense = [layer for layer in stax_params if layer]
    flax_params = {
        f"Dense_{i}": {"kernel": w, "bias": b.reshape(-1)} for i, (w, b) in enumerate(dense)
    }
    net = Network(FlaxModel(FlaxMLP(16, 2, CLASSES)), "flax-mlp")
    template = net.shapes((8, 8, 1))
    assert template.state == {}
    assert jax.tree_util.tree_structure(template.params) == jax.tree_util.tree_structure(
        flax_params
    )
    apply = net.evaluation({})
    np.testing.assert_allclose(
        apply(flax_params, images), stax_model.apply(stax_params, images), rtol=1e-6, atol=1e-6
    )
    flax_kernel = per_logit_ntk(apply, flax_params, images)
    stax_kernel = per_logit_ntk(stax_model.apply, stax_params, images)
    assert np.abs(flax_kernel - stax_kernel).max() / np.abs(stax_kernel).max() < 1e-6


def test_the_zero_readout_starts_as_the_zero_function_in_both_modes():
    model = resnet(num_classes=100, width=2, depth=1, zero_readout=True)
    params, state = model.initialize(jax.random.PRNGKey(0), CIFAR)
    images = fake_cifar()[0][:3]
    assert not np.any(np.asarray(model.apply_eval(params, state, images)))
    logits, _ = model.apply_train(params, state, images)
    assert logits.shape == (3, 100) and not np.any(np.asarray(logits))


def test_the_batch_norm_resnet_has_no_ntk_parameterisation():
    with pytest.raises(ConfigError, match="applies to the stax models"):
        check_model(bn_resnet_settings(parameterization="ntk"))

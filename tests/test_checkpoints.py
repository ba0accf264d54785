"""Pickle-free checkpoints: exact round trips, atomic writes, clear errors for bad files."""

from __future__ import annotations

import io
import json

import jax
import numpy as np
import pytest

from ntk_evolution._infra.checkpoints import load_checkpoint, save_checkpoint
from ntk_evolution._infra.recovery import DamagedInput
from ntk_evolution.models.stax_models import build_model

METADATA = {"epoch": 0.25, "step": 3, "steps_per_epoch": 12, "run": "benign-s0", "tags": [1, 2]}


def leaves(tree):
    return jax.tree_util.tree_leaves(tree)


@pytest.fixture(params=["mlp", "cnn"])
def params(request, model_and_params):
    """Parameters of each model family."""
    return model_and_params(request.param, False)[1]


@pytest.fixture
def mlp_params(model_and_params):
    return model_and_params("mlp", False)[1]


def test_round_trip_is_exact(tmp_path, params):
    path = tmp_path / "epoch0.25.npz"
    save_checkpoint(path, params, METADATA)
    template = jax.tree_util.tree_map(np.zeros_like, params)
    loaded, metadata = load_checkpoint(path, template)
    assert metadata == METADATA
    assert jax.tree_util.tree_structure(loaded) == jax.tree_util.tree_structure(params)
    assert len(leaves(loaded)) == len(leaves(params)) > 0
    for got, want in zip(leaves(loaded), leaves(params), strict=True):
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)


def test_round_trip_of_a_general_pytree(tmp_path):
    rng = np.random.default_rng(0)
    params = {
        "dense": (rng.normal(size=(3, 4)).astype(np.float32), np.zeros(4, np.float32)),
        "scale": np.float64(2.5) * np.ones(()),
        "count": np.arange(5, dtype=np.int32),
        "empty": (),
    }
    path = tmp_path / "ckpt.npz"
    save_checkpoint(path, params, {"nested": {"a": [1.5, None, "x"]}})
    loaded, metadata = load_checkpoint(path, params)
    assert metadata == {"nested": {"a": [1.5, None, "x"]}}
    assert jax.tree_util.tree_structure(loaded) == jax.tree_util.tree_structure(params)
    for got, want in zip(leaves(loaded), leaves(params), strict=True):
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got, want)


def test_file_is_readable_without_pickle(tmp_path, params):
    path = tmp_path / "ckpt.npz"
    save_checkpoint(path, params, METADATA)
    with np.load(path, allow_pickle=False) as f:
        names = sorted(f.files)
        assert json.loads(str(f["metadata"])) == METADATA
        stored = [f[f"leaf_{i:04d}"] for i in range(len(leaves(params)))]
    assert names == sorted(["metadata", *(f"leaf_{i:04d}" for i in range(len(leaves(params))))])
    for got, want in zip(stored, leaves(params), strict=True):
        np.testing.assert_array_equal(got, want)


def test_writes_exactly_the_named_file(tmp_path, mlp_params):
    """No ``.partial`` file is left, and no ``.npz`` suffix is appended to the name."""
    path = tmp_path / "checkpoint.bin"
    save_checkpoint(path, mlp_params, METADATA)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.bin"]


def test_overwrite_replaces_the_checkpoint(tmp_path, mlp_params):
    path = tmp_path / "ckpt.npz"
    save_checkpoint(path, mlp_params, {"epoch": 0})
    doubled = jax.tree_util.tree_map(lambda a: 2 * a, mlp_params)
    save_checkpoint(path, doubled, {"epoch": 1})
    loaded, metadata = load_checkpoint(path, mlp_params)
    assert metadata == {"epoch": 1}
    for got, want in zip(leaves(loaded), leaves(doubled), strict=True):
        np.testing.assert_array_equal(got, want)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.npz"]


def test_missing_file(tmp_path, mlp_params):
    path = tmp_path / "nowhere.npz"
    with pytest.raises(DamagedInput, match="does not exist") as info:
        load_checkpoint(path, mlp_params)
    assert str(path) in str(info.value)


def test_truncated_file(tmp_path, mlp_params):
    path = tmp_path / "ckpt.npz"
    save_checkpoint(path, mlp_params, METADATA)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DamagedInput) as info:
        load_checkpoint(path, mlp_params)
    assert str(path) in str(info.value)


def _npy_bytes() -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.arange(3.0))
    return buffer.getvalue()


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(bytes(range(256)) * 4, id="binary-garbage"),
        pytest.param(b"this is not a checkpoint\n", id="text"),
        pytest.param(b"", id="empty"),
        pytest.param(b"PK\x03\x04" + b"\x00" * 40, id="zip-header-only"),
        pytest.param(_npy_bytes(), id="npy-array-not-npz-archive"),
    ],
)
def test_garbage_file(tmp_path, mlp_params, content):
    """Named as damaged, with the command that regenerates it; never with numpy's advice to
    load it with ``allow_pickle`` (which would run code from the file)."""
    path = tmp_path / "ckpt.npz"
    path.write_bytes(content)
    with pytest.raises(DamagedInput) as info:
        load_checkpoint(path, mlp_params)
    assert f"checkpoint {path} is truncated or corrupt" in str(info.value)
    assert f"--forcerun {path}" in str(info.value)
    assert "pickle" not in str(info.value)


def test_archive_without_metadata(tmp_path, mlp_params):
    path = tmp_path / "ckpt.npz"
    np.savez(path, **{f"leaf_{i:04d}": leaf for i, leaf in enumerate(leaves(mlp_params))})
    with pytest.raises(DamagedInput) as info:
        load_checkpoint(path, mlp_params)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("architecture", "width", "depth"),
    [("mlp", 32, 2), ("mlp", 16, 1), ("mlp", 16, 3), ("cnn", 16, 2)],
    ids=["wider", "shallower", "deeper", "other-architecture"],
)
def test_checkpoint_of_another_model(tmp_path, model_and_params, architecture, width, depth):
    _, params = model_and_params("mlp", False)  # width 16, depth 2
    path = tmp_path / "ckpt.npz"
    save_checkpoint(path, params, METADATA)
    other = build_model(architecture, num_classes=10, width=width, depth=depth)
    template = other.init(jax.random.PRNGKey(0), (8, 8, 1))
    with pytest.raises(DamagedInput, match="another model") as info:
        load_checkpoint(path, template)
    assert str(path) in str(info.value)

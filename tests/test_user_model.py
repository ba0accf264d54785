"""A model of your own: named in the config by its import path, with options, built, checked
and run through the whole workflow. The model is docs/models.md's example, kept in
tests/my_models.py."""

from __future__ import annotations

import copy
import re
import shutil

import jax
import numpy as np
import pytest
import xarray as xr

from ntk_evolution.configuration.config import ConfigError
from ntk_evolution.configuration.config import _check_model as check_model
from ntk_evolution.configuration.settings import ModelSettings
from ntk_evolution.kernels.ntk import compile_tile_kernel, per_logit_ntk
from ntk_evolution.models.networks import build_network

from snakemake_run import ROOT, TINY, make_checkout, planned_jobs, rules_of, snakemake

MODULE = ROOT / "tests/my_models.py"
IMPORT_PATH = "my_models:small_cnn"


def settings(**changes) -> ModelSettings:
    model = {**TINY["model"], "architecture": IMPORT_PATH, "options": {"channels": 4}}
    return ModelSettings(**{**model, **changes})


def test_the_documented_example_is_the_tested_one():
    """docs/models.md shows tests/my_models.py, whole."""
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "docs/models.md").read_text(), re.DOTALL)
    assert MODULE.read_text() in blocks


def test_an_import_path_builds_the_model_with_its_options(images):
    net = build_network(settings(options={"channels": 4, "depth": 1}), 10)
    assert net.reference is None and net.architecture == IMPORT_PATH
    variables = net.init(jax.random.PRNGKey(0), images.shape[1:])
    kernel = variables.params["Conv_0"]["kernel"]
    assert kernel.shape == (3, 3, 1, 4)  # channels from the options
    assert set(variables.state) == {"batch_stats"}
    assert len(jax.tree_util.tree_leaves(variables.state)) == 2  # one batch-norm: mean, var
    apply = net.evaluation(variables.state)
    tile = compile_tile_kernel(
        apply,
        variables.params,
        images.shape[1:],
        implementation="structured_derivatives",
        tile_size=4,
    )
    assert tile.implementation == "structured_derivatives"
    fast = per_logit_ntk(apply, variables.params, images[:6])
    slow = per_logit_ntk(apply, variables.params, images[:6], implementation="jacobian_contraction")
    assert np.abs(fast - slow).max() / np.abs(slow).max() < 1e-5


def test_what_is_not_a_model_is_refused_with_what_a_model_provides():
    module = settings(architecture="my_models:SmallCNN", options={"channels": 4, "depth": 1})
    with pytest.raises(TypeError, match="initialize, apply_train, apply_eval"):
        build_network(module, 10)  # a Flax module, not wrapped in FlaxModel
    with pytest.raises(ValueError, match="has no function 'nothing'"):
        build_network(settings(architecture="my_models:nothing"), 10)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"architecture": "nowhere.models:cnn"}, "no module 'nowhere.models' can be imported"),
        ({"architecture": "mlp"}, r"model.options \['channels'\] are keyword arguments"),
        ({"parameterization": "ntk"}, "applies to the stax models"),
    ],
    ids=["missing-module", "options-of-a-built-in", "ntk-parameterisation"],
)
def test_the_config_refuses(changes, message):
    with pytest.raises(ConfigError, match=message):
        check_model(settings(**changes))


def test_a_tiny_run_with_a_model_named_by_its_import_path(tmp_path):
    """The tiny configuration with the example model, its module in the project folder: every
    job runs, the infinite-width reference is skipped with its reason, checkpoints hold the
    running statistics and the kernels come from STRUCTURED_DERIVATIVES."""
    config = copy.deepcopy(TINY)
    config["model"].update(architecture=IMPORT_PATH, options={"channels": 8, "depth": 1})
    checkout = make_checkout(tmp_path, config)
    shutil.copy(MODULE, checkout / "my_models.py")
    result = snakemake(checkout)
    said = result.stdout + result.stderr
    assert "infinite_width (tiny): skipped for this architecture." in said
    assert f"{IMPORT_PATH} is a model named by its import path" in said
    assert planned_jobs(checkout) == set()
    planned = rules_of(planned_jobs(checkout, "--forceall"))
    assert "infinite_ntk" not in planned and planned["train_phase1"] == 4
    run = checkout / "results/tiny"
    with np.load(run / "phase1/benign/seed0/epoch2.npz") as checkpoint:
        state = sorted(name for name in checkpoint.files if name.startswith("state_"))
        assert state == ["state_0000", "state_0001"]  # the running mean and variance
        variance = checkpoint["state_0001"]
    assert variance.shape == (8,) and not np.allclose(variance, 1)  # trained: no longer 1
    kernels = xr.open_zarr(run / "kernels/benign/seed0/ntk.zarr")
    assert kernels.attrs["implementation"] == "structured_derivatives"
    assert np.all(np.isfinite(kernels.ntk.values))
    assert (run / "findings.csv").exists()

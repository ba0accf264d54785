"""CIFAR in the workflow, run for real by Snakemake: a missing dataset, the download rule, a tiny
DAG on a fake CIFAR-10 archive, and the job plans of the presets."""

from __future__ import annotations

import copy
import shutil
from typing import Any

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import yaml
from fake_cifar import expected_arrays, fake_members, write_archive

from ntk_evolution.atomic import partial_path
from ntk_evolution.cifar import FORMATS
from ntk_evolution.config import checkpoint_epochs, phase1_runs, run_pairs
from ntk_evolution.data import load_split

from snakemake_run import ROOT, TINY, make_checkout, planned_jobs, rules_of, snakemake

ARCHIVE = "data/cifar-10-python.tar.gz"
FETCH = f"uv run snakemake --cores 1 {ARCHIVE}"


def cifar_config(**dataset: Any) -> dict[str, Any]:
    """TINY on CIFAR-10, cut to one benign run, two checkpoints and one child (for a fake
    archive of 100 training images)."""
    config = copy.deepcopy(TINY)
    config["dataset"].update(name="cifar10", **dataset)
    config["phase1"].update(regimes=["benign"], seeds=[0], epochs=1, batch_size=50)
    config["phase1"]["checkpoints"] = {"every": 1, "fractional": []}
    config["phase2"].update(
        spawn_epochs=[1], dynamics=["linearized"], regimes=["benign"], batch_size=50
    )
    del config["evaluation"]["attacks"]["pgd_l2"]
    return config


def output(result) -> str:
    return result.stdout + result.stderr


def test_missing_dataset_stops_the_run_with_the_fetch_command(tmp_path):
    """Before any job; the command names the configuration in use (without a --configfile,
    see the next test)."""
    checkout = make_checkout(tmp_path, cifar_config())
    (checkout / "mine.yaml").write_text(yaml.safe_dump({"ntk": {"tile_size": 4}}))
    result = snakemake(checkout, "--dry-run", configfile="mine.yaml", check=False)
    assert result.returncode != 0
    message = output(result)
    assert f"CIFAR-10 not found: expected the archive {ARCHIVE}" in message
    assert "or the folder it extracts to, data/cifar-10-batches-py/" in message
    assert f"uv run snakemake --cores 1 --configfile mine.yaml {ARCHIVE}" in message


def test_download_rule_refuses_a_checksum_mismatch(tmp_path):
    mirror = write_archive(tmp_path / "mirror", "cifar10", fake_members("cifar10"))
    checkout = make_checkout(tmp_path / "checkout", cifar_config(url=mirror.as_uri()))
    result = snakemake(checkout, ARCHIVE, check=False)
    assert result.returncode != 0
    log = (checkout / "logs/download_dataset/cifar-10-python.tar.gz.log").read_text()
    assert f"the file from {mirror.as_uri()}" in log
    assert f"not the published {FORMATS['cifar10'].md5}" in log
    assert not (checkout / ARCHIVE).exists()
    assert not partial_path(checkout / ARCHIVE).exists()
    # Nothing looks valid afterwards: the run still stops for the missing archive.
    result = snakemake(checkout, "--dry-run", check=False)
    assert result.returncode != 0
    assert FETCH in output(result)


def test_tiny_dag_on_fake_cifar(tmp_path):
    checkout = make_checkout(tmp_path, cifar_config())
    members = fake_members("cifar10", per_class=2)
    write_archive(checkout / "data", "cifar10", members)
    # The dataset reaches every job that reads images: training, kernels and evaluation.
    targets = [
        "results/kernels/benign/seed0/ntk.zarr",
        "results/evaluation/benign/seed0/phase1.csv",
    ]
    snakemake(checkout, *targets)
    split = load_split(checkout / "results/data/split.npz")
    want = expected_arrays("cifar10", members)
    assert split.train_images.dtype == np.uint8 and split.pixel_max == 255
    np.testing.assert_array_equal(split.train_images, want.train_images)
    np.testing.assert_array_equal(split.test_labels, want.test_labels)
    assert split.classes == want.classes
    kernels = xr.open_zarr(checkout / "results/kernels/benign/seed0/ntk.zarr").ntk
    assert kernels.shape == (2, 10, 20, 20)
    assert np.all(np.isfinite(kernels.values))
    accuracy = pd.read_csv(checkout / targets[1])
    assert set(accuracy.attack) >= {"clean", "pgd_linf"}
    assert planned_jobs(checkout, *targets) == set()  # the archive is read, never fetched again


def expected_jobs(config: dict[str, Any]) -> dict[str, int]:
    """The jobs a fresh run of ``config`` needs, rule by rule, counted from the config."""
    runs = phase1_runs(config)
    checkpoints = len(checkpoint_epochs(config["phase1"]))
    spawns = len(config["phase2"]["spawn_epochs"])
    per_run = {"train_phase1": 1, "gather_kernels": 1, "kernel_evolution": 1}
    per_run |= {"kernel_spectrum": 1, "kernel_alignment": 1, "evaluate_phase1": 1}
    jobs = {rule: n * len(runs) for rule, n in per_run.items()}
    jobs["extract_ntk"] = len(runs) * checkpoints
    jobs["train_children"] = jobs["evaluate_children"] = len(runs) * spawns
    jobs["plot_distance_matrix"] = len({run.regime for run in runs})
    once = ["all", "split_dataset", "select_probes", "gather_evaluation", "fixed_kernel_table"]
    once += ["plot_distance_curves", "plot_spectrum", "plot_alignment", "plot_training_curves"]
    once += ["plot_accuracy_vs_spawn", "plot_robustness_vs_epsilon", "findings"]
    if run_pairs(runs):
        once += ["kernel_pair_distances", "plot_pair_distance"]
    return jobs | dict.fromkeys(once, 1)


@pytest.mark.parametrize("preset", ["paper", "cifar10-small"])
def test_preset_plan(tmp_path, preset):
    checkout = make_checkout(tmp_path, TINY)
    shutil.copytree(ROOT / "presets", checkout / "presets")
    write_archive(checkout / "data", "cifar10", fake_members("cifar10"))
    configfile = f"presets/{preset}.yaml"
    config = yaml.safe_load((ROOT / configfile).read_text())
    planned = rules_of(planned_jobs(checkout, configfile=configfile))
    expected = expected_jobs(config)
    assert planned == expected
    print(f"{preset}: {sum(planned.values())} jobs {planned}")

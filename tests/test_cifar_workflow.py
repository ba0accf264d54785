"""CIFAR in the workflow, run for real by Snakemake: a missing dataset, the download rule and
the fetch commands it prints and the docs show, an archive in place, a tiny DAG on a fake
CIFAR-10 archive, and the job plans of the presets."""

from __future__ import annotations

import copy
import hashlib
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import yaml
from fake_cifar import expected_arrays, fake_members, write_archive

from ntk_evolution.configuration.experiment import run_pairs
from ntk_evolution.configuration.scenarios import merge
from ntk_evolution.configuration.settings import Config
from ntk_evolution.datasets.cifar import FORMATS
from ntk_evolution.datasets.data import load_split
from ntk_evolution.figures import feature_pictures

from snakemake_run import (
    DEFAULTS,
    ROOT,
    TINY,
    make_checkout,
    planned_jobs,
    rules_of,
    run_printed,
    snakemake,
    write_config,
)

ARCHIVE = "data/cifar-10-python.tar.gz"
FETCH = f"uv run snakemake {ARCHIVE} --cores 1"
FETCH_LOG = "logs/download_dataset/cifar-10-python.tar.gz.log"
DOCS = ["docs/cifar.md"]  # the README points there for CIFAR


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
    config["attacked"]["attack"] = "pgd_linf"
    return config


SPLIT = "results/shared/{key}/data/split.npz"


def split_key(checkout: Path, configfile: str | None = None) -> str:
    """The key of the split job a run of ``checkout`` plans (a run asks for its result with
    ``--until``: a job's key is known once the scenario's results are asked for)."""
    jobs = planned_jobs(checkout, "--forceall", configfile=configfile)
    [key] = {dict(wildcards)["key"] for rule, wildcards in jobs if rule == "split_dataset"}
    return key


def output(result) -> str:
    return result.stdout + result.stderr


def assert_fails_on_checksum(checkout: Path, result, mirror: Path) -> None:
    """The command ran the download of the fake archive at ``mirror``, which failed only because
    its MD5 is not the published one (a command that misparses never reaches the job)."""
    assert result.returncode != 0
    log = checkout / FETCH_LOG
    assert log.exists(), output(result)
    assert f"the file from {mirror.as_uri()}" in log.read_text()
    assert f"not the published {FORMATS['cifar10'].md5}" in log.read_text()
    assert not (checkout / ARCHIVE).exists()


def test_missing_dataset_stops_the_run_with_the_fetch_command(tmp_path):
    """Before any job, with the command that fetches the archive with the configuration in use;
    the command runs as printed."""
    mirror = write_archive(tmp_path / "mirror", "cifar10", fake_members("cifar10"))
    checkout = make_checkout(tmp_path / "checkout", cifar_config())
    mine = {"dataset": {"url": mirror.as_uri()}, "ntk": {"tile_size": 4}}
    write_config(checkout, mine, "mine.yaml")
    result = snakemake(checkout, "--dry-run", configfile="mine.yaml", check=False)
    assert result.returncode != 0
    message = output(result)
    assert f"CIFAR-10 not found: expected the archive {ARCHIVE}" in message
    assert "or the folder it extracts to, data/cifar-10-batches-py/" in message
    printed = re.search(r"published MD5\) with:\n +(.+)\n", message).group(1)
    assert printed == f"{FETCH} --configfile mine.yaml"
    assert_fails_on_checksum(checkout, run_printed(checkout, printed), mirror)


def documented_fetch_commands(doc: str) -> list[str]:
    """The fetch commands in ``doc``: ``uv run snakemake`` with an archive among its words."""
    commands = re.findall(r"uv run snakemake [^`#\n]+", (ROOT / doc).read_text())
    return [command.strip() for command in commands if ".tar.gz" in command]


@pytest.mark.parametrize("doc", DOCS)
def test_documented_fetch_commands_run(tmp_path, doc):
    """Every fetch command of the docs runs as written, its config files (a preset) included.
    A config file appended at the end points the fetch at a fake archive."""
    commands = documented_fetch_commands(doc)
    assert commands, f"{doc} shows no fetch command"
    mirror = write_archive(tmp_path / "mirror", "cifar10", fake_members("cifar10"))
    for i, command in enumerate(commands):
        # A preset's command runs on the defaults, as in a fresh clone (config.yaml names the run).
        config = {"name": "default"} if "--configfile" in command else cifar_config()
        checkout = make_checkout(tmp_path / f"checkout{i}", config)
        shutil.copytree(ROOT / "presets", checkout / "presets")
        write_config(checkout, {"dataset": {"url": mirror.as_uri()}}, "mirror.yaml")
        configfile = "mirror.yaml" if "--configfile" in command else "--configfile mirror.yaml"
        result = run_printed(checkout, f"{command} {configfile}")
        assert_fails_on_checksum(checkout, result, mirror)


def test_download_rule_refuses_a_checksum_mismatch(tmp_path):
    mirror = write_archive(tmp_path / "mirror", "cifar10", fake_members("cifar10"))
    checkout = make_checkout(tmp_path / "checkout", cifar_config(url=mirror.as_uri()))
    result = snakemake(checkout, ARCHIVE, check=False)
    assert result.returncode != 0
    log = (checkout / "logs/download_dataset/cifar-10-python.tar.gz.log").read_text()
    assert f"the file from {mirror.as_uri()}" in log
    assert f"not the published {FORMATS['cifar10'].md5}" in log
    assert not (checkout / ARCHIVE).exists()
    assert not list((checkout / "data").glob(".cifar-10-python.tar.gz.partial*"))
    # Nothing looks valid afterwards: the run still stops for the missing archive.
    result = snakemake(checkout, "--dry-run", check=False)
    assert result.returncode != 0
    assert FETCH in output(result)


def test_archive_in_place_is_never_deleted(tmp_path):
    """A fetched archive, with dataset.url then changed to an address that fails, is never
    fetched again (which would delete it first): not by an ordinary run, nor with --forcerun
    download_dataset or --forceall, dry or real; asking for it stops, naming it as in place."""
    mirror = write_archive(tmp_path / "mirror", "cifar10", fake_members("cifar10"))
    checkout = make_checkout(tmp_path / "checkout", cifar_config(url=mirror.as_uri()))
    # The copy's rule takes the fake archive's MD5 for the published one: it is fetched as the
    # official archive would be, and Snakemake records the job.
    rules = checkout / "workflow/rules/data.smk"
    published = "ARCHIVES[w.archive].md5"
    assert published in rules.read_text()
    fake_md5 = hashlib.md5(mirror.read_bytes()).hexdigest()
    rules.write_text(rules.read_text().replace(published, repr(fake_md5)))
    snakemake(checkout, ARCHIVE)
    archive = (checkout / ARCHIVE).read_bytes()
    assert archive == mirror.read_bytes()

    write_config(checkout, cifar_config(url=(tmp_path / "gone.tar.gz").as_uri()))
    split = ("--until", SPLIT.format(key=split_key(checkout)))
    for forced in [(), ("--forcerun", "download_dataset"), ("--forceall",)]:
        assert "download_dataset" not in rules_of(planned_jobs(checkout, *split, *forced))
        snakemake(checkout, *split, *forced)
        assert (checkout / ARCHIVE).read_bytes() == archive
    for forced in [(), ("--forcerun", ARCHIVE), ("--forceall",)]:
        result = snakemake(checkout, ARCHIVE, *forced, check=False)
        assert result.returncode != 0
        assert f"{ARCHIVE} is in place (move it aside to fetch it again)" in output(result)
        assert (checkout / ARCHIVE).read_bytes() == archive
    assert "gone.tar.gz" not in (checkout / FETCH_LOG).read_text()  # never tried


def test_corrupt_archive_in_place_names_a_fix_that_runs(tmp_path):
    """The split job stops naming the archive and two commands, which set it aside and fetch
    it again with the configuration in use."""
    mirror = write_archive(tmp_path / "mirror", "cifar10", fake_members("cifar10"))
    checkout = make_checkout(tmp_path / "checkout", cifar_config())
    write_config(checkout, {"dataset": {"url": mirror.as_uri()}}, "mine.yaml")
    corrupt = mirror.read_bytes()[:1000]
    (checkout / "data").mkdir()
    (checkout / ARCHIVE).write_bytes(corrupt)
    split = SPLIT.format(key=split_key(checkout, "mine.yaml"))
    result = snakemake(checkout, "--until", split, "--configfile", "mine.yaml", check=False)
    assert result.returncode != 0
    message = output(result)
    assert f"{ARCHIVE} is truncated or corrupt" in message
    move, fetch = re.search(r"\n  (mv .+)\n  (uv run snakemake .+)\n", message).groups()
    assert fetch == f"{FETCH} --configfile mine.yaml"
    subprocess.run(shlex.split(move), cwd=checkout, check=True)
    assert_fails_on_checksum(checkout, run_printed(checkout, fetch), mirror)
    assert (checkout / f"{ARCHIVE}.bad").read_bytes() == corrupt


def test_tiny_dag_on_fake_cifar(tmp_path):
    """The whole DAG on a fake CIFAR-10 archive with the paper's network, the batch-norm
    ResNet, at a tiny width (one block per stage)."""
    config = cifar_config()
    config["model"].update(architecture="resnet", width=2, depth=1)
    checkout = make_checkout(tmp_path, config)
    members = fake_members("cifar10", per_class=2)
    write_archive(checkout / "data", "cifar10", members)
    # The dataset reaches every job that reads images: training, kernels and evaluation.
    targets = [
        "results/tiny/kernels/benign/seed0/ntk.zarr",
        "results/tiny/evaluation/benign/seed0/phase1.csv",
        "results/tiny/machines/pictures.zarr",
    ]
    said = output(snakemake(checkout))
    assert "infinite_width (tiny): skipped for this architecture." in said
    assert "batch-norm" in said
    assert all((checkout / target).exists() for target in targets)
    assert (checkout / "results/tiny/findings.csv").exists()
    split = load_split(checkout / "results/tiny/data/split.npz")
    want = expected_arrays("cifar10", members)
    assert split.train_images.dtype == np.uint8 and split.pixel_max == 255
    np.testing.assert_array_equal(split.train_images, want.train_images)
    np.testing.assert_array_equal(split.test_labels, want.test_labels)
    assert split.classes == want.classes
    store = xr.open_zarr(checkout / targets[0])
    kernels = store.ntk
    assert kernels.shape == (2, 10, 20, 20)
    assert np.all(np.isfinite(kernels.values))
    assert store.attrs["implementation"] == "structured_derivatives"
    # The zero readout leaves only its own gradient at epoch 0; training moved the rest.
    initial, trained = kernels.values[0], kernels.values[1]
    assert np.abs(trained - trained[0]).max() > 1e-6 * np.abs(trained).max()
    assert np.abs(initial - initial[0]).max() <= 1e-5 * np.abs(initial).max()
    with np.load(checkout / "results/tiny/phase1/benign/seed0/epoch1.npz") as checkpoint:
        # the running mean and variance of 12 batch-norm layers: the stem's, two per block
        # and three projections
        assert sum(name.startswith("state_") for name in checkpoint.files) == 2 * 12
    accuracy = pd.read_csv(checkout / targets[1])
    assert set(accuracy.attack) >= {"clean", "pgd_linf"}
    assert planned_jobs(checkout) == set()  # the archive is read, never fetched again
    # Feature pictures are colour images of CIFAR's shape, and their figure draws them.
    pictures = xr.open_zarr(checkout / targets[2]).load()
    assert pictures.picture.shape == (1, 2, 2, 2, 32, 32, 3)
    assert float(pictures.picture.min()) >= 0 and float(pictures.picture.max()) <= 1
    png = tmp_path / "feature_pictures.png"
    feature_pictures.plot(pictures, png)
    assert png.read_bytes().startswith(b"\x89PNG")


def expected_jobs(config: dict[str, Any]) -> dict[str, int]:
    """The jobs a fresh run of ``config`` needs, rule by rule, counted from the config."""
    phase1 = Config.model_validate(config).phase1
    runs = phase1.runs
    spawns = len(config["phase2"]["spawn_epochs"])
    per_run = {"train_phase1": 1, "extract_ntk": 1, "kernel_evolution": 1}
    per_run |= {"kernel_spectrum": 1, "kernel_alignment": 1, "evaluate_phase1": 1}
    per_run |= {"kernel_machines": 1, "kernel_eigenspace": 1, "attacked_ntk": 1}
    jobs = {rule: n * len(runs) for rule, n in per_run.items()}
    jobs["train_children"] = jobs["evaluate_children"] = len(runs) * spawns
    once = ["all", "split_dataset", "select_probes", "gather_evaluation", "figures", "findings"]
    once += ["feature_pictures", "scenario"]
    if config["model"]["architecture"] in ("mlp", "cnn"):  # elsewhere no infinite-width NTK
        once += ["infinite_ntk", "infinite_machine"]
    if run_pairs(runs):
        once += ["kernel_pair_distances"]
    return jobs | dict.fromkeys(once, 1)


@pytest.mark.parametrize("preset", sorted(path.stem for path in ROOT.glob("presets/*.yaml")))
def test_preset_plan(tmp_path, preset):
    """A checkout of the defaults (config.yaml names the run only) with a preset on top."""
    checkout = make_checkout(tmp_path, {"name": "default"})
    shutil.copytree(ROOT / "presets", checkout / "presets")
    write_archive(checkout / "data", "cifar10", fake_members("cifar10"))  # read by CIFAR presets
    configfile = f"presets/{preset}.yaml"
    config = merge(DEFAULTS, yaml.safe_load((ROOT / configfile).read_text()))
    planned = rules_of(planned_jobs(checkout, configfile=configfile))
    expected = expected_jobs(config)
    assert planned == expected
    print(f"{preset}: {sum(planned.values())} jobs {planned}")

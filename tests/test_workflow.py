"""The whole DAG, run for real by Snakemake on a tiny configuration in a temporary directory."""

from __future__ import annotations

import copy
import json
import re

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from ntk_evolution._infra.provenance import describe
from ntk_evolution._infra.provenance import main as provenance_main
from ntk_evolution.analyses import findings
from ntk_evolution.configuration.experiment import MODEL_COLUMNS
from ntk_evolution.configuration.settings import EvaluationSettings
from ntk_evolution.datasets.data import load_probes, load_split, to_unit_interval
from ntk_evolution.stages.evaluation import adversarial_key, load_adversarial

from snakemake_run import (
    AFTER_EVALUATION,
    ROOT,
    TINY,
    make_checkout,
    planned_jobs,
    rules_of,
    snakemake,
    write_config,
)

RUNS = [f"{regime}/seed{seed}" for regime in ("benign", "adversarial") for seed in (0, 1)]
EPOCHS = [0.0, 0.5, 2.0]  # epoch 0, the fractional 0.5 and the last epoch (every: 2)
PROBES, CLASSES, TOP_K = 20, 10, 3
CHILDREN = 4 * 3 * 2  # runs x dynamics x phase-2 regimes, one spawn epoch
CRAFTED = [  # (attack, epsilon): the attacks that craft images, as the tiny preset measures them
    ("pgd_linf", 0.05),
    ("pgd_linf", 0.1),
    ("pgd_l2", 0.5),
    ("apgd_ce_linf", 0.1),
    ("apgd_dlr_linf", 0.1),
    ("square_linf", 0.1),
]
ATTACKS = [*CRAFTED, ("ensemble_linf", 0.1)]  # every (attack, epsilon) measured
MEMBERS = ["pgd_linf", "apgd_ce_linf", "apgd_dlr_linf", "square_linf"]  # the ensemble's
# Each attack at its own epsilon (the kernel machines'), in the stores' order: clean first.
HEADLINE = [
    ("clean", 0.0),
    ("apgd_ce_linf", 0.1),
    ("apgd_dlr_linf", 0.1),
    ("ensemble_linf", 0.1),
    ("pgd_l2", 0.5),
    ("pgd_linf", 0.1),
    ("square_linf", 0.1),
]
FIGURES = [
    "accuracy_vs_spawn",
    "fixed_kernel",
    "alignment",
    "distance_curves",
    "distance_matrix",
    "pair_distance",
    "spectrum",
    "training_curves",
    "robustness_vs_epsilon",
    "machine_accuracy",
    "feature_accuracy",
    "feature_robust_share",
    "feature_pictures",
    "polar_dynamics",
    "eigenspace_overlap",
    "attacked_kernels",
]
FEATURES = [1, 2, 20]  # machines.features: the top 2 and the last of the 20 eigenvectors


@pytest.fixture(scope="module")
def finished(tiny_run):
    return tiny_run


def test_plan_of_a_fresh_run(tmp_path):
    """Every rule of the method is in the DAG, with one job per run or spawn point."""
    assert rules_of(planned_jobs(make_checkout(tmp_path, TINY))) == {
        "all": 1,
        "split_dataset": 1,
        "select_probes": 1,
        "train_phase1": 4,
        "extract_ntk": 4,
        "kernel_evolution": 4,
        "kernel_spectrum": 4,
        "kernel_alignment": 4,
        "kernel_eigenspace": 4,
        "attacked_ntk": 4,
        "infinite_ntk": 1,
        "infinite_machine": 1,
        "kernel_pair_distances": 1,
        "train_children": 4,
        "evaluate_phase1": 4,
        "evaluate_children": 4,
        "kernel_machines": 4,
        "feature_pictures": 1,
        **AFTER_EVALUATION,
    }


def test_second_run_plans_no_jobs(finished):
    assert planned_jobs(finished) == set()
    assert "Nothing to be done" in snakemake(finished, "--dry-run").stdout


@pytest.mark.parametrize("run", RUNS)
def test_kernel_store(finished, run):
    ds = xr.open_zarr(finished / f"results/tiny/kernels/{run}/ntk.zarr")
    kernel = ds.ntk
    assert kernel.dims == ("epoch", "logit", "probe_i", "probe_j")
    assert kernel.shape == (len(EPOCHS), CLASSES, PROBES, PROBES)
    assert kernel.encoding["chunks"] == (1, CLASSES, 8, 8)  # one chunk per tile
    np.testing.assert_array_equal(ds.epoch.values, EPOCHS)
    np.testing.assert_array_equal(ds.label_i.values, np.repeat(np.arange(CLASSES), 2))
    values = kernel.values
    assert np.all(np.isfinite(values))
    np.testing.assert_array_equal(values, np.swapaxes(values, -1, -2))
    assert ds.attrs["config"]["run"] == run.replace("/seed", "-s")
    assert ds.attrs["config"]["model"] == TINY["model"]
    assert ds.attrs["versions"]["neural-tangents"] == "0.6.5"
    assert ds.attrs["implementation"] == "structured_derivatives"
    assert [snapshot["epoch"] for snapshot in ds.attrs["snapshots"]] == EPOCHS
    for snapshot in ds.attrs["snapshots"]:
        assert snapshot["checkpoint"]["epoch"] == snapshot["epoch"]
        assert snapshot["seconds"] > 0


def test_kernels_move_during_training(finished):
    """Training changes the kernel: the last epoch's kernel is not the initial one."""
    kernel = xr.open_zarr(finished / "results/tiny/kernels/benign/seed0/ntk.zarr").ntk.values
    assert not np.allclose(kernel[0], kernel[-1])


@pytest.mark.parametrize(
    ("name", "sizes", "variables"),
    [
        (
            "evolution",
            {"epoch": 3, "other_epoch": 3},
            {
                "distance_matrix",
                "distance_to_init",
                "distance_to_final",
                "velocity",
                "distance_to_infinite",
                "centered_distance_to_infinite",
            },
        ),
        (
            "spectrum",
            {"epoch": 3, "logit": CLASSES, "rank": TOP_K},
            {"eigenvalues", "effective_rank", "top_k_share", "trace"},
        ),
        ("alignment", {"epoch": 3, "logit": CLASSES}, {"alignment", "mean_alignment"}),
        (
            "eigenspace",
            {"space": 3, "epoch": 3, "logit": CLASSES},
            {
                "radius",
                "angle",
                "class_radius",
                "class_angle",
                "overlap_to_final",
                "mean_overlap_to_final",
            },
        ),
    ],
)
@pytest.mark.parametrize("run", RUNS)
def test_run_statistics(finished, run, name, sizes, variables):
    ds = xr.open_zarr(finished / f"results/tiny/statistics/{run}/{name}.zarr")
    assert dict(ds.sizes) == sizes
    assert set(ds.data_vars) == variables
    for var in ds.data_vars.values():
        assert var.attrs["long_name"]
        assert "units" in var.attrs
    assert ds.attrs["config"]["run"] == run.replace("/seed", "-s")


def test_evolution_starts_at_zero_distance(finished):
    ds = xr.open_zarr(finished / "results/tiny/statistics/benign/seed0/evolution.zarr")
    assert float(ds.distance_to_init[0]) == pytest.approx(0.0, abs=1e-6)
    assert float(ds.distance_to_final[-1]) == pytest.approx(0.0, abs=1e-6)
    assert float(ds.distance_to_init[-1]) > 0


def test_pair_distances(finished):
    ds = xr.open_zarr(finished / "results/tiny/statistics/pair_distances.zarr").load()
    assert ds.distance.dims == ds.centered_distance.dims == ("pair", "epoch")
    assert list(ds.kind.values) == [
        "benign vs adversarial (across seeds)",
        "benign vs adversarial (across seeds)",
        "benign vs adversarial (same seed)",
        "benign vs adversarial (same seed)",
        "benign vs benign (yardstick)",
        "adversarial vs adversarial (yardstick)",
    ]
    # Both runs of a seed start from the same initialisation: the same kernel at epoch 0 ...
    same_seed = ds.where(ds.seeds == "same", drop=True)
    for name in ("distance", "centered_distance"):
        np.testing.assert_allclose(same_seed[name].isel(epoch=0), 0.0, atol=1e-6)
        assert same_seed[name].isel(epoch=-1).min() > 0
    # ... while runs of different seeds never share a kernel.
    across = ds.where(ds.seeds == "across", drop=True)
    assert across.distance.isel(epoch=0).min() > 0
    # The same for the leading eigenspaces: one space at epoch 0 for the runs of a seed.
    assert ds.top_k_overlap.dims == ("pair", "epoch")
    np.testing.assert_allclose(same_seed.top_k_overlap.isel(epoch=0), 1.0, atol=1e-6)
    assert ((ds.top_k_overlap >= -1e-12) & (ds.top_k_overlap <= 1 + 1e-12)).all()


@pytest.mark.parametrize("run", RUNS)
def test_attacked_kernel_stores(finished, run):
    """At the first and last checkpoint, the probes attacked by the L2 evaluation attack: their
    kernel, the cross kernel with the clean probes, and how far the attack moved them."""
    kernels = xr.open_zarr(finished / f"results/tiny/kernels/{run}/attacked.zarr").load()
    assert kernels.attacked_ntk.dims == ("epoch", "logit", "probe_i", "probe_j")
    assert kernels.attacked_ntk.shape == (2, CLASSES, PROBES, PROBES)
    assert kernels.attacked_ntk.encoding["chunks"] == (1, CLASSES, 8, 8)  # tiles, as the clean
    np.testing.assert_array_equal(kernels.epoch.values, [EPOCHS[0], EPOCHS[-1]])
    attacked = kernels.attacked_ntk.values
    np.testing.assert_allclose(attacked, np.swapaxes(attacked, -1, -2), rtol=1e-5, atol=1e-6)
    clean = xr.open_zarr(finished / f"results/tiny/kernels/{run}/ntk.zarr").ntk.load()
    clean = clean.sel(epoch=kernels.epoch).values
    split = load_split(finished / "results/tiny/data/split.npz")
    indices, _ = load_probes(finished / "results/tiny/data/probes.npz")
    images = to_unit_interval(split.train_images[indices], split.pixel_max)
    moved = np.sqrt(((kernels.attacked_probes.values - images) ** 2).sum((2, 3, 4)))
    assert moved.max() <= 0.5 + 1e-5  # pgd_l2's epsilon
    assert not np.allclose(attacked[-1], clean[-1])
    statistics = xr.open_zarr(finished / f"results/tiny/statistics/{run}/attacked.zarr").load()
    assert statistics.distance.dims == ("epoch",)
    assert statistics.self_similarity.dims == ("epoch", "class")
    assert ((statistics.distance >= 0) & (statistics.distance <= 1)).all()
    assert (np.abs(statistics.probe_self_similarity) <= 1).all()
    assert statistics.attrs["config"]["attacked"] == TINY["attacked"]


def test_infinite_width_reference(finished):
    """The analytic kernel on the probes, every snapshot's distance to it, and its machine."""
    kernel = xr.open_zarr(finished / "results/tiny/kernels/infinite.zarr").ntk.load()
    assert kernel.dims == ("probe_i", "probe_j") and kernel.shape == (PROBES, PROBES)
    np.testing.assert_allclose(kernel, kernel.T)
    assert np.linalg.eigvalsh(kernel.values).min() > -1e-9 * float(np.abs(kernel).max())
    evolution = xr.open_zarr(finished / "results/tiny/statistics/benign/seed0/evolution.zarr")
    distance = evolution.distance_to_infinite.values
    assert distance.shape == (len(EPOCHS),) and ((distance >= 0) & (distance <= 1)).all()
    machine = xr.open_zarr(finished / "results/tiny/machines/infinite.zarr").load()
    assert machine.accuracy.dims == ("attack", "epsilon")
    assert list(machine.attack.values) == [attack for attack, _ in HEADLINE]
    np.testing.assert_array_equal(machine.epsilon.values, [0.0, 0.1, 0.5])
    clean = float(machine.accuracy.sel(attack="clean", epsilon=0.0))
    judged = machine.accuracy.to_series().dropna()
    assert judged.index.tolist() == HEADLINE and (judged <= clean).all()
    bounded = machine.accuracy.notnull()
    assert (machine.accuracy_low <= machine.accuracy).where(bounded, True).all()
    assert (machine.accuracy_high >= machine.accuracy).where(bounded, True).all()
    assert clean > 0.1


def test_eigenspace_ends_where_the_run_ends(finished):
    ds = xr.open_zarr(finished / "results/tiny/statistics/adversarial/seed1/eigenspace.zarr").load()
    np.testing.assert_allclose(ds.radius.isel(epoch=-1), 1.0)
    np.testing.assert_allclose(ds.radius.isel(epoch=0), 0.0)
    np.testing.assert_allclose(ds.mean_overlap_to_final.isel(epoch=-1), 1.0)
    assert ((ds.angle >= 0) & (ds.angle <= np.pi)).all()


def test_findings(finished):
    table = pd.read_csv(finished / "results/tiny/findings.csv")
    assert list(table.columns) == findings.COLUMNS
    assert set(table.finding) == set(findings.CLAIMS)
    settling = table[table.measure == "settling epoch"]
    assert sorted(settling.subject) == sorted(r.replace("/seed", "-s") for r in RUNS)
    assert set(settling.value) <= set(EPOCHS)
    ratios = table[table.measure == "distance / yardstick (centered)"]
    assert sorted(ratios.subject) == ["benign-s0 vs adversarial-s1", "benign-s1 vs adversarial-s0"]
    assert (ratios.value > 0).all()
    # The verdicts stated in findings.md are those the table's decisive rows give.
    page = (finished / "results/tiny/findings.md").read_text()
    for finding, verdict in findings.verdicts(table).items():
        assert f"**{finding}**, {findings.CLAIMS[finding]}: **{verdict}**" in page
    made = json.loads((finished / "results/tiny/findings.provenance.json").read_text())
    assert made["config"]["thresholds"]["distance_ratio"] == TINY["findings"]["distance_ratio"]


def test_histories(finished):
    for run in RUNS:
        history = pd.read_csv(finished / f"results/tiny/phase1/{run}/history.csv")
        assert list(history.epoch) == [1, 2]
        assert history.train_loss.notna().all()
        assert set(history.adversarial) == {run.startswith("adversarial")}


@pytest.mark.parametrize("name", FIGURES)
def test_figures(finished, name):
    png = (finished / f"results/tiny/figures/{name}.png").read_bytes()
    assert png.startswith(b"\x89PNG")
    assert len(png) > 10_000


def test_evaluation_table(finished):
    table = pd.read_csv(finished / "results/tiny/evaluation/accuracy.csv")
    first = [f"broken_first_by_{member}" for member in MEMBERS]
    columns = [*MODEL_COLUMNS, "attack", "epsilon", "source", "accuracy", "correct", "n"]
    assert list(table.columns) == [*columns, *first]
    # An ensemble row counts the test images each member broke first: those it gets wrong
    # and its clean row gets right.
    ensemble = table[table.attack == "ensemble_linf"].reset_index(drop=True)
    clean = table[table.attack == "clean"].set_index(MODEL_COLUMNS).correct
    right = clean.reindex(pd.MultiIndex.from_frame(ensemble[MODEL_COLUMNS])).to_numpy()
    np.testing.assert_array_equal(ensemble[first].sum(axis=1), right - ensemble.correct)
    assert table[table.attack != "ensemble_linf"][first].isna().all().all()
    parents = table[table.spawn_epoch.isna()]
    children = table[table.spawn_epoch.notna()]
    assert (table[table.attack == "clean"].epsilon == 0).all()
    per_parent = 1 + len(ATTACKS)  # clean, then robust at every (attack, epsilon)
    per_child = 1 + 2 * len(ATTACKS)  # clean, robust and transfer at every (attack, epsilon)
    assert len(parents) == 4 * per_parent
    assert len(children) == CHILDREN * per_child
    assert table.accuracy.between(0, 1).all()
    for models, index in [
        (children, ["phase1_regime", "seed", "spawn_epoch", "dynamics", "phase2_regime"]),
        (parents, ["phase1_regime", "seed"]),
    ]:
        wide = models.pivot_table(
            index=index, columns=["attack", "epsilon", "source"], values="accuracy"
        )
        assert len(wide) == len(models) // (per_child if models is children else per_parent)
        clean = wide[("clean", 0.0, "self")]
        for attack, epsilon in ATTACKS:
            assert (wide[(attack, epsilon, "self")] <= clean).all()
            if models is children:
                assert (wide[(attack, epsilon, "parent")] <= clean).all()
    # Even ten phase-2 steps leave every child above chance (0.1) on clean test images.
    assert children[children.attack == "clean"].accuracy.min() > 0.15


def test_parent_adversarial_images_are_stored_once_per_run(finished):
    # The phase-1 evaluation keeps its white-box images: the transfer attack on the children.
    test_images, _ = load_split(finished / "results/tiny/data/split.npz").test_set()
    attacks = EvaluationSettings.model_validate(TINY["evaluation"]).attacks
    grid = {
        adversarial_key(name, epsilon): (attacks[name].norm, epsilon) for name, epsilon in CRAFTED
    }
    for run in ("benign/seed0", "adversarial/seed1"):
        stored = load_adversarial(
            finished / f"results/tiny/evaluation/{run}/phase1_adversarial.npz", list(grid)
        )
        for key, images in stored.items():
            norm, epsilon = grid[key]
            assert images.shape == test_images.shape
            moved = np.abs(images - test_images).reshape(len(images), -1)
            if norm == "linf":
                assert moved.max() <= epsilon + 1e-6
            else:
                assert np.linalg.norm(moved, axis=1).max() <= epsilon + 1e-5
            assert moved.max() > 0


def test_evaluation_dataset(finished):
    ds = xr.open_zarr(finished / "results/tiny/evaluation/accuracy.zarr")
    assert ds.accuracy.dims == (*MODEL_COLUMNS, "attack", "epsilon", "source")
    assert ds.accuracy.shape == (2, 2, 1, 3, 2, 7, 4, 2)  # epsilon: 0 (clean), 0.05, 0.1, 0.5
    np.testing.assert_array_equal(ds.epsilon.values, [0.0, 0.05, 0.1, 0.5])
    assert ds.parent_accuracy.dims == ("phase1_regime", "seed", "attack", "epsilon")
    assert ds.attrs["config"]["evaluation"]["attacks"]["pgd_l2"]["norm"] == "l2"
    clean = ds.accuracy.sel(attack="clean", epsilon=0.0, source="self")
    assert float(clean.min()) > 0.15


def test_fixed_kernel_table(finished):
    table = pd.read_csv(finished / "results/tiny/figures/fixed_kernel.csv")
    assert set(table.code) == {"CC", "CA", "AC", "AA"}
    assert set(table.dynamics) == {"linearized", "centered"}
    names = {attack for attack, _ in ATTACKS}
    assert set(table.measure) == {"clean"} | {
        f"{k} {a}" for a in names for k in ("robust", "transfer")
    }
    assert (table.seeds == 2).all()
    assert (table["min"] <= table["mean"]).all() and (table["mean"] <= table["max"]).all()


def test_robustness_vs_epsilon_table(finished):
    table = pd.read_csv(finished / "results/tiny/figures/robustness_vs_epsilon.csv")
    models = ["phase1_regime", "seed", "spawn_epoch", "dynamics", "phase2_regime"]
    cells = {(attack, 0.0) for attack, _ in ATTACKS} | set(ATTACKS)  # epsilon 0: clean accuracy
    assert len(table) == (4 + CHILDREN) * len(cells)  # phase-1 networks and children
    assert not table.duplicated([*models, "attack", "epsilon"]).any()
    assert set(zip(table.attack, table.epsilon, strict=True)) == cells
    assert set(table.code) == {"C", "A", "CC", "CA", "AC", "AA"}
    evaluation = pd.read_csv(finished / "results/tiny/evaluation/accuracy.csv")
    robust = evaluation[(evaluation.source == "self") & (evaluation.attack != "clean")]
    merged = table.merge(robust, on=[*models, "attack", "epsilon"], suffixes=("", "_evaluated"))
    assert len(merged) == (4 + CHILDREN) * len(ATTACKS)
    assert (merged.accuracy == merged.accuracy_evaluated).all()


@pytest.mark.parametrize("run", RUNS)
def test_machine_stores(finished, run):
    """Every checkpoint's machine and eigen-features are judged; accuracies are shares, the
    clean one the same for both sources, the robust one never above it."""
    machines = xr.open_zarr(finished / f"results/tiny/machines/{run}/machines.zarr").load()
    accuracy = machines.accuracy
    assert accuracy.dims == ("epoch", "attack", "epsilon", "source")
    np.testing.assert_array_equal(machines.epoch.values, EPOCHS)
    assert list(machines.attack.values) == [attack for attack, _ in HEADLINE]
    np.testing.assert_array_equal(machines.epsilon.values, [0.0, 0.1, 0.5])
    assert list(machines.source.values) == ["self", "parent"]
    assert (((accuracy >= 0) & (accuracy <= 1)) | accuracy.isnull()).all()
    judged = accuracy.notnull().all(["epoch", "source"]).to_series()
    assert judged[judged].index.tolist() == HEADLINE
    clean = accuracy.sel(attack="clean", epsilon=0.0)
    np.testing.assert_array_equal(clean.sel(source="self"), clean.sel(source="parent"))
    assert ((accuracy <= clean + 1e-12) | accuracy.isnull()).all()
    assert (clean > 0.1).all()  # above chance (10 classes), even at init with 16 hidden units
    assert machines.attrs["config"]["machines"] == TINY["machines"]
    features = xr.open_zarr(finished / f"results/tiny/machines/{run}/features.zarr").load()
    assert features.accuracy.dims == ("epoch", "eigen", "measure")
    assert features.class_accuracy.dims == ("epoch", "class", "eigen", "measure")
    assert list(features.eigen.values) == FEATURES
    assert features.eigenvalue.sizes == {"epoch": 3, "logit": CLASSES, "eigen": len(FEATURES)}
    eigenvalues = features.eigenvalue.values
    assert (eigenvalues[..., 0] >= eigenvalues[..., 1]).all()
    assert (eigenvalues[..., 1] >= eigenvalues[..., 2]).all()
    robust, clean = features.accuracy.sel(measure="robust"), features.accuracy.sel(measure="clean")
    assert (robust <= clean).all()
    top = slice(0, TINY["machines"]["features"]["top"])
    share = robust.isel(eigen=top).sum("eigen") / clean.isel(eigen=top).sum("eigen")
    np.testing.assert_allclose(features.robust_share, share)


def test_feature_pictures_store(finished):
    pictures = xr.open_zarr(finished / "results/tiny/machines/pictures.zarr").load()
    assert pictures.picture.dims == (
        "regime",
        "epoch",
        "class",
        "eigen",
        "row",
        "column",
        "channel",
    )
    assert list(pictures.regime.values) == ["benign", "adversarial"]
    assert list(pictures.seed.values) == [0, 0]
    np.testing.assert_array_equal(pictures.epoch.values, [EPOCHS[0], EPOCHS[-1]])
    assert pictures.picture.shape[2:] == (2, 2, 8, 8, 1)
    assert float(pictures.picture.min()) >= 0 and float(pictures.picture.max()) <= 1
    assert (pictures.cosine >= pictures.cosine_start).all()


def test_children_histories(finished):
    history = pd.read_csv(
        finished / "results/tiny/phase2/adversarial/seed1/spawn2/centered/adversarial/history.csv"
    )
    assert list(history.epoch) == [1]
    assert history.adversarial.all()
    assert (history.dynamics == "centered").all()


def test_new_spawn_epoch_schedules_only_its_children(finished):
    config = copy.deepcopy(TINY)
    config["phase2"]["spawn_epochs"] = [0.5, 2]
    write_config(finished, config, "more-spawns.yaml")
    jobs = planned_jobs(finished, configfile="more-spawns.yaml")
    assert rules_of(jobs) == {
        "train_children": 4,
        "evaluate_children": 4,
        **AFTER_EVALUATION,
        "all": 1,
    }
    for rule in ("train_children", "evaluate_children"):
        assert {dict(w)["spawn"] for r, w in jobs if r == rule} == {"0.5"}


def test_report(finished):
    snakemake(finished, "--report", "report.html")
    html = (finished / "report.html").read_text()
    assert len(html) > 100_000
    for name in FIGURES:
        assert f"{name}.png" in html
    # The landing page opens on the findings: each one's claim and verdict, no click needed.
    assert (
        "The paper&#x27;s findings on this run" in html
        or "The paper's findings on this run" in html
    )
    assert "adversarial training leads to a different kernel" in html
    assert "Findings" in html and "findings.csv" in html
    assert "Findings of this run" in html


def test_job_logs_show_progress(finished):
    [log] = [
        path.read_text() for path in finished.glob("logs/train_phase1/*-adversarial-seed0.log")
    ]
    assert "epoch 2/2 adversarial" in log
    assert "checkpoint at epoch 0.5" in log


def test_bad_config_key_stops_the_run(tmp_path):
    config = copy.deepcopy(TINY)
    config["model"]["widht"] = config["model"].pop("width")
    result = snakemake(make_checkout(tmp_path, config), "--dry-run", check=False)
    assert result.returncode != 0
    message = result.stdout + result.stderr
    assert "model: unknown key(s) ['widht']" in message
    assert "architecture, depth, options, parameterization, width, zero_readout" in message
    assert not (tmp_path / "results").exists()


def test_diverging_run_stops_without_checkpoints(tmp_path):
    config = copy.deepcopy(TINY)
    config["phase1"]["optimizer"]["learning_rate"] = 1e12
    config["phase1"]["regimes"] = ["benign"]
    make_checkout(tmp_path, config)
    result = snakemake(tmp_path, "--until", "train_phase1", check=False)
    assert result.returncode != 0
    [log] = [path.read_text() for path in tmp_path.glob("logs/train_phase1/*-benign-seed0.log")]
    assert "DivergedError" in log
    assert "Lower the learning rate" in log
    # Snakemake removes the outputs of the failed job; no partial file is left behind either.
    assert [p.name for p in tmp_path.glob("results/shared/*/phase1/**/*") if p.is_file()] == []


@pytest.mark.parametrize(
    ("path", "rule"),
    [
        ("results/tiny/phase1/adversarial/seed1/epoch0.5.npz", "train_phase1"),
        ("results/tiny/phase1/adversarial/seed1/history.csv", "train_phase1"),
        ("results/tiny/kernels/benign/seed0/ntk.zarr", "extract_ntk"),
        ("results/tiny/statistics/benign/seed1/spectrum.zarr", "kernel_spectrum"),
        ("results/tiny/statistics/pair_distances.zarr", "kernel_pair_distances"),
        (
            "results/tiny/phase2/benign/seed0/spawn2/centered/adversarial/params.npz",
            "train_children",
        ),
        (
            "results/tiny/phase2/benign/seed0/spawn2/centered/adversarial/history.csv",
            "train_children",
        ),
        ("results/tiny/evaluation/benign/seed0/spawn2.csv", "evaluate_children"),
        ("results/tiny/evaluation/accuracy.csv", "gather_evaluation"),
        ("results/tiny/evaluation/accuracy.zarr", "gather_evaluation"),
        ("results/tiny/figures/fixed_kernel.csv", "figures"),
        ("results/tiny/figures/robustness_vs_epsilon.csv", "figures"),
        ("results/tiny/machines/adversarial/seed0/machines.zarr", "kernel_machines"),
        ("results/tiny/machines/adversarial/seed0/features.zarr", "kernel_machines"),
        ("results/tiny/machines/pictures.zarr", "feature_pictures"),
        ("results/tiny/kernels/benign/seed1/attacked.zarr", "attacked_ntk"),
        ("results/tiny/kernels/infinite.zarr", "infinite_ntk"),
        ("results/tiny/machines/infinite.zarr", "infinite_machine"),
        ("results/tiny/statistics/benign/seed1/eigenspace.zarr", "kernel_eigenspace"),
    ],
)
def test_every_result_says_how_it_was_made(finished, path, rule):
    made = describe(path, finished)
    assert made["snakemake"]["rule"] == rule
    assert made["provenance"]["versions"]["jax"] == "0.5.3"
    assert made["provenance"]["device"].startswith("cpu")
    assert made["provenance"]["config"]


def test_provenance_command_line(finished, capsys):
    provenance_main(["--workdir", str(finished), "results/tiny/evaluation/accuracy.csv"])
    [made] = json.loads(capsys.readouterr().out)
    assert made["provenance"]["config"]["evaluation"]["attacks"]["pgd_linf"]["steps"] == 3


@pytest.mark.parametrize(
    ("architecture", "why"), [("resnet_no_bn", "FanInSum"), ("resnet", "batch-norm")]
)
def test_an_out_of_reach_reference_is_skipped_with_a_note(tmp_path, architecture, why):
    """The ResNets' infinite-width NTK is out of reach: the DAG says so and goes without it."""
    config = copy.deepcopy(TINY)
    config["model"]["architecture"] = architecture
    result = snakemake(make_checkout(tmp_path, config), "--dry-run")
    assert "infinite_width (tiny): skipped for this architecture." in result.stdout + result.stderr
    assert why in result.stdout + result.stderr
    planned = rules_of(planned_jobs(tmp_path))
    assert "infinite_ntk" not in planned and "infinite_machine" not in planned
    assert planned["kernel_evolution"] == 4


def documented_stores() -> dict[str, dict[str, tuple[str, ...]]]:
    """docs/results.md's table of stores: path pattern -> variable -> dims."""
    text = (ROOT / "docs" / "results.md").read_text().split("## Every store")[1]
    stores = {}
    for path, variables in re.findall(r"^\| `([^`]+\.zarr)` \| (.+) \|$", text, re.M):
        found = re.findall(r"`(\w+)` \(([^)]*)\)", variables)
        stores[path] = {name: tuple(d.strip() for d in dims.split(",")) for name, dims in found}
    return stores


def test_the_documented_stores_are_those_a_run_writes(finished):
    documented = documented_stores()
    scenario = finished / "results/tiny"
    written = {}
    for path in sorted(scenario.rglob("*.zarr")):
        pattern = re.sub(
            r"(benign|adversarial|flip)/seed\d+",
            "<regime>/seed<n>",
            str(path.relative_to(scenario)),
        )
        ds = xr.open_zarr(path)
        written[pattern] = {name: ds[name].dims for name in ds.data_vars}
    assert documented == written

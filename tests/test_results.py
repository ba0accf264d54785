"""open_results: every store of a finished tiny run as one lazy tree, and a damaged one named;
stack_results: one store of a synthetic tree of scenarios (some entries links into shared/) as
one dataset, and every missing store named."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import yaml
import zarr

from ntk_evolution import open_results, stack_results
from ntk_evolution._infra.recovery import DamagedInput
from ntk_evolution._infra.storage import open_store, write_dataset
from ntk_evolution.configuration.experiment import Run
from ntk_evolution.kernels import statistics
from ntk_evolution.results import MissingResults


def node_path(results: Path, store: Path) -> str:
    return "/" + store.relative_to(results).with_suffix("").as_posix()


@pytest.fixture(scope="module")
def stores(tiny_run) -> dict[str, Path]:
    """Every store of the tiny run's scenario (links into shared/), by its path in the tree."""
    results = tiny_run / "results"
    found = list(results.glob("tiny/**/*.zarr"))
    return {node_path(results, store): store for store in found}


@pytest.fixture(scope="module")
def tree(tiny_run) -> xr.DataTree:
    return open_results(tiny_run / "results")


def test_the_tree_holds_every_store(stores, tree):
    assert {node.path for node in tree.subtree if node.has_data} == set(stores)
    for path in (
        "/tiny/kernels/benign/seed0/ntk",
        "/tiny/statistics/adversarial/seed1/spectrum",
        "/tiny/evaluation/accuracy",
    ):
        assert path in stores


def test_a_finished_run_stacks(tiny_run):
    results = tiny_run / "results"
    spectrum = stack_results(results, "statistics/spectrum")
    assert spectrum.effective_rank.dims == ("scenario", "regime", "seed", "epoch", "logit")
    assert spectrum.scenario.values.tolist() == ["tiny"]
    assert spectrum.regime.values.tolist() == ["benign", "adversarial"]
    assert spectrum.seed.values.tolist() == [0, 1]
    accuracy = stack_results(results, "evaluation/accuracy")
    assert sorted(accuracy.cell.values.ravel()) == ["AA", "AC", "CA", "CC"]


def test_nothing_is_read_until_asked(tree):
    variables = [var for node in tree.subtree for var in node.data_vars.values()]
    assert variables
    assert all(var.chunks is not None for var in variables)  # lazy dask arrays


def test_attributes_carry_the_provenance(tree, stores):
    for path in stores:
        attrs = tree[path].attrs
        assert {"config", "versions", "device"} <= set(attrs), path
        assert "complete" not in attrs


def test_values_are_those_of_the_stores(tree, stores):
    for path, store in stores.items():
        xr.testing.assert_identical(tree[path].to_dataset().load(), open_store(store, load=True))


def test_a_damaged_store_is_named(tmp_path):
    results = tmp_path / "results"
    good, bad = results / "a/good.zarr", results / "b.zarr"
    for store in (good, bad):
        write_dataset(xr.Dataset({"v": ("x", [1.0, 2.0])}), store)
    assert open_results(results)["a/good"]["v"].values.tolist() == [1.0, 2.0]
    group = zarr.open_group(bad, mode="r+")
    del group.attrs["complete"]
    zarr.consolidate_metadata(bad)
    with pytest.raises(DamagedInput, match=rf"store {bad} is unfinished"):
        open_results(results)


def test_partials_are_left_out(tmp_path):
    results = tmp_path / "results"
    for store in ("k/ntk.zarr", "k/.ntk.zarr.partial-host-1-abc"):
        write_dataset(xr.Dataset({"v": ("x", [1.0])}), results / store)
    assert [node.path for node in open_results(results).subtree if node.has_data] == ["/k/ntk"]


def test_a_missing_folder_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no results folder"):
        open_results(tmp_path / "results")


def test_importing_the_package_imports_neither_jax_nor_xarray():
    code = "import sys, ntk_evolution; print(sorted({'jax', 'xarray', 'zarr'} & set(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


# A tree of two scenarios, each of two regimes and two seeds. Scenario "wide" has one more
# epoch, and reaches part of its stores through links into shared/: the folder of its benign
# runs, one adversarial run's store and its accuracy store.
SCENARIOS = {"default": [0.0, 1.0, 2.0], "wide": [0.0, 1.0, 2.0, 4.0]}  # name: epochs
RUNS = [Run(regime, seed) for regime in ("benign", "adversarial") for seed in (0, 1)]
PHASE1, PHASE2 = ("benign", "adversarial", "flip"), ("benign", "adversarial")


def spectrum(epochs: list[float], seed: int) -> xr.Dataset:
    """The spectra of random 5-probe kernels of 3 logits at ``epochs``."""
    features = np.random.default_rng(seed).normal(size=(len(epochs), 3, 5, 4))
    ntk = xr.DataArray(
        features @ features.swapaxes(-1, -2),
        dims=("epoch", "logit", "probe_i", "probe_j"),
        coords={"epoch": epochs, "logit": [0, 1, 2]},
    )
    return statistics.spectrum(ntk, top_k=3).assign_attrs(statistic="spectrum", seed=seed)


def accuracy(seed: int) -> xr.Dataset:
    """An evaluation store's shape: children's and phase-1 networks' accuracy."""
    rng = np.random.default_rng(seed)
    dims = {
        "phase1_regime": list(PHASE1),
        "seed": [0, 1],
        "spawn_epoch": [0.0, 2.0],
        "phase2_regime": list(PHASE2),
        "source": ["self", "parent"],
    }
    return xr.Dataset(
        {
            "accuracy": (tuple(dims), rng.uniform(size=[len(v) for v in dims.values()])),
            "parent_accuracy": (("phase1_regime", "seed"), rng.uniform(size=(3, 2))),
        },
        coords=dims,
    )


def link(path: Path, target: Path) -> None:
    """A relative link at ``path`` to ``target``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(os.path.relpath(target, path.parent))


def write_scenario(results: Path, name: str, seeds: list[int]) -> None:
    folder = results / name
    folder.mkdir(parents=True, exist_ok=True)
    config = {"phase1": {"regimes": ["benign", "adversarial"], "seeds": seeds}}
    (folder / "scenario.yaml").write_text(yaml.safe_dump({"name": name, "config": config}))


@pytest.fixture
def scenario_tree(tmp_path) -> Path:
    results = tmp_path / "results"
    for index, (name, epochs) in enumerate(SCENARIOS.items()):
        write_scenario(results, name, [0, 1])
        for number, run in enumerate(RUNS):
            path = results / name / "statistics" / run.path / "spectrum.zarr"
            if name == "wide" and run in (
                Run("benign", 0),
                Run("benign", 1),
                Run("adversarial", 0),
            ):
                path = results / "shared/key1" / path.relative_to(results / name)
            write_dataset(spectrum(epochs, 10 * index + number), path)
        write_dataset(accuracy(index), results / name / "evaluation/accuracy.zarr")
    shared, wide = results / "shared/key1", results / "wide"
    shutil.move(wide / "evaluation/accuracy.zarr", shared / "accuracy.zarr")
    link(wide / "evaluation/accuracy.zarr", shared / "accuracy.zarr")
    link(wide / "statistics/benign", shared / "statistics/benign")
    store = "statistics/adversarial/seed0/spectrum.zarr"
    link(wide / store, shared / store)
    (results / "comparison").mkdir()
    (results / "comparison/findings.csv").write_text("scenario\n")
    return results


def store_of(results: Path, scenario: str, run: Run, name: str = "spectrum") -> xr.Dataset:
    return open_store(results / scenario / "statistics" / run.path / f"{name}.zarr", load=True)


def test_a_per_run_store_stacks_over_scenarios_regimes_and_seeds(scenario_tree):
    stacked = stack_results(scenario_tree, "statistics/spectrum")
    assert stacked.effective_rank.dims == ("scenario", "regime", "seed", "epoch", "logit")
    assert stacked.eigenvalues.dims == ("scenario", "regime", "seed", "epoch", "logit", "rank")
    assert stacked.scenario.values.tolist() == ["default", "wide"]
    assert stacked.regime.values.tolist() == ["benign", "adversarial"]
    assert stacked.seed.values.tolist() == [0, 1]
    assert stacked.epoch.values.tolist() == [0.0, 1.0, 2.0, 4.0]  # every scenario's epochs
    assert all(var.chunks is not None for var in stacked.data_vars.values())  # still lazy
    for scenario, epochs in SCENARIOS.items():
        for run in RUNS:
            one = stacked.sel(scenario=scenario, regime=run.regime, seed=run.seed)
            store = store_of(scenario_tree, scenario, run)
            for name, variable in store.data_vars.items():
                np.testing.assert_array_equal(one[name].sel(epoch=epochs).values, variable.values)
            if 4.0 not in epochs:  # an epoch only the other scenario has
                assert one.effective_rank.sel(epoch=4.0).isnull().all()
    assert stacked.attrs == {"statistic": "spectrum"}  # only what every store shares


def test_the_scenarios_are_chosen_and_ordered(scenario_tree):
    stacked = stack_results(scenario_tree, "statistics/spectrum.zarr", scenarios=["wide"])
    assert stacked.scenario.values.tolist() == ["wide"]
    both = stack_results(scenario_tree, "statistics/spectrum", scenarios=["wide", "default"])
    assert both.scenario.values.tolist() == ["wide", "default"]
    with pytest.raises(FileNotFoundError, match=r"no scenario \['shared'\]"):
        stack_results(scenario_tree, "statistics/spectrum", scenarios=["shared"])


def test_the_readme_plot_takes_two_lines(scenario_tree):
    import matplotlib

    matplotlib.use("Agg")
    rank = stack_results(scenario_tree, "statistics/spectrum").effective_rank.mean("logit")
    grid = rank.sel(scenario="default").plot.line(x="epoch", hue="regime", col="seed")
    assert grid.axs.size == 2  # one panel per seed, a line per regime in each
    assert len(grid.axs.flat[0].get_lines()) == 2


def test_a_scenario_store_stacks_over_scenarios_with_cells(scenario_tree):
    stacked = stack_results(scenario_tree, "evaluation/accuracy")
    store = open_store(scenario_tree / "wide/evaluation/accuracy.zarr", load=True)
    assert stacked.accuracy.dims == ("scenario", *store.accuracy.dims)
    assert stacked.parent_accuracy.dims == ("scenario", "phase1_regime", "seed")
    np.testing.assert_array_equal(stacked.accuracy.sel(scenario="wide"), store.accuracy)
    assert stacked.cell.dims == ("phase1_regime", "phase2_regime")
    assert stacked.cell.values.tolist() == [["CC", "CA"], ["AC", "AA"], ["FC", "FA"]]
    ac = stacked.accuracy.where(stacked.cell == "AC", drop=True)
    assert ac.phase1_regime.values.tolist() == ["adversarial"]
    assert ac.phase2_regime.values.tolist() == ["benign"]
    np.testing.assert_array_equal(
        ac.sel(scenario="wide").squeeze(["phase1_regime", "phase2_regime"]),
        store.accuracy.sel(phase1_regime="adversarial", phase2_regime="benign"),
    )
    table = stacked.accuracy.to_dataframe().reset_index()
    assert set(table.cell) == {"CC", "CA", "AC", "AA", "FC", "FA"}
    assert "cell" not in stacked.parent_accuracy.coords


def test_every_missing_store_is_named(scenario_tree):
    shutil.rmtree(scenario_tree / "default/statistics/adversarial/seed1/spectrum.zarr")
    shutil.rmtree(scenario_tree / "shared/key1/statistics/benign")  # wide's link now dangles
    with pytest.raises(MissingResults) as raised:
        stack_results(scenario_tree, "statistics/spectrum")
    wide = scenario_tree / "wide/statistics/benign"
    assert raised.value.missing == [
        scenario_tree / "default/statistics/adversarial/seed1/spectrum.zarr",
        wide / "seed0/spectrum.zarr",
        wide / "seed1/spectrum.zarr",
    ]
    assert f"broken link {wide} -> ../../shared/key1/statistics/benign" in str(raised.value)
    with pytest.raises(MissingResults) as raised:
        open_results(scenario_tree)
    assert raised.value.missing == [
        scenario_tree / "default/statistics/adversarial/seed1/spectrum.zarr",
        wide,
        wide / "seed0/spectrum.zarr",
        wide / "seed1/spectrum.zarr",
    ]


def test_a_run_not_started_is_named(scenario_tree):
    write_scenario(scenario_tree, "default", [0, 1, 2])
    missing = [
        scenario_tree / "default/statistics" / regime / "seed2/spectrum.zarr"
        for regime in ("adversarial", "benign")
    ]
    with pytest.raises(MissingResults) as raised:
        stack_results(scenario_tree, "statistics/spectrum")
    assert raised.value.missing == missing
    with pytest.raises(MissingResults) as raised:
        open_results(scenario_tree)
    assert raised.value.missing == missing


def test_a_scenario_without_the_store_is_named(scenario_tree):
    (scenario_tree / "wide/evaluation/accuracy.zarr").unlink()
    with pytest.raises(MissingResults, match=r"wide/evaluation/accuracy\.zarr"):
        stack_results(scenario_tree, "evaluation/accuracy")
    with pytest.raises(FileNotFoundError, match=r"has a store statistics/kernels\.zarr"):
        stack_results(scenario_tree, "statistics/kernels")


def test_the_tree_follows_links_and_leaves_shared_out(scenario_tree):
    tree = open_results(scenario_tree)
    paths = {node.path for node in tree.subtree if node.has_data}
    assert paths == {
        f"/{scenario}/statistics/{run.path}/spectrum" for scenario in SCENARIOS for run in RUNS
    } | {f"/{scenario}/evaluation/accuracy" for scenario in SCENARIOS}
    run = Run("benign", 1)
    xr.testing.assert_identical(
        tree[f"wide/statistics/{run.path}/spectrum"].to_dataset().load(),
        store_of(scenario_tree, "wide", run),
    )

"""Scenarios: configs as differences, named experiments in one DAG, and work they share done once."""

from __future__ import annotations

import copy
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from ntk_evolution import stack_results
from ntk_evolution.configuration.config import ConfigError, resolve_config, validate_config
from ntk_evolution.configuration.scenarios import (
    check_name,
    job_key,
    link_scenario,
    merge,
    product,
    read_scenarios,
    resolve_scenarios,
)

from snakemake_run import (
    DEFAULTS,
    ROOT,
    TINY,
    planned_jobs,
    rules_of,
    scenario_checkout,
    write_config,
)

SCHEMA = ROOT / "workflow/schemas/config.schema.yaml"
# The jobs of a run whose work another scenario can share; none may be planned twice.
SHARED_WORK = (
    "train_phase1",
    "extract_ntk",
    "train_children",
    "evaluate_phase1",
    "evaluate_children",
    "kernel_machines",
    "attacked_ntk",
)


def resolved(*layers: dict) -> dict:
    config = copy.deepcopy(DEFAULTS)
    for layer in layers:
        config = merge(config, layer)
    return config


def scenarios_of(tmp_path: Path, scenarios: dict, **base: object) -> dict:
    """The resolved scenarios of ``scenarios`` (written to a file) on top of the tiny preset."""
    path = tmp_path / "scenarios.yaml"
    path.write_text(yaml.safe_dump(scenarios, sort_keys=False))
    config = merge(TINY, {"scenarios": str(path), **base})
    return resolve_scenarios(config, resolve_config(config, [], SCHEMA), SCHEMA)


def test_a_preset_of_two_keys_is_the_defaults_with_those_two_changed():
    config = resolved({"model": {"width": 64}, "phase1": {"attack": {"epsilon": 0.1}}})
    settings = validate_config(config, SCHEMA)
    assert settings.model.width == 64 and settings.phase1.attack.epsilon == 0.1
    assert settings.phase1.attack.steps == DEFAULTS["phase1"]["attack"]["steps"]
    assert config["machines"] == DEFAULTS["machines"]


def test_the_defaults_are_complete_and_the_shipped_configs_only_differences():
    validate_config(DEFAULTS, SCHEMA)
    for path in [ROOT / "config.yaml", *sorted((ROOT / "presets").glob("*.yaml"))]:
        change = yaml.safe_load(path.read_text())
        assert len(change) < len(DEFAULTS), f"{path} repeats the defaults"
        validate_config(resolved(change), SCHEMA)


def test_a_named_table_given_replaces_the_default_one_whole():
    attacks = {"fgsm": {**DEFAULTS["evaluation"]["attacks"]["pgd_linf"], "steps": 1}}
    config = resolved({"evaluation": {"attacks": attacks}})
    assert list(config["evaluation"]["attacks"]) == ["fgsm"]


def test_a_mistyped_key_in_a_scenario_is_named_with_its_scenario(tmp_path):
    with pytest.raises(ConfigError) as error:
        scenarios_of(tmp_path, {"base": {}, "wide": {"model": {"widht": 32}}})
    message = str(error.value)
    assert "scenario 'wide'" in message
    assert "model: unknown key(s) ['widht']" in message


def test_an_inconsistent_scenario_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"scenario 'far'.*cannot reach epsilon"):
        scenarios_of(tmp_path, {"far": {"phase1": {"attack": {"epsilon": 0.5}}}})


def test_scenarios_resolve_on_top_of_the_base_in_file_order(tmp_path):
    scenarios = scenarios_of(
        tmp_path, {"base": {}, "eps": {"phase1": {"attack": {"epsilon": 0.08}}}}
    )
    assert list(scenarios) == ["base", "eps"]
    assert scenarios["base"].settings.phase1.attack.epsilon == 0.1
    assert scenarios["eps"].settings.phase1.attack.epsilon == 0.08
    assert scenarios["eps"].settings.model == scenarios["base"].settings.model


def test_without_a_scenarios_file_the_run_is_one_scenario_named_by_name():
    config = merge(TINY, {"name": "mine"})
    scenarios = resolve_scenarios(config, resolve_config(config, [], SCHEMA), SCHEMA)
    assert list(scenarios) == ["mine"]


@pytest.mark.parametrize("name", ["a/b", "../up", ".hidden", "", "shared", "comparison", "a b", 3])
def test_a_name_unfit_for_a_folder_is_refused(name):
    with pytest.raises(ConfigError, match="cannot name a scenario"):
        check_name(name, "test")


@pytest.mark.parametrize("name", ["base", "eps0.15", "width-64_lr.1", "A1"])
def test_a_path_safe_name_is_kept(name):
    assert check_name(name, "test") == name


def test_a_scenario_given_twice_is_refused(tmp_path):
    path = tmp_path / "scenarios.yaml"
    path.write_text("base: {}\neps: {model: {width: 8}}\nbase: {model: {width: 4}}\n")
    with pytest.raises(ConfigError, match=r"\['base'\] given more than once"):
        read_scenarios(path)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[a, b]\n", "must map each scenario's name"),
        ("base: 3\n", "give the settings it changes as a mapping"),
        ("base: {name: other}\n", "hold for the whole run"),
        ("base: {dataset: {root: elsewhere}}\n", "hold for the whole run"),
    ],
)
def test_a_malformed_scenarios_file_is_refused(tmp_path, text, problem):
    path = tmp_path / "scenarios.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=problem):
        read_scenarios(path)


def test_a_missing_scenarios_file_is_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"no file .*nowhere\.yaml"):
        read_scenarios(tmp_path / "nowhere.yaml")


def test_product_writes_one_scenario_per_combination():
    scenarios = product({"phase1.attack.epsilon": [0.1, 0.2], "model.width": [64, 128]})
    assert list(scenarios) == [
        "epsilon0.1_width64",
        "epsilon0.1_width128",
        "epsilon0.2_width64",
        "epsilon0.2_width128",
    ]
    assert scenarios["epsilon0.2_width64"] == {
        "phase1": {"attack": {"epsilon": 0.2}},
        "model": {"width": 64},
    }


def test_a_job_key_is_its_rule_settings_and_inputs():
    key = job_key("rule", {"a": 1, "b": [1, 2]}, ["input"])
    assert len(key) == 12 and int(key, 16) >= 0
    assert job_key("rule", {"b": [1, 2], "a": 1}, ["input"]) == key  # mapping order aside
    assert job_key("other", {"a": 1, "b": [1, 2]}, ["input"]) != key
    assert job_key("rule", {"a": 2, "b": [1, 2]}, ["input"]) != key
    assert job_key("rule", {"a": 1, "b": [1, 2]}, ["other input"]) != key


def test_a_scenario_folder_links_its_shared_results(tmp_path):
    shared = tmp_path / "results/shared"
    store = shared / "abc/kernels/benign/seed0/ntk.zarr"
    table = shared / "def/evaluation/accuracy.csv"
    store.mkdir(parents=True)
    table.parent.mkdir(parents=True)
    table.write_text("a\n1\n")
    table.with_suffix(".provenance.json").write_text("{}")
    folder = tmp_path / "results/base"
    (folder / "figures").mkdir(parents=True)
    (folder / "figures/own.png").write_text("mine")
    stale = folder / "kernels/flip/seed0/ntk.zarr"
    stale.parent.mkdir(parents=True)
    stale.symlink_to(os.path.relpath(store, stale.parent))

    assert link_scenario(folder, [store, table], shared) == 3
    link = folder / "kernels/benign/seed0/ntk.zarr"
    assert link.is_symlink() and not os.path.isabs(os.readlink(link))
    assert link.resolve() == store.resolve()
    assert (folder / "evaluation/accuracy.csv").read_text() == "a\n1\n"
    assert (folder / "evaluation/accuracy.provenance.json").is_symlink()
    assert not stale.is_symlink()  # a link of an earlier config is gone
    assert (folder / "figures/own.png").read_text() == "mine"  # real files stay
    # Moved elsewhere, the links still hold.
    moved = tmp_path / "moved"
    shutil.copytree(tmp_path / "results", moved, symlinks=True)
    assert (moved / "base/evaluation/accuracy.csv").read_text() == "a\n1\n"


def test_three_scenarios_plan_each_shared_job_once(tmp_path):
    """The base, one with another training epsilon (its benign runs are the base's) and one
    with another analysis setting (all its runs are the base's)."""
    scenarios = {
        "base": {},
        "eps": {"phase1": {"attack": {"epsilon": 0.08}}},
        "topk": {"statistics": {"eigenspace": {"top_k": 4}}},
    }
    jobs = planned_jobs(scenario_checkout(tmp_path, scenarios))
    counts = rules_of(jobs)
    assert counts["train_phase1"] == 6  # 4 for the base, 2 adversarial for eps, none for topk
    for rule in SHARED_WORK:
        assert counts[rule] == 6, rule
    assert counts["kernel_eigenspace"] == 6 + 4  # topk's own, on the base's kernels
    assert counts["gather_evaluation"] == 2  # topk's accuracies are the base's
    assert counts["figures"] == counts["findings"] == counts["scenario"] == 3
    assert counts["compare_scenarios"] == 1
    trained = {dict(w)["regime"] for rule, w in jobs if rule == "train_phase1"}
    assert trained == {"benign", "adversarial"}


def test_scenarios_with_other_checkpoint_schedules_train_with_a_rule_each(tmp_path):
    scenarios = {"base": {}, "longer": {"phase1": {"epochs": 4}}}
    counts = rules_of(planned_jobs(scenario_checkout(tmp_path, scenarios)))
    assert counts["train_phase1"] == 4 and counts["train_phase1_2"] == 4


def test_a_second_scenario_runs_only_its_own_analysis(two_scenarios):
    _, plan = two_scenarios
    assert plan == {
        "kernel_eigenspace": 4,
        "kernel_pair_distances": 1,  # it holds the overlap of top-k eigenspaces between runs
        "figures": 1,
        "findings": 1,
        "scenario": 2,  # tiny's records the scenarios file now
        "compare_scenarios": 1,
        "all": 1,
    }


def test_two_scenarios_lie_side_by_side_and_plan_nothing_more(two_scenarios):
    checkout, _ = two_scenarios
    assert planned_jobs(checkout) == set()
    for name, top_k in (("tiny", 3), ("topk", 4)):
        folder = checkout / "results" / name
        record = yaml.safe_load((folder / "scenario.yaml").read_text())
        assert record["config"]["statistics"]["eigenspace"]["top_k"] == top_k
        eigenspace = folder / "statistics/benign/seed0/eigenspace.zarr"
        assert eigenspace.is_symlink() and eigenspace.exists()
        assert (folder / "findings.csv").exists() and (folder / "figures/spectrum.png").exists()
    same = "phase1/benign/seed0/epoch2.npz"
    tiny, topk = (checkout / "results" / name / same for name in ("tiny", "topk"))
    assert tiny.resolve() == topk.resolve()  # one training, both scenarios'
    assert len(list(checkout.glob("logs/train_phase1/*.log"))) == 4
    assert len(list(checkout.glob("logs/extract_ntk/*.log"))) == 4
    assert len(list(checkout.glob("logs/kernel_eigenspace/*.log"))) == 8


def test_two_scenarios_are_compared_and_stack(two_scenarios):
    checkout, _ = two_scenarios
    table = pd.read_csv(checkout / "results/comparison/findings.csv")
    assert list(dict.fromkeys(table.scenario)) == ["tiny", "topk"]
    for name in ("tiny", "topk"):
        own = pd.read_csv(checkout / "results" / name / "findings.csv")
        mine = table[table.scenario == name].dropna(subset=["measure"])
        assert mine.value.tolist() == pytest.approx(own.value.tolist(), nan_ok=True)
    assert (checkout / "results/comparison/findings.png").stat().st_size > 10_000
    eigenspace = stack_results(checkout / "results", "statistics/eigenspace")
    assert list(eigenspace.scenario.values) == ["tiny", "topk"]
    assert set(eigenspace.regime.values) == {"benign", "adversarial"}
    assert list(eigenspace.seed.values) == [0, 1]


def test_going_back_to_one_scenario_plans_only_its_folder(two_scenarios):
    checkout, _ = two_scenarios
    write_config(checkout, {**TINY, "scenarios": None}, "back.yaml")
    jobs = planned_jobs(checkout, configfile="back.yaml")
    assert rules_of(jobs) == {"scenario": 1, "all": 1}  # its record loses the scenarios file


def test_the_product_command_prints_a_scenarios_file(tmp_path, capsys):
    from ntk_evolution.configuration.scenarios import main

    main(["phase1.attack.epsilon=0.1,0.2", "model.zero_readout=true,false"])
    path = tmp_path / "grid.yaml"
    path.write_text(capsys.readouterr().out)
    scenarios = read_scenarios(path)
    assert list(scenarios) == [
        "epsilon0.1_zero_readouttrue",
        "epsilon0.1_zero_readoutfalse",
        "epsilon0.2_zero_readouttrue",
        "epsilon0.2_zero_readoutfalse",
    ]
    assert scenarios["epsilon0.2_zero_readoutfalse"]["model"] == {"zero_readout": False}

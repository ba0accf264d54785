"""The workflow's own guards around a run: config files it cannot read are named, a run from
another folder works in the project, and a failed job never shows an earlier attempt's log."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ntk_evolution.configuration.config import ConfigError, read_config_file

from snakemake_run import JAX_CACHE, TINY, make_checkout, planned_key, snakemake


def test_a_tab_indented_config_file_is_named(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("model:\n\twidth: 16\n")
    with pytest.raises(ConfigError) as error:
        read_config_file(path)
    message = str(error.value)
    assert f"config file {path} is not valid YAML" in message
    assert "indented with tabs" in message
    assert f'in "{path}", line 2' in message


@pytest.mark.parametrize("text", ["", "# only comments\n", "---\n"])
def test_an_empty_config_file_changes_nothing(tmp_path, text):
    path = tmp_path / "mine.yaml"
    path.write_text(text)
    assert read_config_file(path) == {}


def test_a_config_file_of_no_mapping_is_named(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("- model\n")
    with pytest.raises(ConfigError, match=rf"config file {path} holds list \['model'\], not"):
        read_config_file(path)


def test_a_missing_config_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"config file presets/nope.yaml does not exist"):
        read_config_file("presets/nope.yaml")
    assert read_config_file(tmp_path / "config.yaml", missing_ok=True) == {}


@pytest.fixture(scope="module")
def checkout(tmp_path_factory):
    return make_checkout(tmp_path_factory.mktemp("guards"), TINY)


def dry_run_with(checkout, text):
    """A dry run of ``checkout`` with ``text`` as its config.yaml, which is put back after."""
    config = (checkout / "config.yaml").read_text()
    try:
        (checkout / "config.yaml").write_text(text)
        return snakemake(checkout, "--dry-run", check=False)
    finally:
        (checkout / "config.yaml").write_text(config)


def test_a_tab_indented_config_yaml_stops_the_run_by_name(checkout):
    result = dry_run_with(checkout, "model:\n\twidth: 16\n")
    assert result.returncode != 0
    out = result.stdout + result.stderr
    assert "invalid configuration: config file config.yaml is not valid YAML" in out
    assert "indented with tabs" in out


def test_an_empty_config_yaml_is_the_default_experiment(checkout):
    result = dry_run_with(checkout, "# nothing changed\n")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "results/default/scenario.yaml" in result.stdout


def test_a_run_from_another_folder_works_in_the_project(tiny_run):
    """``-s ../Snakefile`` from ``workflow/`` finds the finished project, plans nothing and
    writes nothing below ``workflow/``."""
    before = sorted(os.listdir(tiny_run / "workflow"))
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "1", "-s", "../Snakefile", "--dry-run"],
        cwd=tiny_run / "workflow",
        capture_output=True,
        text=True,
        env={**os.environ, "JAX_COMPILATION_CACHE_DIR": str(JAX_CACHE)},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Nothing to be done" in result.stdout + result.stderr
    assert sorted(os.listdir(tiny_run / "workflow")) == before


def test_a_job_that_fails_before_logging_shows_no_earlier_log(checkout):
    """A job that dies before it writes its log (as one Slurm refuses to submit) leaves its log
    path empty: Snakemake says so rather than showing an earlier attempt's log there."""
    key = planned_key(checkout, "split_dataset")
    log = checkout / "logs" / "split_dataset" / f"{key}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("an earlier attempt's log\n")
    script = checkout / "workflow" / "scripts" / "split_dataset.py"
    code = script.read_text()
    try:
        script.write_text(f'raise SystemExit("stopped before its log")\n{code}')
        result = snakemake(checkout, "--cores", "1", "--until", "split_dataset", check=False)
    finally:
        script.write_text(code)
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert "stopped before its log" in out
    assert "an earlier attempt's log" not in out
    assert f"Logfile logs/split_dataset/{key}.log not found." in out

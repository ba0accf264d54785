"""Settings that cannot mean what they say are refused before any job, by key, with the value
that would do; numbers in exponent notation are read wherever the schema takes a number."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ntk_evolution.configuration.config import ConfigError, resolve_config

from snakemake_run import TINY

SCHEMA = Path(__file__).resolve().parents[1] / "workflow/schemas/config.schema.yaml"
PROBES = 20  # the tiny preset's: 2 per class, 10 classes


def changed(edit: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    config = copy.deepcopy(TINY)
    edit(config)
    return config


def setting(dotted: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """An edit that sets the key ``dotted`` to ``value``."""

    def edit(config: dict[str, Any]) -> None:
        *parents, leaf = dotted.split(".")
        section = config
        for key in parents:
            section = section[key]
        section[leaf] = value

    return edit


def refusal(config: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as error:
        resolve_config(config, [], SCHEMA)
    return str(error.value)


@pytest.mark.parametrize(
    ("key", "value", "largest"),
    [
        ("statistics.spectrum.top_k", 50, PROBES),
        ("statistics.spectrum.top_k", PROBES + 1, PROBES),
        ("statistics.eigenspace.top_k", 50, PROBES),
        ("machines.features.top", PROBES + 1, PROBES),
        ("machines.features.bottom", PROBES + 1, PROBES),
        ("pictures.top", 30, PROBES),
    ],
)
def test_a_count_beyond_the_kernel_is_refused_with_the_largest_valid_value(key, value, largest):
    message = refusal(changed(setting(key, value)))
    assert f"{key} = {value} exceeds the {PROBES} eigenvectors of a class kernel" in message
    assert f"the largest valid value is {largest}." in message


def test_an_eigenspace_of_every_probe_is_refused():
    """Its overlap with any other would always be 1: the clamp the issue found."""
    message = refusal(changed(setting("statistics.eigenspace.top_k", PROBES)))
    assert f"statistics.eigenspace.top_k = {PROBES}" in message
    assert "overlap is always 1" in message
    assert f"the largest valid value is {PROBES - 1}." in message


def test_counts_that_fit_are_accepted():
    config = changed(setting("statistics.spectrum.top_k", PROBES))
    setting("statistics.eigenspace.top_k", PROBES - 1)(config)
    setting("machines.features.top", PROBES - 1)(config)
    setting("machines.features.bottom", 1)(config)
    resolve_config(config, [], SCHEMA)


def test_overlapping_leading_and_trailing_features_are_refused():
    config = changed(setting("machines.features.top", 15))
    setting("machines.features.bottom", 6)(config)
    message = refusal(config)
    assert "machines.features.top + machines.features.bottom = 15 + 6" in message
    assert f"to {PROBES} together at most" in message


@pytest.mark.parametrize(
    ("key", "text", "number"),
    [
        ("machines.epochs", ["2e0"], [2.0]),
        ("attacked.epochs", ["5e-1", "2E0"], [0.5, 2.0]),
        ("pictures.epochs", ["0e0"], [0.0]),
        ("model.width", "1.6e1", 16),
        ("phase1.epochs", "2e0", 2),
        ("machines.test_images", "6e1", 60),
        ("machines.features.test_images", "3.0e+1", 30),
    ],
)
def test_exponent_numbers_are_read_inside_any_of_and_for_integers(key, text, number):
    config = changed(setting(key, text))
    resolve_config(config, [], SCHEMA)
    value = config
    for part in key.split("."):
        value = value[part]
    assert value == number
    assert type(value) is type(number) or all(
        type(a) is type(b) for a, b in zip(value, number, strict=True)
    )


@pytest.mark.parametrize("key", ["model.width", "machines.test_images"])
def test_a_fractional_exponent_number_for_an_integer_says_what_yaml_read(key):
    message = refusal(changed(setting(key, "1.65e1")))
    assert f"{key}: 1.65e1 is not a whole number (YAML reads exponent notation as text" in message


def test_exponent_text_stays_text_where_the_schema_wants_text():
    config = changed(setting("compilation_cache", "1e3"))
    resolve_config(config, [], SCHEMA)
    assert config["compilation_cache"] == "1e3"


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        (
            "machines.test_images",
            0,
            "machines.test_images: 0 is less than the minimum of 1; machines.test_images takes "
            "an integer of at least 1, or null",
        ),
        (
            "compilation_cache",
            5,
            "compilation_cache: 5 is not allowed; compilation_cache takes a string, or null",
        ),
        (
            "machines.epochs",
            [-1],
            "machines.epochs[0]: -1 is less than the minimum of 0; machines.epochs takes a list "
            "of numbers of at least 0 (1 or more), or null",
        ),
        ("pictures.epochs", [], "pictures.epochs: [] should be non-empty; pictures.epochs takes"),
    ],
)
def test_an_any_of_mistake_names_the_bound_and_the_allowed_types(key, value, expected):
    message = refusal(changed(setting(key, value)))
    assert expected in message
    assert "is not valid under any of the given schemas" not in message


@pytest.mark.parametrize("key", ["phase2.spawn_epochs", "machines.epochs", "attacked.epochs"])
def test_an_epoch_past_training_says_it_must_be_at_most_the_epochs(key):
    message = refusal(changed(setting(key, [5])))
    assert re.search(rf"{re.escape(key)} \[5(\.0)?\] are not phase-1 checkpoint epochs", message)
    assert "must be at most phase1.epochs = 2" in message
    assert "phase1.checkpoints.fractional" not in message

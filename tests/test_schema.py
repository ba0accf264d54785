"""The config schema: the defaults and the shipped configs pass, and every kind of mistake is
named."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml

from ntk_evolution.configuration.config import (
    NAMED_TABLES,
    ConfigError,
    resolve_config,
    validate_config,
)
from ntk_evolution.configuration.scenarios import merge
from ntk_evolution.configuration.settings import Config, schema_text

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "workflow/schemas/config.schema.yaml"
# Every key and its default; config.yaml and the presets list only the settings they change.
DEFAULTS = yaml.safe_load((ROOT / "workflow/config.default.yaml").read_text())
CHANGES = {
    path.relative_to(ROOT).as_posix(): yaml.safe_load(path.read_text())
    for path in [ROOT / "config.yaml", *sorted(ROOT.glob("presets/*.yaml"))]
}
DEFAULT = merge(DEFAULTS, CHANGES["config.yaml"])  # the default run's whole config
SCHEMA_DOC = yaml.safe_load(SCHEMA.read_text())  # the schema, read


def schema_keys(schema: dict, prefix: str = "", *, tables: bool = False) -> set[str]:
    """Dotted paths of every property the schema defines (following local $refs); with
    ``tables``, only those of mappings whose keys the user chooses."""
    keys = set()
    for name, sub in schema.get("properties", {}).items():
        if "$ref" in sub:
            sub = SCHEMA_DOC["$defs"][sub["$ref"].rsplit("/", 1)[-1]]
        if not tables or sub.get("additionalProperties", False) is not False:
            keys.add(prefix + name)
        keys |= schema_keys(sub, f"{prefix}{name}.", tables=tables)
    return keys


def config_keys(config: dict, prefix: str = "") -> set[str]:
    keys = set()
    for name, value in config.items():
        keys.add(prefix + name)
        if isinstance(value, dict):
            keys |= config_keys(value, f"{prefix}{name}.")
    return keys


def test_schema_file_is_generated_from_the_typed_settings():
    """The schema users read and the workflow checks is the typed description's, verbatim."""
    assert SCHEMA.read_text() == schema_text(), (
        "workflow/schemas/config.schema.yaml is out of date: run "
        "`uv run python -m ntk_evolution.configuration.settings`"
    )


def test_the_defaults_are_valid():
    settings = validate_config(DEFAULTS, SCHEMA)
    assert settings == Config.model_validate(DEFAULTS)
    assert settings.model_dump(exclude_unset=True) == DEFAULTS  # every key read, none added


def test_the_defaults_set_every_schema_key():
    """workflow/config.default.yaml is the reference for users: it spells out every key the
    schema knows, and no other.

    A table of named entries (``evaluation.attacks``) maps names of the user's choosing to
    settings, so only the table itself is a schema key.
    """
    entries = tuple(f"{table}." for table in NAMED_TABLES)
    keys = {k for k in config_keys(DEFAULTS) if not k.startswith(entries)}
    assert keys == schema_keys(SCHEMA_DOC)


@pytest.mark.parametrize("name", CHANGES)
def test_shipped_configs_resolve_to_valid_configs(name):
    """config.yaml and each preset, merged with the defaults, are valid configurations."""
    config = merge(DEFAULTS, CHANGES[name])
    settings = validate_config(config, SCHEMA)
    assert settings == Config.model_validate(config)
    assert settings.model_dump(exclude_unset=True) == config  # every key read, none added


def repeated_defaults(change: dict, defaults: dict, prefix: str = "") -> list[str]:
    """Dotted keys whose value in ``change`` is the default (a named table: as a whole)."""
    repeated = []
    for name, value in change.items():
        dotted = prefix + name
        default = defaults.get(name)
        if isinstance(value, dict) and isinstance(default, dict) and dotted not in NAMED_TABLES:
            repeated += repeated_defaults(value, default, f"{dotted}.")
        elif name in defaults and value == default:
            repeated.append(dotted)
    return repeated


@pytest.mark.parametrize("name", CHANGES)
def test_shipped_configs_list_only_what_they_change(name):
    """config.yaml and the presets give only settings that differ from the defaults (config.yaml
    may name its results folder, ``name``, even as the default's), and only schema keys."""
    change = CHANGES[name]
    allowed = {"name"} if name == "config.yaml" else set()
    assert set(repeated_defaults(change, DEFAULTS)) <= allowed
    entries = tuple(f"{table}." for table in NAMED_TABLES)
    keys = {k for k in config_keys(change) if not k.startswith(entries)}
    assert keys <= schema_keys(SCHEMA_DOC)
    assert keys < config_keys(DEFAULTS)  # not a complete configuration


def test_named_tables_are_the_schema_mappings_with_keys_of_the_users_choosing():
    """A config file replaces exactly these whole (see "How config files combine")."""
    assert set(NAMED_TABLES) == schema_keys(SCHEMA_DOC, tables=True)


def test_default_run_has_two_seeds_and_both_regimes():
    assert len(DEFAULT["phase1"]["seeds"]) >= 2
    assert {"benign", "adversarial"} <= set(DEFAULT["phase1"]["regimes"])


def changed(path: str, value=None, *, delete: bool = False, rename: str | None = None) -> dict:
    config = copy.deepcopy(DEFAULT)
    *parents, leaf = path.split(".")
    section = config
    for parent in parents:
        section = section[parent]
    if delete:
        del section[leaf]
    elif rename:
        section[rename] = section.pop(leaf)
    else:
        section[leaf] = value
    return config


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (changed("model.width", rename="widht"), "model: unknown key(s) ['widht']"),
        (changed("extra", {"a": 1}), "the top level: unknown key(s) ['extra']"),
        (changed("model.architecture", "vgg"), "model.architecture: 'vgg' is not one of"),
        (changed("phase1.epochs", 0), "phase1.epochs: 0 is less than the minimum of 1"),
        (changed("phase1.epochs", "12"), "phase1.epochs: '12' is not of type 'integer'"),
        (changed("phase1.seeds", []), "phase1.seeds"),
        (changed("phase1.regimes", ["benign", "evil"]), "phase1.regimes.1: 'evil' is not one"),
        (changed("phase1.attack.epsilon", 0), "phase1.attack.epsilon"),
        (changed("phase1.attack.norm", "l1"), "phase1.attack.norm: 'l1' is not one of"),
        (changed("evaluation.attacks.clean", {}), "evaluation.attacks"),
        (changed("ntk.tile_size", delete=True), "ntk: 'tile_size' is a required property"),
        (changed("dataset.name", "imagenet"), "dataset.name: 'imagenet' is not one of"),
    ],
    ids=[
        "misspelt-key",
        "unknown-section",
        "unknown-architecture",
        "zero-epochs",
        "string-for-integer",
        "no-seeds",
        "unknown-regime",
        "epsilon-out-of-range",
        "unknown-norm",
        "reserved-attack-name",
        "missing-key",
        "unknown-dataset",
    ],
)
def test_schema_names_the_problem(config, expected):
    with pytest.raises(ConfigError) as info:
        validate_config(config, SCHEMA)
    message = str(info.value)
    assert expected in message
    assert "Fix these keys in config.yaml" in message


def test_every_problem_is_listed():
    config = changed("model.width", rename="widht")
    config["phase1"]["epochs"] = -1
    with pytest.raises(ConfigError) as info:
        validate_config(config, SCHEMA)
    message = str(info.value)
    assert "3 problem(s)" in message
    assert "model: unknown key(s) ['widht']" in message
    assert "model: 'width' is a required property" in message
    assert "phase1.epochs: -1 is less than the minimum of 1" in message


def test_download_url_for_a_shipped_dataset():
    with pytest.raises(ConfigError, match=r"dataset\.url is set, but digits ships"):
        validate_config(changed("dataset.url", "https://example.org/digits.tar.gz"), SCHEMA)


def test_inconsistent_values_are_checked_after_the_schema():
    with pytest.raises(ConfigError, match=r"phase1\.checkpoints\.fractional"):
        validate_config(changed("phase1.checkpoints.fractional", [0.5, 99.0]), SCHEMA)


@pytest.mark.parametrize("section", ["phase1", "phase2"])
def test_only_evaluation_attacks_take_epsilons(section):
    with pytest.raises(ConfigError, match=rf"{section}\.attack: unknown key\(s\) \['epsilons'\]"):
        validate_config(changed(f"{section}.attack.epsilons", [0.05, 0.1]), SCHEMA)


@pytest.mark.parametrize(
    ("epsilons", "expected"),
    [
        ([0.05, 0.05], r"epsilons: \[0\.05, 0\.05\] has non-unique elements"),
        ([0.05, 0], r"epsilons\.1: 0 is less than or equal to the minimum of 0"),
        ([0.05, 1.0], r"epsilons: an L-infinity radius of 1 or more \(\[1\.0\]\)"),
    ],
    ids=["duplicate", "zero", "whole-pixel-range"],
)
def test_evaluation_epsilons_are_checked(epsilons, expected):
    config = changed("evaluation.attacks.pgd_linf.epsilons", epsilons)
    with pytest.raises(ConfigError, match=rf"evaluation\.attacks\.pgd_linf\.{expected}"):
        validate_config(config, SCHEMA)


def test_exponent_notation_is_read_as_a_number_where_the_schema_wants_one():
    """PyYAML (YAML 1.1) reads 1e6 and 1.0e6 as text: they become numbers for number keys, in
    an attack of the named table and in a list too, and whole ones integers for integer keys;
    text elsewhere stays text."""
    config = yaml.safe_load(
        yaml.safe_dump(DEFAULT).replace("learning_rate: 0.05", "learning_rate: 1e6")
    )
    assert config["phase1"]["optimizer"]["learning_rate"] == "1e6"  # as PyYAML reads it
    config["phase2"]["optimizer"]["learning_rate"] = "1.0E-2"
    config["evaluation"]["attacks"]["pgd_linf"]["epsilons"] = ["1e-1", 0.2, "+3e-1"]
    config["dataset"]["root"] = "1e6"
    config["phase1"]["epochs"] = "2.4e1"
    resolve_config(config, [], SCHEMA)
    assert config["phase1"]["optimizer"]["learning_rate"] == 1e6
    assert config["phase2"]["optimizer"]["learning_rate"] == 0.01
    assert config["evaluation"]["attacks"]["pgd_linf"]["epsilons"] == [0.1, 0.2, 0.3]
    assert config["dataset"]["root"] == "1e6"
    assert config["phase1"]["epochs"] == 24 and isinstance(config["phase1"]["epochs"], int)


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("phase1.epochs", "25e-1", "phase1.epochs: 25e-1 is not a whole number"),
        ("phase1.optimizer.momentum", "0.9", "momentum: '0.9' is not of type 'number'"),
        ("phase1.optimizer.momentum", "9e-1x", "momentum: '9e-1x' is not of type 'number'"),
    ],
    ids=["fraction-for-integer-key", "quoted-decimal", "not-a-number"],
)
def test_only_exponent_notation_for_a_number_is_read(path, value, expected):
    with pytest.raises(ConfigError, match=re.escape(expected)):
        resolve_config(changed(path, value), [], SCHEMA)

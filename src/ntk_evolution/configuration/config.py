"""Configuration helpers shared by the Snakefile and the library (no JAX import here).

:func:`resolve_config` turns the config Snakemake merged from ``config.yaml``, the
``--configfile`` files and ``--config`` into the run's configuration: each table of named
entries (:data:`NAMED_TABLES`) is the last file's as a whole, and numbers written in exponent
notation are read as numbers. :func:`validate_config` checks a config against the JSON schema in
``workflow/schemas/config.schema.yaml`` (keys, types, ranges; generated from the typed
description :mod:`ntk_evolution.configuration.settings`), reads it into that description, and then runs the
checks a schema cannot express (relations between values and with the dataset's size,
:func:`check_config`); every problem is reported with its dotted key.
"""

from __future__ import annotations

import copy
import importlib.util
import math
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from ntk_evolution.configuration.experiment import epoch_label
from ntk_evolution.configuration.infinite_reach import STAX_ARCHITECTURES, split_import_path
from ntk_evolution.configuration.settings import (
    ApgdAttack,
    Attack,
    Config,
    DatasetSettings,
    EnsembleAttack,
    ModelSettings,
    Phase1Settings,
    SingleAttack,
)


class ConfigError(ValueError):
    """A configuration key or value that is unknown, malformed or inconsistent with another."""


def _schema_problem(error: Any) -> str:
    """One line for a JSON-schema violation: the dotted key, what is wrong, what is allowed."""
    where = ".".join(str(part) for part in error.absolute_path) or "the top level"
    if error.validator == "additionalProperties":
        allowed = ", ".join(sorted(error.schema.get("properties", {})))
        unknown = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        return f"{where}: unknown key(s) {unknown}; the keys allowed here are: {allowed}"
    if error.validator == "enum":
        return f"{where}: {error.instance!r} is not one of {error.validator_value}"
    if error.validator in ("anyOf", "oneOf"):
        return _alternatives_problem(where, error)
    return f"{where}: {_message(error)}"


def _message(error: Any) -> str:
    """What is wrong with one value; an exponent number YAML read as text (:data:`EXPONENT_NUMBER`)
    where a whole number belongs is said to be so."""
    instance = error.instance
    if (
        error.validator == "type"
        and isinstance(instance, str)
        and EXPONENT_NUMBER.fullmatch(instance)
        and "integer" in _types(error.schema)
    ):
        return (
            f"{instance} is not a whole number (YAML reads exponent notation as text, and "
            "this key takes an integer); write it as one, without a fraction"
        )
    return str(error.message)


def _types(schema: Mapping[str, Any]) -> list[str]:
    """The JSON types ``schema`` names."""
    kind = schema.get("type", [])
    return [kind] if isinstance(kind, str) else list(kind)


_TYPE_NAMES = {  # one, several
    "integer": ("an integer", "integers"),
    "number": ("a number", "numbers"),
    "string": ("a string", "strings"),
    "boolean": ("true or false", "booleans"),
    "null": ("null", "nulls"),
    "array": ("a list", "lists"),
    "object": ("a mapping", "mappings"),
}


def _describe(schema: Mapping[str, Any], plural: bool = False) -> str:
    """``schema`` in words: its type and bounds (``an integer of at least 1``, ``null``, ``a
    list of numbers of at least 0 (1 or more)``)."""
    if "$ref" in schema:
        return f"{'mappings' if plural else 'a mapping'} ({schema['$ref'].rsplit('/', 1)[-1]})"
    words = " or ".join(_TYPE_NAMES.get(kind, (kind, kind))[plural] for kind in _types(schema)) or (
        "values" if plural else "a value"
    )
    bounds = [
        f"{phrase} {schema[key]}"
        for key, phrase in (
            ("minimum", "at least"),
            ("exclusiveMinimum", "above"),
            ("maximum", "at most"),
            ("exclusiveMaximum", "below"),
        )
        if key in schema
    ]
    if bounds:
        words += " of " + " and ".join(bounds)
    if "items" in schema:
        words += f" of {_describe(schema['items'], plural=True)}"
        if "minItems" in schema:
            words += f" ({schema['minItems']} or more)"
    return words


def _alternatives_problem(where: str, error: Any) -> str:
    """An ``anyOf`` violation: what is wrong with the value in the alternative whose type it
    has, then every alternative allowed (``machines.test_images: 0 is less than the minimum of
    1; machines.test_images takes an integer of at least 1, or null``)."""
    allowed = ", or ".join(_describe(schema) for schema in error.validator_value)
    near = [
        sub for sub in error.context if sub.validator != "type" or sub.relative_path
    ]  # the value has that alternative's type; something else is wrong
    exponent = [sub for sub in error.context if _message(sub) != str(sub.message)]
    for sub in [*exponent, *near][:1]:
        inside = "".join(f"[{part!r}]" for part in sub.relative_path)
        return f"{where}{inside}: {_message(sub)}; {where} takes {allowed}"
    return f"{where}: {error.instance!r} is not allowed; {where} takes {allowed}"


# Mappings whose keys the user chooses (each names an entry): a config file that gives one
# replaces it as a whole, where every other key merges key by key.
NAMED_TABLES = ("evaluation.attacks", "model.options")

# Numbers in exponent notation that YAML 1.1 (PyYAML, which reads the config files) takes for
# strings: it wants a dot and a signed exponent (1.0e+6), so 1e6, 1.0e6 and 5E-3 stay text.
EXPONENT_NUMBER = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)[eE][-+]?\d+")


def read_config_file(path: str | Path, *, missing_ok: bool = False) -> dict[str, Any]:
    """The settings the config file at ``path`` changes: {} for an empty one, or with
    ``missing_ok`` for none. A file that is missing, that YAML cannot read (tab indentation)
    or that holds no mapping raises :class:`ConfigError` naming it."""
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if missing_ok:
            return {}
        raise ConfigError(
            f"config file {path} does not exist (in {Path.cwd()}); the presets are in presets/ "
            "and every setting is in workflow/config.default.yaml."
        ) from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"config file {path} cannot be read: {err}") from None
    try:
        with path.open(encoding="utf-8") as stream:  # YAML's marks then name the file
            changes = yaml.safe_load(stream)
    except yaml.YAMLError as err:
        tabs = " It is indented with tabs, which YAML does not allow: use spaces." * ("\t" in text)
        raise ConfigError(f"config file {path} is not valid YAML.{tabs}\n{err}") from None
    if changes is None:
        return {}
    if not isinstance(changes, dict):
        raise ConfigError(
            f"config file {path} holds {type(changes).__name__} {changes!r}, not the settings it "
            "changes (keys nested as in workflow/config.default.yaml)."
        )
    return changes


def resolve_config(
    config: dict[str, Any], layers: Sequence[Mapping[str, Any]], schema_path: str | Path
) -> Config:
    """Make ``config`` the run's configuration, in place, and return it validated and typed.

    ``config`` is ``config.yaml`` merged key by key with ``layers`` (the ``--configfile`` files
    in order, then the ``--config`` values), as Snakemake merges them. Each table of
    :data:`NAMED_TABLES` becomes the one of the last layer that gives it, whole; a string in
    exponent notation where the schema wants a number becomes that number.
    """
    import yaml

    replace_named_tables(config, layers)
    schema = yaml.safe_load(Path(schema_path).read_text())
    config.update(_read_numbers(config, schema, schema["$defs"]))
    return validate_config(config, schema_path)


def _section(config: Any, keys: Sequence[str]) -> Any:
    """``config[keys[0]][keys[1]]...``, or None where a key is missing or a value no mapping."""
    for key in keys:
        if not isinstance(config, Mapping):
            return None
        config = config.get(key)
    return config


def replace_named_tables(config: dict[str, Any], layers: Sequence[Mapping[str, Any]]) -> None:
    """Set each table of :data:`NAMED_TABLES` in ``config`` to the last of ``layers``' that
    gives it (a copy), undoing the key-by-key merge of its entries; in place."""
    for dotted in NAMED_TABLES:
        *parents, leaf = dotted.split(".")
        given = [
            section[leaf]
            for section in (_section(layer, parents) for layer in layers)
            if isinstance(section, Mapping) and leaf in section
        ]
        target = _section(config, parents)
        if given and isinstance(target, dict):
            target[leaf] = copy.deepcopy(given[-1])


def _read_numbers(value: Any, schema: Mapping[str, Any], defs: Mapping[str, Any]) -> Any:
    """``value`` with every string in exponent notation read as a number where ``schema``
    (whose ``$ref``s point into ``defs``) wants one, inside ``anyOf`` alternatives and the
    class a tagged union's tag names too (:func:`ntk_evolution.configuration.settings.config_schema`): a float
    where it wants a number, an int where it wants an integer and the value is whole (a
    fractional one stays text, and validation says why it is refused)."""
    if "$ref" in schema:
        schema = defs[schema["$ref"].rsplit("/", 1)[-1]]
    if isinstance(value, Mapping) and "allOf" in schema:  # a tagged union: the tag's class
        for branch in schema["allOf"]:
            ((tag, wanted),) = branch["if"]["properties"].items()
            if value.get(tag) == wanted["const"]:
                return _read_numbers(value, branch["then"], defs)
        return value
    alternatives = [schema, *schema.get("anyOf", []), *schema.get("oneOf", [])]
    if len(alternatives) > 1:
        for alternative in alternatives[1:]:
            read = _read_numbers(value, alternative, defs)
            if read is not value:
                return read
        return value
    if isinstance(value, Mapping):
        if "properties" not in schema and "additionalProperties" not in schema:
            return value
        properties = schema.get("properties", {})
        entries = schema.get("additionalProperties")
        entries = entries if isinstance(entries, Mapping) else {}
        return {
            key: _read_numbers(item, properties.get(key, entries), defs)
            for key, item in value.items()
        }
    if isinstance(value, list):
        if "items" not in schema:
            return value
        return [_read_numbers(item, schema["items"], defs) for item in value]
    if not (isinstance(value, str) and EXPONENT_NUMBER.fullmatch(value)):
        return value
    types = _types(schema)
    if "number" in types:
        return float(value)
    exact = Decimal(value)
    if "integer" in types and exact == exact.to_integral_value():
        return int(exact)
    return value


def validate_config(config: Mapping[str, Any], schema_path: str | Path) -> Config:
    """The typed config (:class:`ntk_evolution.configuration.settings.Config`); raise :class:`ConfigError`
    listing every schema violation, or naming the first inconsistency."""
    import jsonschema
    import yaml

    schema = yaml.safe_load(Path(schema_path).read_text())
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        problems = "\n".join(f"  - {_schema_problem(e)}" for e in errors)
        raise ConfigError(
            f"{len(errors)} problem(s) in the configuration:\n{problems}\n"
            f"Fix these keys in config.yaml (or the --configfile given); {schema_path} "
            "describes every key."
        )
    settings = Config.model_validate(config)
    check_config(settings)
    return settings


@dataclass(frozen=True)
class DatasetSize:
    """How many images and classes a dataset has, and their shape. ``test`` is the size of a fixed test set
    (``images`` are then the training images); without one, ``dataset.test_fraction`` of the
    ``images`` of each class is held out."""

    images: int
    classes: int
    shape: tuple[int, int, int]  # of one image: height, width, channels
    test: int | None = None


DATASET_SIZES = {
    "digits": DatasetSize(images=1797, classes=10, shape=(8, 8, 1)),
    "cifar10": DatasetSize(images=50000, classes=10, shape=(32, 32, 3), test=10000),
    "cifar100": DatasetSize(images=50000, classes=100, shape=(32, 32, 3), test=10000),
}


def split_sizes(dataset: DatasetSettings) -> tuple[int, int]:
    """Training and test images of the configured dataset. A held-out share is rounded up, as
    scikit-learn's ``train_test_split`` rounds it."""
    size = DATASET_SIZES[dataset.name]
    if size.test is not None:
        return size.images, size.test
    test = math.ceil(dataset.test_fraction * size.images)
    return size.images - test, test


def _check_dataset_size(config: Config) -> None:
    """The split must give every class a training and a test image (scikit-learn's stratified
    split refuses less), and a training batch must fit in the training set."""
    dataset = config.dataset
    size = DATASET_SIZES[dataset.name]
    train, test = split_sizes(dataset)
    if min(train, test) < size.classes:
        low = math.ceil(size.classes / size.images * 1e4) / 1e4
        high = math.floor((1 - size.classes / size.images) * 1e4) / 1e4
        raise ConfigError(
            f"dataset.test_fraction = {dataset.test_fraction:g} splits the {size.images} "
            f"{dataset.name} images into {train} training and {test} test images, but each "
            f"set needs one image of each of the {size.classes} classes at least; use a "
            f"test_fraction from {low:g} to {high:g}."
        )
    held_out = (
        "" if size.test is not None else f" (dataset.test_fraction = {dataset.test_fraction:g})"
    )
    for section, phase in (("phase1", config.phase1), ("phase2", config.phase2)):
        if phase.batch_size > train:
            raise ConfigError(
                f"{section}.batch_size = {phase.batch_size} exceeds the {train} training images "
                f"of {dataset.name}{held_out}, so an epoch has no batch; use a batch_size "
                f"from 1 to {train}."
            )


def checkpoint_steps(epochs: list[float], steps_per_epoch: int) -> dict[int, float]:
    """Map each checkpoint epoch to the optimiser step after which it is saved."""
    steps: dict[int, float] = {}
    for epoch in epochs:
        step = math.ceil(epoch * steps_per_epoch - 1e-9)
        if step in steps:
            raise ValueError(
                f"checkpoint epochs {steps[step]:g} and {epoch:g} fall on the same step with "
                f"{steps_per_epoch} steps per epoch; drop one or lower the batch size"
            )
        steps[step] = epoch
    return steps


def check_config(config: Config) -> None:
    """Raise :class:`ConfigError` naming the first inconsistency between config values or with
    the dataset's size."""
    dataset, phase1 = config.dataset, config.phase1
    if dataset.url is not None and dataset.name == "digits":
        raise ConfigError(
            "dataset.url is set, but digits ships with scikit-learn and is never downloaded; "
            "set dataset.url: null."
        )
    _check_dataset_size(config)
    _check_model(config.model)
    late = [e for e in phase1.checkpoints.fractional if e > phase1.epochs]
    if late:
        raise ConfigError(
            f"phase1.checkpoints.fractional has epochs {late} past phase1.epochs = "
            f"{phase1.epochs}; remove them or raise phase1.epochs."
        )
    if "flip" in phase1.regimes and not 0 < phase1.flip_epoch < phase1.epochs:
        raise ConfigError(
            f"phase1.flip_epoch = {phase1.flip_epoch} must lie strictly between 0 and "
            f"phase1.epochs = {phase1.epochs} for the 'flip' regime to flip."
        )
    if len(set(phase1.seeds)) != len(phase1.seeds):
        raise ConfigError(f"phase1.seeds has duplicates: {phase1.seeds}; list each seed once.")
    available = phase1.checkpoint_epochs
    try:
        checkpoint_steps(available, split_sizes(dataset)[0] // phase1.batch_size)
    except ValueError as err:
        raise ConfigError(f"phase1.checkpoints with phase1.batch_size: {err}.") from None
    _check_epochs(
        "phase2.spawn_epochs",
        config.phase2.spawn_epochs,
        phase1,
        "add them to phase1.checkpoints.fractional",
    )
    attacks = config.evaluation.attacks
    _check_named_attack("findings.attack", config.findings.attack, attacks, ensemble=True)
    _check_named_attack("findings.black_box", config.findings.black_box, attacks, ensemble=False)
    _check_attack("phase1.attack", phase1.attack)
    _check_attack("phase2.attack", config.phase2.attack)
    _check_evaluation_attacks(attacks)
    _check_selected_epochs(config)
    _check_counts(config)
    _check_picture_classes(config)
    _check_attack("machines.features.attack", config.machines.features.attack)
    _check_infinite_width(config)
    _check_analysis_attacks(config)


def _check_model(model: ModelSettings) -> None:
    """``options`` go to an import path's function only, the NTK parameterisation to the
    ``stax`` models only, and an import path's module must be importable (installed, or below
    the working directory, where the jobs look for it: :func:`ntk_evolution.models.networks.import_model`).
    """
    if model.built_in and model.options:
        raise ConfigError(
            f"model.options {sorted(model.options)} are keyword arguments of a model named by "
            f"its import path; the built-in architecture {model.architecture!r} takes width, "
            "depth, parameterization and zero_readout. Set model.options: {}."
        )
    if model.parameterization == "ntk" and model.architecture not in STAX_ARCHITECTURES:
        raise ConfigError(
            f"model.parameterization: ntk applies to the stax models {list(STAX_ARCHITECTURES)}, "
            f"not to {model.architecture!r}; set model.parameterization: standard."
        )
    if model.built_in:
        return
    module, _ = split_import_path(model.architecture)
    if os.getcwd() not in sys.path:
        sys.path.append(os.getcwd())
    try:
        found = importlib.util.find_spec(module) is not None
    except ImportError:  # a package on the way is missing
        found = False
    if not found:
        raise ConfigError(
            f"model.architecture = {model.architecture!r}: no module {module!r} can be imported; "
            f"install it or put it below the working directory {os.getcwd()}."
        )


def _check_epochs(
    where: str, epochs: Sequence[float], phase1: Phase1Settings, otherwise: str
) -> None:
    """``epochs`` (of the key ``where``) must be phase-1 checkpoint epochs: one past the end of
    training is said to be so; one inside it that is no checkpoint gets the checkpoints and
    ``otherwise``, the other way out."""
    late = [e for e in epochs if e > phase1.epochs]
    if late:
        raise ConfigError(
            f"{where} {late} are not phase-1 checkpoint epochs: they lie past the end of "
            f"training, and each must be at most phase1.epochs = {phase1.epochs} (or raise "
            "phase1.epochs)."
        )
    available = phase1.checkpoint_epochs
    unknown = [e for e in epochs if float(e) not in available]
    if unknown:
        raise ConfigError(
            f"{where} {unknown} are not phase-1 checkpoint epochs "
            f"{[epoch_label(e) for e in available]}; pick from these or {otherwise}."
        )


def _check_selected_epochs(config: Config) -> None:
    """The epochs of the kernel machines, pictures and attacked kernels must be checkpoints."""
    for where, epochs in (
        ("machines.epochs", config.machines.epochs),
        ("pictures.epochs", config.pictures.epochs),
        ("attacked.epochs", config.attacked.epochs),
    ):
        _check_epochs(where, epochs or [], config.phase1, "set null")


def _check_picture_classes(config: Config) -> None:
    """The pictures' classes must be the dataset's."""
    size = DATASET_SIZES[config.dataset.name]
    foreign = [c for c in config.pictures.classes if c >= size.classes]
    if foreign:
        raise ConfigError(
            f"pictures.classes {foreign} are not classes of {config.dataset.name} "
            f"(0..{size.classes - 1}); pick from these."
        )


def _check_infinite_width(config: Config) -> None:
    """The infinite-width machine needs the infinite-width kernel."""
    if config.infinite_width.machine and not config.infinite_width.kernel:
        raise ConfigError(
            "infinite_width.machine needs the infinite-width kernel; set infinite_width.kernel: "
            "true or infinite_width.machine: false."
        )


def _check_analysis_attacks(config: Config) -> None:
    """The attacked kernels' attack must be an evaluation attack other than an ensemble, the
    machines' attacks evaluation attacks."""
    attacks = config.evaluation.attacks
    _check_named_attack("attacked.attack", config.attacked.attack, attacks, ensemble=False)
    for name in config.machines.attacks or []:
        _check_named_attack("machines.attacks", name, attacks, ensemble=True)


def _check_named_attack(
    where: str, name: str, attacks: Mapping[str, SingleAttack | EnsembleAttack], *, ensemble: bool
) -> None:
    """``name`` must be an evaluation attack, and no ensemble unless ``ensemble``: the attacked
    kernels need one attack's images, the black-box check one attack's accuracy."""
    allowed = sorted(n for n, a in attacks.items() if ensemble or not isinstance(a, EnsembleAttack))
    if name not in allowed:
        raise ConfigError(
            f"{where} = {name!r} is not "
            + (
                "an evaluation attack"
                if ensemble
                else "an evaluation attack other than an ensemble"
            )
            + f"; name one of evaluation.attacks: {allowed}."
        )


def _check_counts(config: Config) -> None:
    """Every count of eigenvalues, eigenvectors or eigen-features must exist in a class kernel,
    which has one per probe: a larger one would be clamped, and its results quietly mean less."""
    size = DATASET_SIZES[config.dataset.name]
    probes = size.classes * config.dataset.probes_per_class
    kernel = (
        f"the {probes} eigenvectors of a class kernel, one per probe (dataset.probes_per_class"
        f" = {config.dataset.probes_per_class} x {size.classes} classes)"
    )
    features = config.machines.features
    for where, count in (
        ("statistics.spectrum.top_k", config.statistics.spectrum.top_k),
        ("statistics.eigenspace.top_k", config.statistics.eigenspace.top_k),
        ("machines.features.top", features.top),
        ("machines.features.bottom", features.bottom),
        ("pictures.top", config.pictures.top),
    ):
        if count > probes:
            raise ConfigError(
                f"{where} = {count} exceeds {kernel}; the largest valid value is {probes}."
            )
    if config.statistics.eigenspace.top_k == probes:
        raise ConfigError(
            f"statistics.eigenspace.top_k = {probes} takes all {kernel}: the eigenspace is then "
            "the whole space, with nothing outside it, and its overlap is always 1; the largest "
            f"valid value is {probes - 1}."
        )
    if features.top + features.bottom > probes:
        raise ConfigError(
            f"machines.features.top + machines.features.bottom = {features.top} + "
            f"{features.bottom} exceeds {kernel}, so the leading and trailing features judged "
            f"would overlap; lower them to {probes} together at most."
        )


def _check_attack(where: str, attack: Attack | SingleAttack | EnsembleAttack) -> None:
    """PGD must be able to reach the edge of its epsilon-ball (with either norm; at every radius
    of ``epsilons`` too, whose step size scales with it), and an L-inf ball must not already
    hold every image (radius 1 or more, pixels lying in [0, 1])."""
    if isinstance(attack, Attack):
        reach = attack.steps * attack.step_size
        if reach < attack.epsilon:
            raise ConfigError(
                f"{where}: steps x step_size = {reach:g} cannot reach epsilon = "
                f"{attack.epsilon:g}; raise step_size (2 * epsilon / steps is usual)."
            )
    if attack.norm != "linf":
        return
    epsilons = getattr(attack, "epsilons", [])
    for key, radii in (("epsilon", [attack.epsilon]), ("epsilons", epsilons)):
        whole = [radius for radius in radii if radius >= 1]
        if whole:
            raise ConfigError(
                f"{where}.{key}: an L-infinity radius of 1 or more ({whole}) holds every image "
                "in [0, 1], so the attack could turn any image into any other; use radii below 1."
            )


def _check_evaluation_attacks(attacks: Mapping[str, SingleAttack | EnsembleAttack]) -> None:
    """Each attack's own settings (:func:`_check_attack`); APGD's targets go with its targeted
    loss only; an ensemble's members are other attacks, no ensembles, in its norm and measured
    at each of its radii."""
    for name, attack in attacks.items():
        where = f"evaluation.attacks.{name}"
        _check_attack(where, attack)
        if isinstance(attack, ApgdAttack) and (attack.targets is None) != (attack.loss == "ce"):
            raise ConfigError(
                f"{where}: loss {attack.loss} takes "
                + ("targets: null" if attack.loss == "ce" else "a number of targets")
                + f", not targets: {attack.targets}; the targeted loss attacks that many "
                "classes, the cross-entropy none."
            )
        if not isinstance(attack, EnsembleAttack):
            continue
        for member in attack.members:
            other = attacks.get(member)
            if other is None or isinstance(other, EnsembleAttack):
                raise ConfigError(
                    f"{where}.members: {member!r} is not an evaluation attack that crafts "
                    f"images; name some of {sorted(n for n, a in attacks.items() if not isinstance(a, EnsembleAttack))}."
                )
            missing = sorted(set(attack.radii) - set(other.radii))
            if other.norm != attack.norm or missing:
                raise ConfigError(
                    f"{where}.members: {member!r} is an {other.norm} attack at radii "
                    f"{other.radii}, the ensemble {attack.norm} at {attack.radii}; give the "
                    "member the ensemble's norm and every radius of the ensemble."
                )

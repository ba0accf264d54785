"""Scenarios: named experiments in one workflow, and the keys that let them share work (no JAX).

A run's configuration is layered: the defaults (``workflow/config.default.yaml``), then
``config.yaml``, the ``--configfile`` files and ``--config``, each listing only what it changes
(:func:`merge`). The config key ``scenarios`` may name a YAML file mapping each scenario's name
to the settings it changes on top of that, nested like the config itself
(:func:`read_scenarios`); without one the run is the single scenario named by ``name``.
:func:`product` writes the scenarios of every combination of a few settings.

Every job's results live under ``results/shared/<key>/``, where the key is a digest of what the
job depends on (:func:`job_key`): its rule, its settings and the keys of the jobs whose results
it reads. Two scenarios that ask for a job with the same settings and inputs ask for the same
files, so the job runs once; a scenario's own folder ``results/<scenario>/`` holds links into
the shared tree in the layout of a single run (:func:`link_scenario`).
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ntk_evolution._infra.atomic import provenance_path
from ntk_evolution.configuration.config import NAMED_TABLES, ConfigError, resolve_config
from ntk_evolution.configuration.experiment import Run, RunPair, epoch_label, run_pairs
from ntk_evolution.configuration.settings import Config

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
# Folders of results/ that are not scenarios.
RESERVED = ("shared", "comparison")
KEY_LENGTH = 12  # hex digits of a job key: 48 bits, no collision among a project's jobs
# Keys of the whole run, which a scenario may not change: which scenarios exist, where the
# dataset and the compilation cache lie, whether jobs ask for a GPU.
RUN_KEYS = ("name", "scenarios", "compilation_cache", "gpu", "dataset.root", "dataset.url")


def check_name(name: Any, where: str) -> str:
    """``name`` if it can name a folder of ``results/``; else :class:`ConfigError`."""
    if not isinstance(name, str) or not NAME.fullmatch(name) or name in RESERVED:
        raise ConfigError(
            f"{where}: {name!r} cannot name a scenario; use letters, digits, '.', '_' and '-' "
            f"(starting with a letter or digit), and not {' or '.join(RESERVED)}."
        )
    return name


def merge(base: Mapping[str, Any], change: Mapping[str, Any], table: str = "") -> dict[str, Any]:
    """``base`` with ``change`` on top, key by key; a table of :data:`NAMED_TABLES` that
    ``change`` gives replaces ``base``'s whole. Neither argument is modified."""
    merged = copy.deepcopy(dict(base))
    for key, value in change.items():
        dotted = f"{table}.{key}" if table else key
        inner = merged.get(key)
        if isinstance(value, Mapping) and isinstance(inner, Mapping) and dotted not in NAMED_TABLES:
            merged[key] = merge(inner, value, dotted)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe YAML loader that refuses a mapping giving one key twice."""


def _unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    keys = [loader.construct_object(key) for key, _ in node.value]
    twice = sorted({str(key) for key in keys if keys.count(key) > 1})
    if twice:
        raise ConfigError(f"line {node.start_mark.line + 1}: {twice} given more than once")
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def read_scenarios(path: str | Path) -> dict[str, dict[str, Any]]:
    """The scenarios of the file at ``path``: name -> the settings it changes, in file order.

    Raises :class:`ConfigError` for a missing or malformed file, a name given twice or unfit
    for a folder (:func:`check_name`), and a scenario that is no mapping or changes ``name`` or
    ``scenarios``.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(
            f"scenarios: no file {path}; write one (name: settings it changes) or set "
            "scenarios: null."
        )
    try:
        scenarios = yaml.load(path.read_text(), Loader=_UniqueKeyLoader)
    except (ConfigError, yaml.YAMLError) as err:
        raise ConfigError(f"scenarios file {path}: {err}") from None
    if not isinstance(scenarios, Mapping) or not scenarios:
        raise ConfigError(
            f"scenarios file {path} must map each scenario's name to the settings it changes "
            "(nested like config.yaml; {} for none)."
        )
    for name, change in scenarios.items():
        check_name(name, f"scenarios file {path}")
        if change is None:
            scenarios[name] = change = {}
        if not isinstance(change, Mapping):
            raise ConfigError(
                f"scenario {name!r} in {path}: give the settings it changes as a mapping, "
                f"nested like config.yaml (not {change!r})."
            )
        fixed = [key for key in RUN_KEYS if _given(change, key)]
        if fixed:
            raise ConfigError(
                f"scenario {name!r} in {path} sets {fixed}, which hold for the whole run; "
                "set them in config.yaml instead."
            )
    return dict(scenarios)


def _given(change: Mapping[str, Any], dotted: str) -> bool:
    """Whether ``change`` sets the key ``dotted`` (``a.b``: ``change["a"]["b"]``)."""
    *parents, leaf = dotted.split(".")
    for key in parents:
        change = change.get(key)
        if not isinstance(change, Mapping):
            return False
    return leaf in change


def _nested(dotted: str, value: Any) -> dict[str, Any]:
    """``{"a": {"b": value}}`` for ``dotted`` = ``a.b``."""
    for key in reversed(dotted.split(".")):
        value = {key: value}
    return value


def _label(dotted: str, value: Any) -> str:
    """A setting's part of a scenario name: its last key and value, e.g. ``epsilon0.1``."""
    text = json.dumps(value) if isinstance(value, (list, dict, bool)) or value is None else value
    return re.sub(r"[^A-Za-z0-9._-]+", "", f"{dotted.rsplit('.', 1)[-1]}{text}")


def product(axes: Mapping[str, Sequence[Any]]) -> dict[str, dict[str, Any]]:
    """One scenario per combination of the values of ``axes`` (dotted key -> values), named by
    its values (``epsilon0.1_width64``), in the order of the axes and their values.

    Example::

        product({"phase1.attack.epsilon": [0.1, 0.2], "model.width": [64, 128]})
    """
    scenarios: dict[str, dict[str, Any]] = {}
    for values in itertools.product(*axes.values()):
        change: dict[str, Any] = {}
        for dotted, value in zip(axes, values, strict=True):
            change = merge(change, _nested(dotted, value))
        name = "_".join(_label(d, v) for d, v in zip(axes, values, strict=True))
        if name in scenarios:
            raise ConfigError(f"two combinations are both named {name!r}; rename an axis' values")
        scenarios[check_name(name, "product")] = change
    return scenarios


def job_key(rule: str, settings: Any, inputs: Iterable[Any] = ()) -> str:
    """The folder of a job's results below ``results/shared``: a digest of its ``rule``, the
    ``settings`` it depends on and the keys (or other identity) of the results it reads.

    ``settings`` and ``inputs`` must be JSON-serialisable; mappings are digested with sorted
    keys, so their order does not matter, and numbers by value (2 and 2.0 differ).
    """
    text = json.dumps([rule, settings, list(inputs)], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:KEY_LENGTH]


def layout_path(shared_path: str | Path, shared_root: str | Path) -> Path:
    """Where a shared result sits in a scenario's folder: its path below its key's folder
    (``<shared_root>/<key>/kernels/benign/seed0/ntk.zarr`` -> ``kernels/benign/seed0/ntk.zarr``)."""
    _key, *layout = Path(shared_path).relative_to(shared_root).parts
    return Path(*layout)


def link_scenario(folder: str | Path, shared: Iterable[str | Path], shared_root: str | Path) -> int:
    """Give a scenario's ``folder`` a relative link to each of its ``shared`` results (and a
    table's provenance beside it), in the layout of a single run (:func:`layout_path`); links of an earlier configuration that no
    longer apply are removed, real files are never touched. Returns the number of links."""
    folder = Path(folder)
    wanted: dict[Path, Path] = {}
    for target in map(Path, shared):
        sidecar = provenance_path(target)  # a table's provenance, beside it
        for path in (
            (target, sidecar) if target.suffix == ".csv" and sidecar.exists() else (target,)
        ):
            wanted[folder / layout_path(path, shared_root)] = path
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in [*dirnames, *filenames]:
            path = Path(dirpath, name)
            if path.is_symlink() and path not in wanted:
                path.unlink()
    for link, target in wanted.items():
        link.parent.mkdir(parents=True, exist_ok=True)
        relative = os.path.relpath(target, link.parent)
        if link.is_symlink() and os.readlink(link) == relative:
            continue
        if link.exists() and not link.is_symlink():
            raise FileExistsError(f"{link} is a file of its own; move it aside to link {target}")
        temporary = link.with_name(f".{link.name}.link")
        temporary.unlink(missing_ok=True)
        temporary.symlink_to(relative)
        temporary.replace(link)  # atomic: a reader sees the old link or the new one
    return len(wanted)


@dataclass(frozen=True)
class Scenario:
    """One experiment of the run: its name, its whole resolved config and the typed settings."""

    name: str
    config: dict[str, Any]
    settings: Config

    def plain(self, section: str) -> Any:
        """Section ``section`` as the config gives it, for a job's params. A job's key digests
        its params, so they are not the typed settings dumped: a default the typed model fills
        in, or an epoch 8 read as 8.0, would change every key of a finished project. Everything
        else the rules read from :attr:`settings`."""
        return self.config[section]

    @property
    def runs(self) -> list[Run]:
        return self.settings.phase1.runs

    @property
    def regimes(self) -> list[str]:
        """The phase-1 regimes, in the order of the config."""
        return list(self.settings.phase1.regimes)

    @property
    def checkpoint_epochs(self) -> list[float]:
        return self.settings.phase1.checkpoint_epochs

    @property
    def epochs(self) -> list[str]:
        """Labels of the checkpoint epochs, in schedule order."""
        return [epoch_label(epoch) for epoch in self.checkpoint_epochs]

    @property
    def spawns(self) -> list[str]:
        """Labels of the phase-2 spawn epochs."""
        return [epoch_label(epoch) for epoch in self.settings.phase2.spawn_epochs]

    @property
    def pairs(self) -> list[RunPair]:
        return run_pairs(self.runs)


def resolve_scenarios(
    base: dict[str, Any], base_settings: Config, schema_path: str | Path
) -> dict[str, Scenario]:
    """Every scenario of the run, by name, from the resolved ``base`` config: the one named by
    ``name`` where ``scenarios`` is null, else each of the scenarios file's on top of ``base``.
    A scenario's mistake raises :class:`ConfigError` naming the scenario and the key."""
    if base["scenarios"] is None:
        name = check_name(base["name"], "name")
        return {name: Scenario(name, base, base_settings)}
    scenarios = {}
    for name, change in read_scenarios(base["scenarios"]).items():
        config = merge(base, change)
        try:
            settings = resolve_config(config, [], schema_path)
        except ConfigError as err:
            raise ConfigError(
                f"scenario {name!r} of {base['scenarios']}: {err}".replace(
                    "config.yaml (or the --configfile given)", f"scenario {name!r}"
                )
            ) from None
        scenarios[name] = Scenario(name, config, settings)
    return scenarios


def main(argv: Sequence[str] | None = None) -> None:
    """Print the scenarios of a product of settings as a scenarios file, e.g.::

    uv run python -m ntk_evolution.configuration.scenarios phase1.attack.epsilon=0.1,0.2 model.width=64,128
    """
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__.splitlines()[0])
    parser.add_argument("axes", nargs="+", metavar="KEY=V1,V2,...", help="a dotted key, values")
    axes = {}
    for axis in parser.parse_args(argv).axes:
        key, _, values = axis.partition("=")
        axes[key] = [yaml.safe_load(value) for value in values.split(",")]
    print(yaml.safe_dump(product(axes), sort_keys=False), end="")


if __name__ == "__main__":
    main()

"""Result stores for notebooks: every store as one tree, or one store stacked over scenarios and
runs.

A results folder holds scenarios, one folder each, marked by a ``scenario.yaml`` (its ``name``
and resolved ``config``); inside a scenario, the layout of one experiment:
``<stage>/<regime>/seed<n>/<name>.zarr`` per run (``statistics/benign/seed0/spectrum.zarr``) and
``<stage>/<name>.zarr`` per scenario (``evaluation/accuracy.zarr``). Work the scenarios share
lies in ``shared/``, which their entries link to (relative symbolic links, to files or folders);
``shared/`` and ``comparison/`` are not scenarios. A folder without scenarios is read as one
experiment.

A store a tree should hold but lacks is an error that names every such path
(:class:`MissingResults`): a broken link, or a run's store that the scenario's other runs have.
The runs of a scenario are every regime with every seed, those of its ``scenario.yaml``'s
``phase1`` section and of its ``<stage>/<regime>/seed<n>`` folders, so a run that has not
started is missed too.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from ntk_evolution.configuration.experiment import REGIME_ORDER, SEED_FOLDER, Run

if TYPE_CHECKING:  # imported where used: ``import ntk_evolution`` stays light
    import xarray as xr

SCENARIO_FILE = "scenario.yaml"
SHARED = "shared"  # the work scenarios share, reached through their links
STORE = ".zarr"
CHILD_DIMS = ("phase1_regime", "phase2_regime")  # a child's cell: C (clean) or A, phase 1 first


class MissingResults(FileNotFoundError):
    """Results (stores, or links to them) a results tree should hold but lacks; ``missing``
    holds every path."""

    def __init__(self, results: Path, missing: Sequence[Path]) -> None:
        self.missing = sorted(set(missing))
        lines = "\n".join(f"  {_why_missing(results, path)}" for path in self.missing)
        super().__init__(
            f"{results} lacks {len(self.missing)} result(s) (an unfinished run, or a link whose "
            f"target is gone):\n{lines}\nA plain run of the project rebuilds what is gone "
            "(uv run snakemake --cores all, with its --configfile); a scenario's lost links "
            "come back with --forcerun results/<scenario>/scenario.yaml."
        )


def _why_missing(results: Path, path: Path) -> str:
    """``path``, with the first broken link on its way below ``results`` and its target."""
    below = path.relative_to(results).parts
    for depth in range(1, len(below) + 1):
        link = results.joinpath(*below[:depth])
        if link.is_symlink() and not link.exists():
            return f"{path} (broken link {link} -> {os.readlink(link)})"
    return str(path)


def _scenarios(results: str | Path = "results") -> list[str]:
    """The scenarios under ``results``, sorted: the folders with a ``scenario.yaml``."""
    return sorted(path.parent.name for path in Path(results).glob(f"*/{SCENARIO_FILE}"))


def _phase1(folder: Path) -> dict[str, Any]:
    """The ``phase1`` section of the config in ``folder``'s ``scenario.yaml``; {} without one."""
    marker = folder / SCENARIO_FILE
    if not marker.is_file():
        return {}
    scenario = yaml.safe_load(marker.read_text()) or {}
    return (scenario.get("config") or {}).get("phase1") or {}


def _regime_order(regimes: Iterable[str]) -> list[str]:
    """``regimes`` once each, in :data:`~ntk_evolution.configuration.experiment.REGIME_ORDER`, any other
    after them by name."""
    return sorted(
        set(regimes),
        key=lambda r: (REGIME_ORDER.index(r), r) if r in REGIME_ORDER else (len(REGIME_ORDER), r),
    )


def _runs(folder: str | Path) -> list[Run]:
    """Every run of the experiment at ``folder`` (a scenario, or a results folder without them):
    each regime with each seed, of ``scenario.yaml``'s ``phase1.regimes`` and ``phase1.seeds``
    and of the ``<stage>/<regime>/seed<n>`` folders, in regime then seed order."""
    phase1 = _phase1(Path(folder))
    regimes, seeds = set(phase1.get("regimes", [])), set(phase1.get("seeds", []))
    for run_folder in Path(folder).glob("*/*/seed*"):
        if run_folder.is_dir() and SEED_FOLDER.fullmatch(run_folder.name):
            run = Run.from_path(run_folder)
            regimes.add(run.regime)
            seeds.add(run.seed)
    return [Run(regime, seed) for regime in _regime_order(regimes) for seed in sorted(seeds)]


def _lost_links(folder: Path) -> list[Path]:
    """The links the ``scenario.yaml`` in ``folder`` records that are not there (deleted; a
    broken one is found by :func:`_walk`)."""
    marker = folder / SCENARIO_FILE
    links = (yaml.safe_load(marker.read_text()) or {}).get("links") if marker.is_file() else []
    if not isinstance(links, list):  # a record of an earlier version: the number of links
        return []
    return [folder / link for link in links if not os.path.lexists(folder / link)]


def _missing_run_stores(folder: Path) -> list[Path]:
    """The per-run stores of the experiment at ``folder`` that one of its runs lacks but another
    run has (``<stage>/<regime>/seed<n>/<name>.zarr``)."""
    kinds = {(path.parts[-4], path.name) for path in folder.glob(f"*/*/seed*/*{STORE}")}
    return [
        path
        for run in _runs(folder)
        for stage, name in sorted(kinds)
        if not (path := folder / stage / run.path / name).exists()
    ]


def _walk(
    folder: Path, skip: set[str], ancestors: frozenset[Path] = frozenset()
) -> tuple[list[Path], list[Path]]:
    """The zarr stores below ``folder`` and the broken links there, following links but not
    into hidden entries (an attempt's partial), stores, the top-level names in ``skip`` or a
    link back to a folder on the way (a cycle)."""
    real = folder.resolve()
    if real in ancestors:
        return [], []
    stores, broken = [], []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith(".") or entry.name in skip:
            continue
        if not entry.exists():
            broken.append(entry)
        elif entry.name.endswith(STORE):
            stores.append(entry)
        elif entry.is_dir():
            found = _walk(entry, set(), ancestors | {real})
            stores += found[0]
            broken += found[1]
    return stores, broken


def open_results(results: str | Path = "results") -> xr.DataTree:
    """Every store under ``results`` as one :class:`xarray.DataTree`, read lazily.

    Stores are found by walking the folder, links followed, so those of a new analysis appear
    too; with scenarios, ``shared/`` is left out (the scenarios link to what it holds). A node's
    path is its store's, relative to ``results`` and without ``.zarr``:
    ``results/default/kernels/benign/seed0/ntk.zarr`` is ``/default/kernels/benign/seed0/ntk``,
    ``results/default/evaluation/accuracy.zarr`` is ``/default/evaluation/accuracy``. Its
    attributes are the store's, its provenance among them.

    A broken link, a link its scenario's ``scenario.yaml`` records but the folder lacks, or a
    run's store that another run of its scenario has, raises :class:`MissingResults` naming
    every one. Each store is opened by
    :func:`~ntk_evolution._infra.storage.open_store`: a store that is unfinished, lacks chunk files or
    is unreadable raises :class:`~ntk_evolution._infra.recovery.DamagedInput` naming it and the command
    that regenerates it in this project: the shared store forced, with the config files of the
    scenario's ``scenario.yaml``. Its NaN counts are not checked, as that would read every value: only the
    metadata and the index coordinates are read, the rest stays on disk until asked
    (``.load()``, a plot).
    """
    import xarray as xr

    results = Path(results)
    if not results.is_dir():
        raise FileNotFoundError(f"no results folder {results.resolve()}")
    names = _scenarios(results)
    stores, missing = _walk(results, {SHARED} if names else set())
    for folder in [results / name for name in names] or [results]:
        missing += _missing_run_stores(folder) + _lost_links(folder)
    _require(results, missing)
    nodes = {
        "/" + path.relative_to(results).with_suffix("").as_posix(): _open(results, path)
        for path in stores
    }
    return xr.DataTree.from_dict(nodes)


def _concat(datasets: Sequence[xr.Dataset], dim: str, labels: Sequence[Any]) -> xr.Dataset:
    """``datasets`` along a new first dim ``dim`` labelled ``labels``. Their coordinates are
    aligned (a label one of them lacks is NaN there); a coordinate that differs between them
    gains ``dim``; attributes they disagree on are dropped."""
    import numpy as np
    import xarray as xr

    stacked = xr.concat(
        datasets,
        dim=dim,
        join="outer",
        coords="different",
        compat="equals",
        combine_attrs="drop_conflicts",
    )
    return stacked.assign_coords({dim: np.asarray(labels)})


def _with_cells(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` with the coordinate ``cell`` (phase1_regime, phase2_regime) where it has both dims:
    the grid code of each child, phase-1 then phase-2 regime, C benign (clean), A adversarial,
    any other regime its initial (F flip)."""
    import numpy as np

    from ntk_evolution.analyses.findings import LETTER

    if not set(CHILD_DIMS) <= set(ds.dims):
        return ds

    def letters(dim: str) -> np.ndarray:
        return np.array([LETTER.get(r, str(r)[:1].upper()) for r in ds[dim].values.tolist()])

    codes = np.char.add(letters(CHILD_DIMS[0])[:, None], letters(CHILD_DIMS[1])[None, :])
    attrs = {"long_name": "grid code: phase-1 then phase-2 regime, C benign (clean), A adversarial"}
    return ds.assign_coords(cell=(CHILD_DIMS, codes.astype(object), attrs))


def _per_run(results: Path, names: Sequence[str], store: str) -> bool:
    """Whether ``store`` (``<stage>/<name>``) is kept per run in the scenarios ``names``, not per
    scenario; FileNotFoundError where none of them has it either way."""
    stage, _, name = store.rpartition("/")
    for scenario in names:
        if os.path.lexists(results / scenario / f"{store}{STORE}"):
            return False
    for scenario in names:
        if stage and any((results / scenario / stage).glob(f"*/seed*/{name}{STORE}")):
            return True
    raise FileNotFoundError(
        f"no scenario of {list(names)} under {results} has a store {store}{STORE} "
        f"or {stage}/<regime>/seed<n>/{name}{STORE}"
    )


def _rebuild_command(results: Path, path: Path) -> str:
    """The command that regenerates the store at ``path`` below ``results`` (and everything
    computed from it), to run in the project that holds ``results``: ``--forcerun`` the store
    a scenario's link points to, with the config files its ``scenario.yaml`` records."""
    from ntk_evolution._infra.recovery import regenerate_command

    real, root = path.resolve(), results.resolve()
    target = (
        Path(results.name) / real.relative_to(root)
        if real.is_relative_to(root)
        else Path(os.path.relpath(real, root.parent))
    )
    marker = results / path.relative_to(results).parts[0] / SCENARIO_FILE
    recorded = yaml.safe_load(marker.read_text()) or {} if marker.is_file() else {}
    configfiles = recorded.get("configfiles") or []
    command = regenerate_command(target.as_posix(), configfiles)
    return f"{command}  # in {root.parent}"


def _open(results: Path, path: Path) -> xr.Dataset:
    """The store at ``path`` below ``results``, checked (lazily) by
    :func:`~ntk_evolution._infra.storage.open_store`; damage names the command that regenerates it
    in this project (:func:`_rebuild_command`)."""
    from ntk_evolution._infra.recovery import DamagedInput
    from ntk_evolution._infra.storage import open_store

    try:
        return open_store(path, verify_values=False)
    except DamagedInput:
        return open_store(path, verify_values=False, command=_rebuild_command(results, path))


def _require(results: Path, paths: Iterable[Path]) -> None:
    """Raise :class:`MissingResults` naming every one of ``paths`` that does not exist."""
    missing = [path for path in paths if not path.exists()]
    if missing:
        raise MissingResults(results, missing)


def _stack_runs(datasets: Mapping[Run, xr.Dataset]) -> xr.Dataset:
    """One scenario's per-run ``datasets`` along the dims ``regime`` and ``seed``."""
    regimes = list(dict.fromkeys(run.regime for run in datasets))
    by_regime = [
        _concat(
            [ds for run, ds in datasets.items() if run.regime == regime],
            "seed",
            [run.seed for run in datasets if run.regime == regime],
        )
        for regime in regimes
    ]
    return _concat(by_regime, "regime", regimes)


def _scenario_names(results: Path, scenarios: Sequence[str] | None) -> list[str]:
    """``scenarios`` (default: every scenario under ``results``), each checked to be one."""
    names = list(scenarios) if scenarios is not None else _scenarios(results)
    unknown = [name for name in names if not (results / name / SCENARIO_FILE).is_file()]
    if unknown or not names:
        raise FileNotFoundError(
            f"no scenario {unknown or ''} under {results} (a folder with a {SCENARIO_FILE})"
        )
    return names


def stack_results(
    results: str | Path = "results",
    store: str = "statistics/spectrum",
    scenarios: Sequence[str] | None = None,
) -> xr.Dataset:
    """One store of every scenario as one lazy :class:`xarray.Dataset`.

    ``store`` is a path below a scenario, without ``.zarr``. A per-run store
    (``<stage>/<regime>/seed<n>/<name>.zarr``, named ``<stage>/<name>``, e.g.
    ``statistics/spectrum``) gains the dims ``scenario``, ``regime``, ``seed`` before its own;
    a scenario's store (``evaluation/accuracy``, ``statistics/pair_distances``,
    ``machines/pictures``) gains ``scenario`` only. ``scenarios`` chooses them and their order
    (default: every scenario, by name); regimes come in the order benign, adversarial, flip and
    seeds by number. Where scenarios differ (other epochs, seeds or regimes), coordinates are
    joined and the values one lacks are NaN.

    Where the store has children's dims (``phase1_regime``, ``phase2_regime``, as
    ``evaluation/accuracy`` does), the coordinate ``cell`` on those two dims holds each child's
    grid code: ``CC``, ``CA``, ``AC``, ``AA`` (C benign, "clean"; A adversarial; phase 1 first;
    F for flip). The AC children, say: ``ds.accuracy.where(ds.cell == "AC", drop=True)``; in
    ``ds.accuracy.to_dataframe()`` it is a column.

    Attributes are those every scenario's store shares; :func:`open_results` gives each store's
    own. A scenario or run that lacks the store (or a broken link on its way) raises
    :class:`MissingResults` naming every one; a damaged store raises
    :class:`~ntk_evolution._infra.recovery.DamagedInput`, as in :func:`open_results`.
    """
    import numpy as np

    results = Path(results)
    store = store.removesuffix(STORE)
    names = _scenario_names(results, scenarios)
    if not _per_run(results, names, store):
        paths = [results / scenario / f"{store}{STORE}" for scenario in names]
        _require(results, paths)
        scenario_stores = [_open(results, path) for path in paths]
        return _with_cells(_concat(scenario_stores, "scenario", names))
    stage, _, name = store.rpartition("/")
    runs = {scenario: _runs(results / scenario) for scenario in names}
    paths = {
        scenario: {run: results / scenario / stage / run.path / f"{name}{STORE}" for run in found}
        for scenario, found in runs.items()
    }
    _require(results, [path for found in paths.values() for path in found.values()])
    stacked = _concat(
        [
            _stack_runs({run: _open(results, path) for run, path in found.items()})
            for found in paths.values()
        ],
        "scenario",
        names,
    )
    every = [run for found in runs.values() for run in found]
    return _with_cells(
        stacked.reindex(
            regime=np.asarray(_regime_order(run.regime for run in every)),
            seed=np.asarray(sorted({run.seed for run in every})),
        )
    )

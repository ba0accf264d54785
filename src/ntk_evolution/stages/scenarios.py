"""The scenario stage: a scenario's folder in the layout of a single run (no JAX)."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from ntk_evolution._infra.atomic import atomic_file
from ntk_evolution._infra.provenance import provenance
from ntk_evolution.configuration.scenarios import link_scenario

log = logging.getLogger(__name__)


def record_scenario(
    record: str | Path,
    shared: Sequence[str | Path],
    *,
    shared_root: str | Path,
    config: Mapping[str, Any],
    configfiles: Sequence[str] = (),
) -> None:
    """Link the scenario's folder (``record``'s) to each of its ``shared`` results, below
    ``shared_root``, and write ``record``: the scenario's name, its whole resolved config and
    the package versions, the links it holds (paths in the folder: a lost one is named by
    :func:`ntk_evolution.results.open_results`) and the ``configfiles`` of the run that made it
    (a command that regenerates a result repeats them)."""
    folder = Path(record).parent
    count = link_scenario(folder, shared, shared_root)
    log.info("%s: %d links into %s", folder, count, shared_root)
    links = sorted(
        (Path(dirpath) / name).relative_to(folder).as_posix()
        for dirpath, dirnames, filenames in os.walk(folder)
        for name in [*dirnames, *filenames]
        if (Path(dirpath) / name).is_symlink()
    )
    text = yaml.safe_dump(
        {
            "name": folder.name,
            **provenance(dict(config)),
            "links": links,
            "configfiles": list(configfiles),
        },
        sort_keys=False,
    )
    with atomic_file(record) as out:
        out.write(text.encode())

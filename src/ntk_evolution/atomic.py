"""Atomic writes: a file or folder appears at its final path only once it is complete.

Everything is written under a hidden ``.<name>.partial`` sibling and renamed into place at the
end (a rename is atomic within one file system). An interrupted job therefore never leaves an
output that a later run would mistake for a finished one; a failed write removes its partial.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO


def partial_path(path: str | Path) -> Path:
    """Where ``path`` is written before it is complete."""
    path = Path(path)
    return path.with_name(f".{path.name}.partial")


@contextmanager
def atomic_file(path: str | Path) -> Iterator[BinaryIO]:
    """Open a binary file that replaces ``path`` only if the block succeeds."""
    tmp = partial_path(path)
    try:
        with open(tmp, "wb") as f:
            yield f
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)


@contextmanager
def atomic_directory(path: str | Path) -> Iterator[Path]:
    """Yield a temporary folder that replaces ``path`` only if the block succeeds."""
    path = Path(path)
    tmp = partial_path(path)
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(path, ignore_errors=True)
    tmp.rename(path)


def provenance_path(table: str | Path) -> Path:
    """Where the provenance of a CSV table is kept: ``name.csv`` -> ``name.provenance.json``."""
    return Path(table).with_suffix(".provenance.json")


def write_table(
    rows: Sequence[Mapping[str, Any]], path: str | Path, *, provenance: Mapping[str, Any]
) -> None:
    """Write ``rows`` (dicts with the same keys, in column order) as a CSV table, atomically,
    and ``provenance`` (see :mod:`ntk_evolution.provenance`) beside it as JSON."""
    with atomic_file(provenance_path(path)) as f:
        f.write(json.dumps(provenance, indent=1, default=str).encode())
    with atomic_file(path) as f, io.TextIOWrapper(f, encoding="utf-8", newline="") as text:
        writer = csv.DictWriter(text, fieldnames=list(rows[0]) if rows else [])
        writer.writeheader()
        writer.writerows(rows)

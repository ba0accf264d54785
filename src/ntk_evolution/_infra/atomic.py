"""Atomic writes: a file or folder appears at its final path only once it is complete.

Every attempt writes under its own hidden sibling, ``.<name>.partial-<host>-<pid>-<token>``, and
renames it into place at the end (a rename is atomic within one file system). So

- an interrupted job never leaves an output that a later run would mistake for a finished one;
- two attempts at the same output (a job orphaned by a killed Snakemake and its rerun) never
  touch each other's files: each puts a complete copy in place, and the last one stays;
- a failed write removes its own partial, and an attempt clears the partials that dead
  processes on its host left behind (those of live processes, or of other hosts, are kept).
"""

from __future__ import annotations

import csv
import io
import json
import os
import secrets
import shutil
import socket
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

_PARTIAL = ".partial-"


def _attempt_tag() -> str:
    """``<host>-<pid>-<token>``: who writes this partial, unique to the attempt."""
    host = socket.gethostname().replace("-", "_")
    return f"{host}-{os.getpid()}-{secrets.token_hex(4)}"


def partials(path: str | Path) -> list[Path]:
    """Every attempt's partial of ``path`` now on disk."""
    path = Path(path)
    return sorted(path.parent.glob(f".{path.name}{_PARTIAL}*"))


def _is_stale(partial: Path) -> bool:
    """Whether ``partial`` was left by a process of this host that no longer runs."""
    host, _, pid = partial.name.rsplit(_PARTIAL, 1)[1].rpartition("-")[0].rpartition("-")
    if host != socket.gethostname().replace("-", "_") or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _new_partial(path: Path) -> Path:
    """A fresh partial path for one attempt at ``path``; stale partials are cleared first."""
    for stale in filter(_is_stale, partials(path)):
        _remove(stale)
    return path.with_name(f".{path.name}{_PARTIAL}{_attempt_tag()}")


@contextmanager
def atomic_file(path: str | Path) -> Iterator[BinaryIO]:
    """Open a binary file that replaces ``path`` only if the block succeeds."""
    tmp = _new_partial(Path(path))
    try:
        with open(tmp, "wb") as f:
            yield f
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)


@contextmanager
def atomic_directory(path: str | Path) -> Iterator[Path]:
    """Yield a temporary folder (not yet created) that replaces ``path`` only if the block
    succeeds."""
    path = Path(path)
    tmp = _new_partial(path)
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _replace_directory(tmp, path)


def _replace_directory(tmp: Path, path: Path) -> None:
    """Rename ``tmp`` to ``path``. A folder already there (an earlier or a concurrent attempt's
    complete copy) is first renamed out of the way and then deleted."""
    retired = tmp.with_name(tmp.name.replace(_PARTIAL, ".replaced-", 1))
    for _ in range(10):  # another attempt may rename its copy in between
        try:
            path.rename(retired)
        except FileNotFoundError:
            pass
        try:
            tmp.rename(path)
            break
        except OSError:
            if not path.exists():
                raise
        finally:
            shutil.rmtree(retired, ignore_errors=True)
    else:
        raise OSError(f"cannot put {tmp} in place of {path}: it keeps being replaced")


def provenance_path(table: str | Path) -> Path:
    """Where the provenance of a CSV table is kept: ``name.csv`` -> ``name.provenance.json``."""
    return Path(table).with_suffix(".provenance.json")


def write_table(
    rows: Sequence[Mapping[str, Any]], path: str | Path, *, provenance: Mapping[str, Any]
) -> None:
    """Write ``rows`` (dicts with the same keys, in column order) as a CSV table, atomically,
    and ``provenance`` (see :mod:`ntk_evolution._infra.provenance`) beside it as JSON."""
    with atomic_file(provenance_path(path)) as f:
        f.write(json.dumps(provenance, indent=1, default=str).encode())
    with atomic_file(path) as f, io.TextIOWrapper(f, encoding="utf-8", newline="") as text:
        writer = csv.DictWriter(text, fieldnames=list(rows[0]) if rows else [])
        writer.writeheader()
        writer.writerows(rows)

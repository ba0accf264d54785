"""What a job says when one of its inputs is missing or damaged: the file and the command that
regenerates it.

``--forcerun <file>`` makes Snakemake rerun the job that writes the file and every job
downstream of it, so one command heals the damage and everything computed from it; a plain
rerun would not (Snakemake trusts a file that exists). The workflow passes the config files of
the run in :data:`CONFIGFILES_VARIABLE`, so the command repeats them.
"""

from __future__ import annotations

import os
import shlex
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

CONFIGFILES_VARIABLE = "NTK_EVOLUTION_CONFIGFILES"


class DamagedInput(RuntimeError):
    """An input file or store that is missing, incomplete, corrupt or of another config."""


def snakemake_command(*args: str, configfiles: Sequence[str] = ()) -> str:
    """``uv run snakemake ARGS``, with the config files last: ``--configfile`` takes several
    values, so anything after it would be read as one more config file."""
    words = ["uv", "run", "snakemake", *args]
    if configfiles:
        words += ["--configfile", *configfiles]
    return shlex.join(words)


def run_configfiles() -> list[str]:
    """The config files of the run this job belongs to, as the workflow passed them."""
    return shlex.split(os.environ.get(CONFIGFILES_VARIABLE, ""))


def regenerate_command(path: str | Path, configfiles: Sequence[str] | None = None) -> str:
    """The command that rewrites ``path`` and everything computed from it, with
    ``configfiles`` (by default the run's, :func:`run_configfiles`)."""
    configfiles = run_configfiles() if configfiles is None else configfiles
    return snakemake_command("--cores", "all", "--forcerun", str(path), configfiles=configfiles)


def damaged(
    what: str, path: str | Path, problem: str, *, fix: str = "", command: str | None = None
) -> DamagedInput:
    """The error for the ``what`` at ``path`` (e.g. "checkpoint"), ``problem`` saying why;
    ``fix``, a sentence, comes before the command that regenerates it (``command``, by
    default :func:`regenerate_command` of ``path``)."""
    command = command or regenerate_command(path)
    regenerate = "Or regenerate it" if fix else "Regenerate it"
    return DamagedInput(
        f"{what} {path} {problem}. {fix + ' ' if fix else ''}{regenerate}, and everything "
        f"computed from it, with:\n  {command}"
    )


@contextmanager
def open_npz(path: str | Path, what: str, members: Sequence[str]) -> Iterator[np.lib.npyio.NpzFile]:
    """Open a pickle-free ``.npz`` file that must hold ``members``; a missing, truncated or
    corrupt file, or one without them, raises :class:`DamagedInput` naming the file."""
    path = Path(path)
    if not path.exists():
        raise damaged(what, path, "does not exist")
    if not zipfile.is_zipfile(path):  # never let numpy try another format (pickle)
        raise damaged(what, path, "is truncated or corrupt (not an .npz archive)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [name for name in members if name not in archive.files]
            if missing:
                raise damaged(what, path, f"is incomplete (no {', '.join(missing)})")
            yield archive
    except (zipfile.BadZipFile, zlib.error, ValueError, OSError, EOFError) as err:
        raise damaged(what, path, f"is truncated or corrupt ({err})") from err

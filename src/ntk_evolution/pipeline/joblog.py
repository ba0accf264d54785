"""Logging for workflow jobs: log lines, the traceback of a failure, and where the time went.

Every job's log ends with one line that splits its run time (``benchmarks/fixed_cost.py``
reads it)::

    job time: 3.41 s; start and imports 2.52 s, compilation 0.31 s (4 programs, 3 from the cache)

- *start and imports*: from the process's start (``/proc/self/stat``) to
  :func:`setup_logging`, which a script calls once its imports are done;
- *compilation*: XLA's compilation of the job's programs (JAX's backend-compile events; a
  program served by the persistent compilation cache counts its retrieval), zero in a job that
  imports no JAX;
- the rest is the job's work.

A job that imports JAX also watches the persistent compilation cache: JAX warns when it cannot
read an entry, compiles the program again and, the entry being there, never replaces it, so
every later job would compile it again too. :func:`watch_compilation_cache` removes the
unreadable entries of that program (this job then writes a good one) and logs a warning that
names the cache folder and says that deleting it is safe.
"""

from __future__ import annotations

import atexit
import glob
import logging
import os
import re
import sys
import time
import warnings
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

log = logging.getLogger(__name__)
TIMING_PREFIX = "job time:"
_TIMING = re.compile(
    r"job time: ([\d.]+) s; start and imports ([\d.]+) s, compilation ([\d.]+) s "
    r"\((\d+) programs, (\d+) from the cache\)"
)
BACKEND_COMPILE = "/jax/core/compile/backend_compile_duration"
CACHE_HIT = "/jax/compilation_cache/cache_hits"


def process_start() -> float | None:
    """The time (``time.time()`` scale) this process started, or None where ``/proc`` has no
    record of it."""
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        boot = next(
            float(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime ")
        )
    except (OSError, StopIteration, IndexError):
        return None
    return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22: start time, in ticks


@dataclass
class JobClock:
    """Where a job's time goes: imports until :meth:`start`, compilation as JAX reports it."""

    started: float
    imported: float = field(default_factory=time.time)
    compile_seconds: float = 0.0
    programs: int = 0
    cached: int = 0

    def watch_compilation(self) -> None:
        """Count JAX's compilations from now on (in a job that has imported JAX)."""
        import jax

        def duration(event: str, seconds: float, **_: object) -> None:
            if event == BACKEND_COMPILE:
                self.compile_seconds += seconds
                self.programs += 1

        def hit(event: str, **_: object) -> None:
            if event == CACHE_HIT:
                self.cached += 1

        jax.monitoring.register_event_duration_secs_listener(duration)
        jax.monitoring.register_event_listener(hit)

    def summary(self) -> str:
        """The ``job time`` line (see the module docstring)."""
        total = time.time() - self.started
        return (
            f"{TIMING_PREFIX} {total:.2f} s; start and imports {self.imported - self.started:.2f} "
            f"s, compilation {self.compile_seconds:.2f} s ({self.programs} programs, "
            f"{self.cached} from the cache)"
        )


class JobTime(NamedTuple):
    """A ``job time`` line, read back: seconds in all, to start and import, to compile; the
    programs compiled and how many of them came from the cache."""

    seconds: float
    imports: float
    compile: float
    programs: int
    cached: int

    @property
    def work(self) -> float:
        return self.seconds - self.imports - self.compile


def read_job_time(log_text: str) -> JobTime | None:
    """The last ``job time`` line of a job's log, or None if it has none (a job that failed
    before :func:`setup_logging`, or a log of an earlier version)."""
    found = _TIMING.findall(log_text)
    if not found:
        return None
    seconds, imports, compiled, programs, cached = found[-1]
    return JobTime(float(seconds), float(imports), float(compiled), int(programs), int(cached))


CACHE_READ_ERROR = re.compile(r"Error reading persistent compilation cache entry for '([^']+)'")


def _readable(entry: Path) -> bool:
    """Whether JAX can decompress the cache ``entry`` (zlib, or zstandard where installed)."""
    try:
        from jax._src.compilation_cache import decompress_executable
    except ImportError:  # another JAX version: its compression as this one's, zlib
        decompress_executable = zlib.decompress
    try:
        decompress_executable(entry.read_bytes())
    except FileNotFoundError:
        return True  # removed meanwhile, by another job
    except Exception:
        return False
    return True


def heal_cache_entries(folder: str | Path, program: str) -> list[Path]:
    """Remove the entries of ``program`` (a compiled program's name, or an entry's key) in the
    compilation cache ``folder`` that cannot be decompressed; returns them."""
    removed = []
    names = {
        name
        for pattern in (f"{glob.escape(program)}-*-cache", f"{glob.escape(program)}-cache")
        for name in glob.glob(pattern, root_dir=folder)
    }
    for name in sorted(names):
        entry = Path(folder) / name
        if not _readable(entry):
            entry.unlink(missing_ok=True)
            entry.with_name(name.removesuffix("-cache") + "-atime").unlink(missing_ok=True)
            removed.append(entry)
    return removed


def watch_compilation_cache() -> None:
    """Turn JAX's warning about an unreadable entry of the persistent compilation cache into
    a repair and a warning of ours (see the module docstring); other warnings pass."""
    import jax

    show = warnings.showwarning

    def heal(message, category, filename, lineno, file=None, line=None):
        found = CACHE_READ_ERROR.match(str(message))
        folder = jax.config.jax_compilation_cache_dir
        if not (found and folder):
            show(message, category, filename, lineno, file, line)
            return
        removed = heal_cache_entries(folder, found.group(1))
        log.warning(
            "JAX's compilation cache %s holds an unreadable entry for %s (%s): %s, and this "
            "job compiles the program again. Deleting the folder is always safe (rm -r %s): "
            "jobs then compile afresh and fill it again.",
            folder,
            found.group(1),
            str(message).split(": ", 1)[-1],
            "removed" if removed else "it could not be removed",
            folder,
        )

    warnings.showwarning = heal


def setup_logging(path: str | Path | None) -> None:
    """Send this process's log lines, and the traceback if it fails, to ``path`` and stderr;
    at exit, log the ``job time`` line."""
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    if path:
        handlers.append(logging.FileHandler(path, mode="w"))
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
        force=True,
    )
    logging.getLogger("jax").setLevel(logging.WARNING)

    def log_uncaught(kind, error, traceback):
        log.critical("%s: %s", kind.__name__, error, exc_info=(kind, error, traceback))

    sys.excepthook = log_uncaught
    started = process_start()
    if started is None:
        return
    clock = JobClock(started)
    if "jax" in sys.modules:
        clock.watch_compilation()
        watch_compilation_cache()
    atexit.register(lambda: log.info("%s", clock.summary()))

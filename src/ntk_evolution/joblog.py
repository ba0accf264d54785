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
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import sys
import time
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
    atexit.register(lambda: log.info("%s", clock.summary()))

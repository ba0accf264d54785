"""A damaged entry of JAX's persistent compilation cache heals: the job that meets it warns,
naming the folder and that deleting it is safe, and replaces it, so the next job reads it."""

from __future__ import annotations

import os
import subprocess
import sys
import zlib
from pathlib import Path

from ntk_evolution.pipeline.joblog import heal_cache_entries, read_job_time

# A job as the workflow's scripts run one: imports, then setup_logging, then the work.
JOB = """
import sys
import jax
import jax.numpy as jnp
from ntk_evolution.pipeline.joblog import setup_logging
setup_logging(sys.argv[1])
print(float(jax.jit(lambda x: jnp.sin(x) * 2 + 1)(jnp.arange(3.0)).sum()))
"""


def job(tmp_path: Path, cache: Path, name: str) -> tuple[str, str]:
    """Run the job with the compilation cache ``cache``; returns its log and its stdout."""
    log = tmp_path / f"{name}.log"
    env = {
        **os.environ,
        "JAX_COMPILATION_CACHE_DIR": str(cache),
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
    }
    result = subprocess.run(
        [sys.executable, "-c", JOB, str(log)], capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return log.read_text(), result.stdout


def entries(cache: Path) -> list[Path]:
    return sorted(cache.glob("*-cache"))


def test_a_damaged_cache_entry_is_replaced_with_a_warning(tmp_path):
    cache = tmp_path / "cache" / "jax"
    log, value = job(tmp_path, cache, "first")
    written = entries(cache)
    assert written and read_job_time(log).cached == 0
    for entry in written:  # as a job killed while writing it leaves it
        entry.write_bytes(entry.read_bytes()[: len(entry.read_bytes()) // 2])

    log, again = job(tmp_path, cache, "damaged")
    assert again == value
    assert f"JAX's compilation cache {cache} holds an unreadable entry" in log
    assert "Deleting the folder is always safe" in log
    assert read_job_time(log).cached == 0
    for entry in entries(cache):  # rewritten whole
        zlib.decompress(entry.read_bytes())

    log, healed = job(tmp_path, cache, "healed")
    assert healed == value
    assert "unreadable" not in log
    assert read_job_time(log).cached == read_job_time(log).programs > 0


def test_only_unreadable_entries_are_removed(tmp_path):
    good = tmp_path / "jit_f-1111-cache"
    bad = tmp_path / "jit_f-2222-cache"
    other = tmp_path / "jit_g-3333-cache"
    good.write_bytes(zlib.compress(b"an executable"))
    (tmp_path / "jit_f-2222-atime").write_bytes(b"12345678")
    for path in (bad, other):
        path.write_bytes(b"not compressed")
    assert heal_cache_entries(tmp_path, "jit_f") == [bad]
    assert good.exists() and other.exists()
    assert not bad.exists() and not (tmp_path / "jit_f-2222-atime").exists()

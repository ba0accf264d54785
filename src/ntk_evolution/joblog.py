"""Logging for workflow jobs: log lines and the traceback of a failure go to the job's log."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

log = logging.getLogger(__name__)


def setup_logging(path: str | Path | None) -> None:
    """Send this process's log lines, and the traceback if it fails, to ``path`` and stderr."""
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

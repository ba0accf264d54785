"""ntk_evolution: how neural tangent kernels evolve under benign and adversarial training.

``open_results("results")`` opens every result store of a run as one tree, for notebooks. It is
loaded on first use (PEP 562), so a workflow job that imports the package depends neither on
:mod:`ntk_evolution.results` nor on what it imports: editing them reruns no job.
"""

from importlib import import_module
from typing import Any

__all__ = ["open_results"]


def __getattr__(name: str) -> Any:
    if name == "open_results":
        return import_module("ntk_evolution.results").open_results
    raise AttributeError(f"module 'ntk_evolution' has no attribute {name!r}")

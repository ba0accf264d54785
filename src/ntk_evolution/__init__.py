"""ntk_evolution: how neural tangent kernels evolve under benign and adversarial training.

``open_results("results")`` opens every result store as one tree, ``stack_results("results",
"statistics/spectrum")`` one store of every scenario and run as one dataset, for notebooks. They
are loaded on first use (PEP 562), so a workflow job that imports the package depends neither on
:mod:`ntk_evolution.results` nor on what it imports: editing them reruns no job.
"""

from importlib import import_module
from typing import Any

__all__ = ["open_results", "stack_results"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(import_module("ntk_evolution.results"), name)
    raise AttributeError(f"module 'ntk_evolution' has no attribute {name!r}")

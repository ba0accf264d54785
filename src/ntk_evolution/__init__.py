"""ntk_evolution: how neural tangent kernels evolve under benign and adversarial training.

``open_results("results")`` opens every result store of a run as one tree, for notebooks.
"""

from ntk_evolution.results import open_results

__all__ = ["open_results"]

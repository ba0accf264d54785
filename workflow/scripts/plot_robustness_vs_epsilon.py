"""White-box accuracy against epsilon of every phase-1 network and child.

Writes ``robustness_vs_epsilon.csv`` (phase1_regime, seed, spawn_epoch, dynamics, phase2_regime,
code, attack, epsilon, accuracy; epsilon 0: clean accuracy) and its figure (PNG).
"""

from ntk_evolution.joblog import setup_logging
from ntk_evolution.stages.figures import plot_robustness_vs_epsilon

setup_logging(snakemake.log[0])
plot_robustness_vs_epsilon(snakemake.input.table, snakemake.output.table, snakemake.output.figure)

"""Clean and robust accuracy of the children against spawn epoch (PNG), each attack at its
headline epsilon."""

import pandas as pd

from ntk_evolution.figures import accuracy_vs_spawn
from ntk_evolution.joblog import setup_logging

setup_logging(snakemake.log[0])
accuracy_vs_spawn.plot(
    pd.read_csv(snakemake.input.table), snakemake.output[0], headline=snakemake.params.headline
)

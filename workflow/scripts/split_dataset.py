"""Split the dataset into train and test sets.

Reads the configured dataset (for CIFAR, its archive or extracted folder under ``dataset.root``).
Writes ``results/data/split.npz``: ``train_images``/``test_images`` (n, height, width, channel)
integer pixels, ``train_labels``/``test_labels`` (n,), ``classes`` and ``pixel_max``.
"""

from ntk_evolution.pipeline.joblog import setup_logging
from ntk_evolution.stages.data import prepare_split

setup_logging(snakemake.log[0])
prepare_split(snakemake.output[0], **snakemake.params.dataset)

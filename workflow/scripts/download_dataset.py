"""Fetch a dataset archive, verified against its published MD5 checksum.

Writes the archive at the output path only when it arrived whole with the published checksum;
otherwise the job fails with the reason and leaves no file behind.
"""

from ntk_evolution.datasets.fetch import fetch
from ntk_evolution.pipeline.joblog import setup_logging

setup_logging(snakemake.log[0])
fetch(snakemake.params.url, snakemake.output[0], snakemake.params.md5)

"""The infinite-width NTK of the configured architecture on the probe set.

Writes a zarr store with ``ntk`` (probe_i, probe_j), the same for every logit, and the probes'
indices and labels; see ntk_evolution.kernels.infinite.
"""

from ntk_evolution.configuration.settings import ModelSettings, NtkSettings
from ntk_evolution.pipeline.joblog import setup_logging
from ntk_evolution.pipeline.params import typed_params
from ntk_evolution.stages.infinite import extract_infinite_kernel

setup_logging(snakemake.log[0])
extract_infinite_kernel(
    snakemake.input.split,
    snakemake.input.probes,
    snakemake.output[0],
    **typed_params(snakemake, model=ModelSettings, ntk=NtkSettings),
)

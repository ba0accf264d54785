"""Per-logit empirical NTK of the probe set at every checkpoint of one run.

Writes a zarr store with ``ntk`` (epoch, logit, probe_i, probe_j), coordinates probe_i/probe_j
(training set indices), label_i/label_j, logit and epoch, and provenance attrs (config subset,
versions, device, the implementation used, compile seconds; per checkpoint under ``snapshots``:
its epoch, checkpoint metadata and compute seconds).
"""

from ntk_evolution.configuration.experiment import JobSubject
from ntk_evolution.configuration.settings import ModelSettings, NtkSettings
from ntk_evolution.pipeline.joblog import setup_logging
from ntk_evolution.pipeline.params import typed_params
from ntk_evolution.stages.kernels import extract_kernels

setup_logging(snakemake.log[0])
extract_kernels(
    snakemake.input.checkpoints,
    snakemake.input.split,
    snakemake.input.probes,
    snakemake.output[0],
    run=JobSubject(snakemake).run,
    epochs=snakemake.params.epochs,
    **typed_params(snakemake, model=ModelSettings, ntk=NtkSettings),
)

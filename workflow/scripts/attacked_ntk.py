"""Kernels on attacked inputs at the chosen checkpoints of one run.

Writes two zarr stores: ``attacked_ntk`` (epoch, logit, probe_i, probe_j), ``cross`` (epoch,
logit, probe) and ``attacked_probes``; and the statistics (distance between the clean and the
attacked kernel, feature self-similarity per class) with an epoch dim; see
ntk_evolution.stages.attacked.
"""

from ntk_evolution.configuration.experiment import JobSubject
from ntk_evolution.configuration.settings import (
    AttackedSettings,
    EvaluationSettings,
    ModelSettings,
    NtkSettings,
)
from ntk_evolution.pipeline.joblog import setup_logging
from ntk_evolution.pipeline.params import typed_params
from ntk_evolution.stages.attacked import extract_attacked_kernels

setup_logging(snakemake.log[0])
extract_attacked_kernels(
    snakemake.input.checkpoints,
    snakemake.input.kernels,
    snakemake.input.split,
    snakemake.output.kernels,
    snakemake.output.statistics,
    run=JobSubject(snakemake).run,
    epochs=snakemake.params.epochs,
    **typed_params(
        snakemake,
        model=ModelSettings,
        ntk=NtkSettings,
        evaluation=EvaluationSettings,
        attacked=AttackedSettings,
    ),
)

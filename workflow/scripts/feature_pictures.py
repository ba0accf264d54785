"""Feature pictures of the first seed of every regime at the drawn epochs.

Writes a zarr store with ``picture`` (regime, epoch, class, eigen, row, column, channel) and
``cosine_start``, ``cosine`` and ``eigenvalue`` (regime, epoch, class, eigen); see
ntk_evolution.stages.machines.draw_feature_pictures.
"""

from ntk_evolution.configuration.experiment import JobSubject
from ntk_evolution.configuration.settings import ModelSettings, PictureSettings
from ntk_evolution.pipeline.joblog import setup_logging
from ntk_evolution.pipeline.params import typed_params
from ntk_evolution.stages.machines import draw_feature_pictures

setup_logging(snakemake.log[0])
runs = JobSubject(snakemake).runs
epochs = snakemake.params.epochs
checkpoints = list(snakemake.input.checkpoints)
draw_feature_pictures(
    {run: checkpoints[i * len(epochs) : (i + 1) * len(epochs)] for i, run in enumerate(runs)},
    dict(zip(runs, snakemake.input.runs, strict=True)),
    snakemake.input.split,
    snakemake.output[0],
    epochs=epochs,
    **typed_params(snakemake, model=ModelSettings, pictures=PictureSettings),
)

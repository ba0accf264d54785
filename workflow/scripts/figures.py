"""Every figure and table of the report, from the statistics, histories and accuracies.

Writes ``results/figures/*.png`` and the tables ``fixed_kernel.csv`` and
``robustness_vs_epsilon.csv`` (each with its provenance beside it).
"""

from ntk_evolution.configuration.experiment import Run
from ntk_evolution.pipeline.joblog import setup_logging
from ntk_evolution.stages.figures import draw_figures

setup_logging(snakemake.log[0])
out = dict(snakemake.output.items())
draw_figures(
    runs=[Run.from_path(path) for path in snakemake.input.evolution],
    evolution=snakemake.input.evolution,
    spectra=snakemake.input.spectra,
    alignments=snakemake.input.alignments,
    eigenspaces=snakemake.input.eigenspaces,
    attacked_statistics=snakemake.input.attacked,
    histories=snakemake.input.histories,
    pairs=snakemake.input.pairs[0] if snakemake.input.pairs else None,
    evaluation=snakemake.input.evaluation,
    machines=snakemake.input.machines,
    features=snakemake.input.features,
    pictures=snakemake.input.pictures,
    infinite_machine=snakemake.input.infinite_machine or None,
    out=out,
    headline=snakemake.params.headline,
)

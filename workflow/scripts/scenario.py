"""A scenario's folder: links to its shared results, in the layout of a single run.

Writes ``results/<scenario>/scenario.yaml`` (name, resolved config, versions, the run's config
files) and a relative link ``results/<scenario>/<layout>`` to each
``results/shared/<key>/<layout>`` it uses.
"""

from ntk_evolution._infra.recovery import run_configfiles
from ntk_evolution.pipeline.joblog import setup_logging
from ntk_evolution.stages.scenarios import record_scenario

setup_logging(snakemake.log[0])
record_scenario(
    snakemake.output[0],
    snakemake.input.shared,
    shared_root=snakemake.params.shared,
    config=snakemake.params.config,
    configfiles=run_configfiles(),
)

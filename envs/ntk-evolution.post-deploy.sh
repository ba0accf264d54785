#!/usr/bin/env bash
# Run by Snakemake inside the new environment, from the workflow's folder, after creating it.
set -euo pipefail
# neural-tangents declares TensorFlow, which only its unused `experimental` module imports
# (see ntk_evolution._infra.compat), so it is installed without its declared dependencies.
python -m pip install --no-deps neural-tangents==0.6.5
# The workflow's own package, editable: jobs import this checkout's src/ntk_evolution.
python -m pip install --no-deps --editable .

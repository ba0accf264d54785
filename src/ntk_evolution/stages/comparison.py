"""Comparison stage: the findings of every scenario side by side, as a table, a Markdown page
and a figure."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from ntk_evolution._infra.atomic import atomic_file, write_table
from ntk_evolution._infra.provenance import provenance
from ntk_evolution.analyses import comparison
from ntk_evolution.analyses.findings import overview as findings_overview
from ntk_evolution.figures import comparison as comparison_figure

log = logging.getLogger(__name__)


def compare_scenarios(
    findings: Mapping[str, str | Path],
    table: str | Path,
    markdown: str | Path,
    figure: str | Path,
    verdicts: str | Path,
) -> None:
    """``table`` (CSV, :data:`ntk_evolution.analyses.comparison.COLUMNS`), ``markdown``, ``figure``
    (PNG) and ``verdicts`` (CSV: per scenario and finding the claim, verdict and evidence of
    :func:`ntk_evolution.analyses.findings.overview`, which the report opens on) from ``findings``:
    scenario name -> its ``findings.csv``, in the order to show them."""
    tables = {scenario: pd.read_csv(path) for scenario, path in findings.items()}
    combined = comparison.comparison_table(tables)
    made_from = {"comparison": "findings", "findings": {s: str(p) for s, p in findings.items()}}
    write_table(combined.to_dict("records"), table, provenance=provenance(made_from))
    overviews = [
        findings_overview(t).assign(scenario=scenario)[
            ["scenario", "finding", "verdict", "claim", "evidence"]
        ]
        for scenario, t in tables.items()
    ]
    rows = pd.concat(overviews, ignore_index=True).to_dict("records")
    write_table(rows, verdicts, provenance=provenance(made_from))
    with atomic_file(markdown) as f:
        f.write(comparison.markdown(combined).encode())
    comparison_figure.plot(combined, figure)
    verdicts = combined.drop_duplicates(["scenario", "finding"])
    log.info(
        "verdicts by scenario:\n%s",
        verdicts.pivot(index="scenario", columns="finding", values="verdict").to_string(),
    )

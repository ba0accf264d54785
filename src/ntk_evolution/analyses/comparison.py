"""The paper's findings across scenarios: every scenario's findings table side by side.

Each scenario's ``findings.csv`` (:data:`ntk_evolution.analyses.findings.COLUMNS`) is judged on its own
run with its own thresholds; the comparison puts the rows of all of them in one table
(:data:`COLUMNS`), each with its scenario and the verdict of its finding in that scenario, and
writes a Markdown page that sets the scenarios side by side, finding by finding.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial

import pandas as pd

from ntk_evolution.analyses import findings

COLUMNS = ["scenario", "finding", "verdict", *findings.COLUMNS[1:]]


def comparison_table(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Every scenario's findings rows, scenario by scenario in the order of ``tables``
    (scenario name -> its findings table), each finding's rows in their own order.

    Columns :data:`COLUMNS`: the scenario, the finding and its verdict in that scenario, then
    the findings table's own. A finding a scenario did not measure has one row, with its
    verdict only, so every scenario's verdict on every finding is in the table.
    """
    parts = []
    for scenario, table in tables.items():
        verdicts = findings.verdicts(table)
        for finding in findings.CLAIMS:
            rows = table[table.finding == finding]
            if rows.empty:
                rows = pd.DataFrame(
                    {"finding": [finding], "measure": [""], "subject": [""], "decisive": [False]}
                )
            parts.append(rows.assign(scenario=scenario, verdict=verdicts[finding]))
    combined = pd.concat(parts, ignore_index=True).reindex(columns=COLUMNS)
    combined["outcome"] = combined.outcome.astype(object).where(combined.outcome.notna(), None)
    return combined


def _summary(rows: pd.DataFrame) -> str:
    """One decisive measure of one scenario: its value, or the range over its subjects, the
    threshold and how many subjects hold it."""
    low, high = f"{rows.value.min():.3g}", f"{rows.value.max():.3g}"
    values = low if low == high else f"{low} to {high}"
    held = int((rows.outcome == "holds").sum())
    unsure = int((rows.outcome == "inconclusive").sum())
    counts = f"{held} of {len(rows)} hold" + (f", {unsure} inconclusive" if unsure else "")
    return f"{values} (threshold {rows.threshold.iloc[0]:.3g}; {counts})"


def _measures(rows: pd.DataFrame, measures: Sequence[str]) -> dict[str, str]:
    """A scenario's verdict on a finding, from the finding's ``rows``, and :func:`_summary` of
    each of ``measures`` (empty where the scenario lacks it)."""
    decisive = rows[rows.decisive.astype(bool)]
    cells = {measure: _summary(group) for measure, group in decisive.groupby("measure")}
    return {"verdict": rows.verdict.iloc[0], **{m: cells.get(m, "") for m in measures}}


def _rows(
    table: pd.DataFrame, columns: Callable[[pd.DataFrame], Mapping[str, str]]
) -> pd.DataFrame:
    """One row per scenario of ``table``, in its order, with the scenario and ``columns(rows)``
    of the scenario's rows."""
    groups = table.groupby("scenario", sort=False)
    return pd.DataFrame([{"scenario": scenario, **columns(rows)} for scenario, rows in groups])


def markdown(table: pd.DataFrame) -> str:
    """The comparison as a Markdown page: every scenario's verdicts, then per finding a table
    with one row per scenario: its verdict and each decisive measure (:func:`_summary`; empty
    where the scenario lacks it). ``table``: :func:`comparison_table`."""
    overview = _rows(table, lambda rows: dict(zip(rows.finding, rows.verdict, strict=True)))
    lines = ["# Findings across scenarios", "", *findings._markdown_table(overview), ""]
    lines += [f"- **{finding}**: {claim}" for finding, claim in findings.CLAIMS.items()]
    lines += [
        "",
        "Each finding's decisive measures follow, one row per scenario: the value, or its range "
        "over the measure's subjects (pairs of runs, runs, seeds or children), the scenario's "
        "threshold and how many subjects hold it.",
    ]
    for finding, claim in findings.CLAIMS.items():
        part = table[table.finding == finding]
        measures = list(dict.fromkeys(part.measure[part.decisive.astype(bool)]))
        page = _rows(part, partial(_measures, measures=measures))
        lines += ["", f"## {finding}: {claim}", "", *findings._markdown_table(page)]
    return "\n".join(lines) + "\n"

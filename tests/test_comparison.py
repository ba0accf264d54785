"""The comparison across scenarios: findings tables written by the findings code on synthetic
statistics, set side by side in a table, a Markdown page and a figure."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_findings import SHOWN, pair_dataset, table

from ntk_evolution._infra.atomic import provenance_path, write_table
from ntk_evolution.analyses import findings
from ntk_evolution.analyses.comparison import COLUMNS
from ntk_evolution.stages.comparison import compare_scenarios

ONE_SEED = pair_dataset(0.4, 0.1).pipe(lambda pairs: pairs.where(pairs.seeds == "same", drop=True))
# Scenario name -> its findings table, in the order to compare them (not that of the names).
SCENARIOS = {
    "wide-resnet_eps0.03": table(pairs=pair_dataset(across=0.25, yardstick=0.1)),  # F1 fails
    "default": table(),
    "one-seed": table(pairs=ONE_SEED),  # F1 not measured
    "weak.kernel": table(cells=dict(SHOWN, AC=0.25)),  # F3 fails
}
VERDICTS = {
    "wide-resnet_eps0.03": ("not shown", "shown", "shown", "shown"),
    "default": ("shown",) * 4,
    "one-seed": ("not measured", "shown", "shown", "shown"),
    "weak.kernel": ("shown", "shown", "not shown", "shown"),
}


@pytest.fixture(scope="module")
def compared(tmp_path_factory) -> Path:
    """The folder with every scenario's findings.csv and the comparison of them."""
    folder = tmp_path_factory.mktemp("comparison")
    paths = {}
    for scenario, rows in SCENARIOS.items():
        paths[scenario] = folder / scenario / "findings.csv"
        paths[scenario].parent.mkdir()
        write_table(rows.to_dict("records"), paths[scenario], provenance={})
    out = folder / "comparison"
    out.mkdir()
    compare_scenarios(
        paths,
        out / "findings.csv",
        out / "findings.md",
        out / "findings_across_scenarios.png",
        out / "verdicts.csv",
    )
    return out


@pytest.fixture(scope="module")
def comparison(compared) -> pd.DataFrame:
    return pd.read_csv(compared / "findings.csv")


def test_rows_come_scenario_by_scenario_in_the_order_given(compared, comparison):
    assert list(comparison.columns) == COLUMNS
    assert list(dict.fromkeys(comparison.scenario)) == list(SCENARIOS)
    for scenario in SCENARIOS:
        mine = comparison[(comparison.scenario == scenario) & comparison.measure.notna()]
        pd.testing.assert_frame_equal(
            mine[findings.COLUMNS].reset_index(drop=True),
            pd.read_csv(compared.parent / scenario / "findings.csv"),
        )


def test_each_row_carries_its_findings_verdict(comparison):
    for scenario, expected in VERDICTS.items():
        mine = comparison[comparison.scenario == scenario]
        verdicts = mine.groupby("finding").verdict.unique()
        assert {f: list(v) for f, v in verdicts.items()} == {
            f: [v] for f, v in zip(findings.CLAIMS, expected, strict=True)
        }


def test_a_finding_not_measured_has_one_row_with_its_verdict(comparison):
    row = comparison[(comparison.scenario == "one-seed") & (comparison.finding == "F1")]
    assert len(row) == 1
    assert row.verdict.item() == "not measured"
    assert row.measure.isna().item() and not row.decisive.item()


def test_the_table_keeps_its_provenance(compared):
    made = json.loads(provenance_path(compared / "findings.csv").read_text())
    assert list(made["config"]["findings"]) == list(SCENARIOS)
    assert {"versions", "device"} <= set(made)


def test_the_page_sets_the_scenarios_side_by_side(compared):
    page = (compared / "findings.md").read_text()
    assert "| scenario | F1 | F2 | F3 | F4 |" in page
    for scenario, verdicts in VERDICTS.items():
        assert f"| {scenario} | {' | '.join(verdicts)} |" in page
    f1 = page[page.index("## F1") : page.index("## F2")]
    assert "| scenario | verdict | distance / yardstick (centered) |" in f1
    assert "| wide-resnet_eps0.03 | not shown | 2.5 (threshold 3; 0 of 2 hold) |" in f1
    assert "| one-seed | not measured |  |" in f1
    f3 = page[page.index("## F3") : page.index("## F4")]
    assert "| weak.kernel | not shown |" in f3
    assert "0.23 (threshold 0.3; 0 of 4 hold)" in f3  # AC - CC of every child fails


def test_the_verdicts_give_every_scenarios_verdict_on_every_finding(compared):
    verdicts = pd.read_csv(compared / "verdicts.csv")
    assert list(verdicts.columns) == ["scenario", "finding", "verdict", "claim", "evidence"]
    for scenario, expected in VERDICTS.items():
        assert tuple(verdicts[verdicts.scenario == scenario].verdict) == expected


def test_the_figure_is_written(compared):
    import matplotlib.image

    picture = matplotlib.image.imread(compared / "findings_across_scenarios.png")
    assert picture.ndim == 3 and picture.shape[0] > 300
    assert np.ptp(picture[..., :3]) > 0  # not blank

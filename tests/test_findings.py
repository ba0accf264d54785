"""The findings' verdicts on synthetic statistics built to show, or not show, each finding."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from ntk_evolution.analyses import findings
from ntk_evolution.configuration.experiment import Run, run_pairs
from ntk_evolution.configuration.settings import FindingsSettings

THRESHOLDS = FindingsSettings(
    kernel_distance="centered",
    distance_ratio=3.0,
    settle_fraction=0.1,
    settle_by=0.5,
    benign_robust_max=0.1,
    robust_margin=0.3,
    masking_tolerance=0.02,
    attack="pgd_linf",
    black_box="square_linf",
)
IMAGES = 10_000  # test images of the synthetic evaluation: intervals narrow enough to decide
EPOCHS = np.array([0.0, 1.0, 2.0, 4.0, 8.0])
EPSILON = 0.2
RUNS = [Run(regime, seed) for regime in ("benign", "adversarial") for seed in (0, 1)]


def pair_dataset(across: float, yardstick: float, raw_scale: float = 0.1) -> xr.Dataset:
    """Pair distances that grow linearly to ``across`` (benign vs adversarial, every pair) and
    ``yardstick`` (seed against seed) at the last epoch; raw distances are ``raw_scale`` times
    the centred ones."""
    pairs = run_pairs(RUNS)
    growth = EPOCHS / EPOCHS[-1]
    centred = np.array([(yardstick if p.yardstick else across) * growth for p in pairs])
    return xr.Dataset(
        {
            "distance": (("pair", "epoch"), raw_scale * centred),
            "centered_distance": (("pair", "epoch"), centred),
        },
        coords={
            "pair": [p.name for p in pairs],
            "comparison": ("pair", [p.comparison for p in pairs]),
            "seeds": ("pair", [p.seeds for p in pairs]),
            "epoch": EPOCHS,
        },
    )


def evolution(to_final: list[float]) -> xr.Dataset:
    velocity = np.r_[np.nan, np.abs(np.diff(to_final)) / np.diff(EPOCHS)]
    return xr.Dataset(
        {"distance_to_final": ("epoch", np.asarray(to_final)), "velocity": ("epoch", velocity)},
        coords={"epoch": EPOCHS},
    )


def evaluation(
    cells: dict[str, float],
    benign_parent: float,
    transfer_gap: float,
    black_box_gap: float = 0.05,
    images: int = IMAGES,
) -> pd.DataFrame:
    """A tidy evaluation table of ``images`` test images: robust accuracy ``cells[code]`` of
    the fixed-kernel children of both seeds at the last spawn epoch (another spawn epoch and
    epsilon as decoys), transfer accuracy ``transfer_gap`` and black-box accuracy
    ``black_box_gap`` above it, and the phase-1 networks."""
    letters = {"C": "benign", "A": "adversarial"}
    rows = []

    def add(p1, seed, spawn, dynamics, p2, attack, epsilon, source, accuracy):
        correct = round(accuracy * images)
        rows.append(
            dict(
                phase1_regime=p1, seed=seed, spawn_epoch=spawn, dynamics=dynamics,
                phase2_regime=p2, attack=attack, epsilon=epsilon, source=source,
                accuracy=correct / images, correct=correct, n=images,
            )
        )  # fmt: skip

    for seed in (0, 1):
        add("benign", seed, np.nan, "standard", "none", "pgd_linf", EPSILON, "self", benign_parent)
        add("adversarial", seed, np.nan, "standard", "none", "pgd_linf", EPSILON, "self", 0.5)
        for dynamics in ("linearized", "centered", "standard"):
            for code, robust in cells.items():
                model = (letters[code[0]], seed, 8.0, dynamics, letters[code[1]])
                add(*model, "clean", 0.0, "self", 0.95)
                add(*model, "pgd_linf", EPSILON, "self", robust)
                add(*model, "pgd_linf", EPSILON, "parent", robust + transfer_gap)
                add(*model, "square_linf", EPSILON, "self", robust + black_box_gap)
                add(*model, "pgd_linf", 0.05, "self", 0.9)  # another epsilon
                add(*model[:2], 1.0, *model[3:], "pgd_linf", EPSILON, "self", 0.0)  # earlier spawn
    return pd.DataFrame(rows)


SHOWN = dict(CC=0.02, CA=0.4, AC=0.45, AA=0.55)


def table(
    pairs=None,
    evolutions=None,
    cells=SHOWN,
    benign_parent=0.03,
    transfer_gap=0.05,
    black_box_gap=0.05,
    images=IMAGES,
):
    pairs = pair_dataset(across=0.4, yardstick=0.1) if pairs is None else pairs
    if evolutions is None:
        evolutions = {run.name: evolution([1.0, 0.3, 0.05, 0.02, 0.0]) for run in RUNS}
    return findings.findings_table(
        pairs,
        evolutions,
        evaluation(cells, benign_parent, transfer_gap, black_box_gap, images),
        thresholds=THRESHOLDS,
        epochs=EPOCHS[-1],
        epsilon=EPSILON,
    )


def test_a_run_built_to_show_every_finding_shows_them():
    result = table()
    assert list(result.columns) == findings.COLUMNS
    assert findings.verdicts(result) == dict.fromkeys(findings.CLAIMS, "shown")


def test_f1_fails_when_adversarial_kernels_are_no_further_apart_than_seeds():
    result = table(pairs=pair_dataset(across=0.25, yardstick=0.1))  # 2.5x < 3x
    assert findings.verdicts(result)["F1"] == "not shown"
    ratios = result[result.measure == "distance / yardstick (centered)"]
    assert len(ratios) == 2  # the two pairs across seeds, not the same-seed ones
    np.testing.assert_allclose(ratios.value, 2.5)
    assert ratios.decisive.all() and set(ratios.outcome) == {"fails"}


def test_f1_uses_the_configured_distance_and_reports_the_other():
    pairs = pair_dataset(across=0.4, yardstick=0.1)
    pairs["distance"] = pairs.centered_distance * 0.01 + 0.001  # raw: no gap to speak of
    result = table(pairs=pairs)
    assert findings.verdicts(result)["F1"] == "shown"
    raw = result[result.measure == "distance / yardstick (raw)"]
    assert len(raw) == 2 and not raw.decisive.any() and raw.outcome.isna().all()
    assert (raw.value < 3).all()


def test_f1_first_epoch_above_the_yardstick():
    pairs = pair_dataset(across=0.4, yardstick=0.1)
    # A yardstick above the cross-seed distances up to epoch 2, then below.
    yard = pairs.comparison.isin(["benign vs benign", "adversarial vs adversarial"])
    pairs["centered_distance"] = xr.where(
        yard, xr.DataArray([0.0, 0.5, 0.5, 0.1, 0.1], dims="epoch"), pairs.centered_distance
    )
    result = table(pairs=pairs)
    row = result[result.measure == "stays above the yardsticks from epoch (centered)"]
    assert row.value.item() == 4.0


def test_f1_is_not_measured_with_one_seed():
    one_seed = pair_dataset(0.4, 0.1)
    one_seed = one_seed.where(one_seed.seeds == "same", drop=True)
    assert findings.verdicts(table(pairs=one_seed))["F1"] == "not measured"


def test_f2_fails_when_a_kernel_settles_late():
    late = {run.name: evolution([1.0, 0.3, 0.05, 0.02, 0.0]) for run in RUNS}
    late["adversarial-s1"] = evolution([1.0, 0.9, 0.5, 0.3, 0.0])  # settles only at the end
    result = table(evolutions=late)
    assert findings.verdicts(result)["F2"] == "not shown"
    settle = result[result.measure == "settling epoch"].set_index("subject").value
    assert settle["benign-s0"] == 2.0 and settle["adversarial-s1"] == 8.0


def test_f2_settling_needs_the_distance_to_stay_low():
    bounce = {run.name: evolution([1.0, 0.05, 0.5, 0.05, 0.0]) for run in RUNS}
    settle = table(evolutions=bounce).query("measure == 'settling epoch'").value
    assert (settle == 4.0).all()  # below 10 % at epoch 1, but not from there on


@pytest.mark.parametrize(
    ("cells", "benign_parent"),
    [
        (dict(SHOWN, CC=0.2), 0.03),  # a benign kernel that is robust
        (SHOWN, 0.3),  # a benign network that is robust
        (dict(SHOWN, AC=0.25), 0.03),  # too small a gain from the adversarial kernel
        (dict(SHOWN, AA=0.2), 0.03),
    ],
)
def test_f3_fails_on_each_of_its_conditions(cells, benign_parent):
    result = table(cells=cells, benign_parent=benign_parent)
    assert findings.verdicts(result)["F3"] == "not shown"


def test_f3_compares_cells_of_the_same_seed_and_dynamics():
    result = table()
    gains = result[result.measure == "AC - CC robust accuracy"]
    assert sorted(gains.subject) == [
        "centered, seed 0", "centered, seed 1", "linearized, seed 0", "linearized, seed 1"
    ]  # fmt: skip
    np.testing.assert_allclose(gains.value, SHOWN["AC"] - SHOWN["CC"])


def test_f4_fails_when_transfer_breaks_more_than_the_white_box_attack():
    result = table(transfer_gap=-0.1)
    assert findings.verdicts(result)["F4"] == "not shown"
    judged = result[(result.finding == "F4") & result.decisive.astype(bool)]
    assert {s.split(",")[0].split()[-1] for s in judged.subject} == {"AC", "AA"}


def test_f4_fails_when_the_black_box_attack_breaks_more_than_the_white_box_attack():
    result = table(black_box_gap=-0.1)
    assert findings.verdicts(result)["F4"] == "not shown"
    failing = result[(result.finding == "F4") & (result.outcome == "fails")]
    assert set(failing.measure) == {"black-box - white-box robust accuracy"}


def test_a_threshold_inside_the_interval_is_inconclusive():
    # CC at 0.09 of 100 test images: Wilson's interval (0.048, 0.162) holds the threshold 0.1;
    # with 10000 images (0.0846, 0.0958) lies below it.
    few = table(cells=dict(SHOWN, CC=0.09), images=100)
    cc = few[few.measure == "robust accuracy CC"]
    assert set(cc.outcome) == {"inconclusive"}
    np.testing.assert_allclose(cc[["low", "high"]].iloc[0], [0.04807, 0.16226], atol=1e-5)
    assert findings.verdicts(few)["F3"] == "inconclusive"
    many = table(cells=dict(SHOWN, CC=0.09))
    assert findings.verdicts(many)["F3"] == "shown"


def test_a_failing_row_outweighs_an_inconclusive_one():
    result = table(cells=dict(SHOWN, CC=0.09, AC=0.1), images=100)
    assert {"inconclusive", "fails"} <= set(result[result.finding == "F3"].outcome)
    assert findings.verdicts(result)["F3"] == "not shown"


def test_f3_reports_the_mean_and_spread_over_seeds():
    result = table()
    sd = result[result.measure == "robust accuracy AC, sd over seeds"]
    assert sorted(sd.subject) == ["centered, 2 seeds", "linearized, 2 seeds"]
    np.testing.assert_allclose(sd.value, 0.0)  # both seeds alike
    assert not sd.decisive.any()


def test_children_missing_means_not_measured():
    result = findings.findings_table(
        None,
        {},
        evaluation(SHOWN, 0.03, 0.05).query("spawn_epoch != spawn_epoch"),  # parents only
        thresholds=THRESHOLDS,
        epochs=8.0,
        epsilon=EPSILON,
    )
    assert findings.verdicts(result) == dict.fromkeys(findings.CLAIMS, "not measured")


def test_markdown_names_every_verdict():
    result = table(cells=dict(SHOWN, AC=0.1))
    page = findings.markdown(result, thresholds=THRESHOLDS, context=["a synthetic run"])
    assert "a synthetic run" in page
    assert "**F3**, the adversarial kernel gives robustness: **not shown**" in page
    assert "**F1**, adversarial training leads to a different kernel: **shown**" in page
    assert "F1 is judged on the centered kernel distance." in page


def test_the_overview_gives_each_findings_verdict_and_evidence_in_words():
    result = table(cells=dict(SHOWN, CC=0.09), images=100)
    overview = findings.overview(result)
    assert list(overview.finding) == list(findings.CLAIMS)
    assert dict(zip(overview.finding, overview.verdict, strict=True)) == findings.verdicts(result)
    f3 = overview.set_index("finding").evidence["F3"]
    assert "robust accuracy CC: 0.09 to 0.09 over 4 (threshold 0.1; 4 inconclusive)" in f3
    assert "AC - CC robust accuracy" in f3 and "4 hold" in f3

"""Every figure of the ``figures`` rule, drawn from the finished tiny run, keeps its text inside
the figure, apart and readable: no tick label, axis label, title, legend entry or figure title
is clipped by the figure's edge, overlaps another or is smaller than 7 pt, and no legend lies
over a panel.

The figures are drawn once, by the figures stage on the tiny run's results, through the one
exit every figure takes (``style.save``), which is wrapped to measure each figure as saved.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from pathlib import Path

import matplotlib.pyplot as plt
import pytest
import yaml
from matplotlib.backend_bases import RendererBase
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.transforms import Bbox

from ntk_evolution.configuration.experiment import Run
from ntk_evolution.figures import style
from ntk_evolution.stages.figures import draw_figures

from snakemake_run import ROOT

RULE = (ROOT / "workflow/rules/figures.smk").read_text()
OUTPUTS = dict(re.findall(r'(\w+)=figure\(\s*"([\w.]+)"', RULE))  # output name -> its file
FIGURES = [name for name, file in OUTPUTS.items() if file.endswith(".png")]
SLACK = 0.5  # pixels a text's box may cross an edge or another's box (rounding of extents)
SMALLEST = 7  # points: the smallest readable text at the saved resolution


def drawn_texts(fig: Figure) -> list[Text]:
    """The texts ``fig`` draws (visible, with visible parents, not blank), as drawn at the
    saved resolution."""
    texts: list[Text] = []
    original = Text.draw

    def record(text: Text, renderer: RendererBase) -> None:
        texts.append(text)
        original(text, renderer)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Text, "draw", record)
        fig.canvas.draw()
    return [t for t in dict.fromkeys(texts) if t.get_visible() and t.get_text().strip()]


def shrunk(box: Bbox) -> Bbox:
    """``box`` less :data:`SLACK` on every side."""
    return Bbox.from_extents(box.x0 + SLACK, box.y0 + SLACK, box.x1 - SLACK, box.y1 - SLACK)


def overlap(first: Bbox, second: Bbox) -> bool:
    """Whether two boxes share more than :data:`SLACK` on each axis."""
    a, b = shrunk(first), shrunk(second)
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def layout_problems(fig: Figure) -> Iterator[str]:
    """Every text of ``fig`` outside the figure, over another text or smaller than
    :data:`SMALLEST`, every legend over a visible panel."""
    fig.set_dpi(style.DPI)
    texts = drawn_texts(fig)
    renderer = fig.canvas.get_renderer()
    boxes = {text: text.get_window_extent(renderer) for text in texts}
    for text, box in boxes.items():
        if not _inside(box, fig.bbox):
            yield f"{text.get_text()!r} at {_pixels(box)} crosses the edge of {_pixels(fig.bbox)}"
        if text.get_fontsize() < SMALLEST:
            yield f"{text.get_text()!r} is {text.get_fontsize():g} pt, under {SMALLEST}"
    for (first, a), (second, b) in itertools.combinations(boxes.items(), 2):
        if overlap(a, b):
            yield f"{first.get_text()!r} at {_pixels(a)} overlaps {second.get_text()!r} at {_pixels(b)}"
    panels = [ax for ax in fig.axes if ax.get_visible() and ax.axison]
    legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend())]
    for legend, ax in itertools.product(legends, panels):
        if legend.get_visible() and overlap(legend.get_window_extent(renderer), ax.bbox):
            yield f"a legend ({legend.get_title().get_text()!r}) lies over {ax.get_title()!r}"


def _inside(box: Bbox, edge: Bbox) -> bool:
    """Whether ``box`` lies within ``edge``, but for :data:`SLACK`."""
    return (
        edge.x0 <= box.x0 + SLACK
        and box.x1 - SLACK <= edge.x1
        and edge.y0 <= box.y0 + SLACK
        and box.y1 - SLACK <= edge.y1
    )


def _pixels(box: Bbox) -> tuple[int, ...]:
    """``box``'s extents in whole pixels, for a message."""
    return tuple(round(v) for v in box.extents)


def tiny_inputs(results: Path) -> dict:
    """The keyword arguments of :func:`draw_figures` for the finished run in ``results``
    (``results/<scenario>``), every output but the figures' paths."""
    evolution = sorted(results.glob("statistics/*/seed*/evolution.zarr"))
    runs = [Run.from_path(path) for path in evolution]

    def each(layout: str) -> list[Path]:
        return [results / layout.format(run=run.path) for run in runs]

    config = yaml.safe_load((results / "scenario.yaml").read_text())["config"]
    pairs, infinite = results / "statistics/pair_distances.zarr", results / "machines/infinite.zarr"
    return {
        "runs": runs,
        "evolution": evolution,
        "spectra": each("statistics/{run}/spectrum.zarr"),
        "alignments": each("statistics/{run}/alignment.zarr"),
        "eigenspaces": each("statistics/{run}/eigenspace.zarr"),
        "attacked_statistics": each("statistics/{run}/attacked.zarr"),
        "histories": each("phase1/{run}/history.csv"),
        "pairs": pairs if pairs.exists() else None,
        "evaluation": results / "evaluation/accuracy.csv",
        "machines": each("machines/{run}/machines.zarr"),
        "features": each("machines/{run}/features.zarr"),
        "pictures": results / "machines/pictures.zarr",
        "infinite_machine": infinite if infinite.exists() else None,
        "headline": {name: a["epsilon"] for name, a in config["evaluation"]["attacks"].items()},
    }


@pytest.fixture(scope="module")
def problems(tiny_run, tmp_path_factory) -> dict[str, list[str]]:
    """Figure file -> its layout problems, every figure drawn once from the tiny run."""
    found: dict[str, list[str]] = {}
    save = style.save
    folder = tmp_path_factory.mktemp("figures")

    def measured(fig: Figure, path: str | Path) -> None:
        save(fig, path)
        FigureCanvasAgg(fig)  # closing the figure took its canvas
        found[Path(path).name] = list(layout_problems(fig))

    out = {name: folder / file for name, file in OUTPUTS.items()}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(style, "save", measured)
        draw_figures(**tiny_inputs(tiny_run / "results/tiny"), out=out)
    return found


def test_the_rule_names_the_figures():
    assert len(FIGURES) >= 16, FIGURES


@pytest.mark.parametrize("name", FIGURES)
def test_no_text_is_clipped_or_overlaps(problems, name):
    file = OUTPUTS[name]
    assert file in problems, f"{file} was not drawn"
    assert not problems[file], "\n".join(problems[file])


def test_the_check_finds_clipped_overlapping_and_small_text_and_a_legend_over_a_panel():
    fig, (left, right) = style.subplots(1, 2, figsize=(4, 2))
    left.plot([0, 1], [0, 1], label="a line")
    left.legend(loc="center")
    left.set_ylabel("a label far too long for the height of this little figure to hold")
    right.set_title("one title", fontsize=5)
    right.text(0.5, 0.5, "one text", transform=right.transAxes)
    right.text(0.5, 0.5, "another text", transform=right.transAxes)
    FigureCanvasAgg(fig)
    found = "\n".join(layout_problems(fig))
    plt.close(fig)
    assert "'a label far too long" in found and "crosses the edge" in found
    assert "'one text' at" in found and "overlaps 'another text'" in found
    assert "'one title' is 5 pt" in found
    assert "a legend ('') lies over ''" in found

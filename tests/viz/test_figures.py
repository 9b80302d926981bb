from __future__ import annotations

import numpy as np
import pytest

from edaformer.data.classes import default_palette
from edaformer.evaluation import denormalize, normalize
from edaformer.results import ResultRow
from edaformer.tools.timing import measure_latency
from edaformer.viz import attention_figure, prediction_figure, run_with_attention
from edaformer.viz.tradeoff import tradeoff_figure

from .conftest import NUM_CLASSES, random_image


@pytest.mark.slow
def test_attention_figure_layout(tiny_model):
    images = normalize(random_image(64, 96))
    runs = [run_with_attention(tiny_model, images, (40, 30), isr=s) for s in ("train", "paper")]
    fig = attention_figure(denormalize(images), (40, 30), runs, palette=default_palette(NUM_CLASSES))
    axes = fig.axes
    assert len(axes) == 2 * (1 + 7 + 2)
    assert axes[1].get_title() == "stage 1\ns=8, 2×3 keys"
    assert axes[11].get_title() == "stage 1\ns=16, 1×1 keys"


@pytest.mark.slow
def test_prediction_figure_and_latency(tiny_model):
    label = np.zeros((32, 48), np.uint8)
    label[:10] = 3
    fig = prediction_figure(random_image(32, 48), label, default_palette(NUM_CLASSES), title="t")
    assert len(fig.axes) == 3
    times = measure_latency(tiny_model, ["train", "paper"], (32, 32), repeats=2, warmup=1)
    assert set(times) == {"train", "paper"} and all(t > 0 for t in times.values())
    assert str(tiny_model.isr) == "8,4,2,1-1,2,4"
    rows = [
        dict(setting="train", isr="8,4,2,1-1,2,4", gflops=1.0, mIoU=0.5, latency_ms=times["train"]),
        dict(setting="paper", isr="16,8,2,1-2,4,8", gflops=0.8, mIoU=0.49, latency_ms=times["paper"]),
    ]
    fig = tradeoff_figure(rows_of(rows))
    assert len(fig.axes) == 2
    gflops_axis, latency_axis = fig.axes
    x, y = gflops_axis.lines[0].get_data()
    np.testing.assert_allclose(x, [1.0, 0.8])  # one point per setting at its GFLOPs ...
    np.testing.assert_allclose(y, [50.0, 49.0])  # ... and its mIoU in %
    np.testing.assert_allclose(latency_axis.lines[0].get_data()[0], [times["train"], times["paper"]])


def rows_of(dicts: list[dict]) -> list[ResultRow]:
    """Result rows as a result file would hold them."""
    return [ResultRow.from_dict(d) for d in dicts]


@pytest.mark.slow
def test_tradeoff_figure_of_a_search():
    """A search's plot: the line joins the Pareto front only, other settings are grey dots, the budget a line,
    the best setting a star; presets and the best are labelled, other front points are not."""
    rows = [
        dict(setting="train", isr="8,4,2,1-1,2,4", gflops=1.0, mIoU=0.50),
        dict(setting="paper", isr="16,8,2,1-2,4,8", gflops=0.8, mIoU=0.49),
        dict(setting="32,8,2,1-2,4,8", isr="32,8,2,1-2,4,8", gflops=0.7, mIoU=0.495),
        dict(setting="64,8,2,1-2,4,8", isr="64,8,2,1-2,4,8", gflops=0.6, mIoU=0.40),
    ]
    others = [dict(setting="x", isr="16,16,2,1-2,4,8", gflops=0.75, mIoU=None, search_score=0.45)]
    front = {"8,4,2,1-1,2,4", "32,8,2,1-2,4,8", "64,8,2,1-2,4,8"}
    fig = tradeoff_figure(
        rows_of(rows), front=front, others=rows_of(others), budget=0.85, best="32,8,2,1-2,4,8"
    )
    (ax,) = fig.axes
    x, y = ax.lines[0].get_data()
    np.testing.assert_allclose(x, [0.6, 0.7, 1.0])  # the front by cost; paper is off it
    np.testing.assert_allclose(y, [40.0, 49.5, 50.0])
    assert any(list(line.get_xdata()) == [0.85, 0.85] for line in ax.lines)  # the budget
    star = [line for line in ax.lines if line.get_marker() == "*"]
    assert [tuple(line.get_xydata()[0]) for line in star] == [(0.7, 49.5)]
    np.testing.assert_allclose(
        ax.collections[0].get_offsets(), [[0.75, 45.0]]
    )  # the other setting, search score
    labels = [t.get_text().split("\n")[0] for t in ax.texts]
    assert sorted(labels) == ["32,8,2,1-2,4,8", "paper", "train"]
    assert ax.get_xlim()[0] < 0.6 and ax.get_xlim()[1] > 1.0
    # a model trained at other ratios: its own setting is labelled and the changes refer to it
    own = [*rows, dict(setting="own", isr="16,8,2,1-1,2,4", gflops=0.9, mIoU=0.48)]
    (ax,) = tradeoff_figure(rows_of(own), front=front, base="16,8,2,1-1,2,4").axes
    texts = {t.get_text().split("\n")[0]: t.get_text() for t in ax.texts}
    assert texts["own"] == "own" and texts["train"] == "train\n+11% GFLOPs, +2.00 mIoU"
    # with latency: the GFLOPs front is joined on the GFLOPs panel only
    timed = [{**r, "latency_ms": 10 * r["gflops"]} for r in rows]
    gflops_axis, latency_axis = tradeoff_figure(rows_of(timed), front=front, budget=0.85).axes
    assert [line.get_label() for line in gflops_axis.lines].count("Pareto front") == 1
    assert [line.get_label() for line in latency_axis.lines].count("Pareto front") == 0

from __future__ import annotations

import numpy as np
import pytest

from edaformer.data.classes import default_palette
from edaformer.evaluation import denormalize, normalize
from edaformer.tools.benchmark import measure_latency
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
    fig = tradeoff_figure(rows)
    assert len(fig.axes) == 2
    gflops_axis, latency_axis = fig.axes
    x, y = gflops_axis.lines[0].get_data()
    np.testing.assert_allclose(x, [1.0, 0.8])  # one point per setting at its GFLOPs ...
    np.testing.assert_allclose(y, [50.0, 49.0])  # ... and its mIoU in %
    np.testing.assert_allclose(latency_axis.lines[0].get_data()[0], [times["train"], times["paper"]])

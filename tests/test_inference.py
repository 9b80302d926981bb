"""Inference modes and the metrics helper."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from edaformer.evaluation.images import normalize
from edaformer.evaluation.inference import (
    InferenceConfig,
    segment,
    segment_labels,
    segment_scores,
    slide_inference,
    whole_inference,
    window_grid,
)
from edaformer.evaluation.metrics import metrics_from_confusion
from edaformer.models import create_model


class PixelModel(nn.Module):
    """A per-pixel model (1x1 conv): sliding windows must reproduce the whole-image result exactly."""

    def __init__(self, k: int = 4) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, k, 1)
        self.calls: list[tuple[int, int]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls.append(tuple(x.shape[-2:]))
        return self.conv(x)


def original_images(*shape: int, seed: int = 0) -> torch.Tensor:
    """Random original RGB images ``uint8 [B, 3, H, W]``: what multi-scale/flip testing takes."""
    return torch.randint(0, 256, shape, dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


def normalized(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 ``[B, 3, H, W]`` (tensor) or one ``[H, W, 3]`` (array) → the normalised network input."""
    if isinstance(images, np.ndarray):
        return normalize(images)
    return torch.cat([normalize(image.permute(1, 2, 0).numpy()) for image in images])


def test_slide_equals_whole_for_a_per_pixel_model():
    model = PixelModel()
    images = torch.randn(2, 3, 100, 130)
    whole = whole_inference(model, images)
    model.calls.clear()
    slide = slide_inference(model, images, num_classes=4, crop_size=(64, 64), stride=(48, 48))
    torch.testing.assert_close(slide, whole)
    # MMSeg's grid: rows = (100 - 64 + 47) // 48 + 1 = 2, cols = (130 - 64 + 47) // 48 + 1 = 3
    assert len(model.calls) == 6 and set(model.calls) == {(64, 64)}


def test_slide_smaller_image_than_crop_is_one_window():
    model = PixelModel()
    slide_inference(model, torch.randn(1, 3, 40, 50), num_classes=4, crop_size=64, stride=48)
    assert model.calls == [(40, 50)]


def test_out_size_and_flip_tta():
    model = PixelModel()
    images = original_images(1, 3, 64, 64)
    logits = segment(model, normalized(images), 4, InferenceConfig(), out_size=(32, 48))
    assert logits.shape == (1, 4, 32, 48)
    probs = segment(model, images, 4, InferenceConfig(flip=True))
    torch.testing.assert_close(probs, model(normalized(images)).softmax(1))  # per-pixel: flip is exact
    ms = segment(model, images, 4, InferenceConfig(scales=(0.5, 1.0, 1.5), flip=True), out_size=(64, 64))
    assert ms.shape == (1, 4, 64, 64)
    torch.testing.assert_close(ms.sum(1), torch.ones(1, 64, 64))


@pytest.mark.parametrize(
    ("size", "test_scale", "scales", "expected"),
    [
        # ADE20K 512x683: the authors' ratios, each from the original image (448x608 at 0.875, not 448x616)
        pytest.param(
            (512, 683),
            (2048, 512),
            (0.75, 0.875, 1.0, 1.125, 1.25),
            [(384, 512), (448, 608), (512, 704), (576, 768), (640, 864)],
            marks=pytest.mark.slow,
        ),
        # Cityscapes 1024x2048 (slide windows of 1024 run on each scaled image)
        pytest.param(
            (1024, 2048), (2048, 1024), (0.5, 0.75), [(512, 1024), (768, 1536)], marks=pytest.mark.slow
        ),
        # no test scale: ratio r of the image itself, sides aligned to 32
        ((100, 130), None, (0.5, 1.0), [(64, 96), (128, 160)]),
    ],
)
def test_multi_scale_sizes_are_the_authors(size, test_scale, scales, expected):
    model = PixelModel()
    config = InferenceConfig(scales=scales, flip=True, test_scale=test_scale)
    images = original_images(1, 3, *size)
    probs = segment(model, images, 4, config)
    assert model.calls == [s for s in expected for _ in (0, 1)]  # each size twice: identity and flip
    assert probs.shape == (1, 4, *size)


def test_multi_scale_resizes_the_original_in_two_steps_as_the_authors():
    """Keep-ratio rescale of the uint8 image (512x683 → 448x598), then the aligned resize (→ 448x608), both OpenCV
    bilinear, then the normalisation."""
    seen: list[torch.Tensor] = []

    def model(x: torch.Tensor) -> torch.Tensor:
        seen.append(x)
        return x[:, :2]

    images = original_images(1, 3, 512, 683)
    with pytest.raises(TypeError, match="uint8"):
        segment(model, normalized(images), 2, InferenceConfig(scales=(0.875,)))
    segment(model, images, 2, InferenceConfig(scales=(0.875,), test_scale=(2048, 512)))
    step = cv2.resize(images[0].permute(1, 2, 0).numpy(), (598, 448), interpolation=cv2.INTER_LINEAR)
    expected = cv2.resize(step, (608, 448), interpolation=cv2.INTER_LINEAR)
    torch.testing.assert_close(seen[0], normalized(expected), rtol=0, atol=0)


def _interpolate(x: torch.Tensor, size) -> torch.Tensor:
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False)


def reference_scores(model, images, num_classes, config, out_size):
    """The straightforward dense computation every mode must reproduce (full-resolution tensors throughout);
    ``images`` are normalised, or the original uint8 images under TTA."""

    def single(x, target):
        if config.mode == "whole":
            return _interpolate(model(x), target)
        logits = x.new_zeros((x.shape[0], num_classes, *x.shape[-2:]))
        counts = x.new_zeros((1, 1, *x.shape[-2:]))
        for y1, y2, x1, x2 in window_grid(x.shape[-2:], config.crop_size, config.stride):
            logits[:, :, y1:y2, x1:x2] += model(x[:, :, y1:y2, x1:x2])
            counts[:, :, y1:y2, x1:x2] += 1
        return _interpolate(logits / counts, target)

    if not config.tta:
        return single(images, out_size)
    probs, passes = 0, 0
    for scale in config.scales:
        rescaled, aligned = config.scaled_sizes(images.shape[2], images.shape[3], scale)
        inputs = []
        for image in images.permute(0, 2, 3, 1).numpy():
            image = cv2.resize(image, rescaled[::-1], interpolation=cv2.INTER_LINEAR)
            inputs.append(normalized(cv2.resize(image, aligned[::-1], interpolation=cv2.INTER_LINEAR)))
        x = torch.cat(inputs)
        for flip in (False, True) if config.flip else (False,):
            logits = single(x.flip(-1) if flip else x, out_size)
            probs = probs + (logits.flip(-1) if flip else logits).softmax(1)
            passes += 1
    return probs / passes


@pytest.mark.slow
@pytest.mark.parametrize(
    ("classes", "config"),
    [
        (150, InferenceConfig()),
        (171, InferenceConfig(mode="slide", crop_size=(48, 64), stride=(32, 40))),
        (150, InferenceConfig(scales=(0.75, 1.25), flip=True)),
        (19, InferenceConfig(mode="slide", crop_size=64, stride=40, scales=(0.9, 1.1), flip=True)),
    ],
)
def test_labels_without_full_resolution_scores_match_the_dense_argmax(classes, config):
    torch.manual_seed(0)
    model = create_model("edaformer_mini", num_classes=classes).eval()
    images = original_images(1, 3, 67, 97)
    images = images if config.tta else normalized(images)
    for out_size in (None, (61, 103)):
        with torch.no_grad():
            expected = reference_scores(model, images, classes, config, out_size or images.shape[-2:])
        torch.testing.assert_close(
            segment(model, images, classes, config, out_size), expected, rtol=1e-5, atol=1e-5
        )
        labels = segment_labels(model, images, config, out_size)
        assert labels.shape == expected.argmax(1).shape and labels.dtype == torch.int64
        assert (labels == expected.argmax(1)).double().mean().item() >= 0.9999


def test_labels_of_a_model_without_low_resolution_output():
    model = PixelModel()
    images = original_images(2, 3, 50, 70)
    config = InferenceConfig(mode="slide", crop_size=32, stride=24, flip=True)
    expected = reference_scores(model, images, 4, config, (45, 77)).argmax(1)
    assert torch.equal(segment_labels(model, images, config, out_size=(45, 77)), expected)


def test_inference_config_validates():
    with pytest.raises(ValueError, match="whole"):
        InferenceConfig(mode="tiles")
    assert InferenceConfig(crop_size=1024, stride=[768, 768]).stride == (768, 768)


def test_metrics_from_confusion_matches_hand_computation():
    # rows = label, cols = prediction; class 2 never labelled but predicted once, class 3 absent entirely
    cm = torch.tensor([[8, 2, 0, 0], [1, 4, 1, 0], [0, 0, 0, 0], [0, 0, 0, 0]])
    m = metrics_from_confusion(cm, ["a", "b", "c", "d"])
    assert m.iou[0] == pytest.approx(8 / 11)
    assert m.iou[1] == pytest.approx(4 / 8)
    assert m.iou[2] == 0.0 and math.isnan(m.iou[3])
    assert m.miou == pytest.approx((8 / 11 + 0.5 + 0) / 3)
    assert m.acc[0] == pytest.approx(0.8) and m.acc[1] == pytest.approx(4 / 6) and math.isnan(m.acc[2])
    assert m.macc == pytest.approx((0.8 + 4 / 6) / 2)
    assert m.aacc == pytest.approx(12 / 16)
    table = m.table()
    assert "| a " in table and "72.73" in table and "mIoU 40.91" in table
    assert m.as_dict("val/")["val/IoU/b"] == pytest.approx(0.5)


def test_score_maps_report_a_non_finite_window_or_pass():
    def model(x: torch.Tensor) -> torch.Tensor:
        out = x[:, :2].clone()
        out[1:, :, 0, 0] = float("nan")  # the second image of every window / pass
        return out

    images = original_images(2, 3, 50, 70)
    for config in (
        InferenceConfig(),
        InferenceConfig(mode="slide", crop_size=32, stride=24),
        InferenceConfig(scales=(0.5, 1.0), flip=True),
    ):
        inputs = images if config.tta else normalized(images)
        assert segment_scores(model, inputs, config, out_size=(45, 77)).finite().tolist() == [True, False]

"""Our test-time input and inference against an independent transcription of the authors' evaluation
(``reference_mmseg_eval``): the same network inputs on many sizes and ratios, the same labels."""

from __future__ import annotations

import albumentations as A
import numpy as np
import pytest
import torch

from edaformer.data import ADE20KDataModule
from edaformer.data.io import DatasetError, read_image
from edaformer.data.transforms import AlignedResize, RandomRescale, aligned_rescale, build_pipeline
from edaformer.evaluation.inference import InferenceConfig, segment_labels, segment_scores
from edaformer.models import create_model

from . import reference_mmseg_eval as ref
from .conftest import compose_data

ADE_SCALE = (2048, 512)
ADE_RATIOS = (0.75, 0.875, 1.0, 1.125, 1.25)
CITY_RATIOS = (0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0)
# (height, width): ADE20K-like short sides 256-512 in landscape and portrait, a short side of exactly 512 (no
# keep-ratio change), odd sides, and panoramas whose long side bounds the rescale.
SIZES = [
    (512, 683), (480, 640), (427, 640), (300, 451), (256, 341), (375, 500), (383, 512), (512, 512), (683, 512),
    (640, 480), (500, 375), (341, 256), (451, 300), (333, 500), (289, 432), (437, 656), (511, 911), (257, 1029),
    (300, 2500), (2500, 300),
]  # fmt: skip


def pixels(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A smooth picture with noise (bilinear rounding shows on both), RGB ``uint8``."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([yy / height * 200, xx / width * 200, (yy + xx) % 97 * 2], -1)
    return np.clip(base + rng.normal(0, 25, (height, width, 3)), 0, 255).astype(np.uint8)


VAL_PIPELINE = build_pipeline(
    [AlignedResize(ADE_SCALE, 32), A.Normalize(mean=ref.MEAN, std=ref.STD, max_pixel_value=1.0)]
)


@pytest.mark.parametrize("size", SIZES)
def test_single_scale_input_is_the_authors(size):
    image = pixels(*size)
    ((expected, _),) = ref.pass_inputs(image, ADE_SCALE, (1.0,), flip=False)
    ours = torch.from_numpy(VAL_PIPELINE(image=image)["image"].transpose(2, 0, 1))[None]
    assert ours.shape == expected.shape
    torch.testing.assert_close(ours, expected, rtol=0, atol=1e-5)  # normalisation rounding only
    np.testing.assert_array_equal(
        aligned_rescale(image, ADE_SCALE), ref.pass_pixels(image, ADE_SCALE, 1.0, True)
    )


def test_one_direct_resize_would_differ():
    """The check above can fail: a single resize to the aligned size gives other pixels when the first step
    changes the size."""
    image = pixels(480, 640)
    import cv2

    direct = cv2.resize(image, (704, 512), interpolation=cv2.INTER_LINEAR)
    assert (direct != ref.pass_pixels(image, ADE_SCALE, 1.0, True)).mean() > 0.1


@pytest.mark.parametrize("size", SIZES[::3])
def test_multi_scale_flip_inputs_are_the_authors(size):
    image = pixels(*size, seed=1)
    seen: list[torch.Tensor] = []

    def network(x: torch.Tensor) -> torch.Tensor:
        seen.append(x)
        return x[:, :2, ::8, ::8]

    config = InferenceConfig(scales=ADE_RATIOS, flip=True, test_scale=ADE_SCALE)
    segment_scores(network, torch.from_numpy(image).permute(2, 0, 1)[None], config)
    expected = ref.pass_inputs(image, ADE_SCALE, ADE_RATIOS, flip=True)
    assert [tuple(x.shape) for x in seen] == [tuple(x.shape) for x, _ in expected]
    for ours, (theirs, _) in zip(seen, expected, strict=True):
        torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-5)


@pytest.mark.slow
def test_cityscapes_ratios_match_a_plain_keep_ratio_resize():
    """Cityscapes' test pipeline rescales without aligning; at 1024x2048 every ratio lands on multiples of 32."""
    image = pixels(1024, 2048, seed=2)
    config = InferenceConfig(scales=CITY_RATIOS, test_scale=(2048, 1024))
    for ratio in CITY_RATIOS:
        theirs = ref.pass_pixels(image, (2048, 1024), ratio, align=False)
        np.testing.assert_array_equal(config.rescale(image, ratio), theirs)


def test_random_rescale_is_mmseg_resize_at_the_drawn_ratio():
    image = pixels(300, 451)
    for ratio in (0.5, 0.73, 1.0, 1.61, 2.0):
        op = build_pipeline([RandomRescale((2048, 512), ratio_range=(ratio, ratio))])
        np.testing.assert_array_equal(
            op(image=image)["image"], ref.pass_pixels(image, (2048, 512), ratio, False)
        )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("size", "config"),
    [
        ((75, 101), InferenceConfig(test_scale=(256, 96))),
        ((101, 75), InferenceConfig(test_scale=(256, 96), scales=(0.75, 1.0, 1.25), flip=True)),
        ((40, 90), InferenceConfig(mode="slide", crop_size=64, stride=48, test_scale=(128, 64))),
        ((40, 90), InferenceConfig(mode="slide", crop_size=64, stride=48, test_scale=(128, 64), scales=(0.75, 1.5), flip=True)),
    ],
)  # fmt: skip
def test_labels_are_the_authors(size, config):
    """The labels of ``segment_labels`` (validation, eval, predict) equal the transcription's on a real network."""
    torch.manual_seed(0)
    model = create_model("edaformer_mini", num_classes=7).eval()
    image = pixels(*size, seed=3)
    slide = (config.crop_size, config.stride) if config.mode == "slide" else None
    kwargs = dict(ratios=config.scales, flip=config.flip, slide=slide)
    with torch.no_grad():
        if config.tta:
            images = torch.from_numpy(image).permute(2, 0, 1)[None]
        else:
            images = ref.pass_inputs(image, config.test_scale, (1.0,), flip=False)[0][0]
        expected = ref.probabilities(model, image, config.test_scale, **kwargs)
        ours = segment_scores(model, images, config, out_size=size).dense()
        labels = segment_labels(model, images, config, out_size=size)[0]
    scores = ours if config.tta else ours.softmax(1)
    torch.testing.assert_close(scores, expected, rtol=1e-4, atol=1e-5)
    assert (labels == expected.argmax(1)[0]).double().mean() >= 0.9999
    assert len(labels.unique()) > 1


@pytest.mark.slow
def test_validation_batches_are_the_authors_inputs(ade_root):
    """The ADE20K DataModule's val images: the authors' single-scale input, or under ``tta`` the original."""
    single = compose_data("ade20k", ade_root).dataset("val")
    tta = compose_data("ade20k", ade_root, "data.tta=true").dataset("val")
    for i in range(len(single)):
        image = read_image(single.pairs[i][0])
        ((expected, _),) = ref.pass_inputs(image, ADE_SCALE, (1.0,), flip=False)
        torch.testing.assert_close(single[i]["image"][None], expected, rtol=0, atol=1e-5)
        original = tta[i]["image"]
        assert original.dtype == torch.uint8
        np.testing.assert_array_equal(original.permute(1, 2, 0).numpy(), image)


def test_tta_refuses_a_normalisation_the_inference_does_not_apply(ade_root):
    other = A.Normalize(mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
    dm = ADE20KDataModule(root=ade_root, tta=True, val_pipeline=[AlignedResize(scale=(2048, 512)), other])
    with pytest.raises(DatasetError, match="val_pipeline"):
        dm.dataset("val")

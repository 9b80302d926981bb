"""The mmseg-style ops in edaformer.data.transforms, checked against hand-computed values."""

from __future__ import annotations

import random
from pathlib import Path

import albumentations as A
import numpy as np
import pytest

from edaformer.data.transforms import (
    AlignedResize,
    PhotoMetricDistortion,
    RandomCropCatMax,
    RandomRescale,
    aligned_rescale_sizes,
    build_pipeline,
    rescale_size,
)

CONF_DIR = Path(__file__).resolve().parents[2] / "conf"


def seeded(op, seed=0):
    op.set_random_state(np.random.default_rng(seed), random.Random(seed))
    return op


@pytest.mark.parametrize(
    ("hw", "scale", "expected"),
    [
        ((512, 683), (2048, 512), (512, 683)),  # typical ADE image: unchanged
        ((1024, 2048), (2048, 1024), (1024, 2048)),  # Cityscapes: unchanged
        ((256, 256), (2048, 512), (512, 512)),  # short side bound
        ((100, 1000), (2048, 512), (205, 2048)),  # long side bound: 2048/1000 = 2.048
        ((375, 500), (1024, 256), (256, 341)),  # 256/375 -> 341.33 rounds to 341
    ],
)
def test_rescale_size_follows_mmcv_rule(hw, scale, expected):
    assert rescale_size(*hw, scale) == expected


def test_random_rescale_size_and_nearest_mask():
    image = np.zeros((48, 64, 3), np.uint8)
    mask = np.random.default_rng(0).choice(np.array([3, 7, 255], np.uint8), (48, 64))
    out = seeded(RandomRescale(scale=(2048, 512), ratio_range=(0.5, 0.5)))(image=image, mask=mask)
    # bounds (1024, 256) -> factor min(1024/64, 256/48) = 5.333 -> 256 x 341
    assert out["image"].shape == (256, 341, 3)
    assert out["mask"].shape == (256, 341)
    assert set(np.unique(out["mask"])) <= {3, 7, 255}  # nearest neighbour: no new label values
    sizes = {
        seeded(RandomRescale((2048, 512), (0.5, 2.0)), s)(image=image)["image"].shape[0] for s in range(8)
    }
    assert len(sizes) > 4 and min(sizes) >= 256 and max(sizes) <= 1024


def test_aligned_resize_rounds_up_to_multiples_of_32():
    op = AlignedResize(scale=(2048, 512), size_divisor=32)
    assert op.output_size(512, 683) == (512, 704)
    assert op.output_size(1024, 2048) == (512, 1024)
    assert AlignedResize((2048, 1024)).output_size(1024, 2048) == (1024, 2048)
    assert op(image=np.zeros((50, 70, 3), np.uint8))["image"].shape == (512, 736, 3)


def test_cat_max_crop_redraws_until_no_class_dominates():
    mask = np.zeros((100, 100), np.uint8)
    mask[:, 90:] = 1  # only crops touching the right strip see two classes
    mask[:10, :] = 255  # ignored rows do not count
    op = seeded(RandomCropCatMax(20, 20, cat_max_ratio=0.75, max_tries=1000))
    for _ in range(20):
        out = op(image=np.zeros((100, 100, 3), np.uint8), mask=mask)
        counts = np.bincount(out["mask"].ravel(), minlength=256)[:2]
        assert out["mask"].shape == (20, 20)
        assert counts.max() / counts.sum() < 0.75
    # With the authors' 10 re-draws, most crops of this mask are still single-class.
    op = seeded(RandomCropCatMax(20, 20, cat_max_ratio=1.0))
    single = sum(
        len(np.unique(op(image=np.zeros((100, 100, 3), np.uint8), mask=mask)["mask"])) == 1 for _ in range(50)
    )
    assert single > 25


def test_cat_max_crop_of_small_image_keeps_it_whole():
    op = seeded(RandomCropCatMax(64, 64, cat_max_ratio=0.75))
    image = np.arange(30 * 40 * 3, dtype=np.uint8).reshape(30, 40, 3)
    out = op(image=image, mask=np.zeros((30, 40), np.uint8))
    assert out["image"].shape == (30, 40, 3)
    np.testing.assert_array_equal(out["image"], image)


def test_photometric_distortion_steps_match_mmseg_arithmetic():
    op = PhotoMetricDistortion()
    img = np.array([[[10, 100, 250], [0, 128, 255]]], np.uint8)
    np.testing.assert_array_equal(op.apply(img, beta=20.7), np.array([[[30, 120, 255], [20, 148, 255]]]))
    np.testing.assert_array_equal(op.apply(img, beta=-20.0), np.array([[[0, 80, 230], [0, 108, 235]]]))
    np.testing.assert_array_equal(op.apply(img, alpha=1.5), np.array([[[15, 150, 255], [0, 192, 255]]]))
    red = np.array([[[255, 0, 0]]], np.uint8)
    np.testing.assert_array_equal(op.apply(red, saturation=0.0), [[[255, 255, 255]]])  # no saturation: grey
    np.testing.assert_array_equal(op.apply(red, hue=60), [[[0, 255, 0]]])  # H 0 -> 60 (120 deg): green
    np.testing.assert_array_equal(op.apply(red, hue=90), [[[0, 255, 255]]])  # H 90 (180 deg): cyan
    np.testing.assert_array_equal(op.apply(red, hue=-60), [[[0, 0, 255]]])  # wraps: H -60 -> 120: blue
    assert op.apply(img) is img  # nothing drawn: unchanged


def test_photometric_distortion_draws_each_step_half_the_time():
    op = seeded(PhotoMetricDistortion())
    params = [op.get_params() for _ in range(2000)]
    for key in ("beta", "alpha", "saturation", "hue"):
        rate = np.mean([p[key] is not None for p in params])
        assert 0.45 < rate < 0.55, key
    betas = [p["beta"] for p in params if p["beta"] is not None]
    hues = [p["hue"] for p in params if p["hue"] is not None]
    assert -32 <= min(betas) < -30 and 30 < max(betas) <= 32
    assert min(hues) == -18 and max(hues) == 17  # NumPy randint(-18, 18): the upper end excluded
    assert 0.45 < np.mean([p["contrast_first"] for p in params]) < 0.55
    with pytest.raises(TypeError, match="before Normalize"):
        op.apply(np.zeros((4, 4, 3), np.float32), beta=1.0)


def test_build_pipeline_rejects_entries_that_are_not_transforms():
    with pytest.raises(TypeError, match=r"train_pipeline\[1\].*_target_"):
        build_pipeline([A.HorizontalFlip(), {"p": 0.5}], name="train_pipeline")
    assert isinstance(build_pipeline(None), A.Compose)


def test_ordered_starmap_keeps_order_in_processes_and_in_process():
    from edaformer.data.io import ordered_starmap

    jobs = [(b, 2) for b in range(20)]
    assert list(ordered_starmap(pow, jobs, nproc=2)) == [b * b for b in range(20)]
    assert list(ordered_starmap(pow, jobs, nproc=1)) == [b * b for b in range(20)]


@pytest.mark.parametrize(
    ("size", "ratio", "rescaled", "aligned"),
    [
        # ADE20K 512x683 at the authors' ratios (0.875 by rescaling the aligned 512x704 would give 448x616)
        ((512, 683), 0.75, (384, 512), (384, 512)),
        ((512, 683), 0.875, (448, 598), (448, 608)),
        ((512, 683), 1.0, (512, 683), (512, 704)),
        ((512, 683), 1.125, (576, 768), (576, 768)),
        ((512, 683), 1.25, (640, 854), (640, 864)),
        ((375, 500), 0.875, (448, 597), (448, 608)),  # small images are scaled up to the short bound
        ((375, 500), 1.25, (640, 853), (640, 864)),
        ((683, 512), 0.875, (598, 448), (608, 448)),  # portrait
        ((256, 2000), 1.0, (262, 2048), (288, 2048)),  # the long bound binds
        ((256, 2000), 0.5, (131, 1024), (160, 1024)),
    ],
)
def test_authors_multi_scale_sizes_ade20k(size, ratio, rescaled, aligned):
    assert aligned_rescale_sizes(*size, (2048, 512), 32, ratio) == (rescaled, aligned)


@pytest.mark.parametrize("ratio", [0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0])
def test_authors_multi_scale_sizes_cityscapes(ratio):
    side = (int(1024 * ratio), int(2048 * ratio))
    assert aligned_rescale_sizes(1024, 2048, (2048, 1024), 32, ratio) == (side, side)


def test_aligned_resize_is_the_ratio_one_geometry():
    op = AlignedResize((2048, 512))
    for h, w in [(512, 683), (375, 500), (256, 2000), (31, 33)]:
        assert op.output_size(h, w) == aligned_rescale_sizes(h, w, (2048, 512))[1]

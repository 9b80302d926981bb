"""Custom data that fits the user's images: the training rescale follows ``data.test_scale``, and
``edaformer-check-dataset`` suggests a crop and test scale from the image sizes it reads."""

from __future__ import annotations

import numpy as np
import pytest

from edaformer.data.check import check_datamodule, suggest_scales
from edaformer.data.transforms import RandomRescale


@pytest.fixture
def small_images(tmp_path, dh):
    """A custom dataset of 128x128 (and one 96x128) images, the default layout of conf/data/custom.yaml."""
    root = tmp_path / "tiles"
    rng = np.random.default_rng(0)
    for split, sizes in {"train": [(128, 128), (128, 128), (96, 128)], "val": [(128, 128)]}.items():
        for k, (h, w) in enumerate(sizes):
            dh.write_image(root / "images" / split / f"t{k}.jpg", dh.random_rgb(rng, h, w))
            dh.write_mask(
                root / "annotations" / split / f"t{k}.png", rng.integers(0, 2, (h, w)).astype(np.uint8)
            )
    return root


CLASSES = "data.class_names=[background,roof]"


def test_training_rescale_follows_test_scale(small_images, dh):
    default = dh.compose_data("custom", small_images, CLASSES)
    assert isinstance(default.train_pipeline[0], RandomRescale)
    assert tuple(default.train_pipeline[0].scale) == (2048, 512) == default.test_scale  # the ADE20K recipe
    dm = dh.compose_data(
        "custom", small_images, CLASSES, "data.test_scale=[128,128]", "data.crop_size=[128,128]"
    )
    assert tuple(dm.train_pipeline[0].scale) == (128, 128)  # one knob moves both
    sample = dm.dataset("train")[0]
    assert tuple(sample["image"].shape) == (3, 128, 128)
    # the rescale now stays within its ratio range (0.5–2) of the images' own size instead of ×4 of it
    rescale = dm.train_pipeline[0]
    sizes = [rescale.get_params_dependent_on_data({"shape": (128, 128, 3)}, {}) for _ in range(20)]
    assert all(64 <= p["new_height"] <= 256 for p in sizes), sizes
    big = default.train_pipeline[0]
    assert (
        min(big.get_params_dependent_on_data({"shape": (128, 128, 3)}, {})["new_height"] for _ in range(20))
        >= 256
    )


def test_check_dataset_suggests_crop_and_test_scale(small_images, dh, capsys):
    dm = dh.compose_data("custom", small_images, CLASSES)
    suggestion = suggest_scales(dm, check_datamodule(dm, progress=False))
    assert suggestion.typical_hw == (128, 128)
    assert suggestion.test_scale == (128, 128) and suggestion.crop_size == (128, 128)
    assert suggestion.current_factor == 4.0  # (2048, 512) on a 128x128 image
    assert dh.run_command("check_dataset", "data=custom", f"data.root={small_images}", CLASSES) == 0
    out = capsys.readouterr().out
    assert (
        "suggested for these images (median 128x128 HxW): data.test_scale=[128,128] data.crop_size=[128,128]; "
        "the current test_scale=[2048,512] resizes them x4 (the training rescale follows test_scale)"
    ) in out
    # once followed, the suggestion is just the sizes (no warning)
    assert (
        dh.run_command(
            "check_dataset", "data=custom", f"data.root={small_images}", CLASSES, "data.test_scale=[128,128]"
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "data.test_scale=[128,128] data.crop_size=[128,128]\n" in out and "resizes them" not in out

"""ADE20K DataModule on a tiny dataset in the official layout: remapping, sizes, padding, seeds, errors."""

from __future__ import annotations

import os

import lightning as L
import numpy as np
import pytest
import torch
from PIL import Image

from edaformer.data import ADE20KDataModule, DatasetError


def ade_expected(raw: np.ndarray) -> np.ndarray:
    """Reduce-zero-label by hand: 0 -> 255, k -> k-1, 255 stays."""
    out = raw.astype(np.int64) - 1
    out[raw == 0] = 255
    out[raw == 255] = 255
    return out


def test_attributes_and_val_batches_keep_labels_at_original_size(ade_root, dh):
    dm = dh.compose_data("ade20k", ade_root)
    assert isinstance(dm, ADE20KDataModule)
    assert dm.num_classes == 150 and len(dm.class_names) == 150 and len(dm.palette) == 150
    assert dm.class_names[:3] == ["wall", "building", "sky"] and dm.palette[0] == (120, 120, 120)
    assert dm.ignore_index == 255 and dm.test_scale == (2048, 512) and dm.crop_size == (512, 512)
    dm.setup("validate")
    batches = list(dm.val_dataloader())
    assert len(batches) == 2
    for batch, (h, w) in zip(batches, dh.ADE_SIZES["validation"]):
        img_h, img_w = dm.eval_input_size(h, w)
        assert batch["image"].shape == (1, 3, img_h, img_w) and batch["image"].dtype == torch.float32
        assert img_h % 32 == 0 and img_w % 32 == 0 and min(img_h, img_w) >= 512
        assert batch["mask"].shape == (1, h, w) and batch["mask"].dtype == torch.int64
        raw = np.asarray(
            Image.open(batch["path"][0].replace("images", "annotations").replace(".jpg", ".png"))
        )
        np.testing.assert_array_equal(batch["mask"][0].numpy(), ade_expected(raw))
    assert set(np.unique(batches[0]["mask"])) == {0, 1, 149, 255}
    assert batches[0]["path"][0].endswith("ADE_val_00000001.jpg")


@pytest.mark.slow
def test_train_batches_are_cropped_padded_and_normalised(ade_root, dh):
    # ratio 0.5: every image is rescaled to short side 256 (< 512), so the crop keeps it whole and pads.
    dm = dh.compose_data("ade20k", ade_root, "data.batch_size=3", "+data.ratio_range=[0.5,0.5]")
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    assert batch["image"].shape == (3, 3, 512, 512) and batch["image"].dtype == torch.float32
    assert batch["mask"].shape == (3, 512, 512) and batch["mask"].dtype == torch.int64
    for image, mask in zip(batch["image"], batch["mask"]):
        valid_rows = (mask != 255).any(dim=1).nonzero().max().item() + 1
        valid_cols = (mask != 255).any(dim=0).nonzero().max().item() + 1
        assert valid_rows <= 256 or valid_cols <= 256  # short side 256, the rest is padding
        pad = mask == 255
        pad[:valid_rows, :valid_cols] = False
        assert pad.sum() > 0 and (mask[pad] == 255).all()
        assert (image[:, pad] == 0).all()  # image padded with 0 after normalising
        assert set(mask.unique().tolist()) <= {0, 1, 149, 255}
        assert image[:, ~pad].abs().max() < 3.0 and image[:, ~pad].std() > 0.3  # normalised, not 0-255


def test_default_pipeline_crops_to_512(ade_root, dh):
    dm = dh.compose_data("ade20k", ade_root, "data.batch_size=2")
    batch = next(iter(dm.train_dataloader()))
    assert batch["image"].shape == (2, 3, 512, 512) and batch["mask"].shape == (2, 512, 512)


@pytest.mark.slow
def test_seeded_runs_repeat_and_epochs_differ(ade_root, dh):
    def first_two_epochs(seed, workers=0):
        L.seed_everything(seed, verbose=False)
        dm = dh.compose_data(
            "ade20k",
            ade_root,
            "data.batch_size=2",
            f"data.num_workers={workers}",
            "data.persistent_workers=false",
            "data.crop_size=[64,64]",
            "data.test_scale=[256,64]",
        )
        loader = dm.train_dataloader()
        return [next(iter(loader)) for _ in range(2)]

    a, b, c = first_two_epochs(0), first_two_epochs(0), first_two_epochs(1)
    for x, y in zip(a, b):
        assert torch.equal(x["image"], y["image"]) and torch.equal(x["mask"], y["mask"])
    assert not torch.equal(a[0]["image"], a[1]["image"])  # a new epoch draws new augmentations
    assert not torch.equal(a[0]["image"], c[0]["image"])
    w1, w2 = first_two_epochs(0, workers=1), first_two_epochs(0, workers=1)
    assert torch.equal(w1[0]["image"], w2[0]["image"]) and torch.equal(w1[1]["mask"], w2[1]["mask"])


@pytest.mark.slow
def test_a_resumed_loader_continues_its_epoch_with_the_same_augmentations(ade_root, dh):
    """Before: a resumed process re-seeded the augmentations as at the start (num_workers=0), and Lightning started
    the epoch again in a new order. Here the loader's state after a batch, handed to a new loader (another worker
    setting, other global RNG), gives the rest of the epoch: the same images, augmented the same way."""

    def loader(workers):
        settings = ["data.batch_size=1", f"data.num_workers={workers}", "data.persistent_workers=false"]
        settings += ["data.crop_size=[64,64]", "data.test_scale=[256,64]"]
        return dh.compose_data("ade20k", ade_root, *settings).train_dataloader()

    L.seed_everything(0, verbose=False)
    first = loader(0)
    batches = iter(first)
    next(batches)
    state = first.state_dict()
    rest = list(batches)
    assert state["batches"] == 1 and len(rest) == len(first) - 1 >= 2
    L.seed_everything(1, verbose=False)
    resumed = loader(1)
    resumed.load_state_dict(state)
    again = list(resumed)
    assert [b["path"] for b in again] == [b["path"] for b in rest]
    for x, y in zip(again, rest, strict=True):
        assert torch.equal(x["image"], y["image"]) and torch.equal(x["mask"], y["mask"])
    assert resumed.state_dict()["batches"] == len(first)


def test_root_may_be_the_ADEChallengeData2016_folder(ade_root, dh):
    dm = dh.compose_data("ade20k", ade_root / "ADEChallengeData2016")
    assert len(dm.dataset("train")) == 3 and len(dm.dataset("val")) == 2


# ---------------------------------------------------------------------------------------------- errors
def expect_error(dm, role, *fragments):
    with pytest.raises(DatasetError) as info:
        ds = dm.dataset(role)
        for i in range(len(ds)):
            ds[i]
    for fragment in fragments:
        assert fragment in str(info.value), str(info.value)
    return str(info.value)


def test_missing_root(tmp_path, dh):
    dm = dh.compose_data("ade20k", tmp_path / "nowhere")
    expect_error(dm, "train", str(tmp_path / "nowhere"), "does not exist", "ADEChallengeData2016")


def test_missing_split_folder(ade_root, dh):
    base = ade_root / "ADEChallengeData2016"
    os.rename(base / "annotations" / "validation", base / "annotations" / "val")
    expect_error(
        dh.compose_data("ade20k", ade_root), "val", str(base / "annotations" / "validation"), "does not exist"
    )


def test_image_without_mask_and_mask_without_image(ade_root, dh):
    base = ade_root / "ADEChallengeData2016"
    (base / "annotations/training/ADE_train_00000002.png").unlink()
    (base / "images/training/ADE_train_00000003.jpg").unlink()
    msg = expect_error(dh.compose_data("ade20k", ade_root), "train", "2 problem(s)")
    assert "ADE_train_00000002.jpg: image has no mask; expected" in msg
    assert str(base / "annotations/training/ADE_train_00000002.png") in msg
    assert "ADE_train_00000003.png: mask has no image" in msg


def test_corrupt_and_truncated_images(ade_root, dh):
    base = ade_root / "ADEChallengeData2016"
    path = base / "images/validation/ADE_val_00000001.jpg"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    expect_error(dh.compose_data("ade20k", ade_root), "val", "ADE_val_00000001.jpg", "cannot decode image")
    path.write_bytes(b"this is not a jpeg")
    expect_error(dh.compose_data("ade20k", ade_root), "val", "ADE_val_00000001.jpg", "cannot decode image")


def test_mask_size_mismatch(ade_root, dh):
    base = ade_root / "ADEChallengeData2016"
    dh.write_mask(base / "annotations/validation/ADE_val_00000002.png", np.ones((45, 44), np.uint8))
    expect_error(
        dh.compose_data("ade20k", ade_root), "val", "ADE_val_00000002.png", "45x44", "45x45", "same size"
    )


def test_invalid_mask_value(ade_root, dh):
    base = ade_root / "ADEChallengeData2016"
    mask = np.ones((45, 45), np.uint8)
    mask[0, :3] = 151
    dh.write_mask(base / "annotations/validation/ADE_val_00000002.png", mask)
    expect_error(dh.compose_data("ade20k", ade_root), "val", "ADE_val_00000002.png", "151 (3 px)", "1..150")


def test_colour_mask_is_rejected(ade_root, dh):
    base = ade_root / "ADEChallengeData2016"
    dh.write_image(base / "annotations/validation/ADE_val_00000002.png", np.zeros((45, 45, 3), np.uint8))
    expect_error(
        dh.compose_data("ade20k", ade_root), "val", "ADE_val_00000002.png", "mode RGB", "single-channel"
    )


def test_empty_split(ade_root, dh):
    base = ade_root / "ADEChallengeData2016"
    for sub in ("images", "annotations"):
        for f in (base / sub / "validation").iterdir():
            f.unlink()
    expect_error(dh.compose_data("ade20k", ade_root), "val", str(base / "images/validation"), "no images")


def test_too_few_images_for_a_batch(ade_root, dh):
    dm = dh.compose_data("ade20k", ade_root, "data.batch_size=4")
    with pytest.raises(DatasetError, match="3 image.*batch_size=4"):
        dm.train_dataloader()


def test_val_batch_of_different_sizes_explains_itself(ade_root, dh):
    dm = dh.compose_data("ade20k", ade_root, "data.val_batch_size=2")
    with pytest.raises(DatasetError, match="val_batch_size=1"):
        next(iter(dm.val_dataloader()))


def test_tta_val_images_keep_their_original_size(ade_root, dh):
    """Multi-scale testing resizes and normalises the original image per ratio, so the dataset yields it as is."""
    dm = dh.compose_data("ade20k", ade_root, "data.tta=true")
    assert dm.tta and len(dm.eval_pipeline()) == len(dm.val_pipeline) - 2
    dm.setup("validate")
    for batch, (h, w) in zip(dm.val_dataloader(), dh.ADE_SIZES["validation"]):
        assert batch["image"].shape == (1, 3, h, w) and batch["mask"].shape == (1, h, w)
        assert batch["image"].dtype == torch.uint8
        rgb = np.asarray(Image.open(batch["path"][0]).convert("RGB"))
        np.testing.assert_array_equal(batch["image"][0].permute(1, 2, 0).numpy(), rgb)
    assert dh.compose_data("ade20k", ade_root).tta is False  # off unless asked (eval.py tta=true)

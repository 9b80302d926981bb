"""ImageNet class folders and the custom folder-pair DataModule."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hydra.errors import InstantiationException
from omegaconf.errors import MissingMandatoryValue

from edaformer.data import CustomSegDataModule, DatasetError, ImageNetDataModule

WNIDS = ["n01443537", "n01440764"]  # written unsorted on purpose


@pytest.fixture
def imagenet_root(tmp_path, dh):
    root = tmp_path / "imagenet"
    rng = np.random.default_rng(3)
    for split, count in (("train", 3), ("val", 1)):
        for wnid in WNIDS:
            for i in range(count):
                name = (
                    f"{wnid}_{i + 1}.JPEG"
                    if split == "train"
                    else f"ILSVRC2012_val_0000000{WNIDS.index(wnid) + 1}.JPEG"
                )
                dh.write_image(root / split / wnid / name, dh.random_rgb(rng, 60 + 10 * i, 80))
    return root


def test_imagenet_batches_and_sorted_wnid_labels(imagenet_root, dh):
    args = ("data.expected_num_classes=null", "data.batch_size=6", "data.repeated_augmentation=1")
    dm = dh.compose_data("imagenet", imagenet_root, *args)
    assert isinstance(dm, ImageNetDataModule)
    assert dm.class_names == sorted(WNIDS) and dm.num_classes == 2
    batch = next(iter(dm.train_dataloader()))
    assert batch["image"].shape == (6, 3, 224, 224) and batch["image"].dtype == torch.float32
    assert batch["label"].dtype == torch.int64 and sorted(batch["label"].tolist()) == [0, 0, 0, 1, 1, 1]
    val = next(iter(dm.val_dataloader()))
    assert val["image"].shape == (2, 3, 224, 224) and val["label"].tolist() == [0, 1]  # n01440764 sorts first


def test_imagenet_class_count_and_folder_errors(imagenet_root, dh):
    dm = dh.compose_data("imagenet", imagenet_root)
    assert dm.num_classes == 1000  # known without scanning
    with pytest.raises(DatasetError, match=r"found 2 class folders, expected 1000"):
        dm.dataset("train")
    (imagenet_root / "val" / "n09999999").mkdir()
    (imagenet_root / "val" / "n09999999" / "x.JPEG").write_bytes(b"")
    (imagenet_root / "train" / "n01443537" / "n01443537_2.JPEG").write_bytes(b"garbage")
    dm = dh.compose_data("imagenet", imagenet_root, "data.expected_num_classes=null")
    with pytest.raises(DatasetError, match=r"n09999999: class folder not among the 2 training classes"):
        dm.dataset("val")
    ds = dm.dataset("train")
    bad = next(i for i, (p, _) in enumerate(ds.samples) if p.name == "n01443537_2.JPEG")
    with pytest.raises(DatasetError, match=r"n01443537_2\.JPEG: cannot decode image"):
        ds[bad]
    with pytest.raises(DatasetError, match="does not exist"):
        dh.compose_data("imagenet", imagenet_root / "missing", "data.expected_num_classes=null").dataset(
            "train"
        )


@pytest.fixture
def custom_root(tmp_path, dh):
    """Nested folders, palette PNG masks with raw 0 = unlabelled and 1..3 = classes, 255 marked as ignore."""
    root = tmp_path / "roofs"
    rng = np.random.default_rng(4)
    for split, names in {"train": ["siteA/t1", "siteB/t2"], "val": ["siteA/v1"]}.items():
        for name in names:
            dh.write_image(root / "img" / split / f"{name}.png", dh.random_rgb(rng, 36, 52))
            mask = rng.choice(np.array([0, 1, 2, 3, 255], np.uint8), (36, 52))
            dh.write_mask(root / "lbl" / split / f"{name}_mask.png", mask, palette=True)
    return root


def test_custom_folders_with_reduce_zero_label_and_palette_masks(custom_root, dh):
    dm = dh.compose_data(
        "custom",
        custom_root,
        "data.class_names=[roof,wall,tree]",
        "data.img_dir='img/{split}'",
        "data.mask_dir='lbl/{split}'",
        "data.img_suffix=.png",
        "data.mask_suffix=_mask.png",
        "data.reduce_zero_label=true",
        "data.crop_size=[32,32]",
        "data.test_scale=[128,64]",
        "data.batch_size=2",
    )
    assert isinstance(dm, CustomSegDataModule)
    assert dm.num_classes == 3 and len(dm.palette) == 3 and len(set(dm.palette)) == 3
    val = next(iter(dm.val_dataloader()))
    from PIL import Image

    raw = np.asarray(Image.open(custom_root / "lbl/val/siteA/v1_mask.png"))
    assert Image.open(custom_root / "lbl/val/siteA/v1_mask.png").mode == "P"
    expected = np.where((raw == 0) | (raw == 255), 255, raw.astype(np.int64) - 1)
    np.testing.assert_array_equal(val["mask"][0].numpy(), expected)
    assert val["image"].shape == (1, 3, 64, 96)
    train = next(iter(dm.train_dataloader()))
    assert train["image"].shape == (2, 3, 32, 32) and set(train["mask"].unique().tolist()) <= {0, 1, 2, 255}


def test_custom_ignore_value_and_validation(custom_root, dh):
    args = [
        "data.img_dir='img/{split}'",
        "data.mask_dir='lbl/{split}'",
        "data.img_suffix=.png",
        "data.mask_suffix=_mask.png",
    ]
    # Without reduce_zero_label, 4 classes 0..3 and 255 = ignore are valid.
    dm = dh.compose_data("custom", custom_root, "data.class_names=[bg,roof,wall,tree]", *args)
    assert dm.dataset("val")[0]["mask"].max() == 255
    # Three classes: raw 3 is invalid and named in the error.
    dm = dh.compose_data("custom", custom_root, "data.class_names=[bg,roof,wall]", *args)
    with pytest.raises(DatasetError, match=r"v1_mask\.png: invalid label values 3 .*class ids 0\.\.2 or 255"):
        dm.dataset("val")[0]
    # A mask folder with a different suffix pairs nothing: every image is reported.
    dm = dh.compose_data("custom", custom_root, "data.class_names=[a]", *args[:3], "data.mask_suffix=.png")
    with pytest.raises(DatasetError, match=r"t1\.png: image has no mask; expected .*lbl/train/siteA/t1\.png"):
        dm.dataset("train")


def test_custom_requires_class_names(custom_root, dh):
    with pytest.raises((MissingMandatoryValue, InstantiationException)):
        dh.compose_data("custom", custom_root)

"""Cityscapes and COCO-Stuff: the preparation commands and the DataModules reading their output."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from edaformer.data import (
    CityscapesDataModule,
    COCOStuffDataModule,
    DatasetError,
    coco_stuff_lut,
    load_classes,
)


def test_cityscapes_needs_prepare_script_then_reads_train_ids(cityscapes_root, dh):
    dm = dh.compose_data("cityscapes", cityscapes_root, "data.test_scale=[256,128]")
    assert isinstance(dm, CityscapesDataModule) and dm.num_classes == 19
    assert dm.class_names[13] == "car" and dm.palette[0] == (128, 64, 128)
    with pytest.raises(DatasetError, match=r"_gtFine_labelTrainIds\.png.*edaformer-prepare-cityscapes"):
        dm.dataset("val")

    prepare = ("prepare_cityscapes", f"data.root={cityscapes_root}", "nproc=1")
    assert dh.run_command(*prepare) == 0
    out = cityscapes_root / "gtFine/val/frankfurt/frankfurt_000000_000294_gtFine_labelTrainIds.png"
    ids = np.asarray(Image.open(out))
    h, w = 64, 128
    assert ids[2, 60] == 10  # sky
    assert ids[h // 4 + 3, 5] == 2  # building
    assert ids[h // 4 + 3, w - 5] == 255  # nothing drawn: unlabelled background
    assert ids[h // 2 + 9, 20] == 13  # car drawn over road
    assert ids[h // 2 + 20, 100] == 0  # road
    assert ids[h - 2, 50] == 255  # ego vehicle has trainId 255

    mtime = out.stat().st_mtime_ns
    assert dh.run_command(*prepare) == 0  # idempotent: up-to-date files kept
    assert out.stat().st_mtime_ns == mtime

    dm = dh.compose_data(
        "cityscapes",
        cityscapes_root,
        "data.test_scale=[256,128]",
        "data.crop_size=[96,96]",
        "data.batch_size=2",
    )
    batch = next(iter(dm.val_dataloader()))
    assert batch["image"].shape == (1, 3, 128, 256)  # 64x128 -> keep-ratio (256, 128) -> 128x256
    np.testing.assert_array_equal(batch["mask"][0].numpy(), ids)
    assert batch["path"][0].endswith("frankfurt_000000_000294_leftImg8bit.png")
    train = next(iter(dm.train_dataloader()))
    assert train["image"].shape == (2, 3, 96, 96) and train["mask"].shape == (2, 96, 96)
    assert set(train["mask"].unique().tolist()) <= {0, 2, 10, 13, 255}


def test_cityscapes_rejects_ids_outside_19_classes(cityscapes_root, dh):
    assert dh.run_command("prepare_cityscapes", f"data.root={cityscapes_root}", "nproc=1") == 0
    bad = cityscapes_root / "gtFine/val/frankfurt/frankfurt_000000_000294_gtFine_labelTrainIds.png"
    dh.write_mask(bad, np.full((64, 128), 19, np.uint8))
    ds = dh.compose_data("cityscapes", cityscapes_root).dataset("val")
    with pytest.raises(
        DatasetError, match=r"frankfurt_000000_000294_gtFine_labelTrainIds\.png.*19 \(8192 px\).*0\.\.18"
    ):
        ds[0]


def test_prepare_cityscapes_reports_broken_json(cityscapes_root, dh, capsys):
    (cityscapes_root / "gtFine/train/aachen/aachen_000001_000019_gtFine_polygons.json").write_text(
        "{not json"
    )
    assert dh.run_command("prepare_cityscapes", f"data.root={cityscapes_root}", "nproc=1") == 1
    assert "aachen_000001_000019_gtFine_polygons.json: cannot convert" in capsys.readouterr().err


# COCO-Stuff raw ids: things 0-90 (11 unused), stuff 91-181, 255 unlabelled.
RAW_TO_TRAIN = {0: 0, 10: 10, 11: 255, 12: 11, 25: 255, 26: 24, 90: 255, 91: 80, 92: 81, 181: 170, 255: 255}


@pytest.fixture
def coco_root(tmp_path, dh):
    root = tmp_path / "coco_stuff164k"
    rng = np.random.default_rng(2)
    raws = np.array(sorted(RAW_TO_TRAIN), np.uint8)
    for split, names in {"train2017": ["000000000009", "000000000025"], "val2017": ["000000000139"]}.items():
        for name in names:
            dh.write_image(root / "images" / split / f"{name}.jpg", dh.random_rgb(rng, 40, 60))
            dh.write_mask(root / "annotations" / split / f"{name}.png", rng.choice(raws, (40, 60)))
    return root


def test_coco_stuff_mapping_table():
    lut = coco_stuff_lut()
    for raw, train in RAW_TO_TRAIN.items():
        assert lut[raw] == train, raw
    assert (lut[182:] == 255).all() and len(set(lut.tolist()) - {255}) == 171
    names = load_classes("coco_stuff").names
    assert (
        names[lut[12]] == "stop sign"
        and names[lut[91]] == "banner"
        and names[lut[181]] == "wood"
        and names[lut[26]] == "backpack"
    )


def test_coco_stuff_prepare_then_load(coco_root, dh):
    dm = dh.compose_data(
        "coco_stuff",
        coco_root,
        "data.crop_size=[32,32]",
        "data.batch_size=2",
        "data.test_scale=[128,64]",
    )
    assert isinstance(dm, COCOStuffDataModule) and dm.num_classes == 171
    with pytest.raises(DatasetError, match="edaformer-prepare-coco-stuff"):
        dm.dataset("train")
    prepare = ("prepare_coco_stuff", f"data.root={coco_root}", "nproc=1")
    assert dh.run_command(*prepare) == 0
    raw = np.asarray(Image.open(coco_root / "annotations/val2017/000000000139.png"))
    out = coco_root / "annotations/val2017/000000000139_labelTrainIds.png"
    expected = np.vectorize(RAW_TO_TRAIN.get)(raw)
    np.testing.assert_array_equal(np.asarray(Image.open(out)), expected)
    mtime = out.stat().st_mtime_ns
    assert dh.run_command(*prepare) == 0 and out.stat().st_mtime_ns == mtime

    batch = next(iter(dm.val_dataloader()))
    assert batch["image"].shape == (1, 3, 64, 96)  # 40x60 -> short side 64 -> 64x96
    np.testing.assert_array_equal(batch["mask"][0].numpy(), expected)
    train = next(iter(dm.train_dataloader()))
    assert train["image"].shape == (2, 3, 32, 32) and train["mask"].dtype.is_floating_point is False


def test_prepare_coco_stuff_rejects_unknown_ids(coco_root, dh, capsys):
    dh.write_mask(coco_root / "annotations/val2017/000000000139.png", np.full((40, 60), 200, np.uint8))
    assert dh.run_command("prepare_coco_stuff", f"data.root={coco_root}", "nproc=1") == 1
    err = capsys.readouterr().err
    assert "000000000139.png: values [200] are not COCO-Stuff ids" in err
    assert not (coco_root / "annotations/val2017/000000000139_labelTrainIds.png").exists()


def test_prepare_commands_report_a_wrong_root_in_one_line(tmp_path, dh, capsys):
    assert dh.run_command("prepare_coco_stuff", f"data.root={tmp_path}", "splits=[val2017]") == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"error: {tmp_path}/annotations/val2017 does not exist; expected <data.root>/annotations/val2017/*.png "
        "(unpack stuffthingmaps_trainval2017.zip there)"
    ]
    assert dh.run_command("prepare_cityscapes", f"data.root={tmp_path}", "nproc=0") == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: nproc=0") and "\n" not in err

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from edaformer.viz import add_legend, colorize, legend_entries, overlay, palette_array, present_classes

PALETTE = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]


def test_colorize_maps_ids_and_paints_ignore_and_unknown_ids():
    label = np.array([[0, 1], [2, 255]], dtype=np.uint8)
    out = colorize(label, PALETTE)
    assert out.dtype == np.uint8 and out.shape == (2, 2, 3)
    assert out[0, 0].tolist() == [255, 0, 0] and out[1, 0].tolist() == [0, 0, 255]
    assert out[1, 1].tolist() == [0, 0, 0]
    assert colorize(np.array([[7]]), PALETTE, ignore_color=(9, 9, 9))[0, 0].tolist() == [9, 9, 9]


def test_colorize_rejects_bad_input():
    with pytest.raises(ValueError, match="integer"):
        colorize(np.zeros((2, 2), dtype=np.float32), PALETTE)
    with pytest.raises(ValueError, match=r"\[H, W\]"):
        colorize(np.zeros((2, 2, 1), dtype=np.uint8), PALETTE)
    with pytest.raises(ValueError, match="0..255"):
        palette_array([(300, 0, 0)])


def test_overlay_blends_labelled_pixels_and_keeps_ignored_ones():
    image = np.full((2, 2, 3), 100, dtype=np.uint8)
    label = np.array([[0, 255], [1, 2]], dtype=np.uint8)
    out = overlay(image, label, PALETTE, alpha=0.5)
    assert out[0, 0].tolist() == [178, 50, 50]  # 0.5·100 + 0.5·255 rounded
    assert out[0, 1].tolist() == [100, 100, 100]
    assert overlay(image, label, PALETTE, alpha=0.0).tolist() == image.tolist()
    with pytest.raises(ValueError, match="alpha"):
        overlay(image, label, PALETTE, alpha=1.5)
    with pytest.raises(ValueError, match="sizes differ"):
        overlay(image, label[:1], PALETTE)


def test_present_classes_sorted_by_area_without_ignore():
    label = np.array([[2, 2, 2, 0], [1, 255, 255, 255]], dtype=np.uint8)
    found = present_classes(label, num_classes=3)
    assert [k for k, _ in found] == [2, 0, 1]
    assert found[0][1] == pytest.approx(3 / 5)
    assert present_classes(np.full((2, 2), 255, np.uint8), 3) == []


def test_legend_panel_is_appended_and_lists_present_classes():
    label = np.zeros((120, 80), dtype=np.uint8)
    label[:30] = 2
    entries = legend_entries(label, ["wall", "sky", "tree"], PALETTE)
    assert [name.split(" (")[0] for name, _ in entries] == ["wall", "tree"]
    picture = add_legend(np.zeros((120, 80, 3), np.uint8), entries)
    assert picture.shape[0] == 120 and picture.shape[1] > 80
    assert (picture[:, 80:] == 255).any()  # white panel
    many = [(f"class {k}", (k, k, k)) for k in range(40)]
    assert (
        add_legend(np.zeros((60, 60, 3), np.uint8), many).shape[0] == 60
    )  # overflow summarised, height kept


def test_wandb_samples_colour_a_custom_dataset_as_predict(tmp_path):
    """The W&B samples of training take the DataModule's palette: a custom dataset gets the colours that
    edaformer-predict gives it (resolve_classes on the checkpoint's class names)."""
    import torch
    from lightning.pytorch.loggers import WandbLogger

    from edaformer.data import CustomSegDataModule
    from edaformer.evaluation import normalize, resolve_classes
    from edaformer.lit import LogSegmentationSamples

    names = ["background", "roof", "tree"]
    dm = CustomSegDataModule(tmp_path, class_names=names)
    trainer = SimpleNamespace(
        loggers=[WandbLogger(offline=True, save_dir=tmp_path)], sanity_checking=False, datamodule=dm
    )
    module = SimpleNamespace(hparams=SimpleNamespace(num_classes=3))
    rgb = np.random.default_rng(0).integers(0, 256, (8, 12, 3), dtype=np.uint8)
    mask, pred = torch.randint(0, 3, (1, 8, 12)), torch.randint(0, 3, (1, 8, 12))
    callback = LogSegmentationSamples(num_samples=1)
    callback.on_validation_epoch_start(trainer, module)
    callback.on_validation_batch_end(
        trainer, module, {"pred": pred}, {"image": normalize(rgb), "mask": mask}, 0
    )
    image, label_overlay, pred_overlay = callback._rows[0]
    palette = resolve_classes(3, class_names=names).palette  # what edaformer-predict colours with
    assert np.array_equal(image, rgb)
    assert np.array_equal(label_overlay, overlay(rgb, mask[0].numpy(), palette))
    assert np.array_equal(pred_overlay, overlay(rgb, pred[0].numpy(), palette))

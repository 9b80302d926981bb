"""One image reader for training, evaluation and prediction: a 16-bit, float or transparent image gives the same
pixels in a dataset as in ``edaformer-predict``, and ``edaformer-check-dataset`` says which formats it converts."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from edaformer.data.io import DatasetError, read_image
from edaformer.evaluation import load_image

CLASSES = "data.class_names=[background,roof]"


@pytest.fixture
def odd_images(tmp_path, dh):
    """A custom PNG dataset whose train images are 16-bit grey, grey + alpha and palette (one each)."""
    root = tmp_path / "odd"
    ramp = np.linspace(0, 65535, 64 * 64).reshape(64, 64).astype(np.uint16)
    la = np.zeros((64, 64, 2), np.uint8)
    la[..., 0], la[..., 1] = 90, 255
    la[:8, :, 1] = 0  # a transparent band: composited over white
    images = {
        "grey16": Image.fromarray(ramp),
        "grey_alpha": Image.fromarray(la, mode="LA"),
        "palette": Image.fromarray(np.full((64, 64), 3, np.uint8)).convert("P"),
    }
    for split in ("train", "val"):
        for name, img in images.items():
            (root / "images" / split).mkdir(parents=True, exist_ok=True)
            img.save(root / "images" / split / f"{name}.png")
            dh.write_mask(root / "annotations" / split / f"{name}.png", np.zeros((64, 64), np.uint8))
    return root


@pytest.mark.slow
def test_a_dataset_reads_pixels_as_prediction_does(odd_images, dh):
    dm = dh.compose_data("custom", odd_images, CLASSES, "data.img_suffix=.png")
    dataset = dm.dataset("val")
    for index, (image_path, _) in enumerate(dataset.pairs):
        image, _ = dataset.load(index)
        assert np.array_equal(image, load_image(image_path)), image_path.name
    grey16 = read_image(odd_images / "images" / "val" / "grey16.png")
    assert grey16[0, 0].tolist() == [0, 0, 0] and grey16[-1, -1].tolist() == [255, 255, 255]
    assert 120 <= grey16[32, 0, 0] <= 135  # mid-range stays mid-grey: scaled by 1/257, not clipped at 255
    grey_alpha = read_image(odd_images / "images" / "val" / "grey_alpha.png")
    assert grey_alpha[0, 0].tolist() == [255, 255, 255] and grey_alpha[-1, -1].tolist() == [90, 90, 90]


def test_float_images_out_of_range_are_refused_by_every_reader(tmp_path):
    Image.fromarray(np.full((4, 4), 0.5, np.float32)).save(tmp_path / "half.tif")
    Image.fromarray(np.full((4, 4), -3.0, np.float32)).save(tmp_path / "negative.tif")
    assert (
        read_image(tmp_path / "half.tif")[0, 0].tolist()
        == [128, 128, 128]
        == load_image(tmp_path / "half.tif")[0, 0].tolist()
    )
    with pytest.raises(DatasetError, match="negative.tif"):
        read_image(tmp_path / "negative.tif")


@pytest.mark.slow
def test_check_dataset_reports_the_modes_it_converts(odd_images, dh, capsys):
    status = dh.run_command(
        "check_dataset", "data=custom", f"data.root={odd_images}", CLASSES, "data.img_suffix=.png"
    )
    out = capsys.readouterr().out
    assert status == 0
    modes_line = next(line for line in out.splitlines() if "image modes:" in line)
    assert all(mode in modes_line for mode in ("LA 1", "P 1")), modes_line
    assert any(line.strip().startswith(("I;16 (1 images)", "I (1 images)")) for line in out.splitlines()), out

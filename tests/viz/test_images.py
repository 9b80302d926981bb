from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from edaformer.evaluation import ImageInputError, denormalize, find_images, load_image, normalize


def test_exif_orientation_is_applied(tmp_path):
    pixels = np.zeros((20, 40, 3), np.uint8)
    pixels[:, :10] = 255  # white band on the left as stored
    img = Image.fromarray(pixels)
    exif = img.getexif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    img.save(tmp_path / "phone.jpg", exif=exif.tobytes(), quality=100)
    shown = load_image(tmp_path / "phone.jpg")
    assert shown.shape == (40, 20, 3)
    assert shown[:10].mean() > 200 and shown[-10:].mean() < 50  # the band is now on top


def test_grey_palette_16bit_and_alpha_inputs_become_rgb(tmp_path):
    Image.fromarray(np.full((5, 6), 7, np.uint8)).save(tmp_path / "grey.png")
    Image.fromarray(np.full((5, 6), 65535, np.uint16)).save(tmp_path / "grey16.png")
    rgba = np.zeros((5, 6, 4), np.uint8)
    rgba[..., 0] = 200  # red but fully transparent
    Image.fromarray(rgba).save(tmp_path / "clear.png")
    Image.fromarray(np.zeros((5, 6), np.uint8)).convert("P").save(tmp_path / "pal.png")
    assert load_image(tmp_path / "grey.png")[0, 0].tolist() == [7, 7, 7]
    assert load_image(tmp_path / "grey16.png")[0, 0].tolist() == [255, 255, 255]
    assert load_image(tmp_path / "clear.png")[0, 0].tolist() == [255, 255, 255]
    assert load_image(tmp_path / "clear.png", background=(0, 0, 0))[0, 0].tolist() == [0, 0, 0]
    assert load_image(tmp_path / "pal.png").shape == (5, 6, 3)


def test_unusable_inputs_raise_clear_errors(tmp_path):
    (tmp_path / "text.png").write_text("hello")
    with pytest.raises(ImageInputError, match="text.png"):
        load_image(tmp_path / "text.png")
    with pytest.raises(FileNotFoundError, match="missing.jpg"):
        load_image(tmp_path / "missing.jpg")
    Image.fromarray(np.full((4, 4), -3.0, np.float32)).save(tmp_path / "float.tif")
    with pytest.raises(ImageInputError, match="mode F"):
        load_image(tmp_path / "float.tif")


def test_find_images_file_folder_glob(image_dir):
    found = find_images(image_dir)
    assert [p.name for p in found] == ["a.jpg", "broken.png", "b.png"]
    assert find_images(str(image_dir / "**" / "*.png")) == [
        image_dir / "broken.png",
        image_dir / "sub" / "b.png",
    ]
    assert find_images([image_dir / "a.jpg", image_dir / "a.jpg"]) == [image_dir / "a.jpg"]
    with pytest.raises(FileNotFoundError, match="no such file"):
        find_images(image_dir / "nope")
    with pytest.raises(FileNotFoundError, match="matches no files"):
        find_images(str(image_dir / "*.bmp"))


def test_normalize_round_trip():
    image = np.random.default_rng(0).integers(0, 256, (9, 11, 3), dtype=np.uint8)
    x = normalize(image)
    assert x.shape == (1, 3, 9, 11)
    assert np.array_equal(denormalize(x), image)

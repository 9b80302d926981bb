"""Reading user images for prediction, and turning them into network inputs and back.

Prediction reads images with the datasets' reader (:func:`edaformer.data.io.read_image`), so a 16-bit, float,
palette or CMYK image gives the same pixels in training, evaluation and prediction. Unlike a dataset (whose pixels
must stay aligned with label files), prediction honours the EXIF orientation tag: a phone photo is segmented the
way it is displayed.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from ..data.io import MAX_IMAGE_PIXELS, WHITE, ImageInputError, read_image, to_rgb
from ..data.transforms import IMAGENET_MEAN, IMAGENET_STD

__all__ = [
    "IMAGE_SUFFIXES",
    "MAX_IMAGE_PIXELS",
    "ImageInputError",
    "denormalize",
    "find_images",
    "load_image",
    "normalize",
    "to_rgb",
]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".ppm", ".pgm")


def load_image(
    path: str | os.PathLike,
    background: Sequence[int] = WHITE,
    max_pixels: int | None = MAX_IMAGE_PIXELS,
) -> np.ndarray:
    """Read an image as displayed (EXIF orientation applied) → RGB ``uint8 [H, W, 3]``, with the datasets' reader
    (:func:`edaformer.data.io.read_image`: the same pixel format conversions and size limit).

    Raises:
        FileNotFoundError: no such file.
        ImageInputError: not an image, truncated, too large, or an unsupported pixel format.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: image file not found")
    return read_image(path, exif_orientation=True, background=background, max_pixels=max_pixels)


def find_images(inputs: str | os.PathLike | Sequence[str | os.PathLike]) -> list[Path]:
    """Expand a file, a folder (recursively, image suffixes only, sorted) or a glob pattern into image paths.

    A list mixes any of those. Raises ``FileNotFoundError`` naming the input that matched nothing.
    """
    if isinstance(inputs, str | os.PathLike):
        inputs = [inputs]
    found: list[Path] = []
    for item in inputs:
        text = os.path.expanduser(os.fspath(item))
        path = Path(text)
        if path.is_file():
            found.append(path)
        elif path.is_dir():
            files = sorted(
                p
                for p in path.rglob("*")
                if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
            )
            if not files:
                raise FileNotFoundError(f"{path}: folder holds no images ({', '.join(IMAGE_SUFFIXES)})")
            found.extend(files)
        elif glob.has_magic(text):
            files = sorted(Path(p) for p in glob.glob(text, recursive=True) if os.path.isfile(p))
            if not files:
                raise FileNotFoundError(f"{text}: pattern matches no files")
            found.extend(files)
        else:
            raise FileNotFoundError(f"{text}: no such file or folder")
    return list(dict.fromkeys(found))  # drop duplicates, keep order


def normalize(image: np.ndarray) -> torch.Tensor:
    """RGB ``uint8 [H, W, 3]`` → network input ``float32 [1, 3, H, W]`` (ImageNet mean/std on 0–255)."""
    x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float()  # (3, H, W)
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    return ((x - mean) / std).unsqueeze(0)


def denormalize(images: torch.Tensor) -> np.ndarray:
    """Network input ``[3, H, W]`` or ``[1, 3, H, W]`` → RGB ``uint8 [H, W, 3]`` (for display)."""
    x = images[0] if images.ndim == 4 else images
    mean = torch.tensor(IMAGENET_MEAN, device=x.device).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=x.device).view(3, 1, 1)
    x = (x.detach().float() * std + mean).clamp(0, 255).round().byte()
    return x.permute(1, 2, 0).cpu().numpy()

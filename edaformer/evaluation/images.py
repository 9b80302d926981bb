"""Reading user images for prediction, and turning them into network inputs and back.

Unlike the dataset reader (``edaformer.data.io.read_image``, which must keep pixels aligned with label files),
prediction honours the EXIF orientation tag: a phone photo is segmented the way it is displayed.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from ..data.transforms import IMAGENET_MEAN, IMAGENET_STD

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".ppm", ".pgm")
MAX_IMAGE_PIXELS = 2 * 89_478_485
"""Default pixel limit of :func:`load_image`: Pillow's own decompression-bomb limit (about 13400 x 13400)."""


class ImageInputError(ValueError):
    """An input image cannot be segmented (unreadable, too large, or a pixel format with no sensible RGB reading).
    Commands skip and list it, or report it as one line with exit status 2 (``exit_status``)."""

    exit_status = 2


def _high_bit_depth_to_uint8(values: np.ndarray, path: str | os.PathLike, mode: str) -> np.ndarray:
    """Grey images stored as 16/32-bit integers or floats → ``uint8``, keeping relative brightness."""
    values = values.astype(np.float64)
    if not np.isfinite(values).all():
        raise ImageInputError(f"{path}: image mode {mode} holds NaN or infinite values")
    lo, hi = float(values.min()), float(values.max())
    if mode == "F" and lo >= 0.0 and hi <= 1.0:
        scaled = values * 255.0  # float image in [0, 1]
    elif lo >= 0 and hi <= 255 and mode == "F":
        scaled = values
    elif lo >= 0 and hi <= 65535:
        scaled = values / 257.0  # 16-bit range: 65535 → 255
    else:
        raise ImageInputError(
            f"{path}: image mode {mode} with values {lo:g}..{hi:g} has no standard brightness range; "
            "convert it to 8- or 16-bit first"
        )
    return np.clip(np.round(scaled), 0, 255).astype(np.uint8)


def to_rgb(
    img: Image.Image, path: str | os.PathLike = "<image>", background: Sequence[int] = (255, 255, 255)
):
    """Convert any PIL image to an RGB ``uint8 [H, W, 3]`` array.

    - grey (``L``, ``1``), palette (``P``), ``CMYK``, ``YCbCr``, ``LAB``, ``HSV`` → converted by Pillow;
    - with transparency (``RGBA``, ``LA``, ``PA``, palette with a transparent colour) → composited over
      ``background`` (white by default), so transparent pixels do not reveal hidden colours;
    - 16-bit grey (``I;16*``, ``I``) → scaled by 1/257; float (``F``) in [0, 1] → ×255. Values outside those
      ranges are refused with :class:`ImageInputError`.
    """
    mode = img.mode
    if mode in ("I", "F") or mode.startswith("I;16"):
        grey = _high_bit_depth_to_uint8(np.asarray(img), path, mode)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if mode == "P" and "transparency" in img.info:
        img, mode = img.convert("RGBA"), "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        base = Image.new("RGBA", rgba.size, (*(int(c) for c in background), 255))
        return np.asarray(Image.alpha_composite(base, rgba).convert("RGB"))
    try:
        return np.asarray(img if mode == "RGB" else img.convert("RGB"))
    except ValueError as err:
        raise ImageInputError(f"{path}: cannot convert image mode {mode} to RGB ({err})") from None


@contextmanager
def _no_pillow_pixel_limit() -> Iterator[None]:
    """Pillow refuses big images in ``Image.open`` without naming the file; :func:`load_image` checks instead."""
    saved, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def load_image(
    path: str | os.PathLike,
    background: Sequence[int] = (255, 255, 255),
    max_pixels: int | None = MAX_IMAGE_PIXELS,
) -> np.ndarray:
    """Read an image as displayed (EXIF orientation applied) → RGB ``uint8 [H, W, 3]``.

    Multi-frame files (GIF, TIFF stacks) use their first frame. See :func:`to_rgb` for pixel formats. Images of
    more than ``max_pixels`` pixels (``None``: no limit) are refused from their header, before decoding: a small
    compressed file can decode to gigabytes (a "decompression bomb").

    Raises:
        FileNotFoundError: no such file.
        ImageInputError: not an image, truncated, too large, or an unsupported pixel format.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: image file not found")
    try:
        with _no_pillow_pixel_limit(), Image.open(path) as img:
            if max_pixels is not None and img.width * img.height > max_pixels:
                raise ImageInputError(
                    f"{path}: {img.width}x{img.height} is {img.width * img.height / 1e6:.0f} Mpx, above the limit of "
                    f"{max_pixels / 1e6:.0f} Mpx (a guard against decompression bombs); raise it on purpose with "
                    f"max_image_pixels={img.width * img.height}"
                )
            img.load()
            img = ImageOps.exif_transpose(img)
            return to_rgb(img, path, background)
    except UnidentifiedImageError:
        raise ImageInputError(f"{path}: not an image file Pillow can read") from None
    except (OSError, SyntaxError) as err:
        raise ImageInputError(f"{path}: cannot decode image ({err})") from None


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

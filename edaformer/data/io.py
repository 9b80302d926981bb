"""Reading, pairing and validating dataset files; every problem raises :class:`DatasetError`.

Messages always name the offending file and say what was expected, so a user can fix the data instead of
reading a stack trace. Functions that scan whole splits return their problems as lists, which lets
``edaformer-check-dataset`` report all of them while the datasets raise on the first batch of problems.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing import Pool
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

T = TypeVar("T")

__all__ = [
    "CONVERSIONS",
    "IGNORE_INDEX",
    "MAX_IMAGE_PIXELS",
    "DatasetError",
    "ImageInputError",
    "LabelMap",
    "conversion_of",
    "find_files",
    "format_problems",
    "image_mode",
    "pair_files",
    "read_image",
    "read_mask",
    "require_dir",
    "to_rgb",
]

IGNORE_INDEX = 255
"""The one ignore label inside the package: every loader maps its dataset's "unlabelled" value to 255."""

_MAX_LISTED = 20


class DatasetError(ValueError):
    """A dataset on disk is not what the loader expects (missing, unpaired, unreadable or invalid files).

    Commands report it as one line ``error: ...`` naming the file, with exit status 2 (``exit_status``), also when
    it is raised in a DataLoader worker."""

    exit_status = 2


def format_problems(header: str, problems: Sequence[str], limit: int = _MAX_LISTED) -> str:
    """``header`` followed by one indented line per problem, at most ``limit`` of them."""
    lines = [header] + [f"  - {p}" for p in problems[:limit]]
    if len(problems) > limit:
        lines.append(
            f"  ... and {len(problems) - limit} more (run edaformer-check-dataset for the full list)"
        )
    return "\n".join(lines)


def require_dir(path: Path, what: str, expected: str) -> Path:
    """Return ``path`` if it is a directory, else raise naming ``what`` it should be and the layout."""
    if not path.is_dir():
        state = "is not a directory" if path.exists() else "does not exist"
        raise DatasetError(f"{what} {path} {state}; expected {expected}")
    return path


class ImageInputError(DatasetError):
    """An image cannot be read as RGB (missing, not an image, truncated, too large, or a pixel format with no
    sensible RGB reading). A dataset reports it like any broken file; prediction skips and lists the image."""


MAX_IMAGE_PIXELS = 2 * 89_478_485
"""Default pixel limit of :func:`read_image`: Pillow's own decompression-bomb limit (about 13400 x 13400)."""

WHITE = (255, 255, 255)

# Source pixel format -> how :func:`read_image` turns it into RGB uint8 (what ``edaformer-check-dataset`` reports);
# RGB itself is read as is. Modes not listed are converted by Pillow.
CONVERSIONS = {
    "1": "black and white -> RGB",
    "L": "grey -> RGB",
    "P": "palette -> RGB (a transparent colour composited over white)",
    "RGBA": "alpha composited over white",
    "RGBa": "alpha composited over white",
    "LA": "grey + alpha composited over white",
    "La": "grey + alpha composited over white",
    "PA": "palette + alpha composited over white",
    "CMYK": "CMYK -> RGB",
    "YCbCr": "YCbCr -> RGB",
    "LAB": "Lab -> RGB",
    "HSV": "HSV -> RGB",
    "I": "32-bit grey: 0..65535 scaled by 1/257, other ranges refused",
    "I;16": "16-bit grey scaled by 1/257",
    "I;16B": "16-bit grey scaled by 1/257",
    "I;16L": "16-bit grey scaled by 1/257",
    "I;16N": "16-bit grey scaled by 1/257",
    "F": "float grey: [0, 1] x255, [0, 255] as is, 0..65535 by 1/257, other ranges refused",
}


def conversion_of(mode: str) -> str | None:
    """How :func:`read_image` converts an image of Pillow ``mode`` to RGB ``uint8``; ``None`` for RGB."""
    if mode == "RGB":
        return None
    return CONVERSIONS.get(mode, f"{mode} -> RGB (Pillow)")


def image_mode(path: str | os.PathLike) -> str:
    """The Pillow mode of an image file, read from its header (no decoding)."""
    try:
        with _no_pillow_pixel_limit(), Image.open(path) as img:
            return img.mode
    except FileNotFoundError:
        raise ImageInputError(f"{path}: image file not found") from None
    except (OSError, SyntaxError, ValueError) as err:
        raise ImageInputError(f"{path}: cannot decode image ({err})") from None


def read_image(
    path: str | os.PathLike,
    *,
    exif_orientation: bool = False,
    background: Sequence[int] = WHITE,
    max_pixels: int | None = MAX_IMAGE_PIXELS,
) -> np.ndarray:
    """Decode an image file to RGB ``uint8 [H, W, 3]``: the one image reader of training, evaluation and prediction.

    Every pixel format is converted as :data:`CONVERSIONS` says: 16-bit and float grey images are scaled to 8 bits
    (never clipped), transparency is composited over ``background``. Multi-frame files (GIF, TIFF stacks) give their
    first frame. Datasets keep the stored pixel order (``exif_orientation=False``: labels stay aligned);
    prediction shows a photo as displayed (``True``: the EXIF orientation tag applied). An image of more than
    ``max_pixels`` pixels (``None``: no limit) is refused from its header, before decoding: a small compressed file
    can decode to gigabytes (a "decompression bomb").

    Raises:
        ImageInputError: the file is missing, not an image, truncated, too large, or has no RGB reading.
    """
    try:
        with _no_pillow_pixel_limit(), Image.open(path) as img:
            if max_pixels is not None and img.width * img.height > max_pixels:
                raise ImageInputError(
                    f"{path}: {img.width}x{img.height} is {img.width * img.height / 1e6:.0f} Mpx, above the limit of "
                    f"{max_pixels / 1e6:.0f} Mpx (a guard against decompression bombs); raise it on purpose with "
                    f"max_image_pixels={img.width * img.height}"
                )
            img.load()  # forces a full decode, so truncated files fail here and not silently
            if exif_orientation:
                img = ImageOps.exif_transpose(img)
            return to_rgb(img, path, background)
    except FileNotFoundError:
        raise ImageInputError(f"{path}: image file not found") from None
    except UnidentifiedImageError:
        raise ImageInputError(
            f"{path}: cannot decode image (not an image file Pillow can read); expected a readable JPEG/PNG file"
        ) from None
    except ImageInputError:
        raise
    except (OSError, SyntaxError, ValueError) as err:
        raise ImageInputError(
            f"{path}: cannot decode image ({err}); expected a readable JPEG/PNG file"
        ) from None


def to_rgb(
    img: Image.Image, path: str | os.PathLike = "<image>", background: Sequence[int] = WHITE
) -> np.ndarray:
    """A decoded PIL image as RGB ``uint8 [H, W, 3]``, converted as :data:`CONVERSIONS` says.

    Raises:
        ImageInputError: 16/32-bit or float values outside the ranges listed there, NaN or infinite values.
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


def _high_bit_depth_to_uint8(values: np.ndarray, path: str | os.PathLike, mode: str) -> np.ndarray:
    """Grey images stored as 16/32-bit integers or floats → ``uint8``, keeping relative brightness."""
    values = values.astype(np.float64)
    if not np.isfinite(values).all():
        raise ImageInputError(f"{path}: image mode {mode} holds NaN or infinite values")
    lo, hi = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
    if mode == "F" and lo >= 0.0 and hi <= 1.0:
        scaled = values * 255.0  # float image in [0, 1]
    elif mode == "F" and lo >= 0 and hi <= 255:
        scaled = values
    elif lo >= 0 and hi <= 65535:
        scaled = values / 257.0  # 16-bit range: 65535 → 255
    else:
        raise ImageInputError(
            f"{path}: image mode {mode} with values {lo:g}..{hi:g} has no standard brightness range; "
            "convert it to 8- or 16-bit first"
        )
    return np.clip(np.round(scaled), 0, 255).astype(np.uint8)


@contextmanager
def _no_pillow_pixel_limit() -> Iterator[None]:
    """Pillow refuses big images in ``Image.open`` without naming the file; :func:`read_image` checks instead."""
    saved, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def read_mask(path: str | os.PathLike) -> np.ndarray:
    """Decode a label PNG to its raw ``uint8 [H, W]`` values (palette PNGs give their indices).

    Raises:
        DatasetError: missing/unreadable file, a colour (RGB) label image, or values above 255.
    """
    try:
        with Image.open(path) as img:
            img.load()
            mode = img.mode
            if mode in ("L", "P"):
                return np.asarray(img)
            if mode == "1":
                return np.asarray(img, dtype=np.uint8)
            if mode.startswith("I"):
                values = np.asarray(img)
                if values.size and (values.min() < 0 or values.max() > 255):
                    raise DatasetError(
                        f"{path}: label values range {values.min()}..{values.max()}; "
                        "expected 8-bit class ids (0-255)"
                    )
                return values.astype(np.uint8)
    except FileNotFoundError:
        raise DatasetError(f"{path}: label file not found") from None
    except (OSError, SyntaxError, ValueError) as err:
        if isinstance(err, DatasetError):
            raise
        raise DatasetError(
            f"{path}: cannot decode label image ({err}); expected a PNG of class ids"
        ) from None
    raise DatasetError(
        f"{path}: label image has mode {mode} (colour); expected a single-channel PNG of class ids "
        "(mode L or P), e.g. the *_labelTrainIds.png files"
    )


@dataclass(frozen=True)
class LabelMap:
    """Raw label value → train id, as a 256-entry table; raw values not listed are errors.

    Attributes:
        lut: ``uint8 [256]``, train id (or 255 = ignore) for each raw value.
        valid: ``bool [256]``, whether a raw value may occur in the files.
        expected: human-readable description of the valid raw values, used in error messages.
    """

    lut: np.ndarray
    valid: np.ndarray
    expected: str

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[int, int]], expected: str) -> LabelMap:
        lut = np.full(256, IGNORE_INDEX, dtype=np.uint8)
        valid = np.zeros(256, dtype=bool)
        for raw, train_id in pairs:
            lut[raw] = train_id
            valid[raw] = True
        return cls(lut, valid, expected)

    @classmethod
    def identity(cls, num_classes: int, ignore_value: int = IGNORE_INDEX) -> LabelMap:
        """Files already hold train ids ``0..num_classes-1``; ``ignore_value`` in the files means ignore."""
        _check_range(num_classes, ignore_value, offset=0)
        pairs = [(k, k) for k in range(num_classes)] + [(ignore_value, IGNORE_INDEX)]
        return cls.from_pairs(pairs, f"class ids 0..{num_classes - 1} or {ignore_value} (ignore)")

    @classmethod
    def reduce_zero_label(cls, num_classes: int, ignore_value: int = IGNORE_INDEX) -> LabelMap:
        """ADE20K convention: raw 0 ("other") → ignore, raw ``k`` → ``k-1`` for ``k = 1..num_classes``."""
        _check_range(num_classes, ignore_value, offset=1)
        pairs = [(0, IGNORE_INDEX)] + [(k, k - 1) for k in range(1, num_classes + 1)]
        pairs.append((ignore_value, IGNORE_INDEX))
        return cls.from_pairs(
            pairs, f"0 (unlabelled, ignored), class ids 1..{num_classes} or {ignore_value} (ignore)"
        )

    def apply(self, raw: np.ndarray, path: str | os.PathLike) -> np.ndarray:
        """Validate ``raw`` and return train ids ``uint8 [H, W]`` (255 = ignore).

        Costs one ``bincount`` over the mask (about 1 ms for 512×512), cheap enough for every sample.
        """
        counts = np.bincount(raw.ravel(), minlength=256)
        bad = np.flatnonzero(counts[:256] * ~self.valid)
        if bad.size:
            shown = ", ".join(f"{v} ({counts[v]} px)" for v in bad[:10])
            more = f" and {bad.size - 10} more" if bad.size > 10 else ""
            raise DatasetError(f"{path}: invalid label values {shown}{more}; expected {self.expected}")
        return self.lut[raw]


def _check_range(num_classes: int, ignore_value: int, offset: int) -> None:
    if not 1 <= num_classes + offset <= 255:
        raise ValueError(f"num_classes={num_classes} does not fit 8-bit labels with 255 reserved for ignore")
    if not 0 <= ignore_value <= 255:
        raise ValueError(f"ignore value must be in 0..255, got {ignore_value}")
    if offset <= ignore_value < num_classes + offset:
        raise ValueError(f"ignore value {ignore_value} collides with a class id (classes use {offset}..)")


def find_files(directory: Path, suffix: str) -> dict[str, Path]:
    """Files under ``directory`` (recursively) whose name ends with ``suffix``, keyed by relative stem.

    The key is the path relative to ``directory`` without the suffix (``aachen/aachen_000000_000019``), so
    images and masks pair by key. Hidden files and folders are skipped. Sorted by key.
    """
    found: dict[str, Path] = {}
    for dirpath, dirnames, filenames in os.walk(directory):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        rel_dir = os.path.relpath(dirpath, directory)
        for name in filenames:
            if name.endswith(suffix) and not name.startswith(".") and len(name) > len(suffix):
                stem = name[: -len(suffix)]
                key = stem if rel_dir == "." else f"{rel_dir}/{stem}".replace(os.sep, "/")
                found[key] = Path(dirpath) / name
    return dict(sorted(found.items()))


def pair_files(
    img_dir: Path, mask_dir: Path, img_suffix: str, mask_suffix: str
) -> tuple[list[tuple[Path, Path]], list[str]]:
    """Pair images and masks by relative stem.

    Returns:
        ``(pairs, problems)``: the matched ``(image, mask)`` paths sorted by key, and one message per
        image without mask, mask without image, or empty split.
    """
    images = find_files(img_dir, img_suffix)
    masks = find_files(mask_dir, mask_suffix)
    problems: list[str] = []
    if not images and not masks:
        problems.append(f"{img_dir}: no images (*{img_suffix}) and no masks (*{mask_suffix} in {mask_dir})")
        return [], problems
    for key, path in images.items():
        if key not in masks:
            problems.append(f"{path}: image has no mask; expected {mask_dir / (key + mask_suffix)}")
    for key, path in masks.items():
        if key not in images:
            problems.append(f"{path}: mask has no image; expected {img_dir / (key + img_suffix)}")
    pairs = [(images[k], masks[k]) for k in images if k in masks]
    return pairs, problems


@dataclass(frozen=True)
class _Star:
    """``func(*args)`` as a picklable callable, for ``Pool.imap`` over argument tuples."""

    func: Callable[..., Any]

    def __call__(self, args: tuple) -> Any:
        return self.func(*args)


def ordered_starmap(func: Callable[..., T], jobs: Sequence[tuple], nproc: int) -> Iterator[T]:
    """Yield ``func(*job)`` for each job, in order, in ``nproc`` processes (in this one when ``nproc <= 1``).

    Lazy, so a progress bar around it advances as results arrive (the dataset preparation scripts use it).
    """
    if nproc <= 1:
        yield from map(_Star(func), jobs)
        return
    with Pool(nproc, initializer=_default_signal_handlers) as pool:
        yield from pool.imap(_Star(func), jobs, chunksize=8)


def _default_signal_handlers() -> None:
    """A pool worker ends on SIGTERM / SIGINT (``Pool.terminate`` sends SIGTERM), whatever handler it inherited."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)

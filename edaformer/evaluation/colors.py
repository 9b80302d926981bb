"""Label maps in colour: the palette lookup table, colouring and overlays.

One implementation for every picture of a prediction or a label: ``edaformer-predict``, the figures of
:mod:`edaformer.viz`, the W&B samples of training (:class:`~edaformer.lit.LogSegmentationSamples`) and
:class:`~edaformer.evaluation.Segmenter` users. Palettes come with the dataset (or
:func:`~edaformer.data.classes.default_palette`).

Conventions: images are RGB ``uint8 [H, W, 3]``; label maps are integer train ids ``[H, W]`` where
``IGNORE_INDEX`` (255) marks unlabelled pixels; a palette is one ``(r, g, b)`` per train id.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..data.io import IGNORE_INDEX

__all__ = ["IGNORE_COLOR", "check_label", "colorize", "overlay", "palette_array"]

Color = tuple[int, int, int]

IGNORE_COLOR: Color = (0, 0, 0)


def palette_array(palette: Sequence[Sequence[int]], ignore_color: Sequence[int] = IGNORE_COLOR) -> np.ndarray:
    """``uint8 [256, 3]`` lookup table: entry ``k`` is class ``k``'s colour, every other entry ``ignore_color``."""
    if len(palette) > 255:
        raise ValueError(
            f"at most 255 classes fit 8-bit labels (255 = ignore), got a palette of {len(palette)}"
        )
    table = np.empty((256, 3), dtype=np.uint8)
    table[:] = np.asarray(ignore_color, dtype=np.uint8)
    if len(palette):
        colors = np.asarray(palette, dtype=np.int64)
        if colors.ndim != 2 or colors.shape[1] != 3 or colors.min() < 0 or colors.max() > 255:
            raise ValueError("palette must be a list of (r, g, b) triples with values in 0..255")
        table[: len(palette)] = colors
    return table


def check_label(label: np.ndarray) -> np.ndarray:
    """``label`` as an array, checked to be an integer label map ``[H, W]`` (``ValueError`` otherwise)."""
    label = np.asarray(label)
    if label.ndim != 2:
        raise ValueError(f"expected a label map [H, W], got shape {label.shape}")
    if not np.issubdtype(label.dtype, np.integer):
        raise ValueError(f"label map must hold integer class ids, got dtype {label.dtype}")
    return label


def colorize(
    label: np.ndarray, palette: Sequence[Sequence[int]], ignore_color: Sequence[int] = IGNORE_COLOR
) -> np.ndarray:
    """Colour a label map ``[H, W]`` with ``palette`` → RGB ``uint8 [H, W, 3]``.

    Ids without a palette entry (``>= len(palette)``, e.g. the ignore label 255) get ``ignore_color``.
    """
    label = check_label(label)
    table = palette_array(palette, ignore_color)
    ids = np.where((label >= 0) & (label < 256), label, 255).astype(np.uint8)
    return table[ids]


def overlay(
    image: np.ndarray,
    label: np.ndarray,
    palette: Sequence[Sequence[int]],
    alpha: float = 0.5,
    ignore_index: int = IGNORE_INDEX,
) -> np.ndarray:
    """Blend the colourised ``label`` over ``image`` (both ``H×W``) → RGB ``uint8 [H, W, 3]``.

    ``alpha`` is the weight of the mask colour; pixels labelled ``ignore_index`` (or with ids outside the palette)
    keep the image untouched, so unlabelled regions stay readable.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    image = np.asarray(image)
    label = check_label(label)
    if image.shape[:2] != label.shape:
        raise ValueError(f"image {image.shape[:2]} and label {label.shape} sizes differ")
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 image [H, W, 3], got {image.dtype} {image.shape}")
    colors = colorize(label, palette).astype(np.float32)
    blended = image.astype(np.float32) * (1.0 - alpha) + colors * alpha
    keep = (label == ignore_index) | (label < 0) | (label >= len(palette))
    blended[keep] = image[keep]
    return np.clip(blended + 0.5, 0, 255).astype(np.uint8)

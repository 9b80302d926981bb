"""Label maps as pictures: palette colouring, overlays on the input image, and a legend of the classes present.

Conventions: images are RGB ``uint8 [H, W, 3]``; label maps are integer train ids ``[H, W]`` where
``ignore_index`` (255) marks unlabelled pixels; a palette is one ``(r, g, b)`` per train id.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

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


def _check_label(label: np.ndarray) -> np.ndarray:
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
    label = _check_label(label)
    table = palette_array(palette, ignore_color)
    ids = np.where((label >= 0) & (label < 256), label, 255).astype(np.uint8)
    return table[ids]


def overlay(
    image: np.ndarray,
    label: np.ndarray,
    palette: Sequence[Sequence[int]],
    alpha: float = 0.5,
    ignore_index: int = 255,
) -> np.ndarray:
    """Blend the colourised ``label`` over ``image`` (both ``H×W``) → RGB ``uint8 [H, W, 3]``.

    ``alpha`` is the weight of the mask colour; pixels labelled ``ignore_index`` (or with ids outside the palette)
    keep the image untouched, so unlabelled regions stay readable.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    image = np.asarray(image)
    label = _check_label(label)
    if image.shape[:2] != label.shape:
        raise ValueError(f"image {image.shape[:2]} and label {label.shape} sizes differ")
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 image [H, W, 3], got {image.dtype} {image.shape}")
    colors = colorize(label, palette).astype(np.float32)
    blended = image.astype(np.float32) * (1.0 - alpha) + colors * alpha
    keep = (label == ignore_index) | (label < 0) | (label >= len(palette))
    blended[keep] = image[keep]
    return np.clip(blended + 0.5, 0, 255).astype(np.uint8)


def present_classes(
    label: np.ndarray, num_classes: int, min_fraction: float = 0.0
) -> list[tuple[int, float]]:
    """Classes that occur in ``label`` as ``(class_id, fraction of labelled pixels)``, largest first.

    Ids outside ``0..num_classes-1`` (ignore) are skipped; ``min_fraction`` drops classes covering less.
    """
    label = _check_label(label)
    valid = label[(label >= 0) & (label < num_classes)]
    if valid.size == 0:
        return []
    counts = np.bincount(valid.ravel().astype(np.int64), minlength=num_classes)
    order = np.argsort(-counts, kind="stable")
    return [
        (int(k), float(counts[k] / valid.size))
        for k in order
        if counts[k] and counts[k] / valid.size >= min_fraction
    ]


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has no sized default font
        return ImageFont.load_default()


def add_legend(
    image: np.ndarray,
    entries: Sequence[tuple[str, Sequence[int]]],
    font_size: int | None = None,
    max_rows: int | None = None,
) -> np.ndarray:
    """Append a legend panel to the right of ``image``: one colour swatch and name per ``(name, colour)`` entry.

    The panel is as tall as the image (entries that do not fit are summarised as "+ n more"), so the result
    stays an ``[H, W + panel, 3]`` picture that can be saved next to the overlay. ``font_size`` defaults to
    about 1/30 of the image height (at least 10 px).
    """
    image = np.asarray(image)
    height = image.shape[0]
    size = font_size or max(10, min(28, height // 30))
    font = _font(size)
    row_h = int(size * 1.5)
    pad = max(4, size // 2)
    fits = max(1, (height - pad) // row_h)
    limit = min(fits, max_rows) if max_rows else fits
    shown = list(entries)
    more = 0
    if len(shown) > limit:
        more = len(shown) - (limit - 1)
        shown = shown[: limit - 1]
    labels = [name for name, _ in shown] + ([f"+ {more} more"] if more else [])
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    text_w = max((probe.textlength(t, font=font) for t in labels), default=0)
    panel_w = int(pad * 3 + size + text_w) + 1
    panel = Image.new("RGB", (panel_w, height), (255, 255, 255))
    draw = ImageDraw.Draw(panel)
    for i, (name, color) in enumerate(shown):
        y = pad + i * row_h
        draw.rectangle([pad, y, pad + size, y + size], fill=tuple(int(c) for c in color), outline=(0, 0, 0))
        draw.text((pad * 2 + size, y), name, fill=(0, 0, 0), font=font)
    if more:
        draw.text((pad * 2 + size, pad + len(shown) * row_h), labels[-1], fill=(90, 90, 90), font=font)
    return np.concatenate([image, np.asarray(panel)], axis=1)


def legend_entries(
    label: np.ndarray,
    class_names: Sequence[str],
    palette: Sequence[Sequence[int]],
    min_fraction: float = 0.0,
) -> list[tuple[str, Color]]:
    """``(name, colour)`` of the classes present in ``label``, largest area first (for :func:`add_legend`)."""
    return [
        (f"{class_names[k]} ({frac:.0%})" if frac >= 0.005 else class_names[k], tuple(palette[k]))
        for k, frac in present_classes(label, len(class_names), min_fraction)
    ]


def sample_panel(
    image: np.ndarray,
    label: np.ndarray,
    class_names: Sequence[str],
    palette: Sequence[Sequence[int]],
    alpha: float = 0.5,
    ignore_index: int = 255,
) -> np.ndarray:
    """A training sample as a picture: ``image | mask overlaid | legend`` → RGB ``uint8 [H, 2W + legend, 3]``.

    The legend names the classes present (largest area first) with their share of the labelled pixels and, when
    some pixels are ignored (padding, unlabelled), their share of the crop.
    """
    entries = legend_entries(label, class_names, palette)
    ignored = float(np.mean(np.asarray(label) == ignore_index))
    if ignored > 0:
        share = f"{ignored:.0%}" if ignored >= 0.005 else "<1%"
        entries.append((f"ignore ({share} of the crop)", IGNORE_COLOR))
    pair = np.concatenate([image, overlay(image, label, palette, alpha, ignore_index)], axis=1)
    return add_legend(pair, entries)


def contact_sheet(panels: Sequence[np.ndarray], columns: int = 4, gap: int = 4) -> np.ndarray:
    """Panels of any sizes on a white grid, ``columns`` per row, each cell as large as the largest panel."""
    if not panels:
        raise ValueError("no panels to arrange")
    cell_h = max(p.shape[0] for p in panels)
    cell_w = max(p.shape[1] for p in panels)
    columns = max(1, min(columns, len(panels)))
    rows = -(-len(panels) // columns)
    sheet = np.full((rows * (cell_h + gap) - gap, columns * (cell_w + gap) - gap, 3), 255, dtype=np.uint8)
    for i, panel in enumerate(panels):
        y, x = (i // columns) * (cell_h + gap), (i % columns) * (cell_w + gap)
        sheet[y : y + panel.shape[0], x : x + panel.shape[1]] = panel
    return sheet

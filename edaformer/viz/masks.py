"""Label maps as pictures: a legend of the classes present, training-sample panels and contact sheets.

The colouring itself (``colorize``, ``overlay``) is :mod:`edaformer.evaluation.colors`. Conventions: images are
RGB ``uint8 [H, W, 3]``; label maps are integer train ids ``[H, W]``; a palette is one ``(r, g, b)`` per train id.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..evaluation.colors import IGNORE_COLOR, Color, check_label, overlay


def present_classes(
    label: np.ndarray, num_classes: int, min_fraction: float = 0.0
) -> list[tuple[int, float]]:
    """Classes that occur in ``label`` as ``(class_id, fraction of labelled pixels)``, largest first.

    Ids outside ``0..num_classes-1`` (ignore) are skipped; ``min_fraction`` drops classes covering less.
    """
    label = check_label(label)
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
    ignore_index: int | None = None,
) -> np.ndarray:
    """A training sample as a picture: ``image | mask overlaid | legend`` → RGB ``uint8 [H, 2W + legend, 3]``.

    The legend names the classes present (largest area first) with their share of the labelled pixels and, when
    some pixels are ignored (padding, unlabelled: ``ignore_index``, or by default every id without a class), their
    share of the crop.
    """
    entries = legend_entries(label, class_names, palette)
    label = check_label(label)
    unlabelled = (label < 0) | (label >= len(class_names)) if ignore_index is None else label == ignore_index
    ignored = float(np.mean(unlabelled))
    if ignored > 0:
        share = f"{ignored:.0%}" if ignored >= 0.005 else "<1%"
        entries.append((f"ignore ({share} of the crop)", IGNORE_COLOR))
    kept = {} if ignore_index is None else {"ignore_index": ignore_index}
    pair = np.concatenate([image, overlay(image, label, palette, alpha, **kept)], axis=1)
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

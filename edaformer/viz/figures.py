"""Matplotlib figures: EFA attention for a query pixel (the paper's Figure 1 style) and prediction panels.

Figures are built on :class:`matplotlib.figure.Figure` directly (no pyplot state), so they work the same in
scripts, tests and notebooks; save with ``fig.savefig(path)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

from ..evaluation.colors import colorize, overlay
from .attention import AttentionMap, AttentionRun
from .masks import present_classes
from .pca import PCABasis, fit_pca

Color = tuple[int, int, int]


def _grey(image: np.ndarray, dim: float = 0.55) -> np.ndarray:
    """Dimmed greyscale copy of an RGB image, so a colour map on top stays readable."""
    grey = image.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return np.repeat((grey * dim)[:, :, None], 3, axis=2).astype(np.uint8)


def _key_extent(m: AttentionMap, image_hw: tuple[int, int]) -> tuple[float, float, float, float]:
    """``(left, right, bottom, top)`` in image pixels of the region the pooled keys summarise.

    Floor pooling leaves trailing token rows/columns out of the keys; the extent stops where they begin.
    """
    (h, w), (ph, pw) = m.hw, m.pooled_hw
    cov_h, cov_w = ph * (h // ph), pw * (w // pw)
    return 0.0, cov_w * image_hw[1] / w, cov_h * image_hw[0] / h, 0.0


def draw_attention(
    ax,
    image: np.ndarray,
    m: AttentionMap,
    point: Sequence[float],
    reduce: Literal["mean", "max"] = "mean",
    cmap: str = "turbo",
    alpha: float = 0.55,
    batch_index: int = 0,
) -> None:
    """Draw one layer's attention for the query ``point = (x, y)`` over ``image`` (network-input pixels).

    Each cell is one pooled key/value token (nearest-neighbour display, so the key grid stays visible); colours
    are scaled to the map's maximum. The query token is outlined; a dashed line marks where floor pooling stops.
    """
    if m.query is None:
        raise ValueError("the map holds all queries; record it with a query point to draw it")
    probs = m.head_reduced(reduce)[batch_index].numpy()
    image_hw = image.shape[:2]
    ax.imshow(_grey(image))
    extent = _key_extent(m, image_hw)
    ax.imshow(
        probs / max(float(probs.max()), 1e-12),
        cmap=cmap,
        alpha=alpha,
        extent=extent,
        interpolation="nearest",
        vmin=0.0,
        vmax=1.0,
    )
    ty, tx = image_hw[0] / m.hw[0], image_hw[1] / m.hw[1]  # one query token in pixels
    row, col = m.query
    ax.add_patch(Rectangle((col * tx, row * ty), tx, ty, fill=False, edgecolor="white", linewidth=1.2))
    ax.plot(
        [point[0]], [point[1]], marker="o", markersize=5, markerfacecolor="white", markeredgecolor="black"
    )
    if extent[1] < image_hw[1] - 0.5 or extent[2] < image_hw[0] - 0.5:
        ax.plot([extent[1], extent[1], 0], [0, extent[2], extent[2]], "w--", linewidth=0.8)
    ax.set_xlim(-0.5, image_hw[1] - 0.5)
    ax.set_ylim(image_hw[0] - 0.5, -0.5)


def _title(m: AttentionMap) -> str:
    where = f"stage {m.layer.level}" if m.layer.group == "encoder" else f"decoder {m.layer.level}"
    ph, pw = m.pooled_hw
    return f"{where}\ns={m.pool_ratio}, {ph}×{pw} keys"


def _off(ax) -> None:
    ax.set_xticks([])
    ax.set_yticks([])


def attention_figure(
    image: np.ndarray,
    point: Sequence[float],
    runs: Sequence[AttentionRun],
    row_labels: Sequence[str] | None = None,
    class_names: Sequence[str] | None = None,
    palette: Sequence[Sequence[int]] | None = None,
    block: Literal["last", "first", "mean"] = "last",
    reduce: Literal["mean", "max"] = "mean",
    cmap: str = "turbo",
    panel_size: float = 2.1,
    max_legend: int = 12,
) -> Figure:
    """Query-pixel attention at every encoder stage and decoder level, one row per run (e.g. train vs ISR).

    Columns: the input with the query, one panel per stage/level (``block`` of its blocks, heads reduced by
    ``reduce``), the PCA of the fused decoder features (components fitted on the first run, colour range over
    all runs: one basis for all rows, so colours compare), and the prediction overlay when ``palette`` is given.

    Args:
        image: RGB ``uint8 [H, W, 3]`` at the network-input size (e.g. :func:`~edaformer.viz.denormalize`).
        point: query ``(x, y)`` in those pixels.
        runs: from :func:`~edaformer.viz.run_with_attention`, same image and point.
        row_labels: one label per run (default: the ISR setting).
    """
    if not runs:
        raise ValueError("need at least one run")
    levels = [run.by_level(block) for run in runs]
    keys = list(levels[0])
    show_pred = palette is not None
    ncols = 1 + len(keys) + 1 + int(show_pred)
    fig = Figure(figsize=(panel_size * ncols, panel_size * len(runs) + 0.9), layout="constrained")
    axes = fig.subplots(len(runs), ncols, squeeze=False)
    basis: PCABasis = fit_pca(runs[0].features[0]).stretched_to(*(run.features[0] for run in runs))
    labels = list(row_labels) if row_labels is not None else [f"ISR {run.isr}" for run in runs]
    present: dict[int, float] = {}
    for r, (run, by_level) in enumerate(zip(runs, levels)):
        ax = axes[r, 0]
        ax.imshow(image)
        ax.plot(
            [point[0]], [point[1]], marker="o", markersize=7, markerfacecolor="red", markeredgecolor="white"
        )
        ax.set_ylabel(labels[r], fontsize=9)
        if r == 0:
            ax.set_title("query pixel", fontsize=9)
        for c, key in enumerate(keys, start=1):
            m = by_level[key]
            draw_attention(axes[r, c], image, m, point, reduce, cmap)
            axes[r, c].set_title(_title(m), fontsize=8)
        ax = axes[r, 1 + len(keys)]
        ax.imshow(
            basis.to_rgb(run.features[0]),
            extent=(-0.5, image.shape[1] - 0.5, image.shape[0] - 0.5, -0.5),
            interpolation="bilinear",
        )
        ax.set_title("decoder features\nPCA (shared basis)", fontsize=8)
        if show_pred:
            label = run.logits[0].argmax(0).cpu().numpy()
            axes[r, -1].imshow(overlay(image, label, palette, alpha=0.6))
            axes[r, -1].set_title("prediction", fontsize=8)
            for k, frac in present_classes(label, len(palette)):
                present[k] = max(present.get(k, 0.0), frac)
        for ax in axes[r]:
            _off(ax)
    if show_pred and present:
        names = class_names or [str(k) for k in range(len(palette))]
        top = sorted(present, key=lambda k: -present[k])[:max_legend]
        handles = [Patch(color=np.asarray(palette[k]) / 255.0, label=names[k]) for k in top]
        fig.legend(
            handles=handles, loc="outside lower center", ncols=min(len(handles), 6), fontsize=8, frameon=False
        )
    fig.suptitle(
        f"EFA attention of the query pixel over the pooled keys ({block} block per stage/level, heads {reduce}; "
        "colour scaled to each map's maximum)",
        fontsize=9,
    )
    return fig


def prediction_figure(
    image: np.ndarray,
    label: np.ndarray,
    palette: Sequence[Sequence[int]],
    class_names: Sequence[str] | None = None,
    title: str | None = None,
    max_legend: int = 12,
    panel_size: float = 3.2,
) -> Figure:
    """Input, colourised prediction and overlay side by side, with a legend of the classes present."""

    aspect = image.shape[0] / image.shape[1]
    fig = Figure(figsize=(panel_size * 3, panel_size * aspect + 0.8), layout="constrained")
    axes = fig.subplots(1, 3)
    for ax, pic, name in zip(
        axes,
        (image, colorize(label, palette), overlay(image, label, palette)),
        ("input", "prediction", "overlay"),
    ):
        ax.imshow(pic)
        ax.set_title(name, fontsize=9)
        _off(ax)
    names = class_names or [str(k) for k in range(len(palette))]
    handles = [
        Patch(color=np.asarray(palette[k]) / 255.0, label=f"{names[k]} {frac:.0%}")
        for k, frac in present_classes(label, len(palette))[:max_legend]
    ]
    if handles:
        fig.legend(
            handles=handles, loc="outside lower center", ncols=min(len(handles), 6), fontsize=8, frameon=False
        )
    if title:
        fig.suptitle(title, fontsize=10)
    return fig

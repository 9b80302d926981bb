"""Segmentation inference modes in plain PyTorch: whole image, sliding window, multi-scale + flip TTA.

All modes take a segmentor ``model(images[B, 3, h, w]) → logits[B, K, h, w]`` (as :class:`EDAFormer`) and come in
two forms:

- ``*_scores`` return a lazily evaluated :class:`~edaformer.models.upsampled_argmax.ScoreMap` ``[B, K, H, W]`` at
  ``out_size`` (the label's original resolution) or at the input size. Nothing of size ``K × H × W`` is
  allocated: a model with ``forward_low_res`` (1/8-resolution logits) is upsampled band by band on demand, sliding
  windows are stitched per band, TTA passes are averaged per band. :func:`segment_labels` reduces such a map to
  labels ``int64 [B, H, W]`` (what validation, ``eval.py`` and ``predict`` use).
- ``*_inference`` / :func:`segment` return the dense scores, ``map.dense()``.

Single-scale modes give logits; multi-scale + flip averages softmax probabilities over the scales and flips, as
MMSeg's ``aug_test`` does. The values are those of the straightforward dense computation (``model(x)``, then
``F.interpolate`` to ``out_size``), so the labels equal ``argmax(dim=1)`` of the dense scores.

Input: single-scale modes take the normalised network input as it is (the datasets and :class:`Segmenter` resize
it with the test recipe's ``AlignedResize`` beforehand). Multi-scale testing takes the *original* image, RGB
``uint8``, and for each ratio resizes and normalises it exactly as the authors' ``MultiScaleFlipAug`` does (see
:attr:`InferenceConfig.test_scale`). Logits reach ``out_size`` as MMSeg's ``whole_inference`` /
``slide_inference`` bring them to the original size: upsampled to the network input first, then resized.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import nn

from ..data.transforms import aligned_rescale, aligned_rescale_sizes
from ..models.upsampled_argmax import DenseScores, ScoreMap, argmax_labels, resize_scores
from .images import normalize

InferenceMode = Literal["whole", "slide"]


@dataclass(frozen=True)
class InferenceConfig:
    """How a validation/test image is segmented.

    Args:
        mode: ``"whole"`` (one forward pass) or ``"slide"`` (windows of ``crop_size`` every ``stride``).
        crop_size: sliding-window size ``(h, w)`` in pixels (Cityscapes: 1024×1024).
        stride: sliding-window step ``(h, w)`` (Cityscapes: 768×768).
        scales: test-time scale ratios; ``(1.0,)`` disables multi-scale (ADE20K TTA: 0.75, 0.875, 1.0, 1.125, 1.25).
        flip: also average the horizontally flipped prediction.
        test_scale: ``(long, short)`` keep-ratio bound of the test recipe (ADE20K (2048, 512)), used by multi-scale
            testing only: at ratio ``r`` the original image is rescaled into ``(int(long·r), int(short·r))`` and
            then to sides rounded up to multiples of ``size_divisor``, as the authors' ``MultiScaleFlipAug`` +
            ``AlignedResize``. ``None`` bounds by the image's own sides (ratio ``r`` of the image, aligned).
        size_divisor: multiple of the multi-scale input sides (the encoder's total stride, 32).
    """

    mode: InferenceMode = "whole"
    crop_size: tuple[int, int] = (512, 512)
    stride: tuple[int, int] = (341, 341)
    scales: tuple[float, ...] = (1.0,)
    flip: bool = False
    test_scale: tuple[int, int] | None = None
    size_divisor: int = 32

    def __post_init__(self) -> None:
        if self.mode not in ("whole", "slide"):
            raise ValueError(f"inference mode must be 'whole' or 'slide', got {self.mode!r}")
        object.__setattr__(self, "crop_size", _pair(self.crop_size, "crop_size"))
        object.__setattr__(self, "stride", _pair(self.stride, "stride"))
        object.__setattr__(self, "scales", tuple(float(s) for s in self.scales))
        if not self.scales or min(self.scales) <= 0:
            raise ValueError(f"scales must be positive ratios, got {self.scales}")
        if self.test_scale is not None:
            object.__setattr__(self, "test_scale", _pair(self.test_scale, "test_scale"))
        if int(self.size_divisor) < 1:
            raise ValueError(f"size_divisor must be >= 1, got {self.size_divisor}")

    @property
    def tta(self) -> bool:
        """Multi-scale and/or flip testing: :func:`segment` then expects the original image."""
        return self.flip or self.scales != (1.0,)

    def scaled_sizes(self, height: int, width: int, ratio: float) -> tuple[tuple[int, int], tuple[int, int]]:
        """``(keep-ratio size, network input size)`` of an original ``height × width`` image at ``ratio``."""
        return aligned_rescale_sizes(height, width, self._bound(height, width), self.size_divisor, ratio)

    def rescale(self, image: np.ndarray, ratio: float) -> np.ndarray:
        """An original RGB ``uint8 [H, W, 3]`` image resized for ``ratio`` (two OpenCV bilinear resizes, see
        :func:`~edaformer.data.transforms.aligned_rescale`), still ``uint8``, at :meth:`scaled_sizes`'s input size."""
        height, width = image.shape[:2]
        return aligned_rescale(image, self._bound(height, width), self.size_divisor, ratio)

    def _bound(self, height: int, width: int) -> tuple[int, int]:
        return self.test_scale or (max(height, width), min(height, width))


def _pair(value: int | Sequence[int], what: str) -> tuple[int, int]:
    pair = (int(value), int(value)) if isinstance(value, int) else tuple(int(v) for v in value)
    if len(pair) != 2 or min(pair) < 1:
        raise ValueError(f"{what} must be a positive int or (h, w), got {value!r}")
    return pair  # type: ignore[return-value]


def _at(scores: ScoreMap, out_size: Sequence[int] | None) -> ScoreMap:
    return scores if out_size is None else resize_scores(scores, out_size)


# ----------------------------------------------------------------------------------------- lazy score maps
class SlidingWindowScores(ScoreMap):
    """Window scores stitched onto the image and averaged where windows overlap, evaluated band by band.

    Args:
        windows: ``((y1, y2, x1, x2), scores)`` pairs; ``scores`` is the window's ``[B, K, y2 − y1, x2 − x1]`` map.
        size: the image ``(H, W)``; every pixel must be covered by a window.
    """

    def __init__(
        self, windows: Sequence[tuple[tuple[int, int, int, int], ScoreMap]], size: Sequence[int]
    ) -> None:
        first = windows[0][1]
        super().__init__(first.batch, first.channels, size, first.device)
        self.windows = list(windows)

    def rows(self, start: int, stop: int, out: torch.Tensor | None = None) -> torch.Tensor:
        width = self.size[1]
        total = _zeros(self, stop - start, out)
        counts = torch.zeros((1, 1, stop - start, width), device=self.device)
        for (y1, y2, x1, x2), scores in self.windows:
            lo, hi = max(start, y1), min(stop, y2)
            if lo < hi:
                total[:, :, lo - start : hi - start, x1:x2] += scores.rows(lo - y1, hi - y1)
                counts[:, :, lo - start : hi - start, x1:x2] += 1
        return total.div_(counts)

    def finite(self) -> torch.Tensor:
        return torch.stack([scores.finite() for _, scores in self.windows]).all(0)


def _zeros(scores: ScoreMap, rows: int, out: torch.Tensor | None) -> torch.Tensor:
    """``out`` zeroed, or a new zero band ``[B, K, rows, W]``: the accumulator of a stitched/averaged band."""
    if out is not None:
        return out.zero_()
    return torch.zeros((scores.batch, scores.channels, rows, scores.size[1]), device=scores.device)


class AveragedProbabilities(ScoreMap):
    """Mean over test-time passes of ``softmax`` over classes, each pass optionally mirrored back (``flip``)."""

    def __init__(self, passes: Sequence[tuple[ScoreMap, bool]]) -> None:
        first = passes[0][0]
        super().__init__(first.batch, first.channels, first.size, first.device)
        self.passes = list(passes)

    def rows(self, start: int, stop: int, out: torch.Tensor | None = None) -> torch.Tensor:
        probs = _zeros(self, stop - start, out)
        for scores, flip in self.passes:
            logits = scores.rows(start, stop)
            probs += (logits.flip(-1) if flip else logits).softmax(dim=1)
        return probs.div_(len(self.passes))

    def finite(self) -> torch.Tensor:
        return torch.stack([scores.finite() for scores, _ in self.passes]).all(0)


# ----------------------------------------------------------------------------------------- modes (lazy)
@torch.no_grad()
def model_scores(model: nn.Module, images: torch.Tensor) -> ScoreMap:
    """``model(images)`` as a lazy map: the 1/8-resolution logits of ``model.forward_low_res`` upsampled on demand
    (bit-identical to ``EDAFormer.forward``), or the dense output of a model without it."""
    low_res = getattr(model, "forward_low_res", None)
    if low_res is None:
        return DenseScores(model(images))
    return resize_scores(low_res(images), images.shape[-2:])


@torch.no_grad()
def whole_scores(model: nn.Module, images: torch.Tensor, out_size: Sequence[int] | None = None) -> ScoreMap:
    """One forward pass: logits ``[B, K, H, W]`` at ``out_size`` (default: the input size)."""
    return _at(model_scores(model, images), out_size)


def window_grid(
    size: Sequence[int], crop_size: int | Sequence[int], stride: int | Sequence[int]
) -> list[tuple[int, int, int, int]]:
    """MMSeg's sliding windows ``(y1, y2, x1, x2)`` over an ``H×W`` image.

    The grid has ``max(H − crop + stride − 1, 0) // stride + 1`` rows (same for columns); the last window is
    shifted back to end at the border, so every window is ``crop`` sized unless the image is smaller.
    """
    crop_h, crop_w = _pair(crop_size, "crop_size")
    stride_h, stride_w = _pair(stride, "stride")
    height, width = int(size[0]), int(size[1])
    rows = max(height - crop_h + stride_h - 1, 0) // stride_h + 1
    cols = max(width - crop_w + stride_w - 1, 0) // stride_w + 1
    windows = []
    for row in range(rows):
        for col in range(cols):
            y2 = min(row * stride_h + crop_h, height)
            x2 = min(col * stride_w + crop_w, width)
            windows.append((max(y2 - crop_h, 0), y2, max(x2 - crop_w, 0), x2))
    return windows


@torch.no_grad()
def slide_scores(
    model: nn.Module,
    images: torch.Tensor,
    crop_size: int | Sequence[int] = (1024, 1024),
    stride: int | Sequence[int] = (768, 768),
    out_size: Sequence[int] | None = None,
) -> ScoreMap:
    """Sliding-window logits averaged where windows overlap (MMSeg's ``slide_inference``), see :func:`window_grid`.

    Only the windows' low-resolution logits are kept; the stitched map is produced band by band.
    """
    windows = [
        ((y1, y2, x1, x2), model_scores(model, images[:, :, y1:y2, x1:x2]))
        for y1, y2, x1, x2 in window_grid(images.shape[-2:], crop_size, stride)
    ]
    return _at(SlidingWindowScores(windows, images.shape[-2:]), out_size)


@torch.no_grad()
def single_scale_scores(
    model: nn.Module, images: torch.Tensor, config: InferenceConfig, out_size: Sequence[int] | None = None
) -> ScoreMap:
    """Logits of ``config.mode`` at one scale."""
    if config.mode == "slide":
        return slide_scores(model, images, config.crop_size, config.stride, out_size)
    return whole_scores(model, images, out_size)


@torch.no_grad()
def multi_scale_flip_scores(
    model: nn.Module, images: torch.Tensor, config: InferenceConfig, out_size: Sequence[int] | None = None
) -> ScoreMap:
    """Softmax probabilities averaged over ``config.scales`` × (identity, horizontal flip if ``config.flip``).

    ``images`` are the *original* images, RGB ``uint8 [B, 3, H, W]`` (neither resized nor normalised), the
    decoded images the authors' ``MultiScaleFlipAug`` starts from. For each ratio every image is resized as
    uint8 with two OpenCV bilinear resizes (:meth:`InferenceConfig.rescale`; e.g. 512×683 at 0.875 → 448×598 →
    448×608), then normalised with the ImageNet mean/std; the flipped pass mirrors that input. The probabilities
    are returned at ``out_size`` (default ``(H, W)``), summed in MMSeg ``aug_test``'s order. Each pass keeps only
    its low-resolution logits.
    """
    if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3:
        raise TypeError(
            "multi-scale/flip testing resizes the original image for every ratio and expects it as RGB uint8 "
            f"[B, 3, H, W] (not normalised), got {images.dtype} {tuple(images.shape)}"
        )
    height, width = images.shape[-2:]
    target = tuple(out_size) if out_size is not None else (height, width)
    originals = images.permute(0, 2, 3, 1).cpu().numpy()
    passes = []
    for scale in config.scales:
        scaled = torch.cat([normalize(config.rescale(image, scale)) for image in originals]).to(images.device)
        for flip in (False, True) if config.flip else (False,):
            inp = scaled.flip(-1) if flip else scaled
            passes.append((single_scale_scores(model, inp, config, target), flip))
    return AveragedProbabilities(passes)


@torch.no_grad()
def segment_scores(
    model: nn.Module,
    images: torch.Tensor,
    config: InferenceConfig | None = None,
    out_size: Sequence[int] | None = None,
) -> ScoreMap:
    """Class scores ``[B, K, H, W]`` following ``config`` (default: whole image; TTA when it asks for scales/flip).

    ``images`` are the normalised network input for single-scale modes, the original RGB ``uint8`` images when
    ``config.tta``.
    """
    config = config or InferenceConfig()
    if config.tta:
        return multi_scale_flip_scores(model, images, config, out_size)
    return single_scale_scores(model, images, config, out_size)


@torch.no_grad()
def segment_labels(
    model: nn.Module,
    images: torch.Tensor,
    config: InferenceConfig | None = None,
    out_size: Sequence[int] | None = None,
) -> torch.Tensor:
    """Labels ``int64 [B, H, W]`` at ``out_size`` (default: the input size): ``segment(...).argmax(1)`` without
    the ``K × H × W`` scores (see :func:`~edaformer.models.upsampled_argmax.argmax_labels`)."""
    return argmax_labels(segment_scores(model, images, config, out_size))


# ----------------------------------------------------------------------------------------- modes (dense)
@torch.no_grad()
def whole_inference(
    model: nn.Module, images: torch.Tensor, out_size: Sequence[int] | None = None
) -> torch.Tensor:
    """Dense :func:`whole_scores`: logits ``[B, K, H, W]``."""
    return whole_scores(model, images, out_size).dense()


@torch.no_grad()
def slide_inference(
    model: nn.Module,
    images: torch.Tensor,
    num_classes: int,
    crop_size: int | Sequence[int] = (1024, 1024),
    stride: int | Sequence[int] = (768, 768),
    out_size: Sequence[int] | None = None,
) -> torch.Tensor:
    """Dense :func:`slide_scores`: logits ``[B, K, H, W]`` (``num_classes`` must be the model's)."""
    scores = slide_scores(model, images, crop_size, stride, out_size)
    _check_classes(scores, num_classes)
    return scores.dense()


@torch.no_grad()
def multi_scale_flip_inference(
    model: nn.Module,
    images: torch.Tensor,
    num_classes: int,
    config: InferenceConfig,
    out_size: Sequence[int] | None = None,
) -> torch.Tensor:
    """Dense :func:`multi_scale_flip_scores`: probabilities ``[B, K, H, W]``."""
    scores = multi_scale_flip_scores(model, images, config, out_size)
    _check_classes(scores, num_classes)
    return scores.dense()


@torch.no_grad()
def segment(
    model: nn.Module,
    images: torch.Tensor,
    num_classes: int,
    config: InferenceConfig | None = None,
    out_size: Sequence[int] | None = None,
) -> torch.Tensor:
    """Dense :func:`segment_scores` (logits, or probabilities under TTA), ``[B, K, H, W]``."""
    scores = segment_scores(model, images, config, out_size)
    _check_classes(scores, num_classes)
    return scores.dense()


def _check_classes(scores: ScoreMap, num_classes: int) -> None:
    if scores.channels != num_classes:
        raise ValueError(f"the model predicts {scores.channels} classes, not num_classes={num_classes}")

"""Segmentation inference modes in plain PyTorch: whole image, sliding window, multi-scale + flip TTA.

All functions take a segmentor ``model(images[B, 3, h, w]) → logits[B, K, h, w]`` (as :class:`EDAFormer`) and
return class scores ``[B, K, H, W]`` at ``out_size`` (the label's original resolution) or at the input size.
Single-scale modes return logits; :func:`multi_scale_flip_inference` averages softmax probabilities over the
scales and flips, as MMSeg's ``aug_test`` does. ``argmax(dim=1)`` of either gives the prediction.

Input sizes: single-scale modes take the network input as it is (the datasets and :class:`Segmenter` resize it
with the test recipe's ``AlignedResize`` beforehand). Multi-scale testing takes the *original* image and resizes it
for each ratio exactly as the authors do (see :attr:`InferenceConfig.test_scale`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from ..data.transforms import aligned_rescale_sizes

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
        scale = self.test_scale or (max(height, width), min(height, width))
        return aligned_rescale_sizes(height, width, scale, self.size_divisor, ratio)


def _pair(value: int | Sequence[int], what: str) -> tuple[int, int]:
    pair = (int(value), int(value)) if isinstance(value, int) else tuple(int(v) for v in value)
    if len(pair) != 2 or min(pair) < 1:
        raise ValueError(f"{what} must be a positive int or (h, w), got {value!r}")
    return pair  # type: ignore[return-value]


def _resize(x: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False)


@torch.no_grad()
def whole_inference(
    model: nn.Module, images: torch.Tensor, out_size: Sequence[int] | None = None
) -> torch.Tensor:
    """One forward pass: logits ``[B, K, H, W]`` at ``out_size`` (default: the input size)."""
    logits = model(images)
    return _resize(logits, out_size) if out_size is not None else logits


@torch.no_grad()
def slide_inference(
    model: nn.Module,
    images: torch.Tensor,
    num_classes: int,
    crop_size: int | Sequence[int] = (1024, 1024),
    stride: int | Sequence[int] = (768, 768),
    out_size: Sequence[int] | None = None,
) -> torch.Tensor:
    """Sliding-window logits averaged where windows overlap (MMSeg's ``slide_inference``).

    The grid has ``max(H − crop + stride − 1, 0) // stride + 1`` rows (same for columns); the last window is
    shifted back to end at the border, so every window is ``crop`` sized unless the image is smaller.
    """
    crop_h, crop_w = _pair(crop_size, "crop_size")
    stride_h, stride_w = _pair(stride, "stride")
    batch, _, height, width = images.shape
    rows = max(height - crop_h + stride_h - 1, 0) // stride_h + 1
    cols = max(width - crop_w + stride_w - 1, 0) // stride_w + 1
    logits = images.new_zeros((batch, num_classes, height, width))
    counts = images.new_zeros((1, 1, height, width))
    for row in range(rows):
        for col in range(cols):
            y2 = min(row * stride_h + crop_h, height)
            x2 = min(col * stride_w + crop_w, width)
            y1, x1 = max(y2 - crop_h, 0), max(x2 - crop_w, 0)
            logits[:, :, y1:y2, x1:x2] += model(images[:, :, y1:y2, x1:x2])
            counts[:, :, y1:y2, x1:x2] += 1
    logits = logits / counts
    return _resize(logits, out_size) if out_size is not None else logits


@torch.no_grad()
def single_scale_inference(
    model: nn.Module,
    images: torch.Tensor,
    num_classes: int,
    config: InferenceConfig,
    out_size: Sequence[int] | None = None,
) -> torch.Tensor:
    """Logits of ``config.mode`` at one scale."""
    if config.mode == "slide":
        return slide_inference(model, images, num_classes, config.crop_size, config.stride, out_size)
    return whole_inference(model, images, out_size)


@torch.no_grad()
def multi_scale_flip_inference(
    model: nn.Module,
    images: torch.Tensor,
    num_classes: int,
    config: InferenceConfig,
    out_size: Sequence[int] | None = None,
) -> torch.Tensor:
    """Softmax probabilities averaged over ``config.scales`` × (identity, horizontal flip if ``config.flip``).

    ``images[B, 3, H, W]`` are the *original* images (normalised, not resized). For each ratio they are resized
    bilinearly, as the authors' pipeline does, first to the keep-ratio size and then to the aligned network input
    (:meth:`InferenceConfig.scaled_sizes`; e.g. 512×683 at 0.875 → 448×598 → 448×608). The probabilities are
    returned at ``out_size`` (default ``(H, W)``).
    """
    height, width = images.shape[-2:]
    target = tuple(out_size) if out_size is not None else (height, width)
    probs = images.new_zeros((images.shape[0], num_classes, *target))
    passes = 0
    for scale in config.scales:
        rescaled, aligned = config.scaled_sizes(height, width, scale)
        scaled = _resize(_resize(images, rescaled), aligned)
        for flip in (False, True) if config.flip else (False,):
            inp = scaled.flip(-1) if flip else scaled
            logits = single_scale_inference(model, inp, num_classes, config, target)
            if flip:
                logits = logits.flip(-1)
            probs += logits.softmax(dim=1)
            passes += 1
    return probs / passes


@torch.no_grad()
def segment(
    model: nn.Module,
    images: torch.Tensor,
    num_classes: int,
    config: InferenceConfig | None = None,
    out_size: Sequence[int] | None = None,
) -> torch.Tensor:
    """Class scores ``[B, K, H, W]`` following ``config`` (default: whole image; TTA when it asks for scales/flip).

    ``images`` are the network input for single-scale modes, the original images when ``config.tta``.
    """
    config = config or InferenceConfig()
    if config.tta:
        return multi_scale_flip_inference(model, images, num_classes, config, out_size)
    return single_scale_inference(model, images, num_classes, config, out_size)

"""Albumentations ops that reproduce the authors' MMSegmentation pipelines, and those pipelines.

Every op here is a regular albumentations transform. :func:`authors_train_pipeline` and
:func:`authors_val_pipeline` build the authors' pipelines from a crop size and a test scale (the DataModules'
default); a pipeline of one's own is a plain list of ops, in Python or in a config
(``_target_: edaformer.data.transforms.RandomRescale`` next to ``_target_: albumentations.HorizontalFlip``).

Conventions: images are RGB ``uint8`` ``[H, W, 3]`` until ``Normalize``; masks are ``uint8`` train ids
``[H, W]`` with 255 = ignore; sizes are written ``(height, width)`` except the mmseg-style ``scale``,
which is ``(long_edge, short_edge)`` bounds exactly as in the authors' configs (``img_scale=(2048, 512)``).
Randomness comes only from the transform's own generators (``self.py_random``), which the datasets seed,
so a seeded run is reproducible and independent of the number of loader workers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import albumentations as A
import cv2
import numpy as np

from edaformer.data.io import IGNORE_INDEX

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "AlignedResize",
    "authors_train_pipeline",
    "authors_val_pipeline",
    "imagenet_normalize",
    "PhotoMetricDistortion",
    "RandomCropCatMax",
    "RandomRescale",
    "aligned_rescale",
    "aligned_rescale_sizes",
    "build_pipeline",
    "rescale_size",
]

# ImageNet statistics on the 0-255 RGB scale (authors' ``img_norm_cfg``): every pipeline normalises with
# :func:`imagenet_normalize`, prediction with ``edaformer.evaluation.images.normalize``.
IMAGENET_MEAN: tuple[float, float, float] = (123.675, 116.28, 103.53)
IMAGENET_STD: tuple[float, float, float] = (58.395, 57.12, 57.375)


def rescale_size(height: int, width: int, scale: Sequence[float]) -> tuple[int, int]:
    """Keep-ratio target size so the image fits inside ``scale`` = (long-edge bound, short-edge bound).

    This is mmcv's ``imrescale`` rule used by the authors: factor = min(long/max(h, w), short/min(h, w)),
    sides rounded half up. E.g. a 512×683 ADE image with scale (2048, 512) stays 512×683.

    Returns:
        ``(new_height, new_width)``, both at least 1.
    """
    long_bound, short_bound = max(scale), min(scale)
    factor = min(long_bound / max(height, width), short_bound / min(height, width))
    return max(1, int(height * factor + 0.5)), max(1, int(width * factor + 0.5))


def aligned_rescale_sizes(
    height: int, width: int, scale: Sequence[float], size_divisor: int = 32, ratio: float = 1.0
) -> tuple[tuple[int, int], tuple[int, int]]:
    """The authors' test-time geometry for an original ``height × width`` image at multi-scale ``ratio``.

    MMSeg's ``MultiScaleFlipAug`` turns the bound into ``(int(long·ratio), int(short·ratio))``; the authors'
    ``AlignedResize`` rescales the *original* image into it (:func:`rescale_size`) and then resizes it once more
    so both sides are rounded up to multiples of ``size_divisor``. E.g. 512×683 with scale (2048, 512):
    ratio 1 → 512×683 → 512×704; ratio 0.875 → 448×598 → 448×608.

    Returns:
        ``((h, w) after the keep-ratio rescale, (h, w) of the network input)``.
    """
    bound = (int(scale[0] * ratio), int(scale[1] * ratio))
    h, w = rescale_size(height, width, bound)
    d = int(size_divisor)
    return (h, w), (math.ceil(h / d) * d, math.ceil(w / d) * d)


def aligned_rescale(
    image: np.ndarray,
    scale: Sequence[float],
    size_divisor: int = 32,
    ratio: float = 1.0,
    interpolation: int = cv2.INTER_LINEAR,
) -> np.ndarray:
    """The authors' test-time resize of an original image ``[H, W, ...]`` (RGB ``uint8`` or a mask).

    Two OpenCV resizes, as their ``AlignedResize``: the keep-ratio rescale into the ratio's bound, then the
    resize of *that* result to sides rounded up to multiples of ``size_divisor`` (sizes from
    :func:`aligned_rescale_sizes`). On ``uint8`` the first resize rounds to integers, so one direct resize to
    the final size gives different pixels whenever the first step changes the size. A resize to the same size
    is skipped (OpenCV returns a copy then).
    """
    (h, w), (aligned_h, aligned_w) = aligned_rescale_sizes(*image.shape[:2], scale, size_divisor, ratio)
    return _resize(_resize(image, h, w, interpolation), aligned_h, aligned_w, interpolation)


def _resize(array: np.ndarray, height: int, width: int, interpolation: int) -> np.ndarray:
    if array.shape[:2] == (height, width):
        return array
    return cv2.resize(array, (width, height), interpolation=interpolation)


class _ResizeTransform(A.DualTransform):
    """Resizes image (``self.interpolation``) and mask (nearest) to the ``new_height``/``new_width`` params."""

    def apply(self, img: np.ndarray, new_height: int, new_width: int, **params: Any) -> np.ndarray:
        return _resize(img, new_height, new_width, self.interpolation)

    def apply_to_mask(self, mask: np.ndarray, new_height: int, new_width: int, **params: Any) -> np.ndarray:
        return _resize(mask, new_height, new_width, cv2.INTER_NEAREST)


class RandomRescale(_ResizeTransform):
    """mmseg ``Resize(img_scale=scale, ratio_range=ratio_range, keep_ratio=True)``.

    A ratio ``r ~ U(ratio_range)`` scales the bounds to ``(int(long·r), int(short·r))``; the image is then
    rescaled with :func:`rescale_size` (bilinear), the mask with nearest neighbour.

    Args:
        scale: ``(long_edge, short_edge)`` bounds, e.g. ``(2048, 512)`` for ADE20K (the recipe's test scale).
        ratio_range: range of the random ratio, e.g. ``(0.5, 2.0)`` (the recipe's).
        interpolation: OpenCV flag for the image. Default bilinear.
        p: probability (the authors always rescale). Default 1.
    """

    def __init__(
        self,
        scale: Sequence[int],
        ratio_range: Sequence[float],
        interpolation: int = cv2.INTER_LINEAR,
        p: float = 1.0,
    ):
        super().__init__(p=p)
        if len(scale) != 2 or min(scale) <= 0:
            raise ValueError(f"scale must be two positive numbers (long, short), got {scale}")
        if len(ratio_range) != 2 or not 0 < ratio_range[0] <= ratio_range[1]:
            raise ValueError(f"ratio_range must be (low, high) with 0 < low <= high, got {ratio_range}")
        self.scale = tuple(int(s) for s in scale)
        self.ratio_range = tuple(float(r) for r in ratio_range)
        self.interpolation = interpolation

    def get_params_dependent_on_data(self, params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        height, width = params["shape"][:2]
        ratio = self.py_random.uniform(*self.ratio_range)
        bounds = (int(self.scale[0] * ratio), int(self.scale[1] * ratio))
        new_height, new_width = rescale_size(height, width, bounds)
        return {"new_height": new_height, "new_width": new_width}

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return ("scale", "ratio_range", "interpolation")


class AlignedResize(A.DualTransform):
    """Test-time resize: keep-ratio to ``scale``, then each side rounded **up** to a multiple of ``size_divisor``.

    Two resizes as the authors' ``AlignedResize`` (SegFormer code base), see :func:`aligned_rescale`: an ADE20K
    image of 480×640 with scale (2048, 512) is rescaled to 512×683, then resized to 512×704. Masks (when given)
    take the same two steps with nearest neighbour; the validation datasets pass only the image, so labels stay
    at their original resolution. Multi-scale testing does not use this op: the inference resizes the original
    image for each ratio with :func:`aligned_rescale`.

    Args:
        scale: ``(long_edge, short_edge)`` bounds (the recipe's test scale).
        size_divisor: both output sides are multiples of it (the encoder's total stride). Default 32.
        interpolation: OpenCV flag for the image. Default bilinear.
    """

    def __init__(
        self,
        scale: Sequence[int],
        size_divisor: int = 32,
        interpolation: int = cv2.INTER_LINEAR,
        p: float = 1.0,
    ):
        super().__init__(p=p)
        if size_divisor < 1:
            raise ValueError(f"size_divisor must be >= 1, got {size_divisor}")
        self.scale = tuple(int(s) for s in scale)
        self.size_divisor = int(size_divisor)
        self.interpolation = interpolation

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        """``(height, width)`` this op produces for an input of the given size."""
        return aligned_rescale_sizes(height, width, self.scale, self.size_divisor)[1]

    def apply(self, img: np.ndarray, **params: Any) -> np.ndarray:
        return aligned_rescale(img, self.scale, self.size_divisor, interpolation=self.interpolation)

    def apply_to_mask(self, mask: np.ndarray, **params: Any) -> np.ndarray:
        return aligned_rescale(mask, self.scale, self.size_divisor, interpolation=cv2.INTER_NEAREST)

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return ("scale", "size_divisor", "interpolation")


class RandomCropCatMax(A.DualTransform):
    """mmseg ``RandomCrop(crop_size, cat_max_ratio)``: a random crop, re-drawn while one class dominates.

    The crop is ``min(crop, image)`` on each side (pad afterwards with ``A.PadIfNeeded``). If one class
    covers ``>= cat_max_ratio`` of the crop's labelled pixels (ignore excluded), or the crop holds a single
    class, a new position is drawn, up to ``max_tries`` times; the last draw is kept.

    Args:
        height, width: crop size in pixels.
        cat_max_ratio: dominance threshold, e.g. the authors' 0.75; ``1.0`` disables the re-draws.
        ignore_index: label excluded from the class count. Default ``IGNORE_INDEX`` (255).
        max_tries: re-draws after the first crop. Default 10 (as the authors).
    """

    def __init__(
        self,
        height: int,
        width: int,
        cat_max_ratio: float,
        ignore_index: int = IGNORE_INDEX,
        max_tries: int = 10,
        p: float = 1.0,
    ):
        super().__init__(p=p)
        if height < 1 or width < 1:
            raise ValueError(f"crop size must be positive, got {height}x{width}")
        if not 0 < cat_max_ratio <= 1:
            raise ValueError(f"cat_max_ratio must be in (0, 1], got {cat_max_ratio}")
        self.height, self.width = int(height), int(width)
        self.cat_max_ratio = float(cat_max_ratio)
        self.ignore_index = int(ignore_index)
        self.max_tries = int(max_tries)

    def _draw(self, height: int, width: int) -> tuple[int, int, int, int]:
        y0 = self.py_random.randint(0, max(height - self.height, 0))
        x0 = self.py_random.randint(0, max(width - self.width, 0))
        return y0, x0, min(y0 + self.height, height), min(x0 + self.width, width)

    def _balanced(self, mask: np.ndarray, box: tuple[int, int, int, int]) -> bool:
        y0, x0, y1, x1 = box
        counts = np.bincount(mask[y0:y1, x0:x1].ravel(), minlength=256)
        if 0 <= self.ignore_index < counts.size:
            counts[self.ignore_index] = 0
        present = counts[counts > 0]
        return present.size > 1 and present.max() / present.sum() < self.cat_max_ratio

    def get_params_dependent_on_data(self, params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        height, width = params["shape"][:2]
        box = self._draw(height, width)
        mask = data.get("mask")
        if mask is not None and self.cat_max_ratio < 1.0:
            for _ in range(self.max_tries):
                if self._balanced(mask, box):
                    break
                box = self._draw(height, width)
        return {"box": box}

    def apply(self, img: np.ndarray, box: tuple[int, int, int, int], **params: Any) -> np.ndarray:
        y0, x0, y1, x1 = box
        return np.ascontiguousarray(img[y0:y1, x0:x1])

    def apply_to_mask(self, mask: np.ndarray, box: tuple[int, int, int, int], **params: Any) -> np.ndarray:
        return self.apply(mask, box)

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return ("height", "width", "cat_max_ratio", "ignore_index", "max_tries")


class PhotoMetricDistortion(A.ImageOnlyTransform):
    """mmseg ``PhotoMetricDistortion`` on RGB ``uint8`` images; each step has probability 0.5.

    Order and draws as the authors' code: brightness (add ``U(-brightness_delta, +brightness_delta)``); contrast
    (multiply by ``U(contrast_range)``) either here or last, at random; saturation (multiply S of HSV by
    ``U(saturation_range)``); hue (add an integer in ``[-hue_delta, hue_delta - 1]`` to H, OpenCV units 0-180,
    wrapping: NumPy's ``randint`` excludes the upper end). Saturation and hue are two separate RGB → HSV → RGB
    round trips, each of which rounds, as in the authors' code. Values are clipped to 0-255 and truncated after
    each step. Brightness and contrast are applied through a 256-entry lookup table, which is why this op costs
    about as much as one colour conversion.
    """

    def __init__(
        self,
        brightness_delta: int = 32,
        contrast_range: Sequence[float] = (0.5, 1.5),
        saturation_range: Sequence[float] = (0.5, 1.5),
        hue_delta: int = 18,
        p: float = 1.0,
    ):
        super().__init__(p=p)
        if hue_delta < 1:
            raise ValueError(
                f"hue_delta must be >= 1 (a hue shift in [-hue_delta, hue_delta - 1]), got {hue_delta}"
            )
        self.brightness_delta = int(brightness_delta)
        self.contrast_range = tuple(float(c) for c in contrast_range)
        self.saturation_range = tuple(float(s) for s in saturation_range)
        self.hue_delta = int(hue_delta)

    def get_params(self) -> dict[str, Any]:
        rnd = self.py_random

        def maybe(draw: Any) -> Any:
            return draw() if rnd.random() < 0.5 else None

        beta = maybe(lambda: rnd.uniform(-self.brightness_delta, self.brightness_delta))
        contrast_first = rnd.random() < 0.5
        alpha = maybe(lambda: rnd.uniform(*self.contrast_range)) if contrast_first else None
        saturation = maybe(lambda: rnd.uniform(*self.saturation_range))
        hue = maybe(lambda: rnd.randrange(-self.hue_delta, self.hue_delta))
        if not contrast_first:
            alpha = maybe(lambda: rnd.uniform(*self.contrast_range))
        return {
            "beta": beta,
            "alpha": alpha,
            "contrast_first": contrast_first,
            "saturation": saturation,
            "hue": hue,
        }

    @staticmethod
    def _affine_lut(alpha: float, beta: float) -> np.ndarray:
        return np.clip(np.arange(256, dtype=np.float32) * alpha + beta, 0, 255).astype(np.uint8)

    @staticmethod
    def _in_hsv(img: np.ndarray, channel: int, change: Any) -> np.ndarray:
        """One RGB → HSV → RGB round trip that replaces ``channel`` of HSV by ``change(channel values)``."""
        hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)
        hsv[..., channel] = change(hsv[..., channel])
        return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)

    def apply(
        self,
        img: np.ndarray,
        beta: float | None = None,
        alpha: float | None = None,
        contrast_first: bool = True,
        saturation: float | None = None,
        hue: int | None = None,
        **params: Any,
    ) -> np.ndarray:
        if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
            raise TypeError(
                f"PhotoMetricDistortion expects an RGB uint8 image [H, W, 3] (place it before Normalize), "
                f"got {img.dtype} {img.shape}"
            )
        if beta is not None:
            img = cv2.LUT(img, self._affine_lut(1.0, beta))
        if alpha is not None and contrast_first:
            img = cv2.LUT(img, self._affine_lut(alpha, 0.0))
        if saturation is not None:
            img = self._in_hsv(img, 1, lambda s: cv2.LUT(s, self._affine_lut(saturation, 0.0)))
        if hue is not None:
            img = self._in_hsv(img, 0, lambda h: ((h.astype(np.int16) + hue) % 180).astype(np.uint8))
        if alpha is not None and not contrast_first:
            img = cv2.LUT(img, self._affine_lut(alpha, 0.0))
        return img

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return ("brightness_delta", "contrast_range", "saturation_range", "hue_delta")


def build_pipeline(ops: Sequence[A.BasicTransform] | None, *, name: str = "pipeline") -> A.Compose:
    """Wrap a config list of albumentations ops in ``A.Compose`` (shape checks off: the loader checks).

    Args:
        ops: instantiated albumentations transforms, in order; ``None`` or empty means identity.
        name: used in the error message when an entry is not a transform (e.g. a forgotten ``_target_``).
    """
    ops = list(ops or [])
    for i, op in enumerate(ops):
        if not isinstance(op, (A.BasicTransform, A.BaseCompose)):
            raise TypeError(
                f"{name}[{i}] is {type(op).__name__} ({op!r}), expected an albumentations transform; "
                "each pipeline entry needs a `_target_:` such as albumentations.HorizontalFlip"
            )
    return A.Compose(ops, is_check_shapes=False)


def imagenet_normalize() -> A.Normalize:
    """``A.Normalize`` with the ImageNet mean and std on the 0-255 scale (the authors' ``img_norm_cfg``)."""
    return A.Normalize(mean=IMAGENET_MEAN, std=IMAGENET_STD, max_pixel_value=1.0)


def authors_train_pipeline(
    crop_size: Sequence[int],
    test_scale: Sequence[int],
    *,
    ratio_range: Sequence[float],
    cat_max_ratio: float,
    flip_prob: float,
    photometric: bool,
) -> list[A.BasicTransform]:
    """The authors' training pipeline (``local_configs/_base_/datasets/*.py``) as albumentations ops.

    Keep-ratio rescale of ``test_scale`` by a ratio in ``ratio_range`` → random ``crop_size`` crop re-drawn while one
    class covers ``cat_max_ratio`` of it → horizontal flip with ``flip_prob`` → photometric distortion (if
    ``photometric``) → ImageNet normalisation → pad bottom/right to ``crop_size`` (image 0, label 255). Sizes are
    ``(height, width)``, ``test_scale`` ``(long, short)``.
    """
    height, width = (int(s) for s in crop_size)
    ops: list[A.BasicTransform] = [
        RandomRescale(scale=test_scale, ratio_range=ratio_range),
        RandomCropCatMax(height, width, cat_max_ratio=cat_max_ratio),
        A.HorizontalFlip(p=flip_prob),
    ]
    if photometric:
        ops.append(PhotoMetricDistortion())
    ops += [
        imagenet_normalize(),
        A.PadIfNeeded(
            min_height=height,
            min_width=width,
            position="top_left",
            border_mode=cv2.BORDER_CONSTANT,
            fill=0,
            fill_mask=IGNORE_INDEX,
        ),
    ]
    return ops


def authors_val_pipeline(test_scale: Sequence[int]) -> list[A.BasicTransform]:
    """The authors' test pipeline: :class:`AlignedResize` to ``test_scale`` (sides multiples of 32), normalisation.

    Image only: validation labels stay at the original resolution, where metrics are computed.
    """
    return [AlignedResize(scale=test_scale, size_divisor=32), imagenet_normalize()]

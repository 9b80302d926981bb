"""Segment your own images with a trained EDAFormer in one line: the checkpoint's own test recipe (classes and
palette, test scale, whole-image or sliding-window inference), an ISR setting, the exact low-memory labels path.

>>> from edaformer.evaluation import Segmenter
>>> seg = Segmenter.from_pretrained(weights, isr="paper")  # a .pth / .pt / .ckpt file, a hub folder or repo id
>>> labels = seg(photo)                 # a path, a PIL image or an RGB uint8 array [H, W, 3]
>>> labels.shape, labels.dtype          # train ids at the photo's own resolution
((120, 160), dtype('uint8'))
>>> seg.classes.names
['background', 'red', 'blue']
>>> seg.overlay(photo, labels).shape    # class colours blended over the photo (seg.colorize: the colours alone)
(120, 160, 3)

``weights`` and ``photo`` stand for your files (the test suite runs these lines on a small model).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from PIL import Image
from torch import nn

from ..checkpoints import CheckpointInfo, load_model
from ..data.benchmarks import BENCHMARKS
from ..data.classes import class_list_names, default_palette, load_classes
from ..data.transforms import AlignedResize, aligned_rescale
from ..devices import resolve_device
from ..errors import NonFiniteError
from ..models import ISRLike
from ..models.upsampled_argmax import argmax_labels
from .acceleration import accelerate
from .colors import colorize, overlay
from .images import load_image, normalize, to_rgb
from .inference import InferenceConfig, segment, segment_scores

Color = tuple[int, int, int]
ImageLike = str | os.PathLike | Image.Image | np.ndarray
DEFAULT_RECIPE = BENCHMARKS["ade20k"]  # the test recipe of data without a row in the benchmark table


@dataclass(frozen=True)
class ClassMeta:
    """What the train ids mean: ``names[k]`` and ``palette[k]`` for class ``k``; ``dataset`` if a benchmark."""

    names: list[str]
    palette: list[Color]
    dataset: str | None = None

    @property
    def num_classes(self) -> int:
        return len(self.names)


def resolve_classes(
    num_classes: int,
    dataset: str | None = "auto",
    class_names: Sequence[str] | None = None,
    palette: Sequence[Sequence[int]] | None = None,
) -> ClassMeta:
    """Pick class names and colours for a model predicting ``num_classes`` classes.

    ``dataset`` names a dataset with shipped metadata (:func:`~edaformer.data.classes.class_list_names`:
    ``ade20k``, ``cityscapes``, ``coco_stuff``, ``demo``). ``"auto"``: when ``class_names`` are given (e.g. stored
    in a Lightning checkpoint) and equal a shipped list, that dataset; without names, the paper's benchmark whose
    class count matches (150 → ADE20K, 19 → Cityscapes, 171 → COCO-Stuff). Otherwise (``None`` or no match) the
    names are ``class 0 .. class K-1`` or the given ones, with the given ``palette`` or distinct generated colours.
    """
    if dataset == "auto":
        if class_names is not None:
            names = [str(n) for n in class_names]
            dataset = next((d for d in class_list_names() if load_classes(d).names == names), None)
        else:
            dataset = next(
                (b.name for b in BENCHMARKS.values() if b.in_paper and b.num_classes == num_classes), None
            )
    if dataset is not None:
        if dataset not in class_list_names():
            raise ValueError(f"unknown dataset {dataset!r}; expected auto, {', '.join(class_list_names())}")
        known = load_classes(dataset)
        if known.num_classes != num_classes:
            raise ValueError(
                f"the model predicts {num_classes} classes but {dataset} has {known.num_classes}; "
                "pick the dataset the checkpoint was trained on (or dataset=auto)"
            )
        names, colors = list(class_names or known.names), list(palette or known.palette)
    else:
        names = [str(n) for n in class_names] if class_names else [f"class {k}" for k in range(num_classes)]
        colors = list(palette) if palette else default_palette(num_classes)
    if len(names) != num_classes or len(colors) != num_classes:
        raise ValueError(
            f"the model predicts {num_classes} classes, got {len(names)} names and {len(colors)} colours"
        )
    return ClassMeta([str(n) for n in names], [tuple(int(c) for c in p) for p in colors], dataset)


@dataclass
class Segmenter:
    """A segmentor plus everything needed to apply it to a user's image.

    Args:
        model: ``model(images[B, 3, H, W]) → logits[B, K, H, W]`` in eval mode.
        classes: names and colours of the ``K`` classes.
        test_scale: keep-ratio ``(long, short)`` bound of the test-time resize (the authors' ``AlignedResize``);
            ``None`` keeps the image size. Either way both sides are rounded up to multiples of ``size_divisor``.
        inference: whole-image or sliding-window inference (and optional multi-scale/flip TTA, which resizes the
            original image per ratio with ``test_scale`` and ``size_divisor``: they are copied into it).
        size_divisor: the encoder's total stride (32).
        info: what was loaded (:meth:`from_pretrained`, :meth:`from_checkpoint`), else ``None``.
    """

    model: nn.Module
    classes: ClassMeta
    test_scale: tuple[int, int] | None = DEFAULT_RECIPE.test_scale
    inference: InferenceConfig = field(default_factory=InferenceConfig)
    size_divisor: int = 32
    info: CheckpointInfo | None = None

    def __post_init__(self) -> None:
        self.inference = replace(self.inference, test_scale=self.test_scale, size_divisor=self.size_divisor)

    @classmethod
    def from_pretrained(cls, weights: str | os.PathLike, isr: ISRLike = None, **options: Any) -> Segmenter:
        """The segmenter of any segmentation weights :func:`~edaformer.checkpoints.load_model` reads (the
        authors' ``.pth``, our ``.pt`` / ``.ckpt``, a hub folder or Hub repo id), under the ISR setting ``isr``
        (``None``: the checkpoint's own, ``"paper"``, ``"16,8,2,1-2,4,8"``, ...); ``options`` as
        :meth:`from_checkpoint`. What was loaded is :attr:`info`."""
        segmenter, info = cls.from_checkpoint(weights, isr=isr, **options)
        segmenter.info = info
        return segmenter

    @classmethod
    def from_checkpoint(
        cls,
        path: str | os.PathLike,
        isr: ISRLike = None,
        dataset: str | None = "auto",
        class_names: Sequence[str] | None = None,
        palette: Sequence[Sequence[int]] | None = None,
        device: str | torch.device = "auto",
        test_scale: Sequence[int] | None | str = "auto",
        **inference: Any,
    ) -> tuple[Segmenter, CheckpointInfo]:
        """Load any segmentation checkpoint :func:`~edaformer.checkpoints.load_model` reads; returns
        ``(segmenter, info)`` (a classification checkpoint is a :class:`~edaformer.checkpoints.CheckpointKindError`).

        Class names (and palette, dataset) default to those stored with the weights (a Lightning checkpoint's names,
        a hub folder's names, palette and dataset), then to :func:`resolve_classes`'s rules; an ``"auto"`` test
        scale and mode to those the training run evaluated with (a Lightning checkpoint's), then to :meth:`build`'s;
        ``isr`` (any form :func:`~edaformer.models.parse_isr` reads) overrides the checkpoint's pooling ratios;
        ``inference`` goes to :meth:`build`.
        """
        model, info = load_model(path, task="segmentation")
        model.set_isr(isr)  # None: keeps the checkpoint's
        if class_names is None and info.class_names:
            class_names = list(info.class_names)
            palette = list(info.palette) if palette is None and info.palette else palette
        if dataset == "auto" and info.dataset in class_list_names():
            dataset = info.dataset
        classes = resolve_classes(info.num_classes, dataset, class_names, palette)
        recipe = info.test_recipe or {}  # how the training run evaluated: its test scale and inference mode
        if test_scale == "auto" and recipe.get("test_scale") is not None:
            test_scale = tuple(recipe["test_scale"])
        if inference.get("mode", "auto") == "auto" and recipe.get("mode") is not None:
            inference["mode"] = recipe["mode"]
            for key in ("crop_size", "stride"):
                if inference.get(key) is None and recipe.get(key) is not None:
                    inference[key] = tuple(recipe[key])
        return cls.build(model, classes, device, test_scale, **inference), info

    @classmethod
    def build(
        cls,
        model: nn.Module,
        classes: ClassMeta,
        device: str | torch.device = "auto",
        test_scale: Sequence[int] | None | str = "auto",
        mode: str = "auto",
        crop_size: Sequence[int] | None = None,
        stride: Sequence[int] | None = None,
        scales: Sequence[float] = (1.0,),
        flip: bool = False,
        compile: bool = False,
        precision: str = "fp32",
    ) -> Segmenter:
        """Wrap ``model``; ``"auto"`` test scale / mode take the test recipe of ``classes.dataset`` from
        :data:`~edaformer.data.benchmarks.BENCHMARKS` (ADE20K's for other data: keep-ratio bound (2048, 512) and
        whole-image inference; Cityscapes: (2048, 1024) and 1024² sliding windows with stride 768, which replace
        ``crop_size`` / ``stride``; ``None`` there: :class:`InferenceConfig`'s). ``compile`` / ``precision``
        (``fp32`` | ``bf16``) run the model through :func:`~edaformer.evaluation.acceleration.accelerate` (bf16
        converts its weights in place)."""
        recipe = BENCHMARKS.get(classes.dataset or "", DEFAULT_RECIPE)
        scale = recipe.test_scale if test_scale == "auto" else test_scale
        if scale is not None:
            scale = tuple(int(s) for s in scale)
            if len(scale) != 2 or min(scale) < 1:
                raise ValueError(
                    f"test_scale must be (long, short) positive ints or null, got {test_scale!r}"
                )
        if mode == "auto":
            mode = recipe.inference_mode
            if recipe.slide_crop is not None:
                crop_size, stride = recipe.slide_crop, recipe.slide_stride
        window = {k: tuple(v) for k, v in (("crop_size", crop_size), ("stride", stride)) if v is not None}
        inference = InferenceConfig(mode, scales=tuple(scales), flip=bool(flip), **window)
        model = accelerate(model.to(resolve_device(device)).eval(), compile=compile, precision=precision)
        return cls(model, classes, scale, inference)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def input_size(self, height: int, width: int) -> tuple[int, int]:
        """Network input ``(h, w)`` for an image of ``height × width`` (multiples of 32, at least 32)."""
        if self.test_scale is not None:
            h, w = AlignedResize(self.test_scale, self.size_divisor).output_size(height, width)
        else:
            d = self.size_divisor
            h, w = -(-height // d) * d, -(-width // d) * d
        return max(h, self.size_divisor), max(w, self.size_divisor)

    def preprocess(self, image: np.ndarray) -> torch.Tensor:
        """RGB ``uint8 [H, W, 3]`` → normalised ``[1, 3, h, w]`` on the model's device at :meth:`input_size` (with a
        test scale: the keep-ratio rescale and the aligned resize, two resizes as the authors'); under
        multi-scale/flip TTA the image itself, ``uint8 [1, 3, H, W]`` (the inference resizes it per ratio)."""
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected an RGB uint8 image [H, W, 3], got {image.dtype} {image.shape}")
        if self.inference.tta:
            return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None].to(self.device)
        h, w = self.input_size(*image.shape[:2])
        if self.test_scale is not None:
            image = aligned_rescale(image, self.test_scale, self.size_divisor)
        if (h, w) != image.shape[:2]:
            image = cv2.resize(image, (w, h), interpolation=cv2.INTER_LINEAR)
        elif not image.flags.writeable:  # a decoded image's pixels, read-only: torch warns on those
            image = image.copy()
        return normalize(image).to(self.device)

    @torch.no_grad()
    def scores(self, image: np.ndarray) -> torch.Tensor:
        """Class scores ``[K, H, W]`` at the image's own resolution (logits, or probabilities under TTA)."""
        x = self.preprocess(image)
        out = segment(self.model, x, self.classes.num_classes, self.inference, out_size=image.shape[:2])
        return out[0]

    @torch.no_grad()
    def predict(self, image: np.ndarray) -> np.ndarray:
        """Train-id label map ``[H, W]`` (``uint8``; ``uint16`` beyond 255 classes) at the image's resolution.

        Equal to ``scores(image).argmax(0)``, computed without the ``K × H × W`` scores. Outputs holding NaN/inf
        are a :class:`~edaformer.errors.NonFiniteError` (their argmax would be class 0 everywhere).
        """
        x = self.preprocess(image)
        scores = segment_scores(self.model, x, self.inference, out_size=image.shape[:2])
        if not bool(scores.finite().all()):
            raise NonFiniteError(
                "the model's outputs are NaN/inf for this image; no labels are made from them"
            )
        label = argmax_labels(scores)[0]
        return label.cpu().numpy().astype(np.uint8 if self.classes.num_classes <= 255 else np.uint16)

    def __call__(self, image: ImageLike) -> np.ndarray:
        """Labels ``[H, W]`` of an image file path, a PIL image or an RGB ``uint8 [H, W, 3]`` array
        (:meth:`predict` after :meth:`read`)."""
        return self.predict(self.read(image))

    @staticmethod
    def read(image: ImageLike) -> np.ndarray:
        """RGB ``uint8 [H, W, 3]`` from a path (:func:`~edaformer.evaluation.load_image`: EXIF rotation, 16-bit,
        alpha), a PIL image (:func:`~edaformer.evaluation.to_rgb`), or an array (``uint8`` RGB, or grey
        ``[H, W]`` repeated to three channels)."""
        if isinstance(image, (str, os.PathLike)):
            return load_image(Path(image))
        if isinstance(image, Image.Image):
            return to_rgb(image)
        array = np.asarray(image)
        if array.ndim == 2 and array.dtype == np.uint8:
            return np.repeat(array[:, :, None], 3, axis=2)
        if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8:
            raise ValueError(
                f"expected an RGB uint8 image [H, W, 3] (or a path), got {array.dtype} {array.shape}"
            )
        return array

    def colorize(self, labels: np.ndarray) -> np.ndarray:
        """The classes' colours of ``labels [H, W]`` → RGB ``uint8 [H, W, 3]``."""
        return colorize(labels, self.classes.palette)

    def overlay(self, image: ImageLike, labels: np.ndarray, alpha: float = 0.5) -> np.ndarray:
        """The classes' colours blended over ``image`` (weight ``alpha``) → RGB ``uint8 [H, W, 3]``."""
        return overlay(self.read(image), labels, self.classes.palette, alpha=alpha)

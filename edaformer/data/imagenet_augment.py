"""The ImageNet augmentations of the DeiT / PVTv2 recipe the authors pre-train EFT with, as albumentations ops.

DeiT builds its training transform with timm: ``RandAugment`` from the policy string ``rand-m9-mstd0.5-inc1`` and
``RandomErasing(0.25, mode="pixel", max_count=1)`` after normalisation. Both are written here from timm's
definitions (timm is not a dependency):

* :class:`RandAugment`: for every image, ``num_ops`` operations drawn uniformly *with replacement* from the 15 of
  :data:`RAND_AUGMENT_OPS` (timm's "increasing" set: every op gets stronger as the magnitude grows). Each drawn op
  runs with probability ``op_prob``; its magnitude is ``N(magnitude, magnitude_std)`` clipped to ``[0, 10]``;
  signed ops (rotate, shear, translate, the enhance ops) flip their sign with probability 1/2. Geometric ops use
  bicubic resampling and fill with the ImageNet mean colour, as DeiT's ``--train-interpolation bicubic`` and
  timm's ``img_mean`` do. The ops are PIL's, like timm's, so the pixels match timm's for the same draws.
* :class:`RandomErasing`: one box of area ``U(0.02, 1/3)`` of the image and log-uniform aspect ratio in
  ``[0.3, 1/0.3]`` (up to 10 tries to fit), filled with per-pixel ``N(0, 1)`` noise, in normalised space.

Randomness comes from the op's own generators (``self.py_random`` / ``self.random_generator``), which the datasets
seed (:class:`~edaformer.data.segmentation.SeededTransform`), so runs are reproducible.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import albumentations as A
import numpy as np
from PIL import Image, ImageEnhance, ImageOps

__all__ = ["RAND_AUGMENT_OPS", "RandAugment", "RandomErasing", "rand_augment_argument"]

MAX_MAGNITUDE = 10.0  # magnitudes live on timm's 0..10 scale ("m9" = 9 / 10 of each op's range)
IMAGENET_MEAN_RGB = (124, 116, 104)  # round(255 · (0.485, 0.456, 0.406)): timm's fill colour

# timm's "increasing" RandAugment set (``rand-...-inc1``), in timm's order.
RAND_AUGMENT_OPS: tuple[str, ...] = (
    "AutoContrast",
    "Equalize",
    "Invert",
    "Rotate",
    "PosterizeIncreasing",
    "SolarizeIncreasing",
    "SolarizeAdd",
    "ColorIncreasing",
    "ContrastIncreasing",
    "BrightnessIncreasing",
    "SharpnessIncreasing",
    "ShearX",
    "ShearY",
    "TranslateXRel",
    "TranslateYRel",
)
_UNSIGNED = {"AutoContrast", "Equalize", "Invert", "PosterizeIncreasing", "SolarizeIncreasing", "SolarizeAdd"}
_SIGNED = set(RAND_AUGMENT_OPS) - _UNSIGNED  # rotate, shear, translate, enhance: direction drawn at random


def rand_augment_argument(name: str, magnitude: float, negate: bool = False) -> float | int | None:
    """The argument timm gives op ``name`` at ``magnitude`` (0..10); ``negate`` flips signed ops' direction.

    Rotate: ±30°·m/10. Shear: ±0.3·m/10. Translate: ±0.45·m/10 of the side. Enhance ops (Color, Contrast,
    Brightness, Sharpness): factor ``max(0.1, 1 ± 0.9·m/10)``. Posterize: ``4 − int(4·m/10)`` bits kept.
    Solarize: threshold ``256 − int(256·m/10)``. SolarizeAdd: ``+min(128, int(110·m/10))`` below 128.
    AutoContrast, Equalize, Invert: ``None`` (no argument).
    """
    level = magnitude / MAX_MAGNITUDE
    sign = -1.0 if negate else 1.0
    if name in ("AutoContrast", "Equalize", "Invert"):
        return None
    if name == "Rotate":
        return sign * 30.0 * level
    if name in ("ShearX", "ShearY"):
        return sign * 0.3 * level
    if name in ("TranslateXRel", "TranslateYRel"):
        return sign * 0.45 * level
    if name.endswith("Increasing") and not name.startswith(("Posterize", "Solarize")):
        return max(0.1, 1.0 + sign * 0.9 * level)
    if name == "PosterizeIncreasing":
        return 4 - int(level * 4)
    if name == "SolarizeIncreasing":
        return 256 - min(256, int(level * 256))
    if name == "SolarizeAdd":
        return min(128, int(level * 110))
    raise KeyError(f"unknown RandAugment op {name!r}; expected one of {', '.join(RAND_AUGMENT_OPS)}")


def _affine(img: Image.Image, matrix: tuple[float, ...], fill: tuple[int, ...]) -> Image.Image:
    # PIL maps each output pixel (x, y) to the input pixel (a·x + b·y + c, d·x + e·y + f).
    return img.transform(
        img.size, Image.Transform.AFFINE, matrix, resample=Image.Resampling.BICUBIC, fillcolor=fill
    )


def _posterize(img: Image.Image, bits: int) -> Image.Image:
    # Keep the ``bits`` high bits. Written out because Pillow >= 10 refuses 0 bits, which magnitude 10 asks for:
    # the older Pillow of the DeiT recipe returned black there, and so does this.
    mask = (0xFF << (8 - bits)) & 0xFF
    return img.point([i & mask for i in range(256)] * len(img.getbands()))


def _solarize_add(img: Image.Image, add: int, threshold: int = 128) -> Image.Image:
    lut = [min(255, i + add) if i < threshold else i for i in range(256)]
    return img.point(lut * len(img.getbands()))


_ENHANCERS: dict[str, Callable[[Image.Image], ImageEnhance._Enhance]] = {
    "ColorIncreasing": ImageEnhance.Color,
    "ContrastIncreasing": ImageEnhance.Contrast,
    "BrightnessIncreasing": ImageEnhance.Brightness,
    "SharpnessIncreasing": ImageEnhance.Sharpness,
}


def apply_op(img: Image.Image, name: str, arg: float | int | None, fill: tuple[int, ...]) -> Image.Image:
    """Apply one RandAugment op with its argument (:func:`rand_augment_argument`) to an RGB PIL image."""
    width, height = img.size
    if name == "AutoContrast":
        return ImageOps.autocontrast(img)
    if name == "Equalize":
        return ImageOps.equalize(img)
    if name == "Invert":
        return ImageOps.invert(img)
    if name == "Rotate":
        return img.rotate(arg, resample=Image.Resampling.BICUBIC, fillcolor=fill)
    if name == "PosterizeIncreasing":
        return img if arg >= 8 else _posterize(img, arg)
    if name == "SolarizeIncreasing":
        return ImageOps.solarize(img, arg)
    if name == "SolarizeAdd":
        return _solarize_add(img, arg)
    if name in _ENHANCERS:
        return _ENHANCERS[name](img).enhance(arg)
    if name == "ShearX":
        return _affine(img, (1, arg, 0, 0, 1, 0), fill)
    if name == "ShearY":
        return _affine(img, (1, 0, 0, arg, 1, 0), fill)
    if name == "TranslateXRel":
        return _affine(img, (1, 0, arg * width, 0, 1, 0), fill)
    if name == "TranslateYRel":
        return _affine(img, (1, 0, 0, 0, 1, arg * height), fill)
    raise KeyError(f"unknown RandAugment op {name!r}; expected one of {', '.join(RAND_AUGMENT_OPS)}")


class RandAugment(A.ImageOnlyTransform):
    """timm's RandAugment ``rand-m{magnitude}-n{num_ops}-mstd{magnitude_std}-inc1`` on RGB ``uint8 [H, W, 3]``.

    Defaults are DeiT's ``rand-m9-mstd0.5-inc1`` (2 ops, each applied with probability 0.5). See the module
    docstring for the sampling rules and :func:`rand_augment_argument` for each op's range.

    Args:
        num_ops: operations drawn per image (with replacement).
        magnitude: mean magnitude on the 0..10 scale.
        magnitude_std: standard deviation of the per-op magnitude noise (0: fixed magnitude).
        op_prob: probability that a drawn op is applied.
        fill: RGB colour of the pixels geometric ops bring in (timm: the ImageNet mean).
        ops: the op set (default :data:`RAND_AUGMENT_OPS`).
        p: probability of the whole transform (DeiT: always).
    """

    def __init__(
        self,
        num_ops: int = 2,
        magnitude: float = 9.0,
        magnitude_std: float = 0.5,
        op_prob: float = 0.5,
        fill: Sequence[int] = IMAGENET_MEAN_RGB,
        ops: Sequence[str] = RAND_AUGMENT_OPS,
        p: float = 1.0,
    ):
        super().__init__(p=p)
        unknown = sorted(set(ops) - set(RAND_AUGMENT_OPS))
        if unknown:
            raise ValueError(
                f"unknown RandAugment ops {unknown}; expected some of {', '.join(RAND_AUGMENT_OPS)}"
            )
        if num_ops < 0 or not 0 <= op_prob <= 1 or magnitude_std < 0:
            raise ValueError(
                f"need num_ops >= 0, 0 <= op_prob <= 1, magnitude_std >= 0; got {num_ops}, {op_prob}, {magnitude_std}"
            )
        self.num_ops = int(num_ops)
        self.magnitude = float(magnitude)
        self.magnitude_std = float(magnitude_std)
        self.op_prob = float(op_prob)
        self.fill = tuple(int(c) for c in fill)
        self.ops = tuple(ops)

    def get_params(self) -> dict[str, Any]:
        """Draws, per chosen op: apply or not, then its magnitude, then its sign (timm's order)."""
        rnd = self.py_random
        chosen = []
        for _ in range(self.num_ops):
            name = rnd.choice(self.ops)
            if self.op_prob < 1.0 and rnd.random() > self.op_prob:
                continue
            magnitude = self.magnitude
            if self.magnitude_std > 0:
                magnitude = rnd.gauss(magnitude, self.magnitude_std)
            magnitude = min(MAX_MAGNITUDE, max(0.0, magnitude))
            negate = name in _SIGNED and rnd.random() > 0.5
            chosen.append((name, rand_augment_argument(name, magnitude, negate)))
        return {"chosen": chosen}

    def apply(self, img: np.ndarray, chosen: Sequence[tuple[str, Any]] = (), **params: Any) -> np.ndarray:
        if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
            raise TypeError(
                f"RandAugment expects an RGB uint8 image [H, W, 3] (place it before Normalize), got {img.dtype} "
                f"{img.shape}"
            )
        if not chosen:
            return img
        pil = Image.fromarray(img)
        for name, arg in chosen:
            pil = apply_op(pil, name, arg, self.fill)
        return np.asarray(pil)

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return ("num_ops", "magnitude", "magnitude_std", "op_prob", "fill", "ops")


class RandomErasing(A.ImageOnlyTransform):
    """timm's ``RandomErasing(probability=p, mode="pixel", max_count=1)`` on a normalised float ``[H, W, C]``.

    With probability ``p`` (DeiT: 0.25) up to ``max_tries`` boxes are drawn until one fits strictly inside the
    image: area ``U(scale)·H·W``, aspect ``exp(U(log ratio))``, ``h = round(√(area·aspect))``,
    ``w = round(√(area/aspect))``; its pixels become independent ``N(0, 1)`` values (every channel).

    Args:
        scale: range of the erased fraction of the image area.
        ratio: range of the box aspect ratio (height / width), sampled log-uniformly.
        max_tries: attempts to fit a box; none fits → the image is unchanged.
        p: probability of erasing.
    """

    def __init__(
        self,
        scale: Sequence[float] = (0.02, 1 / 3),
        ratio: Sequence[float] = (0.3, 1 / 0.3),
        max_tries: int = 10,
        p: float = 0.25,
    ):
        super().__init__(p=p)
        if not 0 < scale[0] <= scale[1] <= 1 or not 0 < ratio[0] <= ratio[1]:
            raise ValueError(
                f"need 0 < scale[0] <= scale[1] <= 1 and 0 < ratio[0] <= ratio[1]; got {scale}, {ratio}"
            )
        self.scale = (float(scale[0]), float(scale[1]))
        self.ratio = (float(ratio[0]), float(ratio[1]))
        self.max_tries = int(max_tries)

    def get_params_dependent_on_data(self, params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        height, width = params["shape"][:2]
        channels = params["shape"][2] if len(params["shape"]) > 2 else 1
        rnd = self.py_random
        log_ratio = (math.log(self.ratio[0]), math.log(self.ratio[1]))
        for _ in range(self.max_tries):
            area = rnd.uniform(*self.scale) * height * width
            aspect = math.exp(rnd.uniform(*log_ratio))
            h = int(round(math.sqrt(area * aspect)))
            w = int(round(math.sqrt(area / aspect)))
            if w < width and h < height:
                top, left = rnd.randint(0, height - h), rnd.randint(0, width - w)
                noise = self.random_generator.standard_normal((h, w, channels), dtype=np.float32)
                return {"box": (top, left, h, w), "noise": noise}
        return {"box": None, "noise": None}

    def apply(
        self, img: np.ndarray, box: tuple[int, int, int, int] | None = None, **params: Any
    ) -> np.ndarray:
        if box is None:
            return img
        if not np.issubdtype(img.dtype, np.floating):
            raise TypeError(
                f"RandomErasing expects a normalised float image (place it after Normalize), got {img.dtype}"
            )
        top, left, h, w = box
        img = img.copy()
        noise = params["noise"]
        img[top : top + h, left : left + w] = noise if img.ndim == 3 else noise[..., 0]
        return img

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return ("scale", "ratio", "max_tries")

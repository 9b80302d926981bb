"""An independent, functional transcription of the authors' test-time evaluation (their MMSegmentation-0.13 fork:
``MultiScaleFlipAug`` over ``AlignedResize``/``Resize``, ``RandomFlip`` and ``Normalize``, then ``simple_test`` /
``aug_test`` of the ``EncoderDecoder``), written from what that code does. It shares no code with ``edaformer``;
tests compare the two on the same images and network.

What happens to one decoded image (``uint8``, here already RGB; their BGR decode plus ``to_rgb`` ends the same):

1. For every ratio ``r``, the bound ``(long, short)`` becomes ``(int(long * r), int(short * r))``.
2. The image is rescaled keeping its aspect ratio by ``f = min(long / max(h, w), short / min(h, w))`` to
   ``(int(h * f + 0.5), int(w * f + 0.5))``: one OpenCV bilinear resize of the ``uint8`` pixels.
3. ``AlignedResize`` (ADE20K, COCO-Stuff) then resizes that result once more, to both sides rounded up to a
   multiple of 32; plain ``Resize`` (Cityscapes) stops after step 2.
4. The flipped pass mirrors the ``uint8`` image horizontally; every pass is normalised as
   ``(x - mean) * (1 / std)`` in float32.
5. The network's logits are resized (bilinear, ``align_corners=False``) to the network input, then to the
   original size; in sliding-window mode the windows' input-size logits are summed onto the image, divided by
   the number of windows covering each pixel, and the average is resized to the original size.
6. Each pass gives ``softmax`` over classes, mirrored back if flipped; passes are summed in order and divided by
   their number; the label is the arg-max.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import cv2
import numpy as np
import torch
import torch.nn.functional as F

MEAN = np.array([123.675, 116.28, 103.53], np.float32)
STD = np.array([58.395, 57.12, 57.375], np.float32)

Network = Callable[[torch.Tensor], torch.Tensor]


def keep_ratio_size(height: int, width: int, bound: Sequence[int]) -> tuple[int, int]:
    factor = min(max(bound) / max(height, width), min(bound) / min(height, width))
    return int(height * factor + 0.5), int(width * factor + 0.5)


def pass_pixels(
    rgb: np.ndarray, img_scale: Sequence[int], ratio: float, align: bool, divisor: int = 32
) -> np.ndarray:
    """Steps 1-3: the ``uint8`` pixels one pass starts from (OpenCV is called even when the size is unchanged)."""
    bound = (int(img_scale[0] * ratio), int(img_scale[1] * ratio))
    h, w = keep_ratio_size(*rgb.shape[:2], bound)
    out = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_LINEAR)
    if align:
        h, w = math.ceil(h / divisor) * divisor, math.ceil(w / divisor) * divisor
        out = cv2.resize(out, (w, h), interpolation=cv2.INTER_LINEAR)
    return out


def normalised(pixels: np.ndarray) -> torch.Tensor:
    """Step 4's normalisation: ``[1, 3, h, w]`` float32."""
    x = (pixels.astype(np.float32) - MEAN) * (np.float32(1.0) / STD)
    return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))[None]


def pass_inputs(
    rgb: np.ndarray, img_scale: Sequence[int], ratios: Sequence[float], flip: bool, align: bool = True
) -> list[tuple[torch.Tensor, bool]]:
    """Steps 1-4: ``(network input, flipped)`` for every pass, in ``MultiScaleFlipAug``'s order."""
    passes = []
    for ratio in ratios:
        pixels = pass_pixels(rgb, img_scale, ratio, align)
        for flipped in (False, True) if flip else (False,):
            passes.append((normalised(pixels[:, ::-1] if flipped else pixels), flipped))
    return passes


def _bilinear(x: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False)


def whole_logits(network: Network, x: torch.Tensor, original: Sequence[int]) -> torch.Tensor:
    return _bilinear(_bilinear(network(x), x.shape[-2:]), original)


def slide_logits(
    network: Network, x: torch.Tensor, original: Sequence[int], crop: Sequence[int], stride: Sequence[int]
) -> torch.Tensor:
    height, width = x.shape[-2:]
    total, count = None, torch.zeros((1, 1, height, width))
    rows = max(height - crop[0] + stride[0] - 1, 0) // stride[0] + 1
    cols = max(width - crop[1] + stride[1] - 1, 0) // stride[1] + 1
    for row in range(rows):
        for col in range(cols):
            y2, x2 = min(row * stride[0] + crop[0], height), min(col * stride[1] + crop[1], width)
            y1, x1 = max(y2 - crop[0], 0), max(x2 - crop[1], 0)
            window = x[:, :, y1:y2, x1:x2]
            logits = _bilinear(network(window), window.shape[-2:])
            if total is None:
                total = torch.zeros((x.shape[0], logits.shape[1], height, width))
            total[:, :, y1:y2, x1:x2] += logits
            count[:, :, y1:y2, x1:x2] += 1
    return _bilinear(total / count, original)


def probabilities(
    network: Network,
    rgb: np.ndarray,
    img_scale: Sequence[int],
    ratios: Sequence[float] = (1.0,),
    flip: bool = False,
    align: bool = True,
    slide: tuple[Sequence[int], Sequence[int]] | None = None,
) -> torch.Tensor:
    """Steps 1-6 up to the averaged probabilities ``[1, K, H, W]`` at the original size."""
    original = rgb.shape[:2]
    total = None
    passes = pass_inputs(rgb, img_scale, ratios, flip, align)
    for x, flipped in passes:
        logits = (
            whole_logits(network, x, original)
            if slide is None
            else slide_logits(network, x, original, *slide)
        )
        probs = logits.softmax(dim=1)
        probs = probs.flip(-1) if flipped else probs
        total = probs if total is None else total + probs
    return total / len(passes)


def labels(network: Network, rgb: np.ndarray, img_scale: Sequence[int], **kwargs) -> torch.Tensor:
    """The authors' prediction ``int64 [H, W]``."""
    return probabilities(network, rgb, img_scale, **kwargs).argmax(dim=1)[0]

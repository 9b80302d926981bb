"""SegFormer baselines for the benchmarks: ``segformer-b0`` … ``segformer-b5`` built from ``transformers`` configs
with random weights (no download).

Each is wrapped to return logits at the input resolution, like our segmentor and like the MMSegmentation
whole-image inference the papers time; ``output="labels"`` returns logits → upsampling → argmax instead, which is
what ``transformers``' own post-processing does. ``transformers`` is an optional extra
(``pip install 'edaformer[compare]'``).
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

OutputRes = Literal["full", "low", "labels"]

# SegFormer (MiT) variants as in the SegFormer paper / MMSegmentation configs; the rest are transformers' defaults.
SEGFORMER_VARIANTS: dict[str, dict] = {
    "segformer-b0": {"hidden_sizes": [32, 64, 160, 256], "depths": [2, 2, 2, 2], "decoder_hidden_size": 256},
    "segformer-b1": {"hidden_sizes": [64, 128, 320, 512], "depths": [2, 2, 2, 2], "decoder_hidden_size": 256},
    "segformer-b2": {"hidden_sizes": [64, 128, 320, 512], "depths": [3, 4, 6, 3], "decoder_hidden_size": 768},
    "segformer-b3": {
        "hidden_sizes": [64, 128, 320, 512],
        "depths": [3, 4, 18, 3],
        "decoder_hidden_size": 768,
    },
    "segformer-b4": {
        "hidden_sizes": [64, 128, 320, 512],
        "depths": [3, 8, 27, 3],
        "decoder_hidden_size": 768,
    },
    "segformer-b5": {
        "hidden_sizes": [64, 128, 320, 512],
        "depths": [3, 6, 40, 3],
        "decoder_hidden_size": 768,
    },
}


class SegFormerBaseline(nn.Module):
    """``transformers`` SegFormer returning logits ``[B, K, H, W]`` at the input size (bilinear, like ours).

    ``output="low"`` keeps the head's native 1/4 resolution instead; ``output="labels"`` returns
    ``argmax(1)`` of the input-size logits, ``int64 [B, H, W]``.
    """

    def __init__(self, net: nn.Module, output: OutputRes = "full") -> None:
        super().__init__()
        self.net = net
        self.output = output

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        logits = self.net(pixel_values=images).logits  # (B, K, H/4, W/4)
        if self.output == "low":
            return logits
        logits = F.interpolate(logits, size=images.shape[-2:], mode="bilinear", align_corners=False)
        return logits.argmax(1) if self.output == "labels" else logits


def segformer_baseline(name: str, num_classes: int = 150, output: OutputRes = "full") -> SegFormerBaseline:
    """Randomly initialised SegFormer ``name`` (``segformer-b0`` … ``segformer-b5``) from a ``transformers`` config.

    Raises ``ImportError`` (with the install hint) when ``transformers`` is missing.
    """
    if name not in SEGFORMER_VARIANTS:
        raise ValueError(f"unknown baseline {name!r}; valid: {', '.join(SEGFORMER_VARIANTS)}")
    try:
        from transformers import SegformerConfig, SegformerForSemanticSegmentation
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "SegFormer baselines need the optional 'transformers' package: pip install 'edaformer[compare]'"
        ) from err
    config = SegformerConfig(num_labels=num_classes, **SEGFORMER_VARIANTS[name])
    return SegFormerBaseline(SegformerForSemanticSegmentation(config), output=output)


def count_baseline_flops(model: nn.Module, input_shape: tuple[int, int, int], batch_size: int = 1) -> float:
    """GFLOPs of a baseline (built on the ``meta`` device) in the paper's unit, multiply-accumulates ×1e-9:
    :class:`torch.utils.flop_counter.FlopCounterMode`'s FLOPs of its matrix products, convolutions and attention,
    halved (it counts a multiply-accumulate as 2); norms and activations are not counted (SegFormer-B0, 150
    classes, 512×512: 8.39, the paper's 8.4)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.empty((batch_size, *input_shape), device="meta"))
    return counter.get_total_flops() / 2e9

"""EDAFormer segmentor = EFT encoder + EDAFormer decoder head, predicting at the input resolution."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .decoder import EDAFormerHead
from .eft import EFTEncoder, eft_encoder
from .isr import ISRMixin, ISRSetting
from .layers import resize


class EDAFormer(ISRMixin, nn.Module):
    """Semantic segmentor: ``forward(images[B, 3, H, W]) → logits[B, K, H, W]`` at the input resolution.

    The head predicts at 1/8; logits are upsampled bilinearly (align_corners=False). Any ``H, W ≥ 32`` works.
    """

    def __init__(self, encoder: EFTEncoder, decode_head: EDAFormerHead) -> None:
        super().__init__()
        self.encoder = encoder
        self.decode_head = decode_head

    @property
    def num_classes(self) -> int:
        return self.decode_head.num_classes

    def forward_low_res(self, images: torch.Tensor) -> torch.Tensor:
        """Logits at 1/8 of the input, ``[B, K, ⌈H/8⌉, ⌈W/8⌉]``."""
        return self.decode_head(self.encoder(images))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"expected images [B, 3, H, W], got shape {tuple(images.shape)}")
        if min(images.shape[-2:]) < 32:
            raise ValueError(f"image sides must be >= 32 pixels, got {tuple(images.shape[-2:])}")
        return resize(self.forward_low_res(images), (images.shape[2], images.shape[3]))


MODEL_VARIANTS: dict[str, dict[str, Any]] = {
    "t": {"embed_dim": 128, "mlp_ratio": 2.0},
    "b": {"embed_dim": 768, "mlp_ratio": 1.0},
}


def _edaformer(variant: str, num_classes: int, isr: str | ISRSetting | None, **overrides: Any) -> EDAFormer:
    encoder_keys = {"drop_path_rate", "in_chans"}
    encoder = eft_encoder(variant, **{k: v for k, v in overrides.items() if k in encoder_keys})
    head_kwargs = {**MODEL_VARIANTS[variant], **{k: v for k, v in overrides.items() if k not in encoder_keys}}
    head = EDAFormerHead([info["num_chs"] for info in encoder.feature_info[1:]], num_classes, **head_kwargs)
    model = EDAFormer(encoder, head)
    if isr is not None:
        model.set_isr(isr)
    return model


def edaformer_t(num_classes: int = 150, isr: str | ISRSetting | None = None, **overrides: Any) -> EDAFormer:
    """EDAFormer-T: EFT-T encoder, decoder Mix-FFN ratio 2, fuse width 128 (4.93 M params at 150 classes).

    ``overrides``: ``drop_path_rate`` (encoder) or any :class:`EDAFormerHead` argument (e.g. ``embed_dim``).
    ``isr`` sets an inference pooling setting right away (see :meth:`EDAFormer.set_isr`).
    """
    return _edaformer("t", num_classes, isr, **overrides)


def edaformer_b(num_classes: int = 150, isr: str | ISRSetting | None = None, **overrides: Any) -> EDAFormer:
    """EDAFormer-B: EFT-B encoder, decoder Mix-FFN ratio 1, fuse width 768 (29.44 M params at 150 classes)."""
    return _edaformer("b", num_classes, isr, **overrides)

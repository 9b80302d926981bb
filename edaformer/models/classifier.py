"""EFT ImageNet classifier: EFT encoder → mean of the stage-4 tokens → Linear."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .eft import EFTEncoder, eft_encoder
from .isr import ISRMixin, ISRSetting
from .layers import init_weights


class EFTClassifier(ISRMixin, nn.Module):
    """``forward(images[B, 3, H, W]) → logits[B, num_classes]``; the head reads the mean stage-4 token."""

    def __init__(self, encoder: EFTEncoder, num_classes: int = 1000) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(encoder.dims[-1], num_classes) if num_classes > 0 else nn.Identity()
        self.head.apply(init_weights)
        self.num_classes = num_classes

    def forward_features(self, images: torch.Tensor) -> torch.Tensor:
        """Pooled image embedding ``[B, C_4]``."""
        return self.encoder(images)[-1].mean(dim=(2, 3))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.forward_features(images))


def _eft(variant: str, num_classes: int, isr: str | ISRSetting | None, **overrides: Any) -> EFTClassifier:
    model = EFTClassifier(eft_encoder(variant, **{"drop_path_rate": 0.1, **overrides}), num_classes)
    if isr is not None:
        model.set_isr(encoder=ISRSetting.parse(isr).encoder if isinstance(isr, str) else isr.encoder)
    return model


def eft_t(num_classes: int = 1000, isr: str | ISRSetting | None = None, **overrides: Any) -> EFTClassifier:
    """EFT-T ImageNet classifier (3.68 M params at 1000 classes). ``overrides`` go to :class:`EFTEncoder`."""
    return _eft("t", num_classes, isr, **overrides)


def eft_b(num_classes: int = 1000, isr: str | ISRSetting | None = None, **overrides: Any) -> EFTClassifier:
    """EFT-B ImageNet classifier (25.37 M params at 1000 classes)."""
    return _eft("b", num_classes, isr, **overrides)

"""EFT ImageNet classifier: EFT encoder → mean of the stage-4 tokens → Linear."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .eft import EFTEncoder, EFTFeatures, eft_encoder
from .hub_mixin import HubMixin
from .isr import EFALevel, ISRLike, ISRMixin
from .layers import init_weights
from .registry import register_model


class EFTClassifier(ISRMixin, HubMixin, nn.Module, pipeline_tag="image-classification"):
    """``forward(images[B, 3, H, W]) → logits[B, num_classes]``; the head reads the mean stage-4 token."""

    def __init__(self, encoder: EFTEncoder, num_classes: int = 1000) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(encoder.dims[-1], num_classes) if num_classes > 0 else nn.Identity()
        self.head.apply(init_weights)
        self.num_classes = num_classes

    classifier_name = "head"  # the module that depends on the classes (fine-tuning replaces it)

    def efa_levels(self) -> tuple[Sequence[EFALevel], Sequence[EFALevel]]:
        return self.encoder.efa_levels()

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the head by a new ``Linear`` for ``num_classes`` classes (trunc-normal 0.02, as the authors';
        0: no head, pooled features out), keeping the encoder; ``model_args`` follows."""
        old = next(self.encoder.parameters())
        head = nn.Linear(self.encoder.dims[-1], num_classes) if num_classes > 0 else nn.Identity()
        head.apply(init_weights)
        self.head = head.to(device=old.device, dtype=old.dtype)
        self.num_classes = num_classes
        if self.model_args is not None:
            self.model_args = {**self.model_args, "num_classes": num_classes}

    def forward_features(self, images: torch.Tensor) -> torch.Tensor:
        """Pooled image embedding ``[B, C_4]``."""
        return self.encoder(images)[-1].mean(dim=(2, 3))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.forward_features(images))


def _eft(
    variant: str,
    *,
    num_classes: int,
    isr: ISRLike,
    train_isr: ISRLike,
    drop_path_rate: float,
    in_chans: int,
    features_only: bool,
    out_indices: Sequence[int],
) -> EFTClassifier | EFTFeatures:
    indices = out_indices if features_only else None
    encoder = eft_encoder(
        variant,
        drop_path_rate=drop_path_rate,
        in_chans=in_chans,
        isr=isr,
        train_isr=train_isr,
        out_indices=indices,
    )
    return encoder if features_only else EFTClassifier(encoder, num_classes)


@register_model
def eft_t(
    num_classes: int = 1000,
    *,
    isr: ISRLike = None,
    train_isr: ISRLike = None,
    drop_path_rate: float = 0.1,
    in_chans: int = 3,
    features_only: bool = False,
    out_indices: Sequence[int] = (0, 1, 2, 3),
) -> EFTClassifier | EFTFeatures:
    """EFT-T ImageNet classifier (3.68 M params at 1000 classes), or its encoder as a backbone.

    Args:
        num_classes: output classes (0: no head, :meth:`EFTClassifier.forward` returns the pooled features).
        isr: inference pooling setting applied right away; the encoder part of a full setting is used.
        train_isr: the pooling ratios the classifier is built and trained at (encoder part; ``None``: standard).
        drop_path_rate: stochastic depth of the last block (rising linearly from 0 over the blocks).
        in_chans: input image channels.
        features_only: return an :class:`~edaformer.models.eft.EFTFeatures` backbone (no classifier head;
            ``num_classes`` is ignored) whose forward gives the maps of ``out_indices`` (timm's convention).
        out_indices: encoder stages (0–3, strides 4, 8, 16, 32) a ``features_only`` model returns.
    """
    return _eft("t", **locals())  # locals() here: exactly the arguments above


@register_model
def eft_b(
    num_classes: int = 1000,
    *,
    isr: ISRLike = None,
    train_isr: ISRLike = None,
    drop_path_rate: float = 0.1,
    in_chans: int = 3,
    features_only: bool = False,
    out_indices: Sequence[int] = (0, 1, 2, 3),
) -> EFTClassifier | EFTFeatures:
    """EFT-B ImageNet classifier (25.37 M params at 1000 classes), or its encoder as a backbone. Arguments as
    :func:`eft_t`."""
    return _eft("b", **locals())


@register_model
def eft_mini(
    num_classes: int = 1000,
    *,
    isr: ISRLike = None,
    train_isr: ISRLike = None,
    drop_path_rate: float = 0.1,
    in_chans: int = 3,
    features_only: bool = False,
    out_indices: Sequence[int] = (0, 1, 2, 3),
) -> EFTClassifier | EFTFeatures:
    """EFT-Mini classifier, not in the paper (the encoder of :func:`~edaformer.models.edaformer_mini`), for tests
    and smoke runs. Arguments as :func:`eft_t`."""
    return _eft("mini", **locals())

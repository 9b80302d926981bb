"""EDAFormer segmentor = EFT encoder + EDAFormer decoder head, predicting at the input resolution."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .decoder import EDAFormerHead
from .eft import EFTEncoder, eft_encoder
from .hub_mixin import HubMixin
from .isr import EFALevel, ISRLike, ISRMixin, training_setting
from .layers import resize
from .registry import register_model
from .upsampled_argmax import upsampled_labels


class EDAFormer(ISRMixin, HubMixin, nn.Module, pipeline_tag="image-segmentation"):
    """Semantic segmentor: ``forward(images[B, 3, H, W]) → logits[B, K, H, W]`` at the input resolution.

    The head predicts at 1/8; logits are upsampled bilinearly (align_corners=False). Any ``H, W ≥ 32`` works.
    :meth:`predict` returns the labels ``forward(images).argmax(1)`` without allocating the upsampled logits.
    """

    def __init__(self, encoder: EFTEncoder, decode_head: EDAFormerHead) -> None:
        super().__init__()
        self.encoder = encoder
        self.decode_head = decode_head

    @property
    def num_classes(self) -> int:
        return self.decode_head.num_classes

    classifier_name = (
        "decode_head.classifier"  # the module that depends on the classes (fine-tuning replaces it)
    )

    def efa_levels(self) -> tuple[Sequence[EFALevel], Sequence[EFALevel]]:
        return self.encoder.efa_levels()[0], tuple(self.decode_head.levels)

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the classifier by a new one for ``num_classes`` classes (the authors' init), keeping every other
        weight: the start of a fine-tuning on another class set. ``model_args`` follows, so the model saves and
        rebuilds with its new class count."""
        self.decode_head.reset_classifier(num_classes)
        if self.model_args is not None:
            self.model_args = {**self.model_args, "num_classes": num_classes}

    def forward_low_res(self, images: torch.Tensor) -> torch.Tensor:
        """Logits at 1/8 of the input, ``[B, K, ⌈H/8⌉, ⌈W/8⌉]`` (contiguous)."""
        # inside, maps are channels-last (see tokens_to_map); the small logits are handed out in the usual layout
        return self.decode_head(self.encoder(images)).contiguous()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        _check_images(images)
        return resize(self.forward_low_res(images), (images.shape[2], images.shape[3]))

    @torch.no_grad()
    def predict(self, images: torch.Tensor, out_size: Sequence[int] | None = None) -> torch.Tensor:
        """Labels ``int64 [B, H, W]``: ``forward(images).argmax(1)``, or at ``out_size`` the argmax of those logits
        resized on bilinearly (as evaluation at the original label size does), computed from the 1/8-resolution
        logits band by band so no ``K × H × W`` tensor is allocated (see :mod:`edaformer.models.upsampled_argmax`).

        Runs in the module's current mode: call ``model.eval()`` first for inference.
        """
        _check_images(images)
        return upsampled_labels(self.forward_low_res(images), images.shape[-2:], out_size)


def _check_images(images: torch.Tensor) -> None:
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"expected images [B, 3, H, W], got shape {tuple(images.shape)}")
    if min(images.shape[-2:]) < 32:
        raise ValueError(f"image sides must be >= 32 pixels, got {tuple(images.shape[-2:])}")


def _edaformer(
    variant: str,
    *,
    num_classes: int,
    isr: ISRLike,
    train_isr: ISRLike,
    drop_path_rate: float,
    in_chans: int,
    embed_dim: int,
    decoder_mlp_ratio: float,
    decoder_drop_path: float,
    dropout: float,
) -> EDAFormer:
    trained = training_setting(train_isr)
    encoder = eft_encoder(variant, drop_path_rate=drop_path_rate, in_chans=in_chans, train_isr=trained)
    head = EDAFormerHead(
        encoder.feature_info,
        num_classes,
        pool_ratios=trained.decoder,
        embed_dim=embed_dim,
        mlp_ratio=decoder_mlp_ratio,
        drop_path=decoder_drop_path,
        dropout=dropout,
    )
    model = EDAFormer(encoder, head)
    model.set_isr(isr)  # None: keeps the training ratios (train_isr)
    return model


@register_model
def edaformer_t(
    num_classes: int = 150,
    *,
    isr: ISRLike = None,
    train_isr: ISRLike = None,
    drop_path_rate: float = 0.2,
    in_chans: int = 3,
    embed_dim: int = 128,
    decoder_mlp_ratio: float = 2.0,
    decoder_drop_path: float = 0.1,
    dropout: float = 0.1,
) -> EDAFormer:
    """EDAFormer-T: EFT-T encoder, decoder Mix-FFN ratio 2, fuse width 128 (4.93 M params at 150 classes).

    Args:
        num_classes: output classes ``K``.
        isr: inference pooling setting applied right away (any form :func:`~edaformer.models.parse_isr` reads;
            ``None``: the training ratios). See :meth:`EDAFormer.set_isr`.
        train_isr: the pooling ratios the model is built and trained at (``None``: the standard
            (8,4,2,1)-(1,2,4); e.g. ``"aggressive"`` for the row marked * in the paper's Table 4). Reported by
            ``model.train_isr``, recorded in checkpoints; ``set_isr("own")`` returns to them.
        drop_path_rate: encoder stochastic depth of the last block (rising linearly from 0 over the blocks).
        in_chans: input image channels.
        embed_dim: decoder fuse width ``E``.
        decoder_mlp_ratio: decoder Mix-FFN expansion.
        decoder_drop_path: stochastic depth of every decoder block.
        dropout: Dropout2d before the classifier.
    """
    return _edaformer("t", **locals())  # locals() here: exactly the arguments above


@register_model
def edaformer_b(
    num_classes: int = 150,
    *,
    isr: ISRLike = None,
    train_isr: ISRLike = None,
    drop_path_rate: float = 0.2,
    in_chans: int = 3,
    embed_dim: int = 768,
    decoder_mlp_ratio: float = 1.0,
    decoder_drop_path: float = 0.1,
    dropout: float = 0.1,
) -> EDAFormer:
    """EDAFormer-B: EFT-B encoder, decoder Mix-FFN ratio 1, fuse width 768 (29.44 M params at 150 classes).

    Arguments as :func:`edaformer_t`.
    """
    return _edaformer("b", **locals())


@register_model
def edaformer_mini(
    num_classes: int = 150,
    *,
    isr: ISRLike = None,
    train_isr: ISRLike = None,
    drop_path_rate: float = 0.1,
    in_chans: int = 3,
    embed_dim: int = 32,
    decoder_mlp_ratio: float = 1.0,
    decoder_drop_path: float = 0.1,
    dropout: float = 0.1,
) -> EDAFormer:
    """EDAFormer-Mini, not in the paper: the EFT-Mini encoder (channels 16/32/64/128, one block per stage) and the
    full all-attention decoder at width 32 (0.49 M params at 150 classes). Every part of EDAFormer is there, ISR included,
    so it trains in seconds on a CPU: for tests, smoke runs and checking a data pipeline. Arguments as
    :func:`edaformer_t`.
    """
    return _edaformer("mini", **locals())

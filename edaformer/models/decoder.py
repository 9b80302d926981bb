"""EDAFormer decoder head: EFA decoder blocks on c4, c3, c2, then concat-fuse and per-pixel classification."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from .eft import EFTBlock
from .isr import TRAIN_DECODER_RATIOS, EFALevel, validate_ratios
from .layers import Conv1x1, init_weights, map_to_tokens, resize, tokens_to_map


class DecoderLevel(EFALevel):
    """Decoder EFT blocks applied to the map of encoder stage ``stage`` (stride ``reduction``) ``[B, C, H, W]`` →
    same shape."""

    def __init__(
        self,
        dim: int,
        depth: int,
        num_heads: int,
        pool_ratio: int,
        mlp_ratio: float,
        drop_path: float,
        stage: int,
        reduction: int,
    ):
        super().__init__()
        self.blocks = nn.ModuleList(
            EFTBlock(dim, num_heads, pool_ratio, mlp_ratio, drop_path=drop_path, decoder=True)
            for _ in range(depth)
        )
        self.stage, self.reduction = stage, reduction

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hw = (x.shape[2], x.shape[3])
        tokens = map_to_tokens(x)  # (B, HW, C)
        for block in self.blocks:
            tokens = block(tokens, hw)
        return tokens_to_map(tokens, hw)


class FuseModule(nn.Module):
    """``Conv1×1(no bias) → BatchNorm2d → ReLU`` on the concatenated decoder maps."""

    def __init__(self, in_chans: int, embed_dim: int) -> None:
        super().__init__()
        self.conv = Conv1x1(in_chans, embed_dim, bias=False)
        self.bn = nn.BatchNorm2d(embed_dim)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn(self.conv(x)))


class EDAFormerHead(nn.Module):
    """All-attention decoder on encoder stages 2–4 (``c2`` 1/8, ``c3`` 1/16, ``c4`` 1/32), declared in
    :attr:`in_stages`.

    ``c4`` → 3 decoder blocks (8 heads), ``c3`` → 2 blocks (4 heads), ``c2`` → 1 block (2 heads); ``c4``/``c3``
    upsampled bilinearly to ``c2``'s size; concat ``[c4, c3, c2]`` → Conv1×1 → BN → ReLU → Dropout2d(0.1) →
    Conv1×1 → logits ``[B, num_classes, H/8, W/8]``.

    Init as the authors': blocks trunc-normal / He-normal (fan-out) like the encoder, the fuse conv He-normal
    (mmcv ``ConvModule``'s kaiming init), the classifier PyTorch's ``nn.Conv2d`` default.

    Args:
        feature_info: the encoder's stage descriptions (``num_chs``, ``reduction``); the head takes the channels
            and strides of the stages in :attr:`in_stages` from there.
        num_classes: output classes ``K``.
        embed_dim: fuse width ``E`` (T: 128, B: 768).
        mlp_ratio: decoder Mix-FFN expansion (T: 2, B: 1).
        depths / num_heads / pool_ratios: per level, in the order ``(c4, c3, c2)``; pool ratios are the training
            ones ``(d4, d3, d2) = (1, 2, 4)``.
        drop_path: stochastic depth of every decoder block.
        dropout: Dropout2d before the classifier.
    """

    in_stages: tuple[int, ...] = (1, 2, 3)
    """Encoder stages read (0-based indices into the encoder's outputs: ``c2, c3, c4``; the authors' ``in_index``).
    The decoder levels run deepest first (``c4, c3, c2``): that is the order of :attr:`levels`, of the decoder ISR
    ratios ``(d4, d3, d2)`` and of the fused concat."""

    def __init__(
        self,
        feature_info: Sequence[Mapping[str, Any]],
        num_classes: int,
        embed_dim: int = 128,
        mlp_ratio: float = 2.0,
        depths: Sequence[int] = (3, 2, 1),
        num_heads: Sequence[int] = (8, 4, 2),
        pool_ratios: Sequence[int] = TRAIN_DECODER_RATIOS,
        drop_path: float = 0.1,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        if len(feature_info) <= max(self.in_stages):
            raise ValueError(f"the head reads stages {self.in_stages}; the encoder has {len(feature_info)}")
        pool_ratios = validate_ratios(tuple(pool_ratios), 3, "decoder")
        stages = self.in_stages[::-1]  # deepest first: c4, c3, c2
        self.levels = nn.ModuleList(
            DecoderLevel(
                feature_info[s]["num_chs"],
                depth,
                heads,
                ratio,
                mlp_ratio,
                drop_path,
                s,
                feature_info[s]["reduction"],
            )
            for s, depth, heads, ratio in zip(stages, depths, num_heads, pool_ratios, strict=True)
        )
        self.fuse = FuseModule(sum(feature_info[s]["num_chs"] for s in stages), embed_dim)
        self.dropout = nn.Dropout2d(dropout)
        self.classifier = Conv1x1(embed_dim, num_classes)
        self.num_classes = num_classes
        self.apply(init_weights)
        # The authors' classifier (``linear_pred``) is a plain ``nn.Conv2d`` that no init routine touches:
        # PyTorch's default (kaiming-uniform a=√5, bias U(±1/√fan_in)), not the He-normal of the other convs.
        self.classifier.reset_parameters()

    def reset_classifier(self, num_classes: int) -> None:
        """A new classifier for ``num_classes`` classes, initialised as the authors' (PyTorch's ``nn.Conv2d``
        default), on the old one's device and dtype; every other weight is kept."""
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        old = self.classifier.weight
        self.classifier = Conv1x1(old.shape[1], num_classes).to(device=old.device, dtype=old.dtype)
        self.num_classes = num_classes

    def forward_features(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        """Fused decoder features ``[B, E, H/8, W/8]`` from the encoder's stage maps (all four)."""
        finest = features[min(self.in_stages)]  # c2
        size = (finest.shape[2], finest.shape[3])
        outs = [resize(level(features[level.stage]), size) for level in self.levels]  # c4, c3, c2
        return self.fuse(torch.cat(outs, dim=1))  # (B, E, H/8, W/8)

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        return self.classifier(self.dropout(self.forward_features(features)))  # (B, K, H/8, W/8)

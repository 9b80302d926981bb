"""EDAFormer decoder head: EFA decoder blocks on c4, c3, c2, then concat-fuse and per-pixel classification."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .eft import EFTBlock
from .isr import TRAIN_DECODER_RATIOS, validate_ratios
from .layers import init_weights, map_to_tokens, resize, tokens_to_map


class DecoderLevel(nn.Module):
    """Decoder EFT blocks applied to one encoder map ``[B, C, H, W]`` → same shape."""

    def __init__(
        self, dim: int, depth: int, num_heads: int, pool_ratio: int, mlp_ratio: float, drop_path: float
    ):
        super().__init__()
        self.blocks = nn.ModuleList(
            EFTBlock(dim, num_heads, pool_ratio, mlp_ratio, drop_path=drop_path, decoder=True)
            for _ in range(depth)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hw = (x.shape[2], x.shape[3])
        tokens = map_to_tokens(x)  # (B, HW, C)
        for block in self.blocks:
            tokens = block(tokens, hw)
        return tokens_to_map(tokens, hw)

    def set_pool_ratio(self, ratio: int) -> None:
        for block in self.blocks:
            block.attn.pool_ratio = ratio


class FuseModule(nn.Module):
    """``Conv1×1(no bias) → BatchNorm2d → ReLU`` on the concatenated decoder maps."""

    def __init__(self, in_chans: int, embed_dim: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_chans, embed_dim, 1, bias=False)
        self.bn = nn.BatchNorm2d(embed_dim)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.bn(self.conv(x)))


class EDAFormerHead(nn.Module):
    """All-attention decoder. Reads encoder stages 2–4 (``c2`` 1/8, ``c3`` 1/16, ``c4`` 1/32).

    ``c4`` → 3 decoder blocks (8 heads), ``c3`` → 2 blocks (4 heads), ``c2`` → 1 block (2 heads); ``c4``/``c3``
    upsampled bilinearly to ``c2``'s size; concat ``[c4, c3, c2]`` → Conv1×1 → BN → ReLU → Dropout2d(0.1) →
    Conv1×1 → logits ``[B, num_classes, H/8, W/8]``.

    Init as the authors': blocks trunc-normal / He-normal (fan-out) like the encoder, the fuse conv He-normal
    (mmcv ``ConvModule``'s kaiming init), the classifier PyTorch's ``nn.Conv2d`` default.

    Args:
        in_channels: channels of (c2, c3, c4), read from the encoder's ``feature_info``.
        num_classes: output classes ``K``.
        embed_dim: fuse width ``E`` (T: 128, B: 768).
        mlp_ratio: decoder Mix-FFN expansion (T: 2, B: 1).
        depths / num_heads / pool_ratios: for (c4, c3, c2); pool ratios are the training ones (1, 2, 4).
        drop_path: stochastic depth of every decoder block.
        dropout: Dropout2d before the classifier.
    """

    def __init__(
        self,
        in_channels: Sequence[int],
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
        c2, c3, c4 = in_channels
        pool_ratios = validate_ratios(tuple(pool_ratios), 3, "decoder")
        self.levels = nn.ModuleList(
            DecoderLevel(dim, depth, heads, ratio, mlp_ratio, drop_path)
            for dim, depth, heads, ratio in zip((c4, c3, c2), depths, num_heads, pool_ratios)
        )
        self.fuse = FuseModule(c4 + c3 + c2, embed_dim)
        self.dropout = nn.Dropout2d(dropout)
        self.classifier = nn.Conv2d(embed_dim, num_classes, 1)
        self.num_classes = num_classes
        self.apply(init_weights)
        # The authors' classifier (``linear_pred``) is a plain ``nn.Conv2d`` that no init routine touches:
        # PyTorch's default (kaiming-uniform a=√5, bias U(±1/√fan_in)), not the He-normal of the other convs.
        self.classifier.reset_parameters()

    def forward_features(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        """Fused decoder features ``[B, E, H/8, W/8]`` from the four encoder maps."""
        _, c2, c3, c4 = features
        size = (c2.shape[2], c2.shape[3])
        outs = [resize(level(x), size) for level, x in zip(self.levels, (c4, c3, c2))]
        return self.fuse(torch.cat(outs, dim=1))  # (B, E, H/8, W/8)

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        return self.classifier(self.dropout(self.forward_features(features)))  # (B, K, H/8, W/8)

    @property
    def isr(self) -> tuple[int, ...]:
        """Current pooling ratios for (c4, c3, c2)."""
        return tuple(level.blocks[0].attn.pool_ratio for level in self.levels)

    def set_isr(self, decoder: Sequence[int]) -> None:
        """Set absolute pooling ratios ``(d4, d3, d2)``."""
        for level, ratio in zip(self.levels, validate_ratios(decoder, 3, "decoder")):
            level.set_pool_ratio(ratio)

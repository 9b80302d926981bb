"""Params and FLOPs of one attention layer on the tokens of an encoder stage: standard self-attention (ViT), the
spatial-reduction attention of PVT / SegFormer and EFA, at the training reduction and under ISR — the paper's
Table 3 (stage 3 of a 224×224 input), ``edaformer-complexity table=attention``.

The baselines are written here only to be counted (shapes on the ``meta`` device); EFA is the model's own layer.
Counting follows :mod:`edaformer.flops` (multiply-accumulates); the two attention products, which that counter
adds for EFA only, are added here for the baselines with the same rule (``N·N'·C`` each).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..flops import count_flops, count_params
from ..models.efa import EmbeddingFreeAttention

__all__ = ["AttentionCost", "SelfAttention", "SpatialReductionAttention", "attention_costs"]

CONVENTION = (
    "Counting convention: multiply-accumulates (MACs) of one layer on one image, as the paper's GFLOPs "
    "(edaformer/flops.py): Linear tokens·C_in·C_out (bias not counted); Conv2d k²·C_in·C_out·H'·W' plus C_out·H'·W' "
    "for its bias (EFA's 1×1 key/value projection is one); LayerNorm 2·numel; average pooling numel; the products "
    "q·kᵀ and attn·v N·N'·C each (N query tokens, N' keys/values, C channels, all heads; for EFA N' = N/s², real "
    "division, the authors' formula). Not counted: softmax, the 1/√d scaling, reshapes, dropout. Params include "
    "biases."
)


class SelfAttention(nn.Module):
    """Standard multi-head self-attention on a ``[B, C, H, W]`` map: ``q, k, v`` projections of every token, the
    products, an output projection. Returns ``[B, N, C]``."""

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, feature_map: torch.Tensor) -> torch.Tensor:
        x = feature_map.flatten(2).transpose(1, 2)  # (B, N, C)
        b, n, c = x.shape
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        heads = (b, -1, self.num_heads, c // self.num_heads)
        q, k, v = (t.reshape(heads).transpose(1, 2) for t in (q, k, v))
        out = torch.nn.functional.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(b, n, c))


class SpatialReductionAttention(nn.Module):
    """PVT / SegFormer attention on a ``[B, C, H, W]`` map: queries from every token, keys and values from the map
    reduced by an ``r×r`` convolution of stride ``r`` and a LayerNorm; ``q`` and ``kv`` projections, the products,
    an output projection. The convolution's weights fix ``r``: it cannot change at inference (no ISR)."""

    def __init__(self, dim: int, num_heads: int, ratio: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.sr = nn.Conv2d(dim, dim, ratio, ratio)
        self.norm = nn.LayerNorm(dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, feature_map: torch.Tensor) -> torch.Tensor:
        x = feature_map.flatten(2).transpose(1, 2)  # (B, N, C)
        b, n, c = x.shape
        reduced = self.norm(self.sr(feature_map).flatten(2).transpose(1, 2))  # (B, N', C)
        k, v = self.kv(reduced).chunk(2, dim=-1)
        heads = (b, -1, self.num_heads, c // self.num_heads)
        q, k, v = (t.reshape(heads).transpose(1, 2) for t in (self.q(x), k, v))
        out = torch.nn.functional.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(b, n, c))


class _OnMap(nn.Module):
    """EFA called on a ``[B, C, H, W]`` map (it takes tokens and their ``H×W``)."""

    def __init__(self, attn: EmbeddingFreeAttention) -> None:
        super().__init__()
        self.attn = attn

    def forward(self, feature_map: torch.Tensor) -> torch.Tensor:
        return self.attn(feature_map.flatten(2).transpose(1, 2), tuple(feature_map.shape[-2:]))


@dataclass
class AttentionCost:
    """One row of Table 3: the layer, its key/value reduction, how many keys/values, params and MACs (×1e-9)."""

    attention: str
    reduction: str
    keys: int
    params: int
    gflops: float


def attention_costs(
    dim: int, num_heads: int, hw: tuple[int, int], train_ratio: int, isr_ratio: int
) -> list[AttentionCost]:
    """Table 3 for a stage of ``dim`` channels and ``num_heads`` heads on an ``H×W`` token map: self-attention;
    SRA at ``train_ratio`` and, trained anew, at ``isr_ratio``; EFA at ``train_ratio`` and under ISR at
    ``isr_ratio`` (the same weights)."""
    n = hw[0] * hw[1]
    shape = (dim, *hw)

    def products(keys: int) -> float:  # q·kᵀ and attn·v over all heads, MACs ×1e-9
        return 2 * n * keys * dim / 1e9

    rows = []
    with torch.device("meta"):
        sa = SelfAttention(dim, num_heads)
        rows.append(
            AttentionCost("SA (ViT)", "none", n, count_params(sa), count_flops(sa, shape) + products(n))
        )
        for ratio, note in ((train_ratio, "trained"), (isr_ratio, "retrained: its conv fixes r")):
            sra = SpatialReductionAttention(dim, num_heads, ratio)
            keys = (hw[0] // ratio) * (hw[1] // ratio)
            cost = count_flops(sra, shape) + products(keys)
            rows.append(AttentionCost("SRA (PVT/SegFormer)", f"{ratio}×{ratio} conv ({note})", keys,
                                      count_params(sra), cost))  # fmt: skip
        efa = EmbeddingFreeAttention(dim, num_heads, train_ratio)
        for ratio, note in ((train_ratio, "training"), (isr_ratio, "ISR: same weights")):
            efa.pool_ratio = ratio
            keys = efa.pooled_hw(hw)[0] * efa.pooled_hw(hw)[1]
            rows.append(AttentionCost("EFA (ours)", f"{ratio}×{ratio} avg pool ({note})", keys, count_params(efa),
                                      count_flops(_OnMap(efa), shape)))  # fmt: skip
    return rows

"""Embedding-Free Attention (EFA): attention with no query/key/value projections.

The query is the input token sequence itself; keys and values are **one** tensor, obtained by average-pooling the
token map by the ratio ``s`` and applying a 1×1 convolution (plus LayerNorm → GELU in the decoder variant).
Raising ``s`` at inference (ISR) shrinks the keys/values without touching any weight.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .layers import gelu, map_to_tokens, pointwise, tokens_to_map


def pool_kernel(hw: tuple[int, int], ratio: int) -> tuple[int, int]:
    """Pooling window for a ``H×W`` map and ratio ``s``: ``(min(s, H), min(s, W))``.

    Where ``s`` fits in both sides this is exactly the authors' ``AvgPool2d(s, s)`` (floor: trailing rows/columns
    that do not fill a window are left out of the keys/values). Where ``s`` exceeds a side (tiny inputs, huge ISR
    ratios), that side is pooled to a single row/column instead of failing, so at least one key token remains.
    """
    h, w = hw
    return min(ratio, h), min(ratio, w)


def attention_probs(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """``softmax(q·kᵀ / √d)`` for ``q[B, h, N, d]``, ``k[B, h, N', d]`` → ``[B, h, N, N']``."""
    return torch.softmax(q @ k.transpose(-2, -1) * q.shape[-1] ** -0.5, dim=-1)


class EmbeddingFreeAttention(nn.Module):
    """EFA on ``[B, N, C]`` tokens of an ``H×W`` map, ``num_heads`` heads of ``d = C / num_heads`` channels.

    ``q = x``; ``kv = Conv1×1(AvgPool_s(x))`` → ``[B, N', C]`` with ``N' = ⌊H/s⌋·⌊W/s⌋`` (decoder variant: then
    ``GELU(LayerNorm(kv))``); ``out = Linear(softmax(q·kvᵀ / √d) · kv)``. The product runs through
    :func:`torch.nn.functional.scaled_dot_product_attention`, so fused (flash / memory-efficient) kernels that
    never materialise the ``N × N'`` matrix are used where the device has them.

    Args:
        dim: channels ``C``.
        num_heads: heads; must divide ``dim``.
        pool_ratio: training pooling ratio ``s`` (≥ 1). Change it at inference with :attr:`pool_ratio` (ISR).
        kv_norm: decoder variant (LayerNorm(eps 1e-5) → GELU on the pooled keys/values).
    """

    def __init__(self, dim: int, num_heads: int, pool_ratio: int, kv_norm: bool = False) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim {dim} is not divisible by num_heads {num_heads}")
        self.dim = dim
        self.num_heads = num_heads
        self.train_pool_ratio = pool_ratio
        self.pool_ratio = pool_ratio
        self.kv_proj = nn.Conv2d(dim, dim, 1)
        self.kv_norm = nn.LayerNorm(dim, eps=1e-5) if kv_norm else None
        self.out_proj = nn.Linear(dim, dim)

    def keys_values(self, x: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
        """Pooled shared keys/values ``[B, N', C]`` of the tokens ``x[B, N, C]`` (row-major ``H×W``).

        Equal to the authors' ``Conv1×1(AvgPool2d(s, s)(map))``: the pooling runs on the tokens seen as a
        channels-last map (a view; the pooling kernel is vectorised over channels in that layout, 10–30× faster on
        CPU than a mean over a reshaped view), and the 1×1 convolution is a matrix product with its ``[C, C]``
        weight, so no ``[B, C, H, W]`` copy is made.
        """
        b, n, c = x.shape
        h, w = hw
        if n != h * w:
            raise ValueError(f"cannot read {n} tokens as a {h}x{w} map")
        kernel = pool_kernel(hw, self.pool_ratio)
        if kernel != (1, 1):  # floor: trailing rows/columns that do not fill a window are left out
            x = map_to_tokens(F.avg_pool2d(tokens_to_map(x, hw), kernel, kernel))  # (B, N', C)
        kv = pointwise(x, self.kv_proj)  # (B, N', C)
        if self.kv_norm is not None:
            kv = gelu(self.kv_norm(kv))
        return kv

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        return x.view(b, n, self.num_heads, c // self.num_heads).transpose(1, 2)  # (B, h, N, d)

    def forward(self, x: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
        b, n, c = x.shape
        q = self.split_heads(x)  # (B, h, N, d)
        kv = self.split_heads(self.keys_values(x, hw))  # (B, h, N', d); unit stride on d: fused SDPA kernel
        out = F.scaled_dot_product_attention(q, kv, kv)  # (B, h, N, d); scale d^-0.5
        out = out.transpose(1, 2).reshape(b, n, c)  # (B, N, C)
        return self.out_proj(out)

    def attention_map(self, x: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
        """Explicit attention probabilities ``[B, h, N, N']`` (for visualisation; materialises the matrix)."""
        return attention_probs(self.split_heads(x), self.split_heads(self.keys_values(x, hw)))

    def pooled_hw(self, hw: tuple[int, int]) -> tuple[int, int]:
        """Spatial size ``(H', W')`` of the keys/values for an ``H×W`` input at the current ratio."""
        kh, kw = pool_kernel(hw, self.pool_ratio)
        return hw[0] // kh, hw[1] // kw

    def extra_repr(self) -> str:
        return f"dim={self.dim}, num_heads={self.num_heads}, pool_ratio={self.pool_ratio} (train {self.train_pool_ratio})"


class UnfusedEmbeddingFreeAttention(EmbeddingFreeAttention):
    """EFA with the explicit ``q @ kᵀ → softmax → @ v`` product (the eager reference for speed comparisons)."""

    def forward(self, x: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
        b, n, c = x.shape
        kv = self.split_heads(self.keys_values(x, hw))  # (B, h, N', d)
        attn = attention_probs(self.split_heads(x), kv)  # (B, h, N, N')
        return self.out_proj((attn @ kv).transpose(1, 2).reshape(b, n, c))

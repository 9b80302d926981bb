"""Small building blocks shared by the encoder and the decoder: DropPath, Mix-FFN, weight init."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class DropPath(nn.Module):
    """Stochastic depth: zero a whole residual branch per sample with probability ``drop_prob``.

    Survivors are scaled by ``1 / (1 - drop_prob)`` so the expectation is unchanged. Identity in eval mode.
    """

    def __init__(self, drop_prob: float = 0.0) -> None:
        super().__init__()
        if not 0.0 <= drop_prob < 1.0:
            raise ValueError(f"drop_prob must be in [0, 1), got {drop_prob}")
        self.drop_prob = drop_prob

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.drop_prob == 0.0 or not self.training:
            return x
        keep = 1.0 - self.drop_prob
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        return x * mask / keep

    def extra_repr(self) -> str:
        return f"drop_prob={self.drop_prob:.3f}"


def tokens_to_map(x: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    """``[B, N, C]`` tokens of an ``H×W`` map → ``[B, C, H, W]`` in channels-last memory layout.

    Contiguous tokens *are* a channels-last map, so this is a view, not a copy; convolutions take and return that
    layout on CPU and GPU, and :func:`map_to_tokens` turns their output back into contiguous tokens for free.
    """
    b, n, c = x.shape
    h, w = hw
    if n != h * w:
        raise ValueError(f"cannot reshape {n} tokens to a {h}x{w} map")
    return x.reshape(b, h, w, c).permute(0, 3, 1, 2)  # (B, C, H, W), strides (HWC, 1, WC, C)


def map_to_tokens(x: torch.Tensor) -> torch.Tensor:
    """``[B, C, H, W]`` → ``[B, H·W, C]`` tokens (row-major); a view, contiguous if ``x`` is channels-last."""
    return x.flatten(2).transpose(1, 2)


def gelu(x: torch.Tensor) -> torch.Tensor:
    """Exact (erf) GELU; in place on ``x`` when no gradient flows through it (inference).

    ``x`` must be a fresh intermediate. Writing into it instead of a new tensor saves an allocation whose pages
    the kernel zero-fills on first touch: 8 % of EDAFormer-T's 512² forward on CPU, for the same values.
    """
    if (x.requires_grad and torch.is_grad_enabled()) or torch.jit.is_tracing():
        return F.gelu(x)
    return torch.ops.aten.gelu_(x)


def pointwise(tokens: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    """A 1×1 ``conv`` applied to tokens ``[B, N, C_in]`` → ``[B, N, C_out]``: a matrix product with its weight."""
    return F.linear(tokens, conv.weight.flatten(1), conv.bias)


class Conv1x1(nn.Conv2d):
    """``nn.Conv2d`` with a 1×1 kernel (same parameters and keys) run as a matrix product over channels.

    On CPU a 1×1 convolution of a channels-last map takes a slow non-oneDNN path; the product on the map's tokens
    (a view) is faster. Output ``[B, C_out, H, W]`` in channels-last layout.
    """

    def __init__(self, in_channels: int, out_channels: int, bias: bool = True) -> None:
        super().__init__(in_channels, out_channels, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return tokens_to_map(pointwise(map_to_tokens(x), self), (x.shape[2], x.shape[3]))


class MixFFN(nn.Module):
    """Mix-FFN: ``Linear(C, Hd) → [ReLU] → DWConv3×3 → GELU → Linear(Hd, C)`` on ``[B, N, C]`` tokens.

    The encoder variant has the ReLU after ``fc1`` (``relu_after_fc1=True``); the decoder variant does not.

    Args:
        dim: token channels ``C``.
        hidden_dim: ``Hd``; the factories pass ``int(C * mlp_ratio)`` (truncation, e.g. 32·3.8 → 121).
        relu_after_fc1: encoder (True) or decoder (False) variant.
    """

    def __init__(self, dim: int, hidden_dim: int, relu_after_fc1: bool) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.relu = nn.ReLU(inplace=True) if relu_after_fc1 else nn.Identity()
        self.dwconv = nn.Conv2d(hidden_dim, hidden_dim, 3, padding=1, groups=hidden_dim)
        self.fc2 = nn.Linear(hidden_dim, dim)

    def forward(self, x: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
        x = self.relu(self.fc1(x))  # (B, N, Hd)
        x = map_to_tokens(self.dwconv(tokens_to_map(x, hw)))  # (B, N, Hd)
        return self.fc2(gelu(x))  # (B, N, C)


def init_weights(module: nn.Module) -> None:
    """The authors' from-scratch init: Linear trunc-normal(0.02); LayerNorm (1, 0); Conv2d He-normal on fan-out."""
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02, a=-2.0, b=2.0)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Conv2d):
        fan_out = module.kernel_size[0] * module.kernel_size[1] * module.out_channels // module.groups
        nn.init.normal_(module.weight, 0.0, math.sqrt(2.0 / fan_out))
        if module.bias is not None:
            nn.init.zeros_(module.bias)


def resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize of ``[B, C, H, W]`` to ``size`` with ``align_corners=False`` (the authors' choice)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)

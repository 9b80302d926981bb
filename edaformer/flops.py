"""Parameter and FLOP counts in the paper's convention, computed from shapes only (``meta`` tensors).

GFLOPs here are **multiply-accumulates** ×1e-9, counted like MMCV's ``get_model_complexity_info`` which the
authors used, plus the attention products that counter misses:

- ``Conv2d``: ``k_h·k_w·C_in/groups·C_out·H_out·W_out`` MACs, plus ``C_out·H_out·W_out`` when it has a bias;
- ``Linear``: ``numel(input)·out_features`` (bias not counted);
- ``ReLU``: ``numel(output)``; average pooling: ``numel(input)``; ``LayerNorm``: ``2·numel(input)``;
- every EFA layer: ``2·N·N'·C`` for ``q·kᵀ`` and ``attn·v``, with ``N`` query tokens and ``N' = N / s²``
  (real division, as in the authors' formula);
- not counted: GELU, softmax, dropout, interpolation, additions, and the head's BatchNorm (the authors'
  SyncBN had no counting rule).

Nothing is computed: the model is mirrored on the ``meta`` device and run on a ``meta`` input, so even
EDAFormer-B at 1024×2048 is counted in well under a second.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import nn

from .models.efa import EmbeddingFreeAttention


def count_params(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (buffers such as BatchNorm statistics excluded)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def meta_copy(model: nn.Module) -> nn.Module:
    """A deep copy of ``model`` whose parameters and buffers live on the ``meta`` device (no data copied)."""
    memo: dict[int, object] = {}
    for p in model.parameters():
        memo[id(p)] = nn.Parameter(torch.empty_like(p, device="meta"), requires_grad=p.requires_grad)
    for b in model.buffers():
        memo[id(b)] = torch.empty_like(b, device="meta")
    return copy.deepcopy(model, memo)


def _conv_macs(module: nn.Conv2d, output: torch.Tensor) -> int:
    out_pixels = output.shape[0] * output.shape[2] * output.shape[3]
    kh, kw = module.kernel_size
    macs = kh * kw * (module.in_channels // module.groups) * module.out_channels * out_pixels
    return macs + (module.out_channels * out_pixels if module.bias is not None else 0)


def _efa_macs(module: EmbeddingFreeAttention, x: torch.Tensor, hw: tuple[int, int]) -> float:
    """Pooling + 1×1 key/value conv + the two attention products of one EFA layer.

    The layer computes its pooling and its 1×1 conv in token layout (no ``nn.Conv2d`` call to hook), so they are
    counted here with the rules the authors' ``AvgPool2d`` and ``Conv2d`` modules got.
    """
    b, n, c = x.shape
    s = module.pool_ratio
    pooled_h, pooled_w = module.pooled_hw(hw)
    pooled_tokens = b * pooled_h * pooled_w
    pooling = x.numel()  # the average pooling reads every input element
    kv_conv = pooled_tokens * (c * c + c)  # 1×1 conv MACs plus its bias
    return 2 * b * n * (n / s**2) * c + pooling + kv_conv


def count_flops(model: nn.Module, input_shape: Sequence[int] = (3, 512, 512), batch_size: int = 1) -> float:
    """GFLOPs (multiply-accumulates ×1e-9, the paper's convention) of one forward pass at the model's current ISR.

    Args:
        model: any model of this package (segmentor, classifier, encoder); it is not modified.
        input_shape: ``(C, H, W)`` of one image.
        batch_size: images per forward pass.
    """
    if len(input_shape) != 3:
        raise ValueError(f"input_shape must be (C, H, W), got {tuple(input_shape)}")
    mirror = meta_copy(model).eval()
    total = 0.0

    def hook(module: nn.Module, args: tuple, output: torch.Tensor) -> None:
        nonlocal total
        if isinstance(module, nn.Conv2d):
            total += _conv_macs(module, output)
        elif isinstance(module, nn.Linear):
            total += args[0].numel() * module.out_features
        elif isinstance(module, nn.ReLU):
            total += output.numel()
        elif isinstance(module, nn.LayerNorm):
            total += 2 * args[0].numel()
        elif isinstance(module, nn.AvgPool2d):
            total += args[0].numel()
        elif isinstance(module, EmbeddingFreeAttention):
            total += _efa_macs(module, args[0], args[1])

    counted = (nn.Conv2d, nn.Linear, nn.ReLU, nn.LayerNorm, nn.AvgPool2d, EmbeddingFreeAttention)
    handles = [m.register_forward_hook(hook) for m in mirror.modules() if isinstance(m, counted)]
    try:
        with torch.no_grad():
            mirror(torch.empty((batch_size, *input_shape), device="meta"))
    finally:
        for h in handles:
            h.remove()
    return total / 1e9

"""Read EFA attention out of a running model with forward pre-hooks (the model itself is untouched).

Every :class:`~edaformer.models.EmbeddingFreeAttention` is called as ``attn(x_normed[B, N, C], (H, W))``; a
forward pre-hook sees exactly those arguments, and the module's own ``keys_values`` / ``split_heads`` turn them
into the attention the layer computes: ``softmax(q·kᵀ/√d)`` over the ``H'×W'`` pooled keys, with ``H' = ⌊H/s⌋``
at the module's *current* pooling ratio ``s``, so the same hooks show the training setting and any ISR setting.

>>> with AttentionRecorder(model, point=(x, y), input_size=(h, w)) as rec:
...     logits = model(images)
>>> rec.maps[0].probs.shape        # [B, heads, H', W'] for the first encoder block
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from ..models import EmbeddingFreeAttention, ISRLike, ISRSetting, isr_applied
from ..models.efa import attention_probs


@dataclass(frozen=True)
class EFALayer:
    """Where an EFA module sits: ``group`` ``"encoder"`` (``level`` = stage 1..4) or ``"decoder"`` (``level`` =
    ``"c4"``, ``"c3"``, ``"c2"``); ``block`` counts from 0 inside the stage/level."""

    name: str
    group: Literal["encoder", "decoder"]
    level: int | str
    block: int
    module: EmbeddingFreeAttention

    @property
    def title(self) -> str:
        where = f"stage {self.level}" if self.group == "encoder" else f"decoder {self.level}"
        return f"{where}, block {self.block + 1}"

    @property
    def key(self) -> tuple[str, int | str]:
        """``(group, level)``: layers sharing a key share a pooled key grid."""
        return self.group, self.level


def efa_layers(model: nn.Module) -> list[EFALayer]:
    """All EFA modules of an EDAFormer, EFT classifier or bare EFT encoder, in execution order."""
    names = {module: name for name, module in model.named_modules()}
    encoder, decoder = model.efa_levels()
    layers = [
        EFALayer(names[block.attn], "encoder", level.stage + 1, j, block.attn)
        for level in encoder
        for j, block in enumerate(level.blocks)
    ]
    layers += [
        EFALayer(names[block.attn], "decoder", f"c{level.stage + 1}", j, block.attn)
        for level in decoder
        for j, block in enumerate(level.blocks)
    ]
    return layers


@dataclass
class AttentionMap:
    """One layer's attention for one query (or all queries, when recorded without a point).

    Attributes:
        layer: which module.
        hw: ``(H, W)`` of the layer's token map (the queries).
        pooled_hw: ``(H', W')`` of the pooled keys/values at the ratio in use.
        pool_ratio: the ratio ``s`` in use (training or ISR).
        query: ``(row, col)`` of the query token on the ``H×W`` map; ``None`` for all queries.
        probs: ``[B, heads, H', W']`` for one query (sums to 1 over ``H'×W'`` per head), or
            ``[B, heads, H·W, H'·W']`` for all queries.
    """

    layer: EFALayer
    hw: tuple[int, int]
    pooled_hw: tuple[int, int]
    pool_ratio: int
    query: tuple[int, int] | None
    probs: torch.Tensor

    def head_reduced(self, reduce: Literal["mean", "max"] = "mean") -> torch.Tensor:
        """``[B, H', W']`` (or ``[B, N, N']``): heads averaged, or their element-wise maximum."""
        return self.probs.mean(1) if reduce == "mean" else self.probs.amax(1)

    def covered_fraction(self) -> tuple[float, float]:
        """Fraction of the map's height and width the pooled keys cover (floor pooling drops the remainder)."""
        kh, kw = self.hw[0] // self.pooled_hw[0], self.hw[1] // self.pooled_hw[1]
        return self.pooled_hw[0] * kh / self.hw[0], self.pooled_hw[1] * kw / self.hw[1]


def query_token(point: Sequence[float], input_size: Sequence[int], hw: Sequence[int]) -> tuple[int, int]:
    """Token ``(row, col)`` of an ``H×W`` map that holds input pixel ``point = (x, y)`` of an ``input_size`` image."""
    x, y = float(point[0]), float(point[1])
    in_h, in_w = int(input_size[0]), int(input_size[1])
    if not (0 <= x < in_w and 0 <= y < in_h):
        raise ValueError(f"query point (x={x:g}, y={y:g}) lies outside the {in_w}x{in_h} input")
    h, w = int(hw[0]), int(hw[1])
    return min(int(y * h / in_h), h - 1), min(int(x * w / in_w), w - 1)


class AttentionRecorder:
    """Context manager recording the attention of every (or selected) EFA layer during forward passes.

    Args:
        model: an EDAFormer / EFT model (any module holding EFA layers as :func:`efa_layers` finds them).
        point: query pixel ``(x, y)`` in network-input coordinates; ``None`` records full ``[N, N']`` matrices
            via :meth:`EmbeddingFreeAttention.attention_map` (memory grows as ``N·N'``: small inputs only).
        input_size: ``(H, W)`` of the network input, to place ``point`` on each stage's token grid.
        layers: subset of :func:`efa_layers` to record (default all).

    Maps are appended to :attr:`maps` in execution order, one per layer per forward pass.
    """

    def __init__(
        self,
        model: nn.Module,
        point: Sequence[float] | None,
        input_size: Sequence[int] | None = None,
        layers: Sequence[EFALayer] | None = None,
    ) -> None:
        if point is not None and input_size is None:
            raise ValueError("input_size=(H, W) is required to place a query point")
        self.model = model
        self.point = None if point is None else (float(point[0]), float(point[1]))
        self.input_size = None if input_size is None else (int(input_size[0]), int(input_size[1]))
        self.layers = list(layers) if layers is not None else efa_layers(model)
        self.maps: list[AttentionMap] = []
        self._handles: list[torch.utils.hooks.RemovableHandle] = []

    def _hook(self, layer: EFALayer):
        def hook(module: EmbeddingFreeAttention, args: tuple) -> None:
            x, hw = args[0], (int(args[1][0]), int(args[1][1]))
            with torch.no_grad():
                if self.point is None:
                    probs, query = module.attention_map(x, hw), None  # (B, h, N, N')
                else:
                    query = query_token(self.point, self.input_size, hw)
                    idx = query[0] * hw[1] + query[1]
                    kv = module.split_heads(module.keys_values(x, hw))  # (B, h, N', d)
                    q = module.split_heads(x[:, idx : idx + 1])  # (B, h, 1, d)
                    pooled = module.pooled_hw(hw)
                    probs = attention_probs(q, kv)[:, :, 0].reshape(x.shape[0], -1, *pooled)  # (B, h, H', W')
            self.maps.append(
                AttentionMap(layer, hw, module.pooled_hw(hw), module.pool_ratio, query, probs.float().cpu())
            )

        return hook

    def __enter__(self) -> AttentionRecorder:
        self.maps = []
        self._handles = [layer.module.register_forward_pre_hook(self._hook(layer)) for layer in self.layers]
        return self

    def __exit__(self, *exc: object) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []


@contextmanager
def capture_output(module: nn.Module) -> Iterator[list[torch.Tensor]]:
    """Collect ``module``'s outputs (detached) during the block: ``with capture_output(m) as outs: model(x)``."""
    outputs: list[torch.Tensor] = []
    handle = module.register_forward_hook(lambda _m, _args, out: outputs.append(out.detach()))
    try:
        yield outputs
    finally:
        handle.remove()


@dataclass
class AttentionRun:
    """One forward pass seen through the hooks: ISR setting, logits, fused decoder features, attention maps."""

    isr: ISRSetting
    logits: torch.Tensor  # [B, K, H, W]
    features: torch.Tensor  # [B, E, H/8, W/8], the decode head's fused features (its ``forward_features``)
    maps: list[AttentionMap]

    def by_level(
        self, block: Literal["last", "first", "mean"] = "last"
    ) -> dict[tuple[str, int | str], AttentionMap]:
        """One map per encoder stage / decoder level: its ``last`` or ``first`` block, or the ``mean`` of its
        blocks (they share the pooled key grid)."""
        grouped: dict[tuple[str, int | str], list[AttentionMap]] = {}
        for m in self.maps:
            grouped.setdefault(m.layer.key, []).append(m)
        out = {}
        for key, maps in grouped.items():
            if block == "mean":
                last = maps[-1]
                probs = torch.stack([m.probs for m in maps]).mean(0)  # same grid within a stage/level
                out[key] = AttentionMap(
                    last.layer, last.hw, last.pooled_hw, last.pool_ratio, last.query, probs
                )
            else:
                out[key] = maps[-1] if block == "last" else maps[0]
        return out


@torch.no_grad()
def run_with_attention(
    model: nn.Module,
    images: torch.Tensor,
    point: Sequence[float] | None,
    isr: ISRLike = None,
) -> AttentionRun:
    """Run an EDAFormer on ``images[B, 3, H, W]`` (optionally under an ISR setting, restored afterwards) and
    return its logits, fused decoder features and the attention of every EFA layer for the query ``point``."""
    with (
        isr_applied(model, isr) as setting,
        capture_output(model.decode_head.fuse) as fused,
        AttentionRecorder(model, point, images.shape[-2:]) as recorder,
    ):
        logits = model(images)
    return AttentionRun(setting, logits, fused[-1], recorder.maps)

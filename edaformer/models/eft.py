"""EFT encoder: four stages of overlapping patch embedding → EFT blocks (EFA + Mix-FFN) → LayerNorm."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from .efa import EmbeddingFreeAttention
from .hub_mixin import HubMixin
from .isr import TRAIN_ENCODER_RATIOS, EFALevel, ISRLike, ISRMixin, training_setting, validate_ratios
from .layers import DropPath, MixFFN, init_weights, map_to_tokens, tokens_to_map
from .registry import register_model


class OverlapPatchEmbed(nn.Module):
    """Strided conv → LayerNorm(eps 1e-5): ``[B, C_in, H, W]`` → tokens ``[B, H'·W', C]`` and ``(H', W')``.

    Stage 1: kernel 7, stride 4, padding 3; stages 2–4: kernel 3, stride 2, padding 1, so
    ``H' = ⌊(H + 2p − k) / s⌋ + 1`` (any input size works, not only multiples of 32).
    """

    def __init__(self, in_chans: int, dim: int, kernel_size: int, stride: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_chans, dim, kernel_size, stride, padding=kernel_size // 2)
        self.norm = nn.LayerNorm(dim, eps=1e-5)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        x = self.proj(x)  # (B, C, H', W')
        hw = (x.shape[2], x.shape[3])
        return self.norm(map_to_tokens(x)), hw  # (B, H'W', C)


class EFTBlock(nn.Module):
    """Pre-norm transformer block: ``x + DropPath(EFA(LN(x)))``, then ``x + DropPath(MixFFN(LN(x)))``.

    Used by the encoder (``decoder=False``: LN eps 1e-6, Mix-FFN with ReLU, EFA without kv norm) and by the
    decoder (``decoder=True``: LN eps 1e-5, Mix-FFN without ReLU, EFA with LayerNorm → GELU on keys/values).
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        pool_ratio: int,
        mlp_ratio: float,
        drop_path: float = 0.0,
        decoder: bool = False,
    ) -> None:
        super().__init__()
        eps = 1e-5 if decoder else 1e-6
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = EmbeddingFreeAttention(dim, num_heads, pool_ratio, kv_norm=decoder)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mix_ffn = MixFFN(dim, int(dim * mlp_ratio), relu_after_fc1=not decoder)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x), hw))
        return x + self.drop_path(self.mix_ffn(self.norm2(x), hw))


class EFTStage(EFALevel):
    """Patch embedding → ``depth`` EFT blocks → LayerNorm(eps 1e-6); returns the map ``[B, C, H', W']``.

    Stage 0 embeds with kernel 7, stride 4, the later ones with kernel 3, stride 2; ``reduction`` is the stride of
    the output map relative to the input image (``in_reduction``, the stride of the stage's input, × 4 or 2).
    """

    def __init__(
        self,
        in_chans: int,
        dim: int,
        depth: int,
        num_heads: int,
        pool_ratio: int,
        mlp_ratio: float,
        drop_paths: Sequence[float],
        stage: int,
        in_reduction: int,
    ) -> None:
        super().__init__()
        kernel, stride = (7, 4) if stage == 0 else (3, 2)
        self.patch_embed = OverlapPatchEmbed(in_chans, dim, kernel, stride)
        self.blocks = nn.ModuleList(
            EFTBlock(dim, num_heads, pool_ratio, mlp_ratio, drop_path=dp) for dp in drop_paths
        )
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.stage, self.reduction = stage, in_reduction * stride
        assert len(self.blocks) == depth

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, hw = self.patch_embed(x)  # (B, N, C)
        for block in self.blocks:
            x = block(x, hw)
        return tokens_to_map(self.norm(x), hw)  # (B, C, H', W')


class FeatureInfo(list):
    """timm's ``feature_info``: one ``{"num_chs", "reduction", "module"}`` dict per returned map, plus timm's
    accessors ``channels()``, ``reduction()`` and ``module_name()`` (a list, or one entry with ``idx``)."""

    def _get(self, key: str, idx: int | None) -> Any:
        return [info[key] for info in self] if idx is None else self[idx][key]

    def channels(self, idx: int | None = None) -> Any:
        return self._get("num_chs", idx)

    def reduction(self, idx: int | None = None) -> Any:
        return self._get("reduction", idx)

    def module_name(self, idx: int | None = None) -> Any:
        return self._get("module", idx)


class EFTEncoder(ISRMixin, HubMixin, nn.Module, pipeline_tag="image-feature-extraction"):
    """Embedding-Free Transformer encoder.

    ``forward(images[B, 3, H, W])`` returns the four stage maps ``[B, C_i, H_i, W_i]`` at strides 4, 8, 16, 32
    (``H_1 = ⌈H/4⌉``, each later stage halves with ceiling). :attr:`feature_info` describes them (``num_chs``,
    ``reduction`` = stride, ``module``); heads read their input channels and strides from there.

    Args:
        dims: channels per stage ``C_1..C_4``.
        depths: EFT blocks per stage.
        num_heads: EFA heads per stage.
        pool_ratios: training key/value pooling ratios per stage.
        mlp_ratio: Mix-FFN expansion (hidden = ``int(C · mlp_ratio)``).
        drop_path_rate: stochastic depth, rising linearly from 0 to this over all blocks.
        in_chans: input image channels.
    """

    def __init__(
        self,
        dims: Sequence[int] = (32, 64, 128, 256),
        depths: Sequence[int] = (2, 2, 10, 2),
        num_heads: Sequence[int] = (1, 2, 4, 8),
        pool_ratios: Sequence[int] = TRAIN_ENCODER_RATIOS,
        mlp_ratio: float = 3.8,
        drop_path_rate: float = 0.2,
        in_chans: int = 3,
    ) -> None:
        super().__init__()
        pool_ratios = validate_ratios(tuple(pool_ratios), 4, "encoder")
        total = sum(depths)
        rates = [drop_path_rate * i / max(total - 1, 1) for i in range(total)]  # linear 0 → rate
        self.stages = nn.ModuleList()
        start = 0
        for i, (dim, depth) in enumerate(zip(dims, depths)):
            self.stages.append(
                EFTStage(
                    in_chans if i == 0 else dims[i - 1],
                    dim,
                    depth,
                    num_heads[i],
                    pool_ratios[i],
                    mlp_ratio,
                    rates[start : start + depth],
                    stage=i,
                    in_reduction=self.stages[-1].reduction if i else 1,
                )
            )
            start += depth
        self.dims = tuple(dims)
        self.feature_info = FeatureInfo(
            {"num_chs": dim, "reduction": stage.reduction, "module": f"stages.{i}"}
            for i, (dim, stage) in enumerate(zip(dims, self.stages))
        )
        self.apply(init_weights)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = []
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        return features

    def efa_levels(self) -> tuple[Sequence[EFALevel], Sequence[EFALevel]]:
        return tuple(self.stages), ()


class EFTFeatures(EFTEncoder):
    """The EFT encoder as a backbone for other heads (timm's ``features_only``): ``forward(images[B, 3, H, W])``
    returns the maps of the stages in ``out_indices`` (0-based, strides 4, 8, 16, 32), in that order.

    :attr:`feature_info` describes the returned maps only (timm's convention: ``num_chs``, ``reduction``,
    ``module``, and ``feature_info.channels()`` / ``.reduction()``). The module keeps all four stages, so ISR
    (``set_isr``, ``isr_applied``; the encoder part of a setting) and the encoder's pretrained weights
    (:func:`edaformer.checkpoints.load_encoder_weights`) apply unchanged; stages after the last selected one are
    not run (their weights get no gradient). Arguments as :class:`EFTEncoder`, plus ``out_indices``.
    """

    def __init__(self, *args: Any, out_indices: Sequence[int] = (0, 1, 2, 3), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        indices = tuple(int(i) for i in out_indices)
        if (
            not indices
            or any(not 0 <= i < len(self.stages) for i in indices)
            or len(set(indices)) != len(indices)
        ):
            raise ValueError(
                f"out_indices must be distinct stage indices in 0..{len(self.stages) - 1}, got {out_indices!r}"
            )
        self.out_indices = indices
        self.feature_info = FeatureInfo(self.feature_info[i] for i in indices)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        maps = []
        for stage in self.stages[: max(self.out_indices) + 1]:
            x = stage(x)
            maps.append(x)
        return [maps[i] for i in self.out_indices]


# Architecture of each variant (not user knobs: the knobs are the keyword arguments of :func:`eft_encoder`).
EFT_VARIANTS: dict[str, dict[str, Any]] = {
    "t": {"dims": (32, 64, 128, 256), "depths": (2, 2, 10, 2), "mlp_ratio": 3.8},
    "b": {"dims": (64, 128, 256, 512), "depths": (3, 3, 22, 3), "mlp_ratio": 4.0},
    # Not in the paper: the smallest network with every part of EFT (four stages, one block each), for tests,
    # smoke runs and debugging pipelines in seconds on a CPU.
    "mini": {"dims": (16, 32, 64, 128), "depths": (1, 1, 1, 1), "mlp_ratio": 2.0},
}


@register_model
def eft_encoder(
    variant: str = "t",
    *,
    drop_path_rate: float = 0.2,
    in_chans: int = 3,
    isr: ISRLike = None,
    train_isr: ISRLike = None,
    out_indices: Sequence[int] | None = None,
) -> EFTEncoder:
    """EFT-T (``"t"``) or EFT-B (``"b"``) encoder with the paper's dimensions (``"mini"``: a four-stage,
    one-block-per-stage encoder for tests and smoke runs, not in the paper).

    Args:
        variant: ``"t"``, ``"b"`` or ``"mini"``.
        drop_path_rate: stochastic depth of the last block (rising linearly from 0).
        in_chans: input image channels.
        isr: inference pooling setting applied right away (any form :func:`~edaformer.models.parse_isr` reads;
            the encoder takes the encoder part of a full setting).
        train_isr: the pooling ratios the encoder is built and trained at (its encoder part; ``None``: the
            standard (8, 4, 2, 1)).
        out_indices: ``None``: an :class:`EFTEncoder` returning all four maps; stage indices (0–3): an
            :class:`EFTFeatures` returning those maps only.
    """
    if variant not in EFT_VARIANTS:
        raise ValueError(f"unknown EFT variant {variant!r}; valid: {', '.join(EFT_VARIANTS)}")
    args = {
        **EFT_VARIANTS[variant],
        "pool_ratios": training_setting(train_isr).encoder,
        "drop_path_rate": drop_path_rate,
        "in_chans": in_chans,
    }
    encoder = EFTEncoder(**args) if out_indices is None else EFTFeatures(**args, out_indices=out_indices)
    encoder.set_isr(isr)  # None: keeps the training ratios
    return encoder

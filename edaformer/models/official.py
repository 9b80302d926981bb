"""The authors' (MMSegmentation 0.13) checkpoint layout: key mapping as data, strict both ways.

Official segmentation checkpoints hold ``{"state_dict": {...}, "meta": ...}`` with keys ``backbone.*`` and
``decode_head.*`` (the full list, with shapes, is ``tests/refs/official_keys_edaformer_{t,b}.json``).
ImageNet-pretrained encoder files in the PVT style have the same backbone keys without the prefix, plus ``head.*``
for the classifier. Reading files is :mod:`edaformer.checkpoints`' job; this module only renames tensors.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import torch
from torch import nn

# --- the mapping table (the only place where the authors' names appear) ------------------------------------------
# Stage-level renames inside the backbone; ``{i}`` is the authors' 1-based stage, ``{s}`` ours (0-based).
BACKBONE_STAGE_RULES: list[tuple[str, str]] = [
    ("patch_embed{i}.", "stages.{s}.patch_embed."),
    ("block{i}.", "stages.{s}.blocks."),
    ("norm{i}.", "stages.{s}.norm."),
]
# Renames inside one transformer block (encoder and decoder alike).
BLOCK_RULES: list[tuple[str, str]] = [
    ("attn.sr.", "attn.kv_proj."),
    ("attn.proj.", "attn.out_proj."),
    ("attn.norm.", "attn.kv_norm."),
    ("mlp.fc1.", "mix_ffn.fc1."),
    ("mlp.dwconv.dwconv.", "mix_ffn.dwconv."),
    ("mlp.fc2.", "mix_ffn.fc2."),
    ("norm1.", "norm1."),
    ("norm2.", "norm2."),
]
# Decoder-head renames: the authors' attn4/attn44/attn444 are the three c4 blocks, and so on.
HEAD_RULES: list[tuple[str, str]] = [
    ("attn4.", "levels.0.blocks.0."),
    ("attn44.", "levels.0.blocks.1."),
    ("attn444.", "levels.0.blocks.2."),
    ("attn3.", "levels.1.blocks.0."),
    ("attn33.", "levels.1.blocks.1."),
    ("attn2.", "levels.2.blocks.0."),
    ("linear_fuse.conv.", "fuse.conv."),
    ("linear_fuse.bn.", "fuse.bn."),
    ("linear_pred.", "classifier."),
]
PREFIX_RULES: list[tuple[str, str]] = [("backbone.", "encoder."), ("decode_head.", "decode_head.")]
# Official tensors with no counterpart here, because the authors' forward pass never uses them.
UNUSED_OFFICIAL_PREFIXES = ("decode_head.conv_seg.",)


class CheckpointMismatchError(KeyError):
    """Raised when a checkpoint does not fit a model; the message lists every offending key."""

    def __str__(self) -> str:  # KeyError would print the message with quotes
        return str(self.args[0])


def _rename_block(rest: str, reverse: bool) -> str | None:
    for official, ours in BLOCK_RULES:
        src, dst = (ours, official) if reverse else (official, ours)
        if rest.startswith(src):
            return dst + rest[len(src) :]
    return None


def _map_backbone(key: str) -> str | None:
    for official, ours in BACKBONE_STAGE_RULES:
        m = re.fullmatch(re.escape(official).replace(r"\{i\}", r"(?P<i>[1-4])") + "(?P<rest>.+)", key)
        if m is None:
            continue
        stage = int(m["i"]) - 1
        rest = m["rest"]
        if official.startswith("block"):
            block, _, inner = rest.partition(".")
            inner = _rename_block(inner, reverse=False)
            return None if not block.isdigit() or inner is None else f"stages.{stage}.blocks.{block}.{inner}"
        return ours.format(s=stage) + rest
    return None


def _unmap_backbone(key: str) -> str | None:
    m = re.fullmatch(r"stages\.(?P<s>\d)\.(?P<kind>patch_embed|blocks|norm)\.(?P<rest>.+)", key)
    if m is None:
        return None
    i = int(m["s"]) + 1
    if m["kind"] == "blocks":
        block, _, inner = m["rest"].partition(".")
        inner = _rename_block(inner, reverse=True)
        return None if inner is None else f"block{i}.{block}.{inner}"
    return f"{m['kind'] if m['kind'] == 'patch_embed' else 'norm'}{i}.{m['rest']}"


def _map_head(key: str, reverse: bool) -> str | None:
    for official, ours in sorted(HEAD_RULES, key=lambda r: -len(r[1 if reverse else 0])):
        src, dst = (ours, official) if reverse else (official, ours)
        if key.startswith(src):
            rest = key[len(src) :]
            if dst.startswith(("levels", "attn")):
                rest = _rename_block(rest, reverse)
                if rest is None:
                    return None
            return dst + rest
    return None


def official_to_ours(key: str) -> str | None:
    """Our state-dict key for an official segmentor key (``None`` if the key is not part of the layout)."""
    for official, ours in PREFIX_RULES:
        if key.startswith(official):
            rest = key[len(official) :]
            mapped = _map_backbone(rest) if official == "backbone." else _map_head(rest, reverse=False)
            return None if mapped is None else ours + mapped
    return None


def ours_to_official(key: str) -> str | None:
    """Inverse of :func:`official_to_ours`."""
    for official, ours in PREFIX_RULES:
        if key.startswith(ours):
            rest = key[len(ours) :]
            mapped = _unmap_backbone(rest) if ours == "encoder." else _map_head(rest, reverse=True)
            return None if mapped is None else official + mapped
    return None


# --- conversion ------------------------------------------------------------------------------------------------
def convert_official_state_dict(
    official: Mapping[str, torch.Tensor], model: nn.Module
) -> tuple[dict[str, torch.Tensor], list[str]]:
    """Map an official state dict onto ``model``'s keys; returns (our state dict, dropped unused official keys).

    Works for the segmentor (``backbone.``/``decode_head.`` keys), the bare encoder and the classifier (backbone keys
    with or without the ``backbone.`` prefix; ``head.*`` → ``head.*``). Raises :class:`CheckpointMismatchError`
    listing every official key that maps nowhere, every model key left unfilled and every shape mismatch.
    """
    from .classifier import EFTClassifier
    from .eft import EFTEncoder

    expected = model.state_dict()
    converted: dict[str, torch.Tensor] = {}
    dropped: list[str] = []
    unmapped: list[str] = []
    for key, tensor in official.items():
        if key.startswith(UNUSED_OFFICIAL_PREFIXES):
            dropped.append(key)
            continue
        if isinstance(model, EFTEncoder | EFTClassifier):
            bare = key.removeprefix("backbone.")
            if isinstance(model, EFTClassifier) and bare.startswith("head."):
                ours = bare
            else:
                inner = _map_backbone(bare)
                ours = (
                    None
                    if inner is None
                    else ("encoder." if isinstance(model, EFTClassifier) else "") + inner
                )
        else:
            ours = official_to_ours(key)
        if ours is None or ours not in expected:
            unmapped.append(key if ours is None else f"{key} (-> {ours}, not in {type(model).__name__})")
        else:
            converted[ours] = tensor
    missing = sorted(set(expected) - set(converted))
    shapes = [
        f"{k}: checkpoint {tuple(v.shape)} vs model {tuple(expected[k].shape)}"
        for k, v in converted.items()
        if v.shape != expected[k].shape
    ]
    problems = []
    if unmapped:
        problems.append(f"{len(unmapped)} checkpoint keys map to nothing: {unmapped}")
    if missing:
        problems.append(f"{len(missing)} model keys not filled: {missing}")
    if shapes:
        problems.append(f"{len(shapes)} shape mismatches: {shapes}")
    if problems:
        raise CheckpointMismatchError(
            f"checkpoint does not fit {type(model).__name__}:\n  " + "\n  ".join(problems)
        )
    return converted, dropped


def to_official_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """Our segmentor's weights in the authors' key layout (``conv_seg`` omitted), e.g. to run them in their code."""
    out = {}
    for key, tensor in model.state_dict().items():
        official = ours_to_official(key)
        if official is None:
            raise CheckpointMismatchError(f"no official name for {key}")
        out[official] = tensor
    return out


def infer_official_model(official: Mapping[str, torch.Tensor]) -> tuple[str, int]:
    """``(model name, num_classes)`` of an official segmentor state dict, read from tensor shapes."""
    try:
        width = official["backbone.patch_embed1.proj.weight"].shape[0]
        num_classes = official["decode_head.linear_pred.weight"].shape[0]
    except KeyError as err:
        raise CheckpointMismatchError(
            f"not an EDAFormer segmentation checkpoint: missing {err.args[0]}"
        ) from None
    names = {32: "edaformer_t", 64: "edaformer_b"}
    if width not in names:
        raise CheckpointMismatchError(f"stage-1 width {width} matches no known variant (32: T, 64: B)")
    return names[width], int(num_classes)

"""EDAFormer / EFT models in plain PyTorch (no Lightning, no Hydra).

>>> from edaformer.models import create_model
>>> model = create_model("edaformer_t", num_classes=150)
>>> model.set_isr("paper")  # encoder (16, 8, 2, 1), decoder (2, 4, 8): same weights, fewer FLOPs
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from .classifier import EFTClassifier, eft_b, eft_t
from .decoder import EDAFormerHead
from .efa import EmbeddingFreeAttention, UnfusedEmbeddingFreeAttention
from .eft import EFTBlock, EFTEncoder, eft_encoder
from .isr import ISR_PRESETS, ISRSetting
from .official import (
    CheckpointMismatchError,
    convert_official_state_dict,
    infer_official_model,
    to_official_state_dict,
)
from .segmentor import EDAFormer, edaformer_b, edaformer_t

MODELS: dict[str, Callable[..., nn.Module]] = {
    "edaformer_t": edaformer_t,
    "edaformer_b": edaformer_b,
    "eft_t": eft_t,
    "eft_b": eft_b,
}


def create_model(name: str, num_classes: int | None = None, **overrides: Any) -> nn.Module:
    """Build a model by name (``edaformer_t``, ``edaformer_b``, ``eft_t``, ``eft_b``).

    ``num_classes`` defaults to 150 for segmentors and 1000 for classifiers; ``overrides`` go to the factory
    (e.g. ``drop_path_rate=0.1``, ``isr="paper"``).
    """
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; valid names: {', '.join(MODELS)}")
    if num_classes is not None:
        overrides["num_classes"] = num_classes
    return MODELS[name](**overrides)


__all__ = [
    "MODELS",
    "ISR_PRESETS",
    "CheckpointMismatchError",
    "EDAFormer",
    "EDAFormerHead",
    "EFTBlock",
    "EFTClassifier",
    "EFTEncoder",
    "EmbeddingFreeAttention",
    "ISRSetting",
    "UnfusedEmbeddingFreeAttention",
    "convert_official_state_dict",
    "create_model",
    "edaformer_b",
    "edaformer_t",
    "eft_b",
    "eft_encoder",
    "eft_t",
    "infer_official_model",
    "to_official_state_dict",
]

"""EDAFormer / EFT models in plain PyTorch (no Lightning, no Hydra).

>>> from edaformer.models import create_model
>>> model = create_model("edaformer_t", num_classes=150)
>>> model.set_isr("paper")  # encoder (16, 8, 2, 1), decoder (2, 4, 8): same weights, fewer FLOPs
>>> with isr_applied(model, "aggressive"):  # for one block, then back to "paper"
...     logits = model(images)
>>> model.set_isr("own")  # back to the ratios it was trained at, model.train_isr
>>> model.save_pretrained("my_model")  # safetensors + config.json + model card; EDAFormer.from_pretrained(...)
>>> backbone = create_model("eft_t", features_only=True, out_indices=(1, 2, 3))  # maps for another head

With timm installed and imported, the EFT models are also in timm's registry (:mod:`.timm_registry`).
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable
from typing import Any

from torch import nn

from .classifier import EFTClassifier, eft_b, eft_mini, eft_t
from .decoder import EDAFormerHead
from .efa import EmbeddingFreeAttention, UnfusedEmbeddingFreeAttention
from .eft import EFTBlock, EFTEncoder, EFTFeatures, FeatureInfo, eft_encoder
from .hub import HubError, HubMixin
from .isr import ISR_OWN, ISR_PRESETS, ISRLike, ISRSetting, isr_applied, parse_isr
from .official import (
    CheckpointMismatchError,
    convert_official_state_dict,
    infer_official_model,
    to_official_state_dict,
)
from .segmentor import EDAFormer, edaformer_b, edaformer_mini, edaformer_t
from .timm_registry import register_timm_models

MODELS: dict[str, Callable[..., nn.Module]] = {
    "edaformer_t": edaformer_t,
    "edaformer_b": edaformer_b,
    "eft_t": eft_t,
    "eft_b": eft_b,
    "edaformer_mini": edaformer_mini,  # not in the paper: tests and smoke runs
    "eft_mini": eft_mini,
}


def create_model(name: str, num_classes: int | None = None, **kwargs: Any) -> nn.Module:
    """Build a model by name (``edaformer_t``, ``edaformer_b``, ``eft_t``, ``eft_b``; ``edaformer_mini`` /
    ``eft_mini``: small networks for tests and smoke runs, not in the paper).

    ``num_classes`` defaults (``None``) to the factory's: 150 for segmentors, 1000 for classifiers. ``kwargs`` are
    the factory's keyword arguments (e.g. ``drop_path_rate=0.1``, ``isr="paper"``; for ``eft_*``
    ``features_only=True, out_indices=(0, 1, 2, 3)`` gives the encoder as a backbone); an unknown one raises a
    ``TypeError`` that lists the valid ones.
    """
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; valid names: {', '.join(MODELS)}")
    factory = MODELS[name]
    valid = inspect.signature(factory).parameters
    unknown = [key for key in kwargs if key not in valid]
    if unknown:
        raise TypeError(
            f"{name}() got unexpected keyword argument(s) {', '.join(unknown)}; valid: {', '.join(valid)}"
        )
    if num_classes is not None:
        kwargs["num_classes"] = num_classes
    return factory(**kwargs)


if "timm" in sys.modules:  # timm imported before us: put the EFT models in its registry now
    register_timm_models()


__all__ = [
    "MODELS",
    "ISR_OWN",
    "ISR_PRESETS",
    "CheckpointMismatchError",
    "EDAFormer",
    "EDAFormerHead",
    "EFTBlock",
    "EFTClassifier",
    "EFTEncoder",
    "EFTFeatures",
    "FeatureInfo",
    "HubError",
    "HubMixin",
    "EmbeddingFreeAttention",
    "ISRLike",
    "ISRSetting",
    "UnfusedEmbeddingFreeAttention",
    "convert_official_state_dict",
    "create_model",
    "edaformer_b",
    "edaformer_mini",
    "edaformer_t",
    "eft_b",
    "eft_mini",
    "eft_encoder",
    "eft_t",
    "infer_official_model",
    "isr_applied",
    "parse_isr",
    "register_timm_models",
    "to_official_state_dict",
]

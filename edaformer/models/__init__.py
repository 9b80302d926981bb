"""EDAFormer / EFT models in plain PyTorch (no Lightning, no Hydra).

>>> from edaformer.models import create_model
>>> model = create_model("edaformer_t", num_classes=150)
>>> model.set_isr("paper")  # encoder (16, 8, 2, 1), decoder (2, 4, 8): same weights, fewer FLOPs
>>> with isr_applied(model, "aggressive"):  # for one block, then back to "paper"
...     logits = model(images)
>>> model.set_isr("own")  # back to the ratios it was trained at, model.train_isr
>>> model.save_pretrained("my_model")  # safetensors + config.json; EDAFormer.from_pretrained("my_model")
>>> backbone = create_model("eft_t", features_only=True, out_indices=(1, 2, 3))  # maps for another head

With timm installed and imported, the EFT models are also in timm's registry (:mod:`.timm_registry`).
"""

from __future__ import annotations

import sys

from .classifier import EFTClassifier, eft_b, eft_mini, eft_t
from .decoder import EDAFormerHead
from .edaformer import EDAFormer, edaformer_b, edaformer_mini, edaformer_t
from .efa import EmbeddingFreeAttention, UnfusedEmbeddingFreeAttention
from .eft import EFTBlock, EFTEncoder, EFTFeatures, FeatureInfo, eft_encoder
from .hub_mixin import HubError, HubMixin
from .isr import ISR_OWN, ISR_PRESETS, ISRLike, ISRSetting, isr_applied, parse_isr
from .official import (
    CheckpointMismatchError,
    convert_official_state_dict,
    infer_official_model,
    to_official_state_dict,
)
from .registry import MODELS, create_model
from .timm_registry import register_timm_models

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

"""The EFT models in timm's model registry, when timm is installed (it is never a dependency of this package).

``import edaformer.models`` registers them if timm is already imported; otherwise call
:func:`register_timm_models` once. Then ``timm.create_model`` finds them by name, with timm's keywords:

>>> import timm, edaformer.models
>>> backbone = timm.create_model("eft_t", features_only=True, out_indices=(1, 2, 3))
>>> backbone.feature_info.channels()
[64, 128, 256]

timm's ``create_model`` calls an entry point with its own bookkeeping keywords besides the user's:
``pretrained``, ``pretrained_cfg`` and ``pretrained_cfg_overlay`` (every timm 1.0), ``cache_dir`` (from 1.0.13) and
``pretrained_model_args`` (models sourced from a hub or a local folder, later 1.0 releases). The entry point takes
them all by name and hands only the user's keywords to our factory (an unknown one is a
``TypeError`` listing the valid ones). No weights are published under timm's names: load them with
``EFTClassifier.from_pretrained(...)`` (a hub folder or repo id), ``timm.create_model(..., checkpoint_path=...)``,
or :func:`edaformer.checkpoints.load_encoder_weights`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from torch import nn

from .registry import create_model

TIMM_MODELS = ("eft_t", "eft_b")


# What timm's create_model passes to every entry point besides the user's keywords (timm 1.0.9 to 1.0.31).
TIMM_KEYWORDS = (
    "pretrained",
    "pretrained_cfg",
    "pretrained_cfg_overlay",
    "cache_dir",
    "pretrained_model_args",
)


def _entry_point(name: str) -> Callable[..., nn.Module]:
    def entry(  # timm's keywords (1.0.9 to 1.0.31) by name; the user's in kwargs
        pretrained: bool = False,
        pretrained_cfg: Any = None,
        pretrained_cfg_overlay: Any = None,
        cache_dir: Any = None,
        pretrained_model_args: Any = None,
        **kwargs: Any,
    ) -> nn.Module:
        if pretrained:
            raise ValueError(
                f"{name}: no weights are published under timm's registry; use "
                f"timm.create_model({name!r}, checkpoint_path=...) or EFTClassifier.from_pretrained(folder or repo id)"
            )
        return create_model(name, **kwargs)

    entry.__name__ = entry.__qualname__ = name  # timm registers an entry point under its function name
    entry.__module__ = __name__
    entry.__doc__ = f"{name} from the edaformer package (see edaformer.models.{name})."
    return entry


def register_timm_models() -> list[str]:
    """Register ``eft_t`` and ``eft_b`` with timm (imports timm); returns the names. Safe to call twice."""
    from timm.models import register_model

    module = sys.modules[__name__]
    for name in TIMM_MODELS:
        if not callable(getattr(module, name, None)):
            setattr(module, name, register_model(_entry_point(name)))  # timm adds the name to __all__ too
    return list(TIMM_MODELS)

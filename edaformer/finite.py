"""Finite numbers in weights: which tensors hold NaN or inf, and the refusal of a model whose weights do.

A model with NaN weights computes nothing meaningful (every pixel one class), so every command that loads a model
refuses it (:func:`require_finite_weights`) and no checkpoint is written with such tensors
(:mod:`edaformer.lit.nonfinite`).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from .errors import NonFiniteError

__all__ = ["non_finite_tensors", "require_finite_weights"]


def non_finite_tensors(tensors: Mapping[str, object]) -> list[str]:
    """Names of the floating-point tensors of ``tensors`` that hold a NaN or an inf."""
    return [
        name
        for name, value in tensors.items()
        if isinstance(value, torch.Tensor)
        and value.is_floating_point()
        and not bool(torch.isfinite(value).all())
    ]


def require_finite_weights(model: nn.Module, source: str) -> None:
    """Raise :class:`~edaformer.errors.NonFiniteError` when a weight of ``model`` (loaded from ``source``) holds
    NaN/inf: whatever such a model computes (every pixel class 0) means nothing."""
    bad = non_finite_tensors(model.state_dict())
    if bad:
        total = len(model.state_dict())
        raise NonFiniteError(
            f"{source}: {len(bad)} of {total} weight tensors hold NaN/inf (e.g. {bad[0]}); the weights come from a "
            "diverged training, so nothing is computed with them"
        )

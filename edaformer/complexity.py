"""Parameter and FLOP counts in the paper's convention (GFLOPs = multiply-accumulates ×1e-9).

The counter lives with the models (:mod:`edaformer.models.complexity`), because a model's card on the Hugging Face
Hub states its GFLOPs under each ISR preset; this module keeps the public import path
``from edaformer.complexity import count_flops, count_params``.
"""

from __future__ import annotations

from .models.complexity import count_flops, count_params, meta_copy

__all__ = ["count_flops", "count_params", "meta_copy"]

"""GFLOPs of every setting of a search space from a few counts.

A pooling ratio changes only the EFA layers of its own level (their pooled key/value tokens, the key/value
projection and the two attention products); every other layer's shapes, and so its count, stay as they are. The
GFLOPs of a setting are therefore the count of one reference setting plus, per position, the change its ratio makes
on its own. :class:`FlopsTable` counts each (position, ratio) once, when first needed, with
:func:`~edaformer.flops.count_flops`: at most ``1 + Σ (candidates − 1)`` counts (22 for the default space of
a segmentor) however many settings a search proposes, where counting each setting would take one count per
proposal (about a second each for EDAFormer-B at 1024×2048).
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from ..flops import count_flops
from ..models import ISRSetting, isr_applied
from .space import SearchSpace


class FlopsTable:
    """``table(setting)``: GFLOPs (multiply-accumulates ×1e-9) of ``model`` under ``setting`` at ``input_shape``.

    Settings outside ``space`` are counted directly (and cached).
    """

    def __init__(self, model: nn.Module, space: SearchSpace, input_shape: Sequence[int]) -> None:
        self.model, self.space, self.input_shape = model, space, tuple(input_shape)
        self.reference = {p: c[0] for p, c in space.positions.items()}
        self.counts = 0
        self._base: float | None = None
        self._delta: dict[tuple[str, int], float] = {}
        self._direct: dict[str, float] = {}

    def count(self, setting: ISRSetting) -> float:
        """One :func:`count_flops` of ``model`` under ``setting``."""
        self.counts += 1
        with isr_applied(self.model, setting):
            return count_flops(self.model, self.input_shape)

    def __call__(self, setting: ISRSetting) -> float:
        if setting not in self.space:
            key = str(setting)
            if key not in self._direct:
                self._direct[key] = self.count(setting)
            return self._direct[key]
        if self._base is None:
            self._base = self.count(self.space.setting(self.reference))
        total = self._base
        for position, ratio in self.space.params(setting).items():
            if ratio != self.reference[position]:
                key = (position, ratio)
                if key not in self._delta:
                    changed = self.space.setting({**self.reference, position: ratio})
                    self._delta[key] = self.count(changed) - self._base
                total += self._delta[key]
        return total

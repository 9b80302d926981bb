"""The space of ISR settings a search explores: candidate pooling ratios for each EFA level.

Positions are the paper's: encoder stages ``s1..s4`` and, for segmentors, decoder blocks ``d4, d3, d2``. Every
position is free at inference on the same weights, so the space is the product of the candidate sets: with the
default candidates (the model's own training ratio × 1, 2, 4, 8) 4⁷ = 16,384 settings for a segmentor, 4⁴ = 256 for a
classifier (encoder only).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..models import ISR_PRESETS, ISRSetting
from ..models.isr import validate_ratios

ENCODER_POSITIONS = ("s1", "s2", "s3", "s4")
DECODER_POSITIONS = ("d4", "d3", "d2")
DEFAULT_MULTIPLIERS = (1, 2, 4, 8)


@dataclass(frozen=True)
class SearchSpace:
    """Candidate absolute ratios per position.

    Args:
        encoder: four candidate tuples, for ``s1..s4``.
        decoder: three candidate tuples, for ``d4, d3, d2``; ``None`` for models without a decoder.
    """

    encoder: tuple[tuple[int, ...], ...]
    decoder: tuple[tuple[int, ...], ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "encoder", _candidates(self.encoder, ENCODER_POSITIONS))
        if self.decoder is not None:
            object.__setattr__(self, "decoder", _candidates(self.decoder, DECODER_POSITIONS))

    @classmethod
    def around_training(
        cls,
        training: ISRSetting = ISR_PRESETS["train"],
        multipliers: Sequence[int] = DEFAULT_MULTIPLIERS,
        encoder_candidates: Sequence[Sequence[int]] | None = None,
        decoder_candidates: Sequence[Sequence[int]] | None = None,
    ) -> SearchSpace:
        """``training``'s ratios times each multiplier, per position; explicit candidate lists replace them.

        ``training`` is the setting the model was trained at (``model.train_isr``: the paper's ``"train"`` preset
        unless it was trained at other ratios); without decoder ratios (classifiers) the space has no decoder.
        ``encoder_candidates`` (four lists) or ``decoder_candidates`` (three lists) give the candidates of those
        positions directly.
        """
        mults = sorted(set(validate_ratios(list(multipliers), len(multipliers), "multiplier")))
        enc = encoder_candidates or [[r * m for m in mults] for r in training.encoder]
        if training.decoder is None:
            if decoder_candidates is not None:
                raise ValueError("decoder candidates given for a model without a decoder")
            return cls(tuple(map(tuple, enc)), None)
        dec = decoder_candidates or [[r * m for m in mults] for r in training.decoder]
        return cls(tuple(map(tuple, enc)), tuple(map(tuple, dec)))

    @property
    def positions(self) -> dict[str, tuple[int, ...]]:
        """Position name → candidates, e.g. ``{"s1": (8, 16, 32, 64), ..., "d2": (4, 8, 16, 32)}``."""
        out = dict(zip(ENCODER_POSITIONS, self.encoder))
        if self.decoder is not None:
            out.update(zip(DECODER_POSITIONS, self.decoder))
        return out

    @property
    def size(self) -> int:
        """Number of settings in the space."""
        return math.prod(len(c) for c in self.positions.values())

    def setting(self, params: Mapping[str, int]) -> ISRSetting:
        """The setting of one value per position (``{"s1": 16, ..., "d2": 8}``)."""
        encoder = tuple(int(params[p]) for p in ENCODER_POSITIONS)
        decoder = tuple(int(params[p]) for p in DECODER_POSITIONS) if self.decoder is not None else None
        return ISRSetting(encoder, decoder)

    def params(self, setting: ISRSetting) -> dict[str, int]:
        """Position name → ratio of ``setting`` (its decoder part only when the space has a decoder)."""
        out = dict(zip(ENCODER_POSITIONS, setting.encoder))
        if self.decoder is not None:
            if setting.decoder is None:
                raise ValueError(f"setting {setting} has no decoder ratios, the space has")
            out.update(zip(DECODER_POSITIONS, setting.decoder))
        return out

    def restrict(self, setting: ISRSetting) -> ISRSetting:
        """``setting`` as the space's models run it (encoder only when the space has no decoder)."""
        return setting if self.decoder is not None else ISRSetting(setting.encoder, None)

    def __contains__(self, setting: object) -> bool:
        if not isinstance(setting, ISRSetting):
            return False
        if self.decoder is not None and setting.decoder is None:
            return False
        return all(v in self.positions[p] for p, v in self.params(setting).items())

    def presets(self) -> dict[str, ISRSetting]:
        """The paper's presets as the space's models run them (classifiers: encoder parts, duplicates dropped)."""
        out: dict[str, ISRSetting] = {}
        for name, preset in ISR_PRESETS.items():
            setting = self.restrict(preset)
            if setting not in out.values():
                out[name] = setting
        return out

    def describe(self) -> str:
        """One line per position, e.g. ``s1: 8, 16, 32, 64``."""
        return "\n".join(f"{p}: {', '.join(map(str, c))}" for p, c in self.positions.items())


def _candidates(value: Sequence[Sequence[int]], names: tuple[str, ...]) -> tuple[tuple[int, ...], ...]:
    if isinstance(value, str) or len(value) != len(names):
        raise ValueError(f"expected {len(names)} candidate lists ({', '.join(names)}), got {value!r}")
    out = []
    for name, cands in zip(names, value):
        if isinstance(cands, int | str) or not cands:
            raise ValueError(f"{name}: expected a non-empty list of ratios, got {cands!r}")
        out.append(tuple(sorted(set(validate_ratios(list(cands), len(cands), name)))))
    return tuple(out)

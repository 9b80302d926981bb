"""Inference Spatial Reduction (ISR) settings: absolute key/value pooling ratios per EFA layer group.

Notation (the paper's): ``encoder = (s1, s2, s3, s4)`` for the four encoder stages and ``decoder = (d4, d3, d2)``
for the decoder blocks on ``c4``, ``c3`` and ``c2``. Training uses encoder (8, 4, 2, 1) and decoder (1, 2, 4).

The authors' scripts take *multipliers* of the training ratios instead; ours are absolute. The paper's ISR
setting, encoder ×(2, 2, 1, 1) and decoder ×(2, 2, 2) in their notation, is ``ISRSetting((16, 8, 2, 1), (2, 4, 8))``
here: multiply each training ratio by the authors' multiplier.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

TRAIN_ENCODER_RATIOS = (8, 4, 2, 1)
TRAIN_DECODER_RATIOS = (1, 2, 4)


def validate_ratios(ratios: Sequence[int], length: int, what: str) -> tuple[int, ...]:
    """Check a ratio tuple: ``length`` positive integers. Raises ``ValueError`` naming the bad value."""
    if isinstance(ratios, str | bytes) or not isinstance(ratios, Sequence):
        raise ValueError(
            f"{what} ISR ratios must be a sequence of {length} positive integers, got {ratios!r}"
        )
    if len(ratios) != length:
        raise ValueError(
            f"{what} ISR ratios must have {length} entries, got {len(ratios)}: {tuple(ratios)!r}"
        )
    out = []
    for i, r in enumerate(ratios):
        if isinstance(r, bool) or not isinstance(r, numbers.Integral):
            raise ValueError(f"{what} ISR ratio #{i + 1} must be a positive integer, got {r!r}")
        if r < 1:
            raise ValueError(f"{what} ISR ratio #{i + 1} must be a positive integer (>= 1), got {r!r}")
        out.append(int(r))
    return tuple(out)


@dataclass(frozen=True)
class ISRSetting:
    """Absolute pooling ratios. ``decoder`` is ``None`` for models without a decoder (classifiers, bare encoder)."""

    encoder: tuple[int, int, int, int] = TRAIN_ENCODER_RATIOS
    decoder: tuple[int, int, int] | None = TRAIN_DECODER_RATIOS

    def __post_init__(self) -> None:
        object.__setattr__(self, "encoder", validate_ratios(self.encoder, 4, "encoder"))
        if self.decoder is not None:
            object.__setattr__(self, "decoder", validate_ratios(self.decoder, 3, "decoder"))

    @classmethod
    def parse(cls, text: str) -> ISRSetting:
        """Parse a preset name (``train``, ``dec2x``, ``paper``, ``aggressive``) or ``"16,8,2,1-2,4,8"``.

        The decoder part is optional (``"16,8,2,1"`` sets only the encoder of a classifier).
        """
        text = text.strip()
        if text in ISR_PRESETS:
            return ISR_PRESETS[text]
        enc, _, dec = text.partition("-")
        try:
            encoder = tuple(int(v) for v in enc.split(","))
            decoder = tuple(int(v) for v in dec.split(",")) if dec else None
        except ValueError:
            raise ValueError(
                f"cannot parse ISR setting {text!r}: expected a preset ({', '.join(ISR_PRESETS)}) "
                "or 'e1,e2,e3,e4-d4,d3,d2' with integers"
            ) from None
        return cls(encoder, decoder)

    def __str__(self) -> str:
        enc = ",".join(map(str, self.encoder))
        return enc if self.decoder is None else f"{enc}-{','.join(map(str, self.decoder))}"


ISR_PRESETS: dict[str, ISRSetting] = {
    "train": ISRSetting((8, 4, 2, 1), (1, 2, 4)),
    "dec2x": ISRSetting((8, 4, 2, 1), (2, 4, 8)),
    "paper": ISRSetting((16, 8, 2, 1), (2, 4, 8)),
    "aggressive": ISRSetting((16, 8, 4, 2), (2, 4, 8)),
}


class ISRMixin:
    """``set_isr`` / ``isr`` for models holding ``self.encoder`` and optionally ``self.decode_head``."""

    encoder: Any  # EFTEncoder

    @property
    def _decoder(self) -> Any:
        """The EDAFormer head, or ``None`` for classifiers."""
        return getattr(self, "decode_head", None)

    @property
    def isr(self) -> ISRSetting:
        """Current absolute pooling ratios (encoder s1..s4, decoder d4, d3, d2)."""
        decoder = self._decoder.isr if self._decoder is not None else None
        return ISRSetting(self.encoder.isr, decoder)

    def set_isr(
        self,
        setting: str | ISRSetting | None = None,
        *,
        encoder: Sequence[int] | None = None,
        decoder: Sequence[int] | None = None,
    ) -> ISRSetting:
        """Change the key/value pooling ratios of every EFA layer in place (same weights); returns the new setting.

        Pass a preset name (``"train"``, ``"dec2x"``, ``"paper"``, ``"aggressive"``), an :class:`ISRSetting` or a
        ``"16,8,2,1-2,4,8"`` string, or the keywords ``encoder=(s1, s2, s3, s4)`` / ``decoder=(d4, d3, d2)``
        (absolute ratios; an omitted part stays as it is). Everything is validated before anything changes.
        """
        if setting is not None:
            if encoder is not None or decoder is not None:
                raise ValueError("pass either a setting or encoder=/decoder=, not both")
            parsed = setting if isinstance(setting, ISRSetting) else ISRSetting.parse(setting)
            encoder, decoder = parsed.encoder, parsed.decoder
        if decoder is not None and self._decoder is None:
            raise ValueError(
                f"{type(self).__name__} has no decoder; pass encoder= only (got decoder={decoder!r})"
            )
        new = ISRSetting(
            self.encoder.isr if encoder is None else encoder,
            (self._decoder.isr if self._decoder is not None else None) if decoder is None else decoder,
        )
        self.encoder.set_isr(new.encoder)
        if new.decoder is not None:
            self._decoder.set_isr(new.decoder)
        return new

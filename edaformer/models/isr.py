"""Inference Spatial Reduction (ISR) settings: absolute key/value pooling ratios per EFA layer group.

Notation (the paper's): ``encoder = (s1, s2, s3, s4)`` for the four encoder stages and ``decoder = (d4, d3, d2)``
for the decoder blocks on ``c4``, ``c3`` and ``c2``. Training uses encoder (8, 4, 2, 1) and decoder (1, 2, 4).

The authors' scripts take *multipliers* of the training ratios instead; ours are absolute. The paper's ISR
setting, encoder ×(2, 2, 1, 1) and decoder ×(2, 2, 2) in their notation, is ``ISRSetting((16, 8, 2, 1), (2, 4, 8))``
here: multiply each training ratio by the authors' multiplier.

A model may also be *trained* at other ratios (the row marked * in the paper's Table 4: EDAFormer-T trained at
(16, 8, 4, 2)-(2, 4, 8)); its factory's ``train_isr`` builds it so, ``model.train_isr`` reports them, and the
setting ``"own"`` names them wherever a setting is taken (``model.set_isr("own")`` goes back to them). The preset
``"train"`` always means the standard (8, 4, 2, 1)-(1, 2, 4).

Everything about ISR is in this module: the setting and its presets, :func:`parse_isr` (the one reader of every
form a user types or a config holds), :class:`ISRMixin` (``model.isr`` / ``model.train_isr`` /
``model.set_isr``) and :func:`isr_applied` (apply a setting for a block, then restore the previous one).
"""

from __future__ import annotations

import numbers
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from torch import nn

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
    """Absolute pooling ratios. ``decoder`` is ``None`` for an encoder-only setting (classifiers, bare encoder)."""

    encoder: tuple[int, int, int, int] = TRAIN_ENCODER_RATIOS
    decoder: tuple[int, int, int] | None = TRAIN_DECODER_RATIOS

    def __post_init__(self) -> None:
        object.__setattr__(self, "encoder", validate_ratios(self.encoder, 4, "encoder"))
        if self.decoder is not None:
            object.__setattr__(self, "decoder", validate_ratios(self.decoder, 3, "decoder"))

    def __str__(self) -> str:
        enc = ",".join(map(str, self.encoder))
        return enc if self.decoder is None else f"{enc}-{','.join(map(str, self.decoder))}"

    @property
    def preset(self) -> str | None:
        """Name of the preset this setting equals (an encoder-only setting: the first preset with its encoder)."""
        for name, preset in ISR_PRESETS.items():
            if preset == self or (self.decoder is None and preset.encoder == self.encoder):
                return name
        return None


ISR_PRESETS: dict[str, ISRSetting] = {
    "train": ISRSetting((8, 4, 2, 1), (1, 2, 4)),
    "dec2x": ISRSetting((8, 4, 2, 1), (2, 4, 8)),
    "paper": ISRSetting((16, 8, 2, 1), (2, 4, 8)),
    "aggressive": ISRSetting((16, 8, 4, 2), (2, 4, 8)),
}

# A model's own training ratios (``model.train_isr``): a setting only a model can resolve.
ISR_OWN = "own"

# Every form :func:`parse_isr` reads (config containers such as OmegaConf's are Mappings / Sequences).
ISRLike = ISRSetting | str | Sequence[Any] | Mapping[str, Any] | None
ISR_FORMS = (
    f"a preset ({', '.join(ISR_PRESETS)}), '{ISR_OWN}' (the model's own training ratios), 'e1,e2,e3,e4-d4,d3,d2', "
    "'e1,e2,e3,e4', [[e1,e2,e3,e4], [d4,d3,d2] or null] or "
    f"{{encoder: [e1,e2,e3,e4] or {ISR_OWN}, decoder: [d4,d3,d2], {ISR_OWN} or null}}"
)


def parse_isr(value: ISRLike, own: ISRSetting | None = None) -> ISRSetting | None:
    """Read an ISR setting from any form a user can type or a config can hold; ``None`` stays ``None``.

    Forms: an :class:`ISRSetting`; a preset name (``"paper"``); ``"own"``, the ratios a model was trained at;
    ``"16,8,2,1-2,4,8"`` or the encoder-only ``"16,8,2,1"``; ``[[16, 8, 2, 1], [2, 4, 8]]`` or
    ``[[16, 8, 2, 1], None]``; a mapping ``{"encoder": [16, 8, 2, 1], "decoder": [2, 4, 8] | None}`` (``decoder``
    may be left out), where either part may be ``"own"``. ``"own"`` is resolved against ``own`` (a model's
    ``train_isr``; models pass theirs, see :meth:`ISRMixin.resolve_isr`). Raises a one-line ``ValueError`` naming
    the value otherwise.
    """
    if value is None or isinstance(value, ISRSetting):
        return value
    if isinstance(value, str):
        return _own(own, value) if value.strip() == ISR_OWN else _parse_text(value)
    if isinstance(value, Mapping):
        if "encoder" in value and set(value) <= {"encoder", "decoder"} and value["encoder"] is not None:
            encoder, decoder = value["encoder"], value.get("decoder")
            if encoder == ISR_OWN:
                encoder = _own(own, value).encoder
            if decoder == ISR_OWN:
                decoder = _own(own, value).decoder
            return ISRSetting(encoder, decoder)
    elif isinstance(value, Sequence) and not isinstance(value, bytes) and len(value) in (1, 2):
        encoder, decoder = (*value, None)[:2]
        if _is_ratio_list(encoder) and (decoder is None or _is_ratio_list(decoder)):
            return ISRSetting(encoder, decoder)
    raise ValueError(f"cannot read ISR setting {value!r}: expected {ISR_FORMS}")


def _own(own: ISRSetting | None, value: Any) -> ISRSetting:
    if own is None:
        raise ValueError(
            f"ISR setting {value!r}: '{ISR_OWN}' means a model's own training ratios, so only a model resolves it "
            f"(model.set_isr('{ISR_OWN}'), isr_applied(model, '{ISR_OWN}'))"
        )
    return own


def training_setting(value: ISRLike) -> ISRSetting:
    """The ratios a model is *trained* at (a factory's ``train_isr``): any form :func:`parse_isr` reads but
    ``"own"``; ``None`` is the standard ``"train"`` preset, and a setting without decoder ratios keeps the standard
    decoder ratios (1, 2, 4)."""
    if isinstance(value, str) and value.strip() == ISR_OWN:
        raise ValueError(
            f"train_isr={value!r}: name the ratios to train at (a preset or ratios), not '{ISR_OWN}'"
        )
    setting = parse_isr(value)
    if setting is None:
        return ISR_PRESETS["train"]
    return setting if setting.decoder is not None else ISRSetting(setting.encoder, TRAIN_DECODER_RATIOS)


def _is_ratio_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str | bytes)


def _parse_text(text: str) -> ISRSetting:
    text = text.strip()
    if text in ISR_PRESETS:
        return ISR_PRESETS[text]
    enc, dash, dec = text.partition("-")
    try:
        encoder = tuple(int(v) for v in enc.split(","))
        decoder = tuple(int(v) for v in dec.split(",")) if dash else None
    except ValueError:
        raise ValueError(f"cannot read ISR setting {text!r}: expected {ISR_FORMS}") from None
    return ISRSetting(encoder, decoder)


class EFALevel(nn.Module):
    """EFA blocks that share one pooling ratio: an encoder stage or a decoder level.

    Subclasses hold ``blocks`` (each with an :class:`~edaformer.models.efa.EmbeddingFreeAttention` at ``attn``) and
    set ``stage``, the encoder stage (0-based) whose map the blocks attend over, and ``reduction``, that map's
    stride relative to the input image.
    """

    blocks: nn.ModuleList
    stage: int
    reduction: int

    @property
    def pool_ratio(self) -> int:
        """The key/value pooling ratio of every block of the level (ISR changes it; weights never change)."""
        return self.blocks[0].attn.pool_ratio

    @pool_ratio.setter
    def pool_ratio(self, ratio: int) -> None:
        for block in self.blocks:
            block.attn.pool_ratio = ratio

    @property
    def train_pool_ratio(self) -> int:
        """The pooling ratio the level was built (and trained) with; fixed for the model's life."""
        return self.blocks[0].attn.train_pool_ratio


class ISRMixin:
    """``isr`` / ``set_isr`` for models that list their EFA levels in :meth:`efa_levels`.

    A model without a decoder (the EFT classifier, the bare encoder) takes the encoder part of a full setting and
    ignores its decoder part, so one setting (``"paper"``) serves every model.
    """

    def efa_levels(self) -> tuple[Sequence[EFALevel], Sequence[EFALevel]]:
        """``(encoder stages 1–4, decoder levels in the order (d4, d3, d2))``; no decoder: an empty sequence."""
        raise NotImplementedError

    @property
    def isr(self) -> ISRSetting:
        """Current absolute pooling ratios (encoder s1..s4, decoder d4, d3, d2 or ``None`` without a decoder)."""
        encoder, decoder = self.efa_levels()
        return ISRSetting(
            tuple(level.pool_ratio for level in encoder),
            tuple(level.pool_ratio for level in decoder) if decoder else None,
        )

    @property
    def train_isr(self) -> ISRSetting:
        """The ratios the model is trained at (its factory's ``train_isr``; the ``"train"`` preset unless built
        otherwise). ``set_isr("own")`` goes back to them; checkpoints record them."""
        encoder, decoder = self.efa_levels()
        return ISRSetting(
            tuple(level.train_pool_ratio for level in encoder),
            tuple(level.train_pool_ratio for level in decoder) if decoder else None,
        )

    def resolve_isr(
        self,
        setting: ISRLike = None,
        *,
        encoder: Sequence[int] | None = None,
        decoder: Sequence[int] | None = None,
    ) -> ISRSetting:
        """The setting :meth:`set_isr` with these arguments would leave the model in; changes nothing."""
        has_decoder = bool(self.efa_levels()[1])
        if setting is not None:
            if encoder is not None or decoder is not None:
                raise ValueError("pass either a setting or encoder=/decoder=, not both")
            parsed = parse_isr(setting, own=self.train_isr)
            encoder, decoder = parsed.encoder, parsed.decoder if has_decoder else None
        elif decoder is not None and not has_decoder:
            raise ValueError(
                f"{type(self).__name__} has no decoder; pass encoder= only (got decoder={decoder!r})"
            )
        current = self.isr
        return ISRSetting(
            current.encoder if encoder is None else encoder,
            current.decoder if decoder is None else decoder,
        )

    def set_isr(
        self,
        setting: ISRLike = None,
        *,
        encoder: Sequence[int] | None = None,
        decoder: Sequence[int] | None = None,
    ) -> ISRSetting:
        """Change the key/value pooling ratios of every EFA layer in place (same weights); returns the new setting.

        Pass any form :func:`parse_isr` reads (a preset name such as ``"paper"``, ``"own"`` for the model's own
        training ratios :attr:`train_isr`, an :class:`ISRSetting`, ``"16,8,2,1-2,4,8"``, ...), or the keywords ``encoder=(s1, s2, s3, s4)`` / ``decoder=(d4, d3, d2)``
        (absolute ratios; an omitted part stays as it is). Everything is validated before anything changes.
        """
        new = self.resolve_isr(setting, encoder=encoder, decoder=decoder)
        encoder_levels, decoder_levels = self.efa_levels()
        for level, ratio in zip(encoder_levels, new.encoder):
            level.pool_ratio = ratio
        for level, ratio in zip(decoder_levels, new.decoder or ()):
            level.pool_ratio = ratio
        return new


@contextmanager
def isr_applied(model: ISRMixin, setting: ISRLike) -> Iterator[ISRSetting]:
    """Run a block under an ISR setting, then restore the model's previous one (also after an exception).

    ``setting`` is any form :func:`parse_isr` reads; ``None`` leaves the model as it is. Yields the setting the
    model runs under (encoder-only for models without a decoder). Nested blocks restore in order.

    >>> with isr_applied(model, "paper") as setting:
    ...     logits = model(images)
    """
    previous = model.isr
    try:
        yield model.set_isr(setting) if setting is not None else previous
    finally:
        model.set_isr(previous)

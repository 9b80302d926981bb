"""Small helpers shared by the LightningModules."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from ..models import ISRSetting


def plain(value: Any) -> Any:
    """OmegaConf containers → dicts/lists, tuples → lists, recursively; so hyper-parameters stay loadable with
    ``torch.load(weights_only=True)`` (no OmegaConf objects inside checkpoints)."""
    if isinstance(value, DictConfig | ListConfig):
        value = OmegaConf.to_container(value, resolve=True)
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return [plain(v) for v in value]
    return value


def parse_isr(value: str | Sequence[Any] | ISRSetting | None) -> ISRSetting | None:
    """An ISR option from config: ``None``, a preset name, ``"16,8,2,1-2,4,8"``, or ``[[e1..e4], [d4, d3, d2]]``."""
    if value is None or isinstance(value, ISRSetting):
        return value
    if isinstance(value, str):
        return ISRSetting.parse(value)
    encoder, *decoder = value
    return ISRSetting(tuple(encoder), tuple(decoder[0]) if decoder and decoder[0] is not None else None)

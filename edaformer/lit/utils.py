"""Small helpers shared by the LightningModules."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..models import ISRSetting


def plain(value: Any) -> Any:
    """Mappings → dicts, sequences → lists (strings aside), recursively; so hyper-parameters stay loadable with
    ``torch.load(weights_only=True)``. Config containers (OmegaConf's are a ``Mapping`` / ``Sequence``) are read
    through their public interface, which resolves interpolations; no config library is imported here."""
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

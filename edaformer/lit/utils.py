"""Small helpers shared by the LightningModules."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def plain(value: Any) -> Any:
    """Mappings → dicts, sequences → lists (strings aside), recursively; so hyper-parameters stay loadable with
    ``torch.load(weights_only=True)``. Config containers (OmegaConf's are a ``Mapping`` / ``Sequence``) are read
    through their public interface, which resolves interpolations; no config library is imported here."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return [plain(v) for v in value]
    return value

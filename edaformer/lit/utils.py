"""Small helpers shared by the LightningModules."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch import nn

from ..checkpoints import CheckpointError


def plain(value: Any) -> Any:
    """Mappings → dicts, sequences → lists (strings aside), recursively; so hyper-parameters stay loadable with
    ``torch.load(weights_only=True)``. Config containers (OmegaConf's are a ``Mapping`` / ``Sequence``) are read
    through their public interface, which resolves interpolations; no config library is imported here."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return [plain(v) for v in value]
    return value


def train_isr_of(net: nn.Module) -> str | None:
    """The ratios ``net`` is trained at (``"8,4,2,1-1,2,4"``), or ``None`` for a network without EFA layers."""
    train_isr = getattr(net, "train_isr", None)
    return None if train_isr is None else str(train_isr)


def check_train_isr(checkpoint: Mapping[str, Any], net: nn.Module) -> None:
    """A Lightning checkpoint resumed into ``net`` must come from a run at the same training ratios (a run at
    other ratios would silently continue at this network's); checkpoints that predate the record pass."""
    recorded = checkpoint.get("hyper_parameters", {}).get("train_isr")
    if recorded is not None and recorded != train_isr_of(net):
        raise CheckpointError(
            f"the checkpoint was trained at ISR ratios {recorded}, this run builds the model at {net.train_isr}: "
            f"resume with model.train_isr={recorded}"
        )

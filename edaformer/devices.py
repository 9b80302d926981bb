"""The one place a device name is resolved: ``"auto"`` and the names users type, checked against this machine."""

from __future__ import annotations

import torch

__all__ = ["DeviceError", "resolve_device"]


class DeviceError(ValueError):
    """A device that this machine does not have or that is not a device name; a user's mistake (exit status 2)."""

    exit_status = 2


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` → ``cuda`` when a GPU is available, else ``cpu``; ``"cpu"``, ``"cuda"``, ``"cuda:N"`` (or a
    :class:`torch.device`) are checked: an unknown name or a CUDA device on a machine without one (or without GPU
    ``N``) is a :class:`DeviceError` naming the value."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise DeviceError(f"device={device}: expected auto, cpu, cuda or cuda:N") from None
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(f"device={device}: CUDA is not available on this machine")
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise DeviceError(f"device={device}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    return resolved

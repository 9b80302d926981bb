"""The checkpoint a command is given (``ckpt_path=``), checked and loaded; mistakes are one-line user errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig

from ..checkpoints import CheckpointInfo, is_hub_reference, load_model
from ..errors import UserError
from .runtime import overridden

__all__ = ["load_checkpoint", "require_checkpoint"]


def require_checkpoint(path: str | None, key: str = "ckpt_path") -> str:
    """A checkpoint file, a hub folder (``config.json`` + ``model.safetensors``) or a Hugging Face Hub repo id
    ``owner/name`` (read by :func:`~edaformer.checkpoints.load_model`); else a :class:`UserError`."""
    if path is None:
        raise UserError(f"{key}=... is required (see --help)")
    path = str(path)
    if is_hub_reference(path):
        return path
    if Path(path).is_dir():
        raise UserError(
            f"{key}={path} is a folder without config.json and model.safetensors (not a hub folder)"
        )
    if not Path(path).is_file():
        raise UserError(f"{key} does not exist: {path}")
    return path


def load_checkpoint(cfg: DictConfig, **kwargs: Any) -> tuple[torch.nn.Module, CheckpointInfo]:
    """The network and what was loaded from ``cfg.ckpt_path``; a ``model=`` given on the command line is checked
    against the checkpoint. ``kwargs`` go to :func:`~edaformer.checkpoints.load_model` (``num_classes``,
    ``task``). An unreadable or unfit checkpoint is a :class:`UserError`."""
    ckpt = require_checkpoint(cfg.get("ckpt_path"))
    requested = cfg.model.model_name if "model" in cfg and overridden("model") else None
    kwargs.setdefault("num_classes", None)
    try:
        return load_model(ckpt, model_name=requested, **kwargs)
    except (ValueError, KeyError) as err:
        raise UserError(str(err).splitlines()[0]) from None

"""Build a ready model from any checkpoint this project meets: ours, Lightning's, or the authors' MMSeg files.

Formats recognised (all read with ``torch.load(weights_only=True)``):

- **ours** (``scripts/convert_official.py`` output, :func:`save_model`):
  ``{"format": "edaformer", "model_name", "num_classes", "isr", "state_dict"}``;
- **Lightning** (``train.py`` checkpoints): ``state_dict`` keys prefixed ``net.``, with ``model_name`` and
  ``num_classes`` in ``hyper_parameters``;
- **official** MMSegmentation checkpoints of EDAFormer-T/B (``backbone.*`` / ``decode_head.*``): the variant and the
  number of classes are read from the tensor shapes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from .models import (
    ISRSetting,
    create_model,
    infer_official_model,
    load_checkpoint_file,
    load_official_checkpoint,
    read_checkpoint,
)

FORMAT_TAG = "edaformer"


@dataclass(frozen=True)
class CheckpointInfo:
    """What was loaded: ``kind`` is ``"ours"``, ``"lightning"`` or ``"official"``."""

    path: str
    kind: str
    model_name: str
    num_classes: int
    dropped_keys: tuple[str, ...] = ()


def save_model(model: nn.Module, path: str | os.PathLike, model_name: str) -> None:
    """Write ``model`` in our format (atomically: temp file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT_TAG,
        "model_name": model_name,
        "num_classes": int(model.num_classes),
        "isr": str(model.isr),
        "state_dict": model.state_dict(),
    }
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)


def _check_name(path: str, found: str | None, requested: str | None, what: str) -> None:
    if requested is not None and found is not None and requested != found:
        raise ValueError(f"{path}: checkpoint holds {what} {found!r}, but {requested!r} was requested")


def load_model(
    path: str | os.PathLike, model_name: str | None = None, num_classes: int | None = None
) -> tuple[nn.Module, CheckpointInfo]:
    """Create the model a checkpoint describes and load its weights strictly; returns ``(model in eval mode, info)``.

    ``model_name`` / ``num_classes`` are needed only where the file does not say (e.g. an ImageNet-pretrained
    encoder in the authors' layout); where it does, they are checked against it.
    """
    source = str(path)
    obj = load_checkpoint_file(path)
    if not isinstance(obj, Mapping):
        raise ValueError(f"{source}: expected a checkpoint dictionary, got {type(obj).__name__}")
    hparams = obj.get("hyper_parameters")
    if obj.get("format") == FORMAT_TAG:
        name, classes, kind = obj["model_name"], int(obj["num_classes"]), "ours"
        state = dict(obj["state_dict"])
    elif isinstance(hparams, Mapping) and "model_name" in hparams:
        name, classes, kind = hparams["model_name"], int(hparams["num_classes"]), "lightning"
        state = {k[len("net.") :]: v for k, v in obj["state_dict"].items() if k.startswith("net.")}
        if not state:
            raise ValueError(f"{source}: Lightning checkpoint without 'net.*' weights")
    else:
        state = read_checkpoint(obj)
        kind = "official"
        if "decode_head.linear_pred.weight" in state:
            name, classes = infer_official_model(state)
        else:
            if model_name is None or num_classes is None:
                raise ValueError(
                    f"{source}: not a segmentation checkpoint; pass model_name= and num_classes= to load it"
                )
            name, classes = model_name, num_classes
    _check_name(source, name, model_name, "model")
    _check_name(source, str(classes), None if num_classes is None else str(num_classes), "num_classes")
    model = create_model(name, num_classes=classes)
    dropped: list[str] = []
    if kind == "official":
        dropped = load_official_checkpoint(model, state)
    else:
        missing, unexpected = model.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise ValueError(
                f"{source}: weights do not fit {name}: missing {missing}, unexpected {unexpected}"
            )
        if kind == "ours" and obj.get("isr"):
            model.set_isr(ISRSetting.parse(obj["isr"]))
    return model.eval(), CheckpointInfo(source, kind, name, classes, tuple(dropped))

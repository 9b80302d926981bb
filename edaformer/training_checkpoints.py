"""Lightning training checkpoints as a run meets them: the check before a training resumes from one, and the step
a checkpoint file was saved at (Lightning's or MMSegmentation's record).

Files are opened with :func:`edaformer.checkpoints.load_checkpoint_file` (memory-mapped, ``weights_only=True``),
so neither reads tensor data.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import torch

from .checkpoints import CheckpointKindError, load_checkpoint_file

__all__ = ["check_training_checkpoint", "checkpoint_step"]


def check_training_checkpoint(
    path: str | os.PathLike, expected: Mapping[str, torch.Tensor], model: str
) -> Mapping[str, object]:
    """Check, before a training resumes from ``path``, that it is a Lightning training checkpoint whose weights
    fit ``expected`` (the configured module's ``state_dict``; ``model`` describes it for the message).

    The file is memory-mapped, so the check reads no tensor data. Raises ``ValueError`` (unreadable file) or
    :class:`CheckpointKindError` (``found="weights"``: a file of weights only; ``found="training"``: the training
    checkpoint of another model); returns the checkpoint.
    """
    source = str(path)
    obj = load_checkpoint_file(path, mmap=True)
    is_lightning = isinstance(obj, Mapping) and "pytorch-lightning_version" in obj and "state_dict" in obj
    if not is_lightning:
        kind = (
            "a converted weights file" if isinstance(obj, Mapping) and obj.get("format") else "a weights file"
        )
        raise CheckpointKindError(
            f"{source} is {kind}, not a Lightning training checkpoint (a training resumes from the last.ckpt of "
            "its run)",
            source,
            found="weights",
            needed="training",
        )
    state = obj["state_dict"]
    hparams = obj.get("hyper_parameters") or {}
    shapes = {k: tuple(v.shape) for k, v in state.items() if isinstance(v, torch.Tensor)}
    wanted = {k: tuple(v.shape) for k, v in expected.items()}
    differ = [k for k in wanted if k in shapes and shapes[k] != wanted[k]]
    missing = [k for k in wanted if k not in shapes]
    unexpected = [k for k in shapes if k not in wanted]
    if differ or missing or unexpected:
        held = f"{hparams.get('model_name', '?')} with {hparams.get('num_classes', '?')} classes"
        problems = [f"{len(differ)} tensor(s) of another shape"] if differ else []
        problems += [f"{len(missing)} missing"] if missing else []
        problems += [f"{len(unexpected)} unexpected"] if unexpected else []
        example = (
            f"{differ[0]}: {list(shapes[differ[0]])} in the file, {list(wanted[differ[0]])} here"
            if differ
            else (missing or unexpected)[0]
        )
        raise CheckpointKindError(
            f"{source} holds {held}, which does not fit the configured {model}: {', '.join(problems)} "
            f"(e.g. {example})",
            source,
            found="training",
            needed="training",
        )
    return obj


def checkpoint_step(path: str | os.PathLike) -> int | None:
    """The global step (optimizer steps) a checkpoint file was saved at: Lightning's ``global_step``, MMSeg's
    ``meta.iter``; ``None`` for a file that records none or is no file (a hub folder). Reads the file mapped."""
    if not Path(path).is_file():
        return None
    obj = load_checkpoint_file(path, mmap=True)
    if not isinstance(obj, Mapping):
        return None
    meta = obj.get("meta")
    step = obj.get("global_step", meta.get("iter") if isinstance(meta, Mapping) else None)
    return int(step) if isinstance(step, int) else None

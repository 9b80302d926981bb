"""Callbacks and the checkpoint-IO plugin used by ``train.py``."""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Sequence
from typing import Any

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from lightning.fabric.plugins import TorchCheckpointIO
from lightning.pytorch.loggers import WandbLogger

from ..checkpoints import load_checkpoint_file
from ..data.classes import default_palette
from ..evaluation.colors import overlay
from ..evaluation.images import denormalize
from ..files import atomic_write
from ..finite import non_finite_tensors
from .nonfinite import NonFiniteError


class AtomicCheckpointIO(TorchCheckpointIO):
    """Checkpoints written atomically and read safely.

    - Writing goes through :func:`~edaformer.files.atomic_write` (a hidden temporary file in the same
      folder, fsync, rename): a kill during a save leaves the previous file intact, never a truncated
      ``last.ckpt``; the temporary file of a failed or killed save is removed (at the next save in the folder).
    - Weights holding NaN/inf are never written (:class:`~edaformer.lit.NonFiniteError`): a diverged run cannot
      overwrite a good ``last.ckpt`` or become the "best" checkpoint.
    - Reading (``ckpt_path=`` resume) uses :func:`~edaformer.checkpoints.load_checkpoint_file`, i.e.
      ``torch.load(weights_only=True)`` passed explicitly, whatever ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` says: a
      crafted checkpoint cannot run code. Our checkpoints hold only tensors, numbers, strings and containers.
    """

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | os.PathLike, storage_options: Any = None
    ) -> None:
        bad = non_finite_tensors(checkpoint.get("state_dict", {}))
        if bad:
            raise NonFiniteError(
                f"refusing to write {path}: {len(bad)} of {len(checkpoint['state_dict'])} weight tensors hold "
                f"NaN/inf (step {checkpoint.get('global_step', '?')}, e.g. {bad[0]}); the previous file is kept"
            )
        atomic_write(path, lambda f: torch.save(checkpoint, f))

    def load_checkpoint(
        self,
        path: str | os.PathLike,
        map_location: Callable | None = None,
        weights_only: bool | None = None,
    ) -> dict[str, Any]:
        checkpoint = load_checkpoint_file(
            path
        )  # weights_only=True whatever the caller or the environment asks
        if not isinstance(checkpoint, dict):
            raise ValueError(f"{path}: expected a checkpoint dictionary, got {type(checkpoint).__name__}")
        return checkpoint


class ValidateAtEnd(L.Callback):
    """Validate after the last training step (``trainer.max_steps``), which the fit loop does only when it falls
    on a multiple of ``val_check_interval``: every training ends with a validation, so the checkpoint callbacks
    write ``last.ckpt`` (and the best checkpoint) of the final weights."""

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if 0 < trainer.max_steps <= trainer.global_step:
            trainer.should_stop = True  # the fit loop validates before it stops (see _should_check_val_fx)


def _rng_state() -> dict[str, Any]:
    np_kind, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    py_version, py_state, py_gauss = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {"kind": np_kind, "keys": torch.from_numpy(np_keys.astype(np.int64)), "pos": int(np_pos),
                  "has_gauss": int(np_has_gauss), "gauss": float(np_gauss)},
        "python": {"version": py_version, "state": list(py_state), "gauss": py_gauss},
    }  # fmt: skip


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])
    npst = state["numpy"]
    np.random.set_state(
        (npst["kind"], npst["keys"].numpy().astype(np.uint32), npst["pos"], npst["has_gauss"], npst["gauss"])
    )
    py = state["python"]
    random.setstate((py["version"], tuple(py["state"]), py["gauss"]))


class RestoreRNGState(L.Callback):
    """Save the torch/CUDA/NumPy/Python RNG states in every checkpoint and restore them when training resumes,
    so dropout, drop-path, augmentation and shuffling continue exactly as in an uninterrupted run.

    States are plain tensors and numbers (the checkpoint stays loadable with ``weights_only=True``); each process
    restores its own state, captured at save time. Restoring happens as soon as Lightning hands the state over,
    before the fit loop creates its first training iterator (which draws the epoch's order when the checkpoint
    ended an epoch; one resumed within an epoch continues its order, see :mod:`edaformer.data.resumable`).
    """

    def state_dict(self) -> dict[str, Any]:
        return _rng_state()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        _set_rng_state(state_dict)


class LogSegmentationSamples(L.Callback):
    """Log image / label / prediction overlays of the first ``num_samples`` validation images to W&B.

    Does nothing unless a :class:`WandbLogger` is attached. Colours: ``palette`` if given, else the DataModule's
    (so a custom dataset looks as in ``edaformer-predict``), else :func:`~edaformer.data.classes.default_palette`.
    Images are un-normalised (:func:`~edaformer.evaluation.images.denormalize`) and shown at the label's resolution.
    """

    def __init__(self, num_samples: int = 4, palette: Sequence[Sequence[int]] | None = None) -> None:
        self.num_samples = num_samples
        self.palette = None if palette is None else [tuple(int(c) for c in color) for color in palette]

    def _palette(self, trainer: L.Trainer, pl_module: L.LightningModule) -> Sequence[Sequence[int]]:
        if self.palette is not None:
            return self.palette
        datamodule = getattr(trainer, "datamodule", None)
        if getattr(datamodule, "palette", None) is not None:
            return datamodule.palette
        return default_palette(pl_module.hparams.num_classes)

    def _wandb(self, trainer: L.Trainer) -> WandbLogger | None:
        return next((lg for lg in trainer.loggers if isinstance(lg, WandbLogger)), None)

    def on_validation_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._rows: list[list[np.ndarray]] = []

    def on_validation_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: dict[str, Any],
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        if trainer.sanity_checking or self._wandb(trainer) is None or len(self._rows) >= self.num_samples:
            return
        if not isinstance(outputs, dict) or "pred" not in outputs:
            return
        pred = outputs["pred"][0].cpu().numpy()
        mask = batch["mask"][0].cpu().numpy()
        original = batch["image"].dtype == torch.uint8  # multi-scale testing gets the original RGB image
        image = batch["image"][0:1].float()
        image = F.interpolate(image, size=mask.shape, mode="bilinear", align_corners=False)
        if original:
            image = image[0].permute(1, 2, 0).clamp(0, 255).round().byte().cpu().numpy()
        else:
            image = denormalize(image)
        palette = self._palette(trainer, pl_module)
        self._rows.append([image, overlay(image, mask, palette), overlay(image, pred, palette)])

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        logger = self._wandb(trainer)
        if logger is None or not self._rows or trainer.sanity_checking:
            return
        images = [np.concatenate(row, axis=1) for row in self._rows]
        captions = [f"image | label | prediction (step {trainer.global_step})"] * len(images)
        logger.log_image("val/samples", images, caption=captions, step=trainer.global_step)

"""The evaluation that ends a training run (``final_eval`` of ``conf/train.yaml``).

By default the last checkpoint is evaluated, as the authors report their runs (their runner keeps no "best": it
reports the end of the schedule); ``final_eval.checkpoint=best`` evaluates the best one by ``monitor`` instead,
a number chosen on the split it is reported on. Each row names the checkpoint's file and global step
(:attr:`~edaformer.results.ResultRow.checkpoint`), so every table and result file says what it describes.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

import lightning as L
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from omegaconf import DictConfig, open_dict

from ..config.schemas import FinalEval, final_eval
from ..errors import UserError
from ..lit import Interrupted
from ..results import ResultRow
from ..training_checkpoints import checkpoint_step
from .evaluate import evaluate_setting

__all__ = ["check_final_eval", "final_checkpoint", "run_final_eval"]

log = logging.getLogger("edaformer")


def check_final_eval(cfg: DictConfig, callbacks: Sequence[Callback]) -> FinalEval:
    """``cfg.final_eval`` read and checked before training: ``best`` needs a ``ModelCheckpoint`` that monitors a
    metric. One setting given alone is stored as a list of one (the saved config shows what runs)."""
    settings = final_eval(cfg)
    with open_dict(cfg):
        cfg.final_eval.isr = settings.isr
    if settings.isr and str(settings.checkpoint) == "best" and not _monitoring(callbacks):
        raise UserError(
            "final_eval.checkpoint=best: no checkpoint callback monitors a metric "
            f"(monitor={cfg.get('monitor')}); use final_eval.checkpoint=last or set monitor="
        )
    return settings


def _monitoring(callbacks: Sequence[Callback]) -> list[ModelCheckpoint]:
    return [cb for cb in callbacks if isinstance(cb, ModelCheckpoint) and cb.monitor is not None]


def final_checkpoint(trainer: L.Trainer, which: str) -> str | None:
    """The file to evaluate: ``best``, the best of the checkpoint callbacks that monitor a metric; ``last``, the
    newest file (by its global step) of those that do not (``last.ckpt``). ``None`` when no such file was written:
    the weights in memory, those of the last step, are evaluated."""
    checkpoints = [cb for cb in trainer.callbacks if isinstance(cb, ModelCheckpoint)]  # type: ignore[attr-defined]
    if which == "best":
        paths = [cb.best_model_path for cb in _monitoring(checkpoints)]
    else:
        paths = [
            p for cb in checkpoints if cb.monitor is None for p in (cb.best_model_path, cb.last_model_path)
        ]
    files = sorted({p for p in paths if p and os.path.isfile(p)})
    if not files:
        return None
    return max(files, key=lambda p: checkpoint_step(p) or 0)


def run_final_eval(
    cfg: DictConfig,
    settings: FinalEval,
    trainer: L.Trainer,
    module: L.LightningModule,
    dm: L.LightningDataModule,
) -> tuple[list[ResultRow], str | None]:
    """Evaluate the ``settings.checkpoint`` checkpoint on the validation split under each ISR setting; returns the
    rows (each naming the checkpoint and its step) and the checkpoint's path (``None``: the weights in memory)."""
    ckpt = final_checkpoint(trainer, str(settings.checkpoint))
    step = checkpoint_step(ckpt) if ckpt else trainer.global_step
    if trainer.is_global_zero:
        what = f"{os.path.basename(ckpt)} (step {step})" if ckpt else f"the weights in memory (step {step})"
        log.info(f"final evaluation ({settings.checkpoint} checkpoint): {what}")
    dm.setup("validate")
    loader = dm.val_dataloader()
    rows = []
    for i, setting in enumerate(settings.isr):
        try:  # the weights are loaded once, then only the ISR setting changes
            row = evaluate_setting(
                trainer, module, loader, setting, cfg.flops_size, ckpt_path=ckpt if i == 0 else None
            )
        except Interrupted as err:  # a signal during the final evaluation: the training itself is complete
            err.args = (
                f"training done; the final {err} (evaluate {ckpt or 'last.ckpt'} with edaformer-eval)",
            )
            raise
        row.data, row.ckpt, row.step = str(cfg.data._target_), ckpt, step
        rows.append(row)
    return rows, ckpt

"""Non-finite values (NaN, inf) in training and evaluation: found where they appear, never saved, never scored.

A diverged training (too high a learning rate, a broken batch) fills the weights with NaN within a step or two;
left alone it keeps running, writes NaN checkpoints over good ones and reports the mIoU of ``argmax(NaN) = 0``.
:class:`NonFiniteGuard` checks each step's loss and gradients before the optimizer applies them;
:func:`require_finite` refuses to score NaN logits; :func:`edaformer.finite.non_finite_tensors` lets the checkpoint
writer refuse NaN weights (:class:`~edaformer.lit.AtomicCheckpointIO`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import lightning as L
import torch

from ..errors import NonFiniteError
from ..models.upsampled_argmax import ScoreMap

log = logging.getLogger("edaformer")


def _images(paths: Sequence[str] | None, limit: int = 4) -> str:
    if not paths:
        return ""
    names = [Path(p).name for p in paths[:limit]] + (["..."] if len(paths) > limit else [])
    return f"; images {', '.join(names)}"


def require_finite(
    scores: torch.Tensor | ScoreMap, stage: str, step: int, paths: Sequence[str] | None = None
) -> None:
    """Raise :class:`NonFiniteError` when class scores ``[B, K, ...]`` hold NaN/inf: a metric computed from them
    (argmax of NaN is class 0) would be a number that means nothing. A lazy
    :class:`~edaformer.models.upsampled_argmax.ScoreMap` is checked through the logits it is computed from."""
    finite = scores.finite() if isinstance(scores, ScoreMap) else torch.isfinite(scores.flatten(1)).all(dim=1)
    bad = ~finite  # (B,)
    if bool(bad.any()):
        first = [paths[i] for i in bad.nonzero().flatten().tolist()] if paths else None
        raise NonFiniteError(
            f"{stage} at step {step}: the model's outputs are NaN/inf for {int(bad.sum())} of {len(bad)} "
            f"image(s){_images(first)}; the weights have diverged, so no metric is reported"
        )


class NonFiniteGuard(L.Callback):
    """Check every training step's loss and gradients for NaN/inf before the optimizer applies them.

    The loss of each backward pass is kept (no device sync); at ``on_before_optimizer_step`` one check covers the
    loss(es) of the step and the total gradient norm. Under DDP the decision is shared by all processes.

    Args:
        action: ``"stop"`` raises :class:`NonFiniteError` naming the step, the batch and its images, before the
            weights change (so no checkpoint can hold the values); ``"skip"`` drops the step's gradients, so the
            optimizer leaves the weights and its moments untouched (the scheduler still advances), logs a warning
            and counts the skip (``train/skipped_steps``).
        max_consecutive_skips: with ``"skip"``, this many non-finite steps in a row stop the run as ``"stop"``.
        check_gradients: also check the gradient norm; never under 16-bit mixed precision, whose gradient scaler
            skips overflowing steps by design.
    """

    def __init__(
        self,
        action: Literal["stop", "skip"] = "stop",
        max_consecutive_skips: int = 10,
        check_gradients: bool = True,
    ) -> None:
        if action not in ("stop", "skip"):
            raise ValueError(f"action={action!r}: expected 'stop' or 'skip'")
        if max_consecutive_skips < 1:
            raise ValueError(f"max_consecutive_skips={max_consecutive_skips}: expected >= 1")
        self.action = action
        self.max_consecutive_skips = max_consecutive_skips
        self.check_gradients = check_gradients
        self.skipped = 0
        self._in_a_row = 0
        self._loss_finite: torch.Tensor | None = None
        self._batch: tuple[int, list[str] | None] = (0, None)

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        paths = batch.get("path") if isinstance(batch, Mapping) else None
        self._batch = (batch_idx, list(paths) if isinstance(paths, list | tuple) else None)

    def on_before_backward(
        self, trainer: L.Trainer, pl_module: L.LightningModule, loss: torch.Tensor
    ) -> None:
        finite = torch.isfinite(loss.detach()).all()
        self._loss_finite = finite if self._loss_finite is None else self._loss_finite & finite

    def on_before_optimizer_step(
        self, trainer: L.Trainer, pl_module: L.LightningModule, optimizer: torch.optim.Optimizer
    ) -> None:
        loss_finite, self._loss_finite = self._loss_finite, None
        grads = [p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        check_grads = self.check_gradients and grads and trainer.precision != "16-mixed"
        norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads))) if check_grads else None
        loss_ok = True if loss_finite is None else bool(loss_finite)  # the one device sync of the check
        grads_ok = True if norm is None else bool(torch.isfinite(norm))
        bad = not (loss_ok and grads_ok)
        if trainer.world_size > 1:
            bad = trainer.strategy.reduce_boolean_decision(bad, all=False)
        if not bad:
            self._in_a_row = 0
            return
        what = (
            "loss"
            if not loss_ok
            else ("gradients (norm inf/NaN)" if not grads_ok else "values on another rank")
        )
        batch_idx, paths = self._batch
        where = (
            f"non-finite {what} at step {trainer.global_step + 1} (epoch {trainer.current_epoch}, "
            f"batch {batch_idx}{_images(paths)})"
        )
        if self.action == "skip" and self._in_a_row + 1 < self.max_consecutive_skips:
            for group in optimizer.param_groups:
                for p in group["params"]:
                    p.grad = None  # the optimizer skips parameters without a gradient: weights and moments unchanged
            self.skipped += 1
            self._in_a_row += 1
            log.warning("%s: step skipped (%d skipped so far)", where, self.skipped)
            pl_module.log("train/skipped_steps", float(self.skipped), rank_zero_only=True)
            return
        in_a_row = f" ({self._in_a_row + 1} in a row)" if self.action == "skip" else ""
        raise NonFiniteError(
            f"{where}{in_a_row}: training stopped before the weights changed (no checkpoint holds these values). "
            "Lower the learning rate or clip gradients (trainer.gradient_clip_val=1.0), check the data "
            "(edaformer-check-dataset), find the operation with debug=anomaly, or skip such steps with "
            "callbacks.nan_guard.action=skip"
        )

    def state_dict(self) -> dict[str, Any]:
        return {"skipped": self.skipped}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.skipped = int(state_dict.get("skipped", 0))

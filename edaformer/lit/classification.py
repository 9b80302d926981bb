"""LightningModule for ImageNet pre-training of the EFT encoders (DeiT/PVT recipe)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from lightning.pytorch.utilities import rank_zero_info
from torch import nn
from torchmetrics.classification import MulticlassAccuracy

from ..models import ISRLike, isr_applied
from ..optim import build_optimizer, classification_rules, param_groups, scale_lr
from .mixup import MixupCutmix
from .nonfinite import require_finite
from .utils import check_train_isr, plain, train_isr_of


class ClassificationModule(L.LightningModule):
    """Train/evaluate a classifier ``net(images[B, 3, H, W]) → logits[B, K]``.

    Args:
        net: the classifier (at ``self.net``); its ``num_classes``, ``model_name`` and ``train_isr`` are recorded
            in the checkpoints' hyper-parameters.
        optimizer: optimizer factory called on the parameter groups (no weight decay on norms and biases).
        scheduler: factory ``scheduler(optimizer)`` stepped every iteration (cosine with warm-up), or ``None``.
        mixup: :class:`MixupCutmix` arguments (``mixup_alpha``, ``cutmix_alpha``, ``prob``, ``switch_prob``,
            ``label_smoothing``); ``None`` trains with plain label-smoothed cross-entropy.
        label_smoothing: used when ``mixup`` is ``None``.
        isr: ISR setting for validation/test, any form :func:`~edaformer.models.parse_isr` reads (e.g. ``"paper"``
            or ``"16,8,2,1"``; the classifier uses the encoder part).
        lr_reference_batch: the global batch at which ``optimizer``'s lr is given; the lr is scaled linearly to
            ``global_batch`` (DeiT / PVTv2: 5e-4 at 512). ``None`` uses the lr as given.
        global_batch: samples per optimizer step over every process (per-device batch × devices × nodes ×
            accumulation; the run computes it before the Trainer is built).
    """

    def __init__(
        self,
        net: nn.Module,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[[torch.optim.Optimizer], Any] | None,
        class_names: Sequence[str] | None = None,
        mixup: Mapping[str, Any] | None = None,
        label_smoothing: float = 0.1,
        isr: ISRLike = None,
        lr_reference_batch: int | None = None,
        global_batch: int | None = None,
    ) -> None:
        super().__init__()
        num_classes = int(net.num_classes)
        mixup = plain(mixup)
        self.val_isr = None if isr is None else net.resolve_isr(isr)
        self.save_hyperparameters(
            {
                "model_name": getattr(net, "model_name", None),
                "num_classes": num_classes,
                "class_names": plain(class_names),
                "mixup": mixup,
                "label_smoothing": float(label_smoothing),
                "isr": None if self.val_isr is None else str(self.val_isr),
                "train_isr": train_isr_of(net),
                "lr_reference_batch": lr_reference_batch,
                "global_batch": global_batch,
            },
            logger=False,
        )
        self.net = net
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.mixup = MixupCutmix(num_classes, **mixup) if mixup else None
        self.top1 = MulticlassAccuracy(num_classes, top_k=1, average="micro")
        self.top5 = MulticlassAccuracy(num_classes, top_k=min(5, num_classes), average="micro")
        self._eval_isr = ExitStack()  # holds isr_applied(net, val_isr) from evaluation start to end

    def configure_optimizers(self) -> dict[str, Any]:
        optimizer = build_optimizer(self.optimizer_factory, param_groups(self.net, classification_rules()))
        reference = self.hparams.lr_reference_batch
        if reference is not None:
            global_batch = self.hparams.global_batch
            if global_batch is None:
                raise ValueError(
                    "lr_reference_batch needs global_batch (samples per optimizer step) to scale the lr"
                )
            base = optimizer.param_groups[0]["lr"]
            scale_lr(optimizer, global_batch, reference)
            rank_zero_info(
                f"lr {base:g} x global batch {global_batch} / {reference} = {optimizer.param_groups[0]['lr']:g}"
            )
        if self.scheduler_factory is None:
            return {"optimizer": optimizer}
        scheduler = self.scheduler_factory(optimizer)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def on_fit_start(self) -> None:
        if (
            train_isr_of(self.net) is not None
        ):  # train at the network's own ratios, whatever it was set to infer with
            self.net.set_isr("own")

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        check_train_isr(checkpoint, self.net)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images)

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        images, labels = batch["image"], batch["label"]
        if self.mixup is not None:
            images, targets = self.mixup(images, labels)
            loss = torch.sum(-targets * F.log_softmax(self.net(images), dim=-1), dim=-1).mean()
        else:
            loss = F.cross_entropy(self.net(images), labels, label_smoothing=self.hparams.label_smoothing)
        self.log("train/loss", loss, prog_bar=True, batch_size=images.shape[0])
        return loss

    def on_validation_epoch_start(self) -> None:
        self._eval_isr.enter_context(isr_applied(self.net, self.val_isr))

    on_test_epoch_start = on_validation_epoch_start

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        logits = self.net(batch["image"])
        require_finite(logits, "validation", self.global_step, batch.get("path"))
        self.top1.update(logits, batch["label"])
        self.top5.update(logits, batch["label"])
        stage = "test" if self.trainer.testing else "val"
        loss = F.cross_entropy(logits, batch["label"])
        self.log(f"{stage}/loss", loss, batch_size=logits.shape[0], sync_dist=True)

    test_step = validation_step

    def _finish(self, stage: str) -> None:
        self._eval_isr.close()
        self.log(f"{stage}/top1", self.top1.compute(), prog_bar=True)
        self.log(f"{stage}/top5", self.top5.compute())
        self.top1.reset()
        self.top5.reset()

    def on_validation_epoch_end(self) -> None:
        self._finish("val")

    def logged_metric_names(self) -> list[str]:
        """The metrics this module logs (what ``monitor=`` may name)."""
        return ["train/loss", "val/loss", "val/top1", "val/top5"]

    def on_test_epoch_end(self) -> None:
        self._finish("test")

"""LightningModule for semantic segmentation (EDAFormer): the authors' loss, optimiser, schedule and metrics."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from lightning.pytorch.utilities import rank_zero_info
from torch import nn
from torchmetrics.classification import MulticlassConfusionMatrix

from ..checkpoints import load_encoder_weights, load_weights
from ..data.io import IGNORE_INDEX
from ..evaluation.inference import InferenceConfig, segment, segment_scores
from ..evaluation.metrics import SegmentationMetrics, metrics_from_confusion
from ..models import ISRLike, isr_applied
from ..models.upsampled_argmax import argmax_labels
from ..optim import build_optimizer, param_groups, segmentation_rules
from .nonfinite import require_finite
from .utils import check_train_isr, plain, train_isr_of


class SegmentationModule(L.LightningModule):
    """Train/evaluate a segmentor ``net(images[B, 3, H, W]) → logits[B, K, H, W]``.

    Args:
        net: the segmentor (kept at ``self.net``, so checkpoint keys start with ``net.``). Its ``num_classes``
            ``K``, ``model_name`` (the :func:`~edaformer.models.create_model` name) and ``train_isr`` (the ratios it
            trains at) are recorded in the checkpoints' hyper-parameters; the factories' models carry all three.
        optimizer: optimizer factory called on the parameter groups (Hydra ``_partial_``; AdamW in the recipes).
        scheduler: factory ``scheduler(optimizer) → LRScheduler`` stepped every iteration, or ``None``.
        class_names: names for the per-class table (default ``"0" .. "K-1"``).
        ignore_index: label value excluded from loss and metrics.
        avg_non_ignore: how the per-pixel cross-entropy is averaged. ``False`` (the authors', MMSeg 0.13): the
            mean over *all* pixels of the batch, ignored ones counting as 0, so a crop with padding or unlabelled
            pixels takes a smaller step. ``True`` (MMSeg 1.x's ``avg_non_ignore``, PyTorch's default): the mean
            over the labelled pixels only.
        head_lr_mult: learning-rate multiplier of the decode head (the authors' ×10).
        inference: :class:`~edaformer.evaluation.InferenceConfig` fields for validation/test (mode, crop, TTA).
        isr: ISR setting for validation/test, any form :func:`~edaformer.models.parse_isr` reads (``None`` keeps
            the training ratios; ``"own"``: the ratios the network is trained at). Training always uses the
            network's training ratios (``net.train_isr``, recorded in the checkpoints as ``train_isr``); the
            setting is applied at validation start and undone at its end.
        pretrained: ImageNet-pretrained EFT weights for the encoder, loaded once in ``setup("fit")`` (before a
            resumed checkpoint overwrites them).
        init_from: a segmentation checkpoint (any kind :func:`~edaformer.checkpoints.load_model` reads) whose
            weights — all of them, nothing else — the network starts from in ``setup("fit")``: fine-tuning with a
            new optimiser and schedule, e.g. at other training ratios. Not a resume (that is ``ckpt_path``);
            excludes ``pretrained``.
        global_batch: samples per optimizer step over every process (the run computes it before the Trainer is
            built); recorded with the hyper-parameters.
    """

    def __init__(
        self,
        net: nn.Module,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[[torch.optim.Optimizer], Any] | None,
        class_names: Sequence[str] | None = None,
        ignore_index: int = IGNORE_INDEX,
        avg_non_ignore: bool = False,
        head_lr_mult: float = 10.0,
        inference: Mapping[str, Any] | None = None,
        isr: ISRLike = None,
        pretrained: str | None = None,
        init_from: str | None = None,
        global_batch: int | None = None,
    ) -> None:
        super().__init__()
        num_classes = int(net.num_classes)
        if pretrained and init_from:
            raise ValueError(
                f"pretrained={pretrained} and init_from={init_from}: init_from sets every weight, give one of them"
            )
        inference = plain(inference) or {}
        self.inference = InferenceConfig(**inference)
        self.val_isr = None if isr is None else net.resolve_isr(isr)
        self.save_hyperparameters(
            {
                "model_name": getattr(net, "model_name", None),
                "num_classes": num_classes,
                "class_names": plain(class_names),
                "ignore_index": int(ignore_index),
                "avg_non_ignore": bool(avg_non_ignore),
                "head_lr_mult": float(head_lr_mult),
                "inference": inference,
                "isr": None if self.val_isr is None else str(self.val_isr),
                "train_isr": train_isr_of(net),
                "pretrained": pretrained,
                "init_from": init_from,
                "global_batch": global_batch,
            },
            logger=False,
        )
        self.net = net
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.class_names = tuple(class_names) if class_names else tuple(str(k) for k in range(num_classes))
        self.confmat = MulticlassConfusionMatrix(num_classes, ignore_index=ignore_index, validate_args=False)
        self.metrics: SegmentationMetrics | None = None
        self._eval_isr = ExitStack()  # holds isr_applied(net, val_isr) from evaluation start to end
        self._pretrained_loaded = False

    # ------------------------------------------------------------------ set-up
    def setup(self, stage: str) -> None:
        if stage == "fit" and not self._pretrained_loaded:
            if self.hparams.pretrained:
                rank_zero_info(load_encoder_weights(self.net.encoder, self.hparams.pretrained))
            if self.hparams.get("init_from"):
                rank_zero_info(load_weights(self.net, self.hparams.init_from, self.hparams.model_name))
            self._pretrained_loaded = True

    def on_fit_start(self) -> None:
        if (
            train_isr_of(self.net) is not None
        ):  # train at the network's own ratios, whatever it was set to infer with
            self.net.set_isr("own")

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        check_train_isr(checkpoint, self.net)

    def configure_optimizers(self) -> dict[str, Any]:
        rules = segmentation_rules(head="decode_head", head_lr_mult=self.hparams.head_lr_mult)
        optimizer = build_optimizer(self.optimizer_factory, param_groups(self.net, rules))
        if self.scheduler_factory is None:
            return {"optimizer": optimizer}
        scheduler = self.scheduler_factory(optimizer)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    # ------------------------------------------------------------------ training
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images)

    def loss(self, logits: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of ``logits[B, K, h, w]`` resized (bilinear) to the labels ``masks[B, H, W]``.

        Pixels labelled ``ignore_index`` contribute 0; the sum is divided by ``B·H·W`` (the authors') or, with
        ``avg_non_ignore``, by the number of labelled pixels (0 when every pixel is ignored).
        """
        if logits.shape[-2:] != masks.shape[-2:]:
            logits = F.interpolate(logits, size=masks.shape[-2:], mode="bilinear", align_corners=False)
        ignore = self.hparams.ignore_index
        per_pixel = F.cross_entropy(logits, masks, ignore_index=ignore, reduction="none")  # (B, H, W)
        if self.hparams.avg_non_ignore:
            return per_pixel.sum() / (masks != ignore).sum().clamp(min=1)
        return per_pixel.mean()

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss = self.loss(self.net(batch["image"]), batch["mask"])
        self.log("train/loss", loss, prog_bar=True, batch_size=batch["image"].shape[0])
        return loss

    # ------------------------------------------------------------------ evaluation
    def on_validation_epoch_start(self) -> None:
        self.confmat.reset()
        self._eval_isr.enter_context(isr_applied(self.net, self.val_isr))

    on_test_epoch_start = on_validation_epoch_start

    def predict_scores(self, images: torch.Tensor, out_size: Sequence[int] | None = None) -> torch.Tensor:
        """Class scores ``[B, K, H, W]`` by the configured inference mode (logits, or probabilities with TTA)."""
        return segment(self.net, images, self.hparams.num_classes, self.inference, out_size)

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, torch.Tensor]:
        masks = batch["mask"]
        if masks.ndim == 2:
            masks = masks.unsqueeze(0)
        if self.inference.tta and batch["image"].shape[-2:] != masks.shape[-2:]:
            raise ValueError(
                f"multi-scale/flip testing resizes the original image per ratio, but got a "
                f"{tuple(batch['image'].shape[-2:])} image for a {tuple(masks.shape[-2:])} label: build the "
                "DataModule with tta=True (python eval.py tta=true ... sets it)"
            )
        scores = segment_scores(self.net, batch["image"], self.inference, out_size=masks.shape[-2:])
        require_finite(scores, "validation", self.global_step, batch.get("path"))
        preds = argmax_labels(scores)  # without the K x H x W scores
        self.confmat.update(preds, masks)
        return {"pred": preds}

    test_step = validation_step

    def _finish_evaluation(self, stage: str) -> None:
        self._eval_isr.close()
        confmat = self.confmat.compute()
        self.confmat.reset()
        if self.trainer.sanity_checking:
            return
        self.metrics = metrics_from_confusion(confmat.cpu(), self.class_names)
        # The confusion matrix is already summed over processes, so every rank logs the same values.
        prefix = self._metric_prefix(stage)
        values = {k: v for k, v in self.metrics.as_dict(prefix).items() if v == v}  # NaN: class never seen
        self.log(f"{prefix}mIoU", values.pop(f"{prefix}mIoU"), prog_bar=True)
        self.log_dict(values)
        if stage == "val":  # a test's caller presents its results (edaformer-eval prints the table once)
            isr = f" (ISR {self.val_isr})" if self.val_isr is not None else ""
            rank_zero_info(f"\n[{stage} @ step {self.global_step}{isr}]\n{self.metrics.table()}")

    def _metric_prefix(self, stage: str) -> str:
        """``val/``; ``test/<setting>/`` (the ISR preset's name or the ratios) when testing under a setting, so that
        the settings of one run (the final evaluation after training) log under keys of their own."""
        if stage == "test" and self.val_isr is not None:
            return f"test/{self.val_isr.preset or self.val_isr}/"
        return f"{stage}/"

    def on_validation_epoch_end(self) -> None:
        self._finish_evaluation("val")

    def logged_metric_names(self) -> list[str]:
        """The metrics this module logs (what ``monitor=`` may name): ``train/loss``, ``val/{mIoU,mAcc,aAcc}`` and
        ``val/IoU/<class>``."""
        names = ["train/loss", "val/mIoU", "val/mAcc", "val/aAcc"]
        return names + [f"val/IoU/{name}" for name in self.class_names]

    def on_test_epoch_end(self) -> None:
        self._finish_evaluation("test")

"""Score a model on a validation loader in plain PyTorch: mIoU of a segmentor, top-1/top-5 of a classifier.

No Lightning trainer: one ``torch.no_grad`` loop over the DataModule's validation loader, the same inference
modes (:func:`~edaformer.evaluation.inference.segment_labels`) and metric definitions
(:func:`~edaformer.evaluation.metrics.metrics_from_confusion`) as ``edaformer-eval``, so the numbers agree with it.
Used where one model is scored many times (the ISR search scores it once per setting).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Subset
from torchmetrics.classification import MulticlassAccuracy, MulticlassConfusionMatrix

from ..data.io import IGNORE_INDEX
from .inference import InferenceConfig, segment_labels
from .metrics import SegmentationMetrics, metrics_from_confusion

Progress = Callable[[int], None]  # called with the number of images just scored


def first_images(loader: DataLoader, count: int | None) -> DataLoader:
    """A loader over the first ``count`` images of ``loader``'s dataset (its fixed order), same batching and
    workers; ``loader`` itself when ``count`` is ``None`` or covers the dataset."""
    dataset = loader.dataset
    if count is None or count >= len(dataset):
        return loader
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    return DataLoader(
        Subset(dataset, range(count)),
        batch_size=loader.batch_size,
        num_workers=loader.num_workers,
        collate_fn=loader.collate_fn,
        pin_memory=loader.pin_memory,
    )


@torch.no_grad()
def predict_labels(
    model: nn.Module,
    images: torch.Tensor,
    inference: InferenceConfig,
    out_size: Sequence[int],
) -> torch.Tensor:
    """Train ids ``int64 [B, H, W]`` at ``out_size`` by the inference mode of ``inference`` (the one place the
    scoring loop turns a batch into labels), without the ``K × H × W`` scores (the labels path)."""
    return segment_labels(model, images, inference, out_size)


@torch.no_grad()
def score_segmentor(
    model: nn.Module,
    loader: DataLoader,
    num_classes: int,
    inference: InferenceConfig | None = None,
    class_names: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> SegmentationMetrics:
    """mIoU, mAcc, aAcc and per-class IoU of ``model`` (in its current ISR setting) over ``loader``.

    Batches are the validation batches of the segmentation DataModules: ``image [B, 3, h, w]`` (resized by the
    test pipeline, or the original image under TTA) and ``mask [B, H, W]`` at the original resolution (255 =
    ignored); predictions are scored at the mask's resolution over the whole loader (dataset-level IoU).
    """
    inference = inference or InferenceConfig()
    device = _device_of(model)
    confmat = MulticlassConfusionMatrix(num_classes, ignore_index=IGNORE_INDEX, validate_args=False).to(
        device
    )
    was_training = model.training
    model.eval()
    try:
        for batch in loader:
            images, masks = batch["image"].to(device), batch["mask"].to(device)
            if masks.ndim == 2:
                masks = masks.unsqueeze(0)
            confmat.update(predict_labels(model, images, inference, masks.shape[-2:]), masks)
            if progress is not None:
                progress(images.shape[0])
    finally:
        model.train(was_training)
    return metrics_from_confusion(confmat.compute().cpu(), class_names)


@torch.no_grad()
def score_classifier(
    model: nn.Module, loader: DataLoader, num_classes: int, progress: Progress | None = None
) -> dict[str, float]:
    """``{"top1", "top5"}`` accuracies in [0, 1] of ``model`` over ``loader`` (batches ``image``, ``label``)."""
    device = _device_of(model)
    top1 = MulticlassAccuracy(num_classes, top_k=1, average="micro").to(device)
    top5 = MulticlassAccuracy(num_classes, top_k=min(5, num_classes), average="micro").to(device)
    was_training = model.training
    model.eval()
    try:
        for batch in loader:
            images, labels = batch["image"].to(device), batch["label"].to(device)
            logits = model(images)
            top1.update(logits, labels)
            top5.update(logits, labels)
            if progress is not None:
                progress(images.shape[0])
    finally:
        model.train(was_training)
    return {"top1": float(top1.compute()), "top5": float(top5.compute())}


def _device_of(model: nn.Module) -> torch.device:
    param: Any = next(model.parameters(), None)
    return param.device if param is not None else torch.device("cpu")

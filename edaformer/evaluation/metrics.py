"""Segmentation metrics from a confusion matrix (MMSeg's definitions), and their printable per-class table.

The matrix is accumulated over the whole validation set (torchmetrics ``MulticlassConfusionMatrix`` with
``ignore_index=255``), so mIoU is the dataset-level IoU, not a mean of per-image scores.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from ..tables import markdown_table


@dataclass(frozen=True)
class SegmentationMetrics:
    """``miou``/``macc`` average the classes present (NaN-skipping); ``aacc`` is pixel accuracy. Values in [0, 1].

    ``iou[k]`` is NaN when class ``k`` is neither in the labels nor predicted; ``acc[k]`` is NaN when it is not in the
    labels (MMSeg's convention: a class predicted but absent from the labels scores IoU 0). ``confusion`` is the
    matrix they come from, ``[K, K]`` pixel counts (rows = label, columns = prediction).
    """

    miou: float
    macc: float
    aacc: float
    iou: tuple[float, ...]
    acc: tuple[float, ...]
    class_names: tuple[str, ...]
    confusion: torch.Tensor | None = field(default=None, compare=False, repr=False)

    def as_dict(self, prefix: str = "") -> dict[str, float]:
        """Scalars for loggers: ``{prefix}mIoU``, ``mAcc``, ``aAcc`` and ``IoU/<class>``."""
        out = {f"{prefix}mIoU": self.miou, f"{prefix}mAcc": self.macc, f"{prefix}aAcc": self.aacc}
        for name, iou in zip(self.class_names, self.iou):
            out[f"{prefix}IoU/{name}"] = iou
        return out

    def table(self) -> str:
        """Markdown table: one row per class (IoU, Acc in %), then the summary row."""

        def pct(v: float) -> str:
            return "nan" if math.isnan(v) else f"{100 * v:.2f}"

        rows = [[n, pct(i), pct(a)] for n, i, a in zip(self.class_names, self.iou, self.acc)]
        table = markdown_table(["Class", "IoU", "Acc"], rows, align=["left", "right", "right"], pad=True)
        return f"{table}\n\nmIoU {pct(self.miou)}  mAcc {pct(self.macc)}  aAcc {pct(self.aacc)}"


def metrics_from_confusion(
    confmat: torch.Tensor, class_names: Sequence[str] | None = None
) -> SegmentationMetrics:
    """mIoU, mAcc, aAcc and per-class IoU/Acc from ``confmat[K, K]`` (rows = label, columns = prediction)."""
    if confmat.ndim != 2 or confmat.shape[0] != confmat.shape[1]:
        raise ValueError(f"expected a square confusion matrix, got shape {tuple(confmat.shape)}")
    cm = confmat.double()
    intersect = cm.diag()
    area_label = cm.sum(dim=1)
    area_pred = cm.sum(dim=0)
    union = area_label + area_pred - intersect
    nan = torch.tensor(float("nan"), dtype=torch.float64)
    iou = torch.where(union > 0, intersect / union.clamp(min=1), nan)
    acc = torch.where(area_label > 0, intersect / area_label.clamp(min=1), nan)
    total = area_label.sum()
    aacc = (intersect.sum() / total).item() if total > 0 else float("nan")
    names = tuple(class_names) if class_names is not None else tuple(str(k) for k in range(cm.shape[0]))
    if len(names) != cm.shape[0]:
        raise ValueError(f"{len(names)} class names for a {cm.shape[0]}-class confusion matrix")
    return SegmentationMetrics(
        miou=_nanmean(iou),
        macc=_nanmean(acc),
        aacc=aacc,
        iou=tuple(iou.tolist()),
        acc=tuple(acc.tolist()),
        class_names=names,
        confusion=confmat.detach().cpu().long(),
    )


def _nanmean(values: torch.Tensor) -> float:
    valid = values[~values.isnan()]
    return valid.mean().item() if valid.numel() else float("nan")

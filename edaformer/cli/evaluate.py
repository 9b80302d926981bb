"""Evaluate a LightningModule under several ISR settings (same weights) and report accuracy and GFLOPs."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader

from ..evaluation.acceleration import unwrap
from ..files import write_csv, write_json
from ..flops import count_flops, count_params
from ..lit import SegmentationModule
from ..models import ISRLike, isr_applied
from ..viz.confusion import confusion_figure, write_confusion_csv

# what a result row holds besides scalars: the per-class table and the confusion matrix, written to files of their own
_NOT_SCALAR = ("per_class", "table", "confusion")


def evaluate_setting(
    trainer: L.Trainer,
    module: L.LightningModule,
    dataloader: DataLoader,
    setting: ISRLike,
    flops_size: Sequence[int],
    ckpt_path: str | None = None,
) -> dict[str, Any]:
    """Test ``module`` on ``dataloader`` with the ISR ``setting`` applied; returns one result row.

    ``setting`` is any form :func:`~edaformer.models.parse_isr` reads (``None``: the network's current ratios).
    Row: ``setting`` (preset name or ratios), ``isr`` ("e1,e2,e3,e4-d4,d3,d2"), ``train_isr`` (the ratios the
    weights were trained at, same notation), ``params``, ``gflops`` at
    ``flops_size``, ``model``, and the metrics (``mIoU``/``mAcc``/``aAcc`` in [0, 1] for segmentation, with ``tta``
    (multi-scale/flip or not); ``top1``/``top5`` for classification). Per-class IoUs are kept under ``per_class``,
    the segmentation confusion matrix ``[K, K]`` (pixel counts, rows = label) under ``confusion``.
    """
    applied = module.net.resolve_isr(setting)
    module.val_isr = applied
    results = trainer.test(module, dataloaders=dataloader, ckpt_path=ckpt_path, verbose=False)
    net = unwrap(module.net)  # the network itself, also when it runs compiled or in bfloat16
    counted = net if next(net.parameters()).dtype == torch.float32 else copy.deepcopy(net).float()
    with isr_applied(counted, applied):
        gflops = count_flops(counted, (3, int(flops_size[0]), int(flops_size[1])))
    row: dict[str, Any] = {
        "setting": applied.preset or str(applied),
        "isr": str(applied),
        "train_isr": str(net.train_isr),
        "params": count_params(net),
        "gflops": round(gflops, 4),
        "flops_size": f"{int(flops_size[0])}x{int(flops_size[1])}",
        "model": module.hparams.model_name,
    }
    if isinstance(module, SegmentationModule):
        metrics = module.metrics
        row.update(mIoU=metrics.miou, mAcc=metrics.macc, aAcc=metrics.aacc, tta=module.inference.tta)
        row["per_class"] = dict(zip(metrics.class_names, metrics.iou))
        row["table"] = metrics.table()
        row["confusion"] = metrics.confusion
    else:
        scores = results[0] if results else {}
        row.update(
            top1=float(scores.get("test/top1", float("nan"))),
            top5=float(scores.get("test/top5", float("nan"))),
        )
    return row


def summary_table(rows: Sequence[dict[str, Any]]) -> str:
    """Markdown table of result rows (metrics in %)."""
    metric = "mIoU" if "mIoU" in rows[0] else "top1"
    lines = [
        f"| ISR setting | encoder-decoder ratios | trained at | params | GFLOPs ({rows[0]['flops_size']}) "
        f"| {metric} (%) |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['setting']} | {r['isr']} | {r.get('train_isr', '')} | {r['params'] / 1e6:.2f} M "
            f"| {r['gflops']:.2f} | {100 * r[metric]:.2f} |"
        )
    return "\n".join(lines)


def save_rows(rows: Sequence[dict[str, Any]], out_dir: Path, stem: str = "isr_results") -> list[Path]:
    """``<stem>.json`` (everything but the matrices), ``<stem>.csv`` / ``<stem>.md`` (summary),
    ``per_class_<setting>.md``, and per segmentation row ``confusion_<setting>.csv`` (pixel counts) and
    ``confusion_<setting>.png`` (rows normalised, class names); returns the PNG paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(
        out_dir / f"{stem}.json",
        {"results": [{k: v for k, v in r.items() if k != "confusion"} for r in rows]},
    )
    flat = [{k: v for k, v in r.items() if k not in _NOT_SCALAR} for r in rows]
    write_csv(out_dir / f"{stem}.csv", flat)
    (out_dir / f"{stem}.md").write_text(summary_table(rows) + "\n")
    figures = []
    for r in rows:
        name = r["setting"].replace(",", "_")
        if "table" in r:
            (out_dir / f"per_class_{name}.md").write_text(f"ISR {r['isr']}\n\n{r['table']}\n")
        if r.get("confusion") is not None:
            names = list(r["per_class"])
            write_confusion_csv(out_dir / f"confusion_{name}.csv", r["confusion"].numpy(), names)
            fig = confusion_figure(
                r["confusion"].numpy(), names, f"{r['model']}, ISR {r['isr']}: rows normalised"
            )
            fig.savefig(out_dir / f"confusion_{name}.png", dpi=120)
            figures.append(out_dir / f"confusion_{name}.png")
    return figures


def log_confusion_images(loggers: Sequence[Any], figures: Sequence[Path]) -> None:
    """The confusion-matrix PNGs to W&B (``confusion/<setting>``), when that logger is on."""
    for lg in loggers:
        if type(lg).__name__ == "WandbLogger":
            for path in figures:
                lg.log_image(key=f"confusion/{path.stem.removeprefix('confusion_')}", images=[str(path)])

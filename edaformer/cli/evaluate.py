"""Evaluate a LightningModule under several ISR settings (same weights) and report accuracy and GFLOPs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
from torch.utils.data import DataLoader

from ..complexity import count_flops, count_params
from ..lit import SegmentationModule
from ..lit.utils import parse_isr
from ..models import ISRSetting
from .utils import isr_name, write_csv, write_json


def gflops_at(net: Any, setting: ISRSetting | None, size: Sequence[int]) -> float:
    """GFLOPs (multiply-accumulates, the paper's convention) of ``net`` under ``setting`` at ``size = (H, W)``."""
    previous = net.isr
    try:
        if setting is not None:
            _set_isr(net, setting)
        return count_flops(net, (3, int(size[0]), int(size[1])))
    finally:
        net.set_isr(previous)


def _set_isr(net: Any, setting: ISRSetting) -> None:
    if getattr(net, "decode_head", None) is None:
        net.set_isr(encoder=setting.encoder)
    else:
        net.set_isr(setting)


def evaluate_setting(
    trainer: L.Trainer,
    module: L.LightningModule,
    dataloader: DataLoader,
    setting: str | Sequence[Any] | ISRSetting | None,
    flops_size: Sequence[int],
    ckpt_path: str | None = None,
) -> dict[str, Any]:
    """Test ``module`` on ``dataloader`` with the ISR ``setting`` applied; returns one result row.

    Row: ``setting`` (preset name or ratios), ``isr`` ("e1,e2,e3,e4-d4,d3,d2"), ``params``, ``gflops`` at
    ``flops_size``, ``model``, and the metrics (``mIoU``/``mAcc``/``aAcc`` in [0, 1] for segmentation, with ``tta``
    (multi-scale/flip or not); ``top1``/``top5`` for classification). Per-class IoUs are kept under ``per_class``.
    """
    parsed = parse_isr(setting) if setting is not None else module.net.isr
    if getattr(module.net, "decode_head", None) is None:
        parsed = ISRSetting(parsed.encoder, None)
    module.val_isr = parsed
    results = trainer.test(module, dataloaders=dataloader, ckpt_path=ckpt_path, verbose=False)
    row: dict[str, Any] = {
        "setting": isr_name(parsed.encoder, parsed.decoder),
        "isr": str(parsed),
        "params": count_params(module.net),
        "gflops": round(gflops_at(module.net, parsed, flops_size), 4),
        "flops_size": f"{int(flops_size[0])}x{int(flops_size[1])}",
        "model": module.hparams.model_name,
    }
    if isinstance(module, SegmentationModule):
        metrics = module.metrics
        row.update(mIoU=metrics.miou, mAcc=metrics.macc, aAcc=metrics.aacc, tta=module.inference.tta)
        row["per_class"] = dict(zip(metrics.class_names, metrics.iou))
        row["table"] = metrics.table()
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
        f"| ISR setting | encoder-decoder ratios | params | GFLOPs ({rows[0]['flops_size']}) | {metric} (%) |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['setting']} | {r['isr']} | {r['params'] / 1e6:.2f} M | {r['gflops']:.2f} | {100 * r[metric]:.2f} |"
        )
    return "\n".join(lines)


def save_rows(rows: Sequence[dict[str, Any]], out_dir: Path, stem: str = "isr_results") -> None:
    """``<stem>.json`` (everything), ``<stem>.csv`` / ``<stem>.md`` (summary), ``per_class_<setting>.md``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(out_dir / f"{stem}.json", {"results": list(rows)})
    flat = [{k: v for k, v in r.items() if k not in ("per_class", "table")} for r in rows]
    write_csv(out_dir / f"{stem}.csv", flat)
    (out_dir / f"{stem}.md").write_text(summary_table(rows) + "\n")
    for r in rows:
        if "table" in r:
            name = r["setting"].replace(",", "_")
            (out_dir / f"per_class_{name}.md").write_text(f"ISR {r['isr']}\n\n{r['table']}\n")

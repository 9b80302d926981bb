"""Hub folders from the weights we make or meet: a training run's checkpoint, the authors' release.

The folder itself is written by the model's ``save_pretrained`` (:mod:`edaformer.models.hub`); this module gathers
what the weights mean from where they come from: class names and palette (stored with a Lightning checkpoint, or
the benchmark whose class count matches), the dataset and its evaluation size (GFLOPs in the card), and — for a
checkpoint inside a training run dir — the results of the run's final evaluation (``isr_results.json``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from torch import nn

from ..checkpoints import CheckpointInfo
from ..data.benchmarks import BENCHMARKS
from ..evaluation.segmenter import resolve_classes

# result-row fields worth keeping in a hub config (the rest: tables, per-class dicts, paths)
_METRIC_FIELDS = (
    "setting",
    "isr",
    "train_isr",
    "mIoU",
    "mAcc",
    "aAcc",
    "top1",
    "top5",
    "gflops",
    "flops_size",
    "tta",
    "data",
)


def run_dir_of(ckpt_path: str | os.PathLike) -> Path | None:
    """The training run dir a checkpoint lies in (``<run>/checkpoints/*.ckpt`` with ``<run>/.hydra``), if any."""
    path = Path(ckpt_path).resolve()
    run = path.parent.parent
    if path.parent.name == "checkpoints" and (run / ".hydra").is_dir():
        return run
    return None


def run_results(run_dir: Path) -> list[dict[str, Any]]:
    """The final-evaluation rows of a training run (``isr_results.json``), trimmed to the scalar results."""
    path = run_dir / "isr_results.json"
    if not path.is_file():
        return []
    rows = json.loads(path.read_text()).get("results", [])
    return [{k: row[k] for k in _METRIC_FIELDS if k in row} for row in rows]


def hub_metadata(model: nn.Module, info: CheckpointInfo, ckpt_path: str | os.PathLike) -> dict[str, Any]:
    """``config=`` for ``model.save_pretrained``: classes, palette, dataset, input size, metrics and source.

    Segmentors get class names and a palette even when the checkpoint stores none (the benchmark with the same
    number of classes, else generated names and colours); classifiers only the names stored with them. A model
    loaded from a hub folder carries its own metadata (nothing to add).
    """
    if info.kind == "hub":
        return {}
    meta: dict[str, Any] = {"source": _source(info, ckpt_path)}
    if getattr(model, "decode_head", None) is not None:
        classes = resolve_classes(info.num_classes, "auto", info.class_names, info.palette)
        meta.update(
            class_names=classes.names, palette=[list(c) for c in classes.palette], dataset=classes.dataset
        )
    elif info.class_names:
        meta["class_names"] = list(info.class_names)
    dataset = meta.get("dataset") or info.dataset
    if dataset in BENCHMARKS:
        meta["input_size"] = list(BENCHMARKS[dataset].eval_size)
    run = run_dir_of(ckpt_path) if info.kind == "lightning" else None
    if run is not None:
        rows = run_results(run)
        if rows:
            meta["metrics"] = rows
            meta["input_size"] = [int(v) for v in str(rows[0].get("flops_size", "512x512")).split("x")]
    meta["dataset"] = dataset
    return meta


def _source(info: CheckpointInfo, ckpt_path: str | os.PathLike) -> str:
    name = Path(ckpt_path).name
    if info.kind == "official":
        return f"the authors' release (MMSegmentation checkpoint `{name}`), converted by edaformer"
    if info.kind == "lightning":
        run = run_dir_of(ckpt_path)
        return f"an edaformer training run (checkpoint `{name}`" + (f" of run `{run.name}`)" if run else ")")
    return f"`{name}` (an edaformer checkpoint)"

"""Evaluation of a model under ISR settings: one :class:`~edaformer.results.ResultRow` per setting, and the files
of an evaluation (result files, per-class tables, confusion matrices) with their copies to the loggers.

:func:`evaluate` is ``edaformer-eval``'s verb: a checkpoint of any kind (ours, Lightning, the authors', a hub
folder or repo id) tested on the validation split of ``cfg.data`` under ``cfg.isr``.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, open_dict
from torch.utils.data import DataLoader

from ..checkpoints import check_task
from ..config import compose
from ..data import CityscapesDataModule, ImageNetDataModule
from ..errors import UserError
from ..evaluation.acceleration import accelerate, unwrap
from ..evaluation.cityscapes import CityscapesEvalError, evaluate_label_ids
from ..flops import count_flops, count_params
from ..lit import SegmentationModule, StopOnSignal, WriteCityscapesLabelIds
from ..lit.loggers import finish_wandb_run, log_images_to_wandb
from ..models import ISRLike, isr_applied
from ..results import ResultRow, write_result_files
from ..training_checkpoints import checkpoint_step
from ..viz.confusion import confusion_figure, write_confusion_csv
from .checkpoint import load_checkpoint
from .components import (
    apply_tta,
    build_datamodule,
    check_accelerator,
    instantiate_callbacks,
    instantiate_loggers,
    module_node,
    plain_config,
    runtime_extras,
)
from .isr_table import log_wandb_table

__all__ = ["evaluate", "evaluate_setting", "report_rows", "save_rows"]


def evaluate_setting(
    trainer: L.Trainer,
    module: L.LightningModule,
    dataloader: DataLoader,
    setting: ISRLike,
    flops_size: Sequence[int],
    ckpt_path: str | None = None,
) -> ResultRow:
    """Test ``module`` on ``dataloader`` with the ISR ``setting`` applied (any form
    :func:`~edaformer.models.parse_isr` reads; ``None``: the network's current ratios); GFLOPs at ``flops_size``
    ``(H, W)`` are counted on a float32 copy when the network runs in bfloat16."""
    applied = module.net.resolve_isr(setting)
    module.val_isr = applied
    results = trainer.test(module, dataloaders=dataloader, ckpt_path=ckpt_path, verbose=False)
    net = unwrap(module.net)  # the network itself, also when it runs compiled or in bfloat16
    counted = net if next(net.parameters()).dtype == torch.float32 else copy.deepcopy(net).float()
    height, width = int(flops_size[0]), int(flops_size[1])
    with isr_applied(counted, applied):
        gflops = count_flops(counted, (3, height, width))
    row = ResultRow(
        setting=applied.preset or str(applied),
        isr=str(applied),
        train_isr=str(net.train_isr),
        params=count_params(net),
        gflops=round(gflops, 4),
        flops_size=f"{height}x{width}",
        model=module.hparams.model_name,
    )
    if isinstance(module, SegmentationModule):
        metrics = module.metrics
        row.mIoU, row.mAcc, row.aAcc, row.tta = metrics.miou, metrics.macc, metrics.aacc, module.inference.tta
        row.per_class = dict(zip(metrics.class_names, metrics.iou))
        row.table = metrics.table()
        row.confusion = metrics.confusion
    else:
        scores = results[0] if results else {}
        row.top1 = float(scores.get("test/top1", float("nan")))
        row.top5 = float(scores.get("test/top5", float("nan")))
    for lg in trainer.loggers:  # beside the module's test/<setting>/<metric>
        lg.log_metrics({f"test/{row.setting}/GFLOPs": row.gflops}, step=trainer.global_step)
    return row


def save_rows(rows: Sequence[ResultRow], out_dir: Path, stem: str) -> list[Path]:
    """The result files ``<stem>.{json,csv,md}``, ``per_class_<setting>.md`` and, per segmentation row,
    ``confusion_<setting>.csv`` (pixel counts) and ``confusion_<setting>.png`` (rows normalised); returns the
    PNG paths."""
    write_result_files(rows, out_dir, stem)
    figures = []
    for row in rows:
        name = row.setting.replace(",", "_")
        if row.table is not None:
            (out_dir / f"per_class_{name}.md").write_text(f"ISR {row.isr}\n\n{row.table}\n")
        if row.confusion is not None and row.per_class is not None:
            names, counts = list(row.per_class), row.confusion.numpy()
            write_confusion_csv(out_dir / f"confusion_{name}.csv", counts, names)
            fig = confusion_figure(counts, names, f"{row.model}, ISR {row.isr}: rows normalised")
            fig.savefig(out_dir / f"confusion_{name}.png", dpi=120)
            figures.append(out_dir / f"confusion_{name}.png")
    return figures


def report_rows(rows: Sequence[ResultRow], out_dir: Path, stem: str, loggers: Sequence[Any]) -> None:
    """:func:`save_rows`, and the confusion matrices and the ISR table to the W&B loggers among ``loggers``."""
    log_images_to_wandb(loggers, "confusion", save_rows(rows, out_dir, stem))
    for lg in loggers:
        if type(lg).__name__ == "WandbLogger":
            log_wandb_table(lg.experiment, rows)


def evaluate(cfg: DictConfig) -> ResultRow:
    """Load ``cfg.ckpt_path`` and test it on the validation split of ``cfg.data`` under ``cfg.isr``; writes
    ``results.{json,csv,md}``, the per-class table and the confusion matrix into the run dir."""
    check_accelerator(cfg.trainer)
    L.seed_everything(cfg.seed, workers=True)
    net, info = load_checkpoint(cfg)  # before the data: a checkpoint that cannot be read fails at once
    dm = build_datamodule(cfg.data)
    check_task(info, "classification" if isinstance(dm, ImageNetDataModule) else "segmentation")
    if info.num_classes != dm.num_classes:
        raise UserError(
            f"{info.path} predicts {info.num_classes} classes but data {cfg.data._target_} has {dm.num_classes}"
        )
    with open_dict(cfg):
        own = compose(None, [f"+model={info.model_name}"]).model
        if own._target_ != cfg.model._target_:  # e.g. a classifier checkpoint: its own module settings
            cfg.model = own
        cfg.model.model_name, cfg.model.num_classes = info.model_name, info.num_classes
        for key in ("pretrained", "init_from"):  # the checkpoint holds every weight
            if key in cfg.model.keys():  # noqa: SIM118 (`in` is false for a ??? value)
                cfg.model[key] = None
    apply_tta(cfg)
    runtime = {"compile": bool(cfg.compile), "precision": str(cfg.precision)}
    names = list(getattr(dm, "class_names", []) or []) or None
    node = module_node(cfg.model)
    with open_dict(node):
        node.pop("net", None)
    module = instantiate(
        node, net=accelerate(net, **runtime), optimizer=None, scheduler=None, class_names=names
    )
    callbacks = instantiate_callbacks(cfg.get("callbacks"), **runtime_extras(dm))
    stop = StopOnSignal()  # SIGTERM / SIGINT: stop after the batch, say how far it got, write nothing
    callbacks.append(stop)
    out_dir = Path(cfg.paths.output_dir)
    label_ids = cityscapes_output(cfg, dm, out_dir)
    if label_ids is not None:
        callbacks.append(WriteCityscapesLabelIds(label_ids))
    loggers = instantiate_loggers(cfg.get("logger"))
    trainer: L.Trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers)
    if cfg.get("cityscapes_eval") and trainer.world_size > 1:
        raise UserError("cityscapes_eval=true scores on one process: set trainer.devices=1")
    config = plain_config(cfg)
    for lg in loggers:
        lg.log_hyperparams(config)
    dm.setup("validate")
    try:
        row = evaluate_setting(trainer, module, dm.val_dataloader(), cfg.isr, cfg.flops_size)
    except Exception as err:
        if (interruption := stop.interruption(err)) is None:
            raise
        raise interruption from None
    row.ckpt, row.step, row.checkpoint_kind, row.model, row.data = (
        str(info.path),
        checkpoint_step(info.path),
        info.kind,
        info.model_name,
        cfg.data._target_,
    )
    row.compile, row.precision = runtime["compile"], runtime["precision"]
    if label_ids is not None:
        row.extra["cityscapes_format"] = str(label_ids)
        if cfg.get("cityscapes_eval"):
            row.extra.update(cityscapes_scores(label_ids, dm, out_dir))
    for lg in loggers:
        lg.log_metrics({f"eval/{k}": v for k, v in row.scalars().items() if isinstance(v, float)})
    if trainer.is_global_zero:
        report_rows([row], out_dir, "results", loggers)
    finish_wandb_run()
    return row


def cityscapes_output(cfg: DictConfig, dm: L.LightningDataModule, out_dir: Path) -> Path | None:
    """The folder for the label-id PNGs (``cityscapes_format``; ``<run dir>/cityscapes_labelIds`` when only
    ``cityscapes_eval`` is asked), or ``None``. It must be new or empty: results are never overwritten."""
    folder, score = cfg.get("cityscapes_format"), bool(cfg.get("cityscapes_eval"))
    if folder is None and not score:
        return None
    if not isinstance(dm, CityscapesDataModule):
        key = "cityscapes_format" if folder is not None else "cityscapes_eval"
        raise UserError(f"{key}: the Cityscapes format needs data=cityscapes, not {cfg.data._target_}")
    out = Path(folder) if folder is not None else out_dir / "cityscapes_labelIds"
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserError(f"cityscapes_format={out}: exists and is not an empty folder; choose a new one")
    return out


def cityscapes_scores(label_ids: Path, dm: CityscapesDataModule, out_dir: Path) -> dict[str, float]:
    """cityscapesscripts' scores of the written PNGs against the split's ``*_gtFine_labelIds.png``, in [0, 1]."""
    gt_dir = dm.split_dirs(dm.splits["val"])[1]
    try:
        results = evaluate_label_ids(label_ids, gt_dir, out_dir)
    except (CityscapesEvalError, ImportError) as err:
        raise UserError(f"cityscapes_eval: {err}") from None
    return {
        "cityscapes_mIoU": float(results["averageScoreClasses"]),
        "cityscapes_iIoU": float(results["averageScoreInstClasses"]),
        "cityscapes_category_mIoU": float(results["averageScoreCategories"]),
        "cityscapes_category_iIoU": float(results["averageScoreInstCategories"]),
    }

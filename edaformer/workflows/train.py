"""Training from a composed ``conf/train.yaml``: data, module, callbacks, loggers, trainer → fit → evaluate.

Everything that can fail after hours of training is checked before the first step (required values, the resume
checkpoint, the final evaluation's ISR settings, the monitored metric, the global batch). After training the best
checkpoint is evaluated on the validation split under each setting of ``final_eval.isr``; the rows are written to
the run dir (``isr_results.{md,csv,json}``, per-class tables, confusion matrices).
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import lightning as L
from hydra.utils import instantiate
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf, open_dict

from ..checkpoints import CheckpointKindError, check_training_checkpoint
from ..config.arguments import shown
from ..config.checks import check_required, check_unused_run_dir
from ..errors import UserError
from ..files import remove_stale_temp_files
from ..lit import (
    AtomicCheckpointIO,
    GlobalBatch,
    GlobalBatchError,
    WholeGlobalBatches,
    count_devices,
    plan_global_batch,
    trainer_arguments,
)
from ..models import parse_isr
from ..results import ResultRow
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
from .evaluate import evaluate_setting, report_rows

__all__ = ["TrainResult", "build_module", "plan_batches", "train"]

log = logging.getLogger("edaformer")


@dataclass
class TrainResult:
    """What a training run produced: its last logged metrics, the final evaluation's rows (one per
    ``final_eval.isr`` setting; none when the run was interrupted), the best checkpoint and the run dir."""

    metrics: dict[str, float]
    rows: list[ResultRow] = field(default_factory=list)
    ckpt_path: str = ""
    run_dir: Path | None = None
    seconds: float = 0.0
    is_global_zero: bool = True  # the process that reports (one of several under DDP)


def train(cfg: DictConfig) -> TrainResult:
    """Fit the model of ``cfg`` on its data, then evaluate under the ``final_eval.isr`` settings."""
    check_required(cfg, filled_by_the_run={"model.num_classes"})
    if cfg.get("ckpt_path"):
        _require_file(cfg.ckpt_path, "ckpt_path")
    elif int(os.environ.get("LOCAL_RANK", 0)) == 0:  # DDP ranks > 0 start in rank 0's run dir
        check_unused_run_dir(cfg.paths.output_dir, overwrite=bool(cfg.get("overwrite")))
    check_accelerator(cfg.trainer)
    L.seed_everything(cfg.seed, workers=True)
    start = time.time()
    plan = plan_batches(cfg)
    dm = build_datamodule(cfg.data)
    module = build_module(cfg, dm, global_batch=plan.size)
    check_before_training(cfg, module)
    callbacks = [*instantiate_callbacks(cfg.get("callbacks"), **runtime_extras(dm)), WholeGlobalBatches()]
    loggers = instantiate_loggers(cfg.get("logger"))
    trainer: L.Trainer = instantiate(
        cfg.trainer,
        callbacks=callbacks,
        logger=loggers,
        plugins=[AtomicCheckpointIO()],
        **trainer_arguments(plan, cfg.trainer.get("val_check_interval")),
    )
    _announce(plan, cfg.trainer.get("val_check_interval"))
    config = plain_config(cfg)
    for lg in loggers:
        lg.log_hyperparams(config)
    _save_config(cfg)
    try:
        trainer.fit(module, datamodule=dm, ckpt_path=cfg.get("ckpt_path"))
    except GlobalBatchError as err:
        raise UserError(f"global_batch={cfg.get('global_batch')}: {err}") from None
    result = TrainResult(
        metrics={k: float(v) for k, v in trainer.callback_metrics.items()},
        ckpt_path=trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else "",
        run_dir=Path(cfg.paths.output_dir),
        is_global_zero=trainer.is_global_zero,
    )
    if cfg.final_eval.isr and not trainer.interrupted:
        dm.setup("validate")
        loader = dm.val_dataloader()
        for i, setting in enumerate(cfg.final_eval.isr):
            ckpt = (result.ckpt_path or None) if i == 0 else None  # weights loaded once, then only the ISR
            row = evaluate_setting(trainer, module, loader, setting, cfg.flops_size, ckpt_path=ckpt)
            row.data = str(cfg.data._target_)
            result.rows.append(row)
        if result.is_global_zero:
            report_rows(result.rows, result.run_dir, "isr_results", trainer.loggers)
    result.seconds = time.time() - start
    return result


def plan_batches(cfg: DictConfig) -> GlobalBatch:
    """``global_batch`` (the recipe's) on the devices and nodes of ``cfg.trainer``: the gradient accumulation that
    reaches it with ``data.batch_size`` per device. Recorded in the config (``trainer.accumulate_grad_batches``)."""
    trainer = cfg.trainer
    try:
        devices = count_devices(trainer.get("accelerator", "auto"), trainer.get("devices", "auto"))
        plan = plan_global_batch(
            cfg.get("global_batch"),
            int(cfg.data.batch_size),
            devices,
            int(trainer.get("num_nodes", 1)),
            int(trainer.get("accumulate_grad_batches", 1)),
        )
    except ValueError as err:
        raise UserError(str(err)) from None
    with open_dict(cfg):  # the saved config shows what the run computed
        cfg.trainer.accumulate_grad_batches = plan.accumulation
    return plan


@rank_zero_only
def _announce(plan: GlobalBatch, interval: int | float | None) -> None:
    log.info(str(plan))
    if plan.accumulation > 1 and isinstance(interval, int):
        log.info(
            f"validation every {interval} optimizer step{'s' * (interval != 1)} = {interval * plan.accumulation} "
            "batches"
        )


def build_module(cfg: DictConfig, dm: L.LightningDataModule, **runtime: object) -> L.LightningModule:
    """The LightningModule of ``cfg.model`` with ``num_classes`` and ``class_names`` taken from the data;
    ``runtime`` adds keyword arguments (``global_batch``, or a built ``net``)."""
    num_classes = int(dm.num_classes)
    with open_dict(cfg):
        if OmegaConf.is_missing(cfg.model, "num_classes"):
            cfg.model.num_classes = num_classes
        elif int(cfg.model.num_classes) != num_classes:
            raise UserError(
                f"model.num_classes={cfg.model.num_classes} but data {cfg.data._target_} has {num_classes}"
            )
    apply_tta(cfg)
    names = list(getattr(dm, "class_names", []) or []) or None
    return instantiate(module_node(cfg.model), class_names=names, **runtime)


def check_before_training(cfg: DictConfig, module: L.LightningModule) -> None:
    """The ``final_eval.isr`` settings, the ``monitor`` metric and the checkpoint to resume from (kind,
    readability, fit with the model); a ``val_check_interval`` beyond ``max_steps`` is clamped with a warning."""
    for setting in cfg.final_eval.isr:
        try:
            parse_isr(setting, own=getattr(getattr(module, "net", None), "train_isr", None))
        except ValueError as err:
            raise UserError(f"final_eval.isr={shown(setting)}: {err}") from None
    names = module.logged_metric_names() if hasattr(module, "logged_metric_names") else None
    if names is not None and cfg.get("monitor") is not None and cfg.monitor not in [*names, "step", "epoch"]:
        listed = ", ".join(n for n in names if "/IoU/" not in n)
        per_class = " and val/IoU/<class>" if len(listed) < len(", ".join(names)) else ""
        raise UserError(f"monitor={cfg.monitor}: the model logs {listed}{per_class}")
    interval, steps = cfg.trainer.get("val_check_interval"), cfg.trainer.get("max_steps")
    if isinstance(interval, int) and isinstance(steps, int) and 0 < steps < interval:
        log.warning(
            "trainer.val_check_interval=%d is beyond trainer.max_steps=%d: validating at step %d",
            interval, steps, steps,
        )  # fmt: skip
        with open_dict(cfg):
            cfg.trainer.val_check_interval = steps
    if cfg.get("ckpt_path"):
        path = _require_file(cfg.ckpt_path, "ckpt_path")
        remove_stale_temp_files(os.path.dirname(os.path.abspath(path)))
        try:
            check_training_checkpoint(
                path, module.state_dict(), f"{cfg.model.model_name} ({cfg.model.num_classes} classes)"
            )
        except CheckpointKindError as err:  # another kind of file or another model: the command adds a hint
            raise CheckpointKindError(f"ckpt_path={path}: {err}", err.path, err.found, err.needed) from None
        except ValueError as err:  # unreadable
            raise UserError(f"ckpt_path={path}: {err}") from None


def _require_file(path: str, key: str) -> str:
    if not os.path.isfile(path):
        raise UserError(f"{key} does not exist: {path}")
    return path


@rank_zero_only
def _save_config(cfg: DictConfig) -> None:
    out = Path(cfg.paths.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config_resolved.yaml").write_text(OmegaConf.to_yaml(OmegaConf.create(plain_config(cfg))))

"""Training from a composed ``conf/train.yaml``: data, module, callbacks, loggers, trainer → fit → evaluate.

Everything that can fail after hours of training is checked before the first step (required values, the resume
checkpoint, the final evaluation's ISR settings and checkpoint, the monitored metric, the global batch). After
training the last checkpoint (``final_eval.checkpoint``: ``last`` or ``best``) is evaluated on the validation split
under each setting of ``final_eval.isr`` (:mod:`.final_eval`); the rows are written to the run dir
(``isr_results.{md,csv,json}``, per-class tables, confusion matrices).
"""

from __future__ import annotations

import logging
import os
import signal
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import lightning as L
from hydra.utils import instantiate
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf, open_dict

from ..checkpoints import CheckpointKindError
from ..config.arguments import shown
from ..config.checks import check_required, check_unused_run_dir
from ..config.schemas import final_eval
from ..errors import UserError
from ..files import remove_stale_temp_files
from ..lit import (
    AtomicCheckpointIO,
    BatchNormSync,
    ContinueCSVMetrics,
    GlobalBatch,
    GlobalBatchError,
    Interrupted,
    StopOnSignal,
    WholeGlobalBatches,
    accelerator_kind,
    count_devices,
    plan_global_batch,
    plan_sync_batchnorm,
    trainer_arguments,
)
from ..lit.loggers import finish_wandb_run
from ..models import parse_isr
from ..results import ResultRow
from ..training_checkpoints import check_training_checkpoint
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
from .evaluate import report_rows
from .final_eval import check_final_eval, run_final_eval
from .runtime import rerun_command

__all__ = ["TrainResult", "build_module", "plan_batches", "plan_batchnorm_sync", "train"]

log = logging.getLogger("edaformer")


@dataclass
class TrainResult:
    """What a training run produced: its last logged metrics, the final evaluation's rows (one per
    ``final_eval.isr`` setting; none when the run was interrupted), the checkpoint they evaluated (``""``: the
    weights in memory, or no evaluation) and the run dir."""

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
    elif int(os.environ.get("LOCAL_RANK", 0)) == 0 and not _requeued_by_slurm(cfg.paths.output_dir):
        # DDP ranks > 0 start in rank 0's run dir; a requeued SLURM job resumes from its hpc_ckpt_<n>.ckpt there
        check_unused_run_dir(cfg.paths.output_dir, overwrite=bool(cfg.get("overwrite")))
    check_accelerator(cfg.trainer)
    L.seed_everything(cfg.seed, workers=True)
    start = time.time()
    plan = plan_batches(cfg)
    sync = plan_batchnorm_sync(cfg, plan)
    dm = build_datamodule(cfg.data)
    module = build_module(cfg, dm, global_batch=plan.size)
    check_before_training(cfg, module)
    stop = StopOnSignal()  # SIGTERM / SIGINT: last.ckpt at the end of the optimizer step, exit 128 + signal
    callbacks = [
        *instantiate_callbacks(cfg.get("callbacks"), **runtime_extras(dm)),
        WholeGlobalBatches(),
        stop,
        ContinueCSVMetrics(),  # resumed: metrics.csv starts with the history before the checkpoint, once
    ]
    final = check_final_eval(cfg, callbacks)
    loggers = instantiate_loggers(cfg.get("logger"))
    trainer: L.Trainer = instantiate(
        cfg.trainer,
        callbacks=callbacks,
        logger=loggers,
        plugins=[AtomicCheckpointIO()],
        **trainer_arguments(plan, cfg.trainer.get("val_check_interval")),
    )
    _announce(plan, cfg.trainer.get("val_check_interval"), sync)
    config = plain_config(cfg)
    for lg in loggers:
        lg.log_hyperparams(config)
    _save_config(cfg)
    warnings.filterwarnings(
        "ignore", "The dirpath has changed from"
    )  # resumed into a new run dir: the "best"
    # checkpoint callback carries its state over (BestCheckpoint); the `last.ckpt` ones have nothing to carry
    try:
        trainer.fit(module, datamodule=dm, ckpt_path=cfg.get("ckpt_path"))
    except GlobalBatchError as err:
        raise UserError(f"global_batch={cfg.get('global_batch')}: {err}") from None
    except Exception as err:
        interruption = stop.interruption(err)
        if interruption is None:
            raise
        raise with_resume_command(interruption) from None
    result = TrainResult(
        metrics={k: float(v) for k, v in trainer.callback_metrics.items()},
        run_dir=Path(cfg.paths.output_dir),
        is_global_zero=trainer.is_global_zero,
    )
    if stop.received is not None:  # during the last validation: last.ckpt holds the final step
        last = stop.checkpoint_path(trainer)
        raise with_resume_command(
            Interrupted(
                f"training interrupted by {signal.Signals(stop.received).name} at its end (step "
                f"{trainer.global_step}), before the final evaluation; saved {last}",
                stop.received,
                checkpoint=last,
                step=trainer.global_step,
            )
        )
    if final.isr and not trainer.interrupted:
        result.rows, ckpt = run_final_eval(cfg, final, trainer, module, dm)
        result.ckpt_path = ckpt or ""
        if result.is_global_zero:
            report_rows(result.rows, result.run_dir, "isr_results", trainer.loggers)
    finish_wandb_run()  # the next job of a multirun starts a run of its own
    result.seconds = time.time() - start
    return result


def _requeued_by_slurm(run_dir: str) -> bool:
    """A SLURM job requeued by Lightning (``SLURM_RESTART_COUNT`` > 0) with the ``hpc_ckpt_<n>.ckpt`` it resumes."""
    restarts = os.environ.get("SLURM_RESTART_COUNT", "0")
    return restarts.isdigit() and int(restarts) > 0 and any(Path(run_dir).glob("hpc_ckpt_*.ckpt"))


def with_resume_command(err: Interrupted) -> Interrupted:
    """``err`` with the command that resumes the run from the checkpoint it saved."""
    if err.checkpoint is not None:
        err.args = (f"{err}; resume: {rerun_command('edaformer-train', ckpt_path=str(err.checkpoint))}",)
    return err


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


def plan_batchnorm_sync(cfg: DictConfig, plan: GlobalBatch) -> BatchNormSync:
    """SyncBN whenever the run trains on several GPUs (:func:`~edaformer.lit.plan_sync_batchnorm`); recorded in
    the config (``trainer.sync_batchnorm``), which the Trainer is built from."""
    try:
        kind = accelerator_kind(cfg.trainer.get("accelerator", "auto"))
        sync = plan_sync_batchnorm(kind, plan.devices * plan.nodes, cfg.trainer.get("sync_batchnorm"))
    except ValueError as err:
        raise UserError(str(err)) from None
    with open_dict(cfg):
        cfg.trainer.sync_batchnorm = sync.enabled
    return sync


@rank_zero_only
def _announce(plan: GlobalBatch, interval: int | float | None, sync: BatchNormSync) -> None:
    log.info(str(plan))
    log.info(str(sync))
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
    for setting in final_eval(cfg).isr:
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

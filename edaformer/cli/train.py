"""``edaformer-train [key=value ...]`` (or ``python train.py ...``): instantiate data, module, callbacks, loggers,
trainer → fit → evaluate. Arguments: ``conf/train.yaml`` (``edaformer-train --help``).

After training, the best checkpoint is evaluated on the validation split under each setting of
``final_eval.isr`` (default: the training ratios and the paper's ISR), printing mIoU and GFLOPs per setting and
writing them to the run dir (``isr_results.{md,csv,json}``, ``per_class_<setting>.md``).
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

import hydra
import lightning as L
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf, open_dict

from ..checkpoints import check_training_checkpoint
from ..files import remove_stale_temp_files
from ..lit import AtomicCheckpointIO, GlobalBatchError, WholeGlobalBatches, configure_global_batch
from .evaluate import evaluate_setting, log_confusion_images, save_rows, summary_table
from .utils import (
    CONF_DIR,
    UserError,
    as_list,
    check_accelerator,
    instantiate_callbacks,
    instantiate_checked,
    instantiate_loggers,
    isr_setting,
    missing_value_message,
    plain_config,
    report_user_errors,
    require_file,
    run_dir,
    run_hydra_main,
    shown,
)

log = logging.getLogger("edaformer")


# Values a run fills in itself; every other ``???`` left in the config is a value the user must give.
FILLED_BY_THE_RUN = {"model.num_classes"}


def require_values(cfg: DictConfig) -> None:
    """Fail before any work when a required value was left out: a ``???`` (``model.pretrained`` of the paper
    recipes) or a key an experiment lists in ``required_values`` that is null (``model.init_from`` of a
    fine-tuning experiment). The one-line error says how to give it."""
    missing = sorted(set(_missing_keys(OmegaConf.to_container(cfg, resolve=False))) - FILLED_BY_THE_RUN)
    missing += [key for key in cfg.get("required_values") or [] if OmegaConf.select(cfg, key) is None]
    if missing:
        raise UserError(missing_value_message(missing[0]))


def _missing_keys(node: Any, prefix: str = "") -> list[str]:
    """Dotted keys whose value is ``???`` in a plain (unresolved) config container."""
    if isinstance(node, dict):
        return [k for key, value in node.items() for k in _missing_keys(value, f"{prefix}{key}.")]
    return [prefix[:-1]] if node == "???" else []


def reach_global_batch(cfg: DictConfig, trainer: L.Trainer) -> None:
    """``global_batch`` (the recipe's) on this trainer's devices and nodes: sets the gradient accumulation and the
    validation interval in batches, and prints ``global batch 16 = 4 per device x 1 device x 1 node x 4
    accumulation`` once."""
    try:
        plan = configure_global_batch(trainer, cfg.get("global_batch"), int(cfg.data.batch_size))
    except ValueError as err:
        raise UserError(str(err)) from None
    with open_dict(cfg):  # the saved config shows what the run computed
        cfg.trainer.accumulate_grad_batches = plan.accumulation
    if trainer.is_global_zero:
        log.info(str(plan))
        if plan.accumulation > 1 and isinstance(trainer.val_check_interval, int):
            steps = trainer.val_check_interval // plan.accumulation
            log.info(
                f"validation every {steps} optimizer step{'s' * (steps != 1)} "
                f"= {trainer.val_check_interval} batches"
            )


def build_datamodule(cfg: DictConfig) -> L.LightningDataModule:
    """The DataModule of ``cfg.data``; runs ``prepare_data`` (the demo data is generated here on first use)."""
    dm = instantiate_checked(cfg.data, "data")
    dm.prepare_data()
    return dm


def build_module(cfg: DictConfig, dm: L.LightningDataModule) -> L.LightningModule:
    """The LightningModule of ``cfg.model`` with ``num_classes`` / ``class_names`` taken from the data."""
    num_classes = int(dm.num_classes)
    with open_dict(cfg):
        if OmegaConf.is_missing(cfg.model, "num_classes"):
            cfg.model.num_classes = num_classes
        elif int(cfg.model.num_classes) != num_classes:
            raise UserError(
                f"model.num_classes={cfg.model.num_classes} but data {cfg.data._target_} has {num_classes}"
            )
    apply_tta(cfg)
    return instantiate_checked(
        cfg.model, "model", class_names=list(getattr(dm, "class_names", []) or []) or None
    )


def apply_tta(cfg: DictConfig) -> None:
    """``tta=true``: multi-scale + flip inference with the recipe's ``tta_scales`` (the authors' ratios)."""
    if cfg.get("tta") and "inference" in cfg.model:
        with open_dict(cfg):
            cfg.model.inference.scales = cfg.tta_scales
            cfg.model.inference.flip = True


def runtime_extras(dm: L.LightningDataModule) -> dict[str, dict[str, Any]]:
    palette = getattr(dm, "palette", None)
    return {"samples": {"palette": [list(c) for c in palette]}} if palette is not None else {}


def check_before_training(cfg: DictConfig, module: L.LightningModule) -> None:
    """What can fail after hours of training is checked before the first step: the ``final_eval.isr`` settings,
    the ``monitor`` metric, the checkpoint to resume from (kind, readability, fit with the model); a
    ``val_check_interval`` beyond ``max_steps`` is clamped with a warning."""
    for setting in as_list(cfg.final_eval.isr):
        try:
            isr_setting(setting, getattr(module, "net", None))
        except UserError as err:
            raise UserError(f"final_eval.isr={shown(setting)}: {str(err).removeprefix('isr: ')}") from None
    names = module.logged_metric_names() if hasattr(module, "logged_metric_names") else None
    if names is not None and cfg.get("monitor") is not None and cfg.monitor not in [*names, "step", "epoch"]:
        listed = ", ".join(n for n in names if "/IoU/" not in n)
        per_class = " and val/IoU/<class>" if len(listed) < len(", ".join(names)) else ""
        raise UserError(f"monitor={cfg.monitor}: the model logs {listed}{per_class}")
    interval, steps = cfg.trainer.get("val_check_interval"), cfg.trainer.get("max_steps")
    if isinstance(interval, int) and isinstance(steps, int) and 0 < steps < interval:
        log.warning(
            "trainer.val_check_interval=%d is beyond trainer.max_steps=%d: validating at step %d",
            interval,
            steps,
            steps,
        )
        with open_dict(cfg):
            cfg.trainer.val_check_interval = steps
    if cfg.get("ckpt_path"):
        path = require_file(cfg.ckpt_path, "ckpt_path")
        remove_stale_temp_files(os.path.dirname(os.path.abspath(path)))
        try:
            check_training_checkpoint(
                path, module.state_dict(), f"{cfg.model.model_name} ({cfg.model.num_classes} classes)"
            )
        except ValueError as err:  # unreadable, another kind of file, another model: the message says which
            raise UserError(str(err)) from None


def train(cfg: DictConfig) -> dict[str, Any]:
    """Fit, then evaluate under the ``final_eval.isr`` settings. Returns ``{"metrics", "results", "ckpt_path"}``."""
    require_values(cfg)
    if cfg.get("ckpt_path"):
        require_file(cfg.ckpt_path, "ckpt_path")
    check_accelerator(cfg.trainer)
    L.seed_everything(cfg.seed, workers=True)
    start = time.time()
    dm = build_datamodule(cfg)
    module = build_module(cfg, dm)
    check_before_training(cfg, module)
    callbacks = instantiate_callbacks(cfg.get("callbacks"), **runtime_extras(dm))
    callbacks.append(WholeGlobalBatches())
    loggers = instantiate_loggers(cfg.get("logger"))
    trainer: L.Trainer = instantiate_checked(
        cfg.trainer, "trainer", callbacks=callbacks, logger=loggers, plugins=[AtomicCheckpointIO()]
    )
    reach_global_batch(cfg, trainer)
    config = plain_config(cfg)
    for lg in loggers:
        lg.log_hyperparams(config)
    _save_config(cfg)

    try:
        trainer.fit(module, datamodule=dm, ckpt_path=cfg.get("ckpt_path"))
    except GlobalBatchError as err:
        raise UserError(f"global_batch={cfg.get('global_batch')}: {err}") from None
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}

    results: list[dict[str, Any]] = []
    best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
    if cfg.final_eval.isr and not trainer.interrupted:
        dm.setup("validate")
        loader = dm.val_dataloader()
        for i, setting in enumerate(cfg.final_eval.isr):
            ckpt = (best or None) if i == 0 else None  # weights loaded once, then only the ISR changes
            row = evaluate_setting(trainer, module, loader, setting, cfg.flops_size, ckpt_path=ckpt)
            results.append({**row, "data": cfg.data._target_})
        _report(cfg, results, best, time.time() - start, trainer)
    return {"metrics": metrics, "results": results, "ckpt_path": best}


@rank_zero_only
def _save_config(cfg: DictConfig) -> None:
    out = run_dir(cfg)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config_resolved.yaml").write_text(OmegaConf.to_yaml(OmegaConf.create(plain_config(cfg))))


@rank_zero_only
def _report(
    cfg: DictConfig, results: list[dict[str, Any]], best: str, seconds: float, trainer: L.Trainer
) -> None:
    log_confusion_images(trainer.loggers, save_rows(results, run_dir(cfg)))
    for lg in trainer.loggers:
        if type(lg).__name__ == "WandbLogger":
            from .isr_table import log_wandb_table

            log_wandb_table(lg.experiment, results)
    print(f"\nFinished in {seconds / 60:.1f} min; best checkpoint: {best or '(none saved)'}")
    print(f"Evaluation on the validation split ({cfg.data._target_.rsplit('.', 1)[-1]}):")
    print(summary_table(results))
    print(f"Run dir: {run_dir(cfg)}")


@hydra.main(config_path=str(CONF_DIR), config_name="train", version_base="1.3")
@report_user_errors
def _main(cfg: DictConfig) -> float | None:
    out = train(cfg)
    value = out["metrics"].get(cfg.get("optimized_metric") or "")
    return value


def main() -> int:
    """Entry point of ``edaformer-train`` (and ``train.py``)."""
    return run_hydra_main(_main)

"""``edaformer-train [key=value ...]`` (or ``python train.py ...``): instantiate data, module, callbacks, loggers,
trainer → fit → evaluate. Arguments: ``conf/train.yaml`` (``edaformer-train --help``).

After training, the best checkpoint is evaluated on the validation split under each setting of
``final_eval.isr`` (default: the training ratios and the paper's ISR), printing mIoU and GFLOPs per setting and
writing them to the run dir (``isr_results.{md,csv,json}``, ``per_class_<setting>.md``).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import hydra
import lightning as L
from hydra.utils import instantiate
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf, open_dict

from ..lit import AtomicCheckpointIO
from .evaluate import evaluate_setting, log_confusion_images, save_rows, summary_table
from .utils import (
    CONF_DIR,
    UserError,
    instantiate_callbacks,
    instantiate_loggers,
    plain_config,
    report_user_errors,
    require_file,
    run_dir,
    run_hydra_main,
)

log = logging.getLogger("edaformer")


def build_datamodule(cfg: DictConfig) -> L.LightningDataModule:
    """The DataModule of ``cfg.data``; runs ``prepare_data`` (the demo data is generated here on first use)."""
    dm = instantiate(cfg.data)
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
    return instantiate(cfg.model, class_names=list(getattr(dm, "class_names", []) or []) or None)


def apply_tta(cfg: DictConfig) -> None:
    """``tta=true``: multi-scale + flip inference with the recipe's ``tta_scales`` (the authors' ratios)."""
    if cfg.get("tta") and "inference" in cfg.model:
        with open_dict(cfg):
            cfg.model.inference.scales = cfg.tta_scales
            cfg.model.inference.flip = True


def runtime_extras(dm: L.LightningDataModule) -> dict[str, dict[str, Any]]:
    palette = getattr(dm, "palette", None)
    return {"samples": {"palette": [list(c) for c in palette]}} if palette is not None else {}


def train(cfg: DictConfig) -> dict[str, Any]:
    """Fit, then evaluate under the ``final_eval.isr`` settings. Returns ``{"metrics", "results", "ckpt_path"}``."""
    if cfg.get("ckpt_path"):
        require_file(cfg.ckpt_path, "ckpt_path")
    L.seed_everything(cfg.seed, workers=True)
    start = time.time()
    dm = build_datamodule(cfg)
    module = build_module(cfg, dm)
    callbacks = instantiate_callbacks(cfg.get("callbacks"), **runtime_extras(dm))
    loggers = instantiate_loggers(cfg.get("logger"))
    trainer: L.Trainer = instantiate(
        cfg.trainer, callbacks=callbacks, logger=loggers, plugins=[AtomicCheckpointIO()]
    )
    config = plain_config(cfg)
    for lg in loggers:
        lg.log_hyperparams(config)
    _save_config(cfg)

    trainer.fit(module, datamodule=dm, ckpt_path=cfg.get("ckpt_path"))
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
